#pragma once

// For integration tests that drive the real `zkstandby` binary: run it with
// a deadline, write config files, and read trees back through an independent
// client (kazoo, tools/zkdump.py).

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace zks::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed at the deadline
  std::string out;
  std::string err;
};

// Runs `args` (args[0] is the program) with stdin from /dev/null; kills it
// at the deadline.
CommandResult runCommand(const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(120));
// `zkstandby <args>`.
CommandResult zkstandby(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(120));

struct DumpedNode {
  std::string path;
  std::string data;  // decoded bytes
  long long czxid = 0, mzxid = 0, pzxid = 0, ephemeral_owner = 0;
  int version = 0, cversion = 0, aversion = 0, num_children = 0;
  std::vector<std::string> acl;  // "scheme:id:perms", sorted
};
// Every node at or below `root`, by path, read through kazoo.
std::map<std::string, DumpedNode> dumpTree(const std::string& connect, const std::string& root,
                                           const std::vector<std::string>& auth = {});

// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

}  // namespace zks::testing
