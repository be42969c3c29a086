#include "cli_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace zks::testing {

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string base64Decode(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    auto pos = chars.find(c);
    if (pos == std::string::npos) break;
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

}  // namespace

TempDir::TempDir() {
  char tmpl[] = "/tmp/zks-test-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& text) const {
  auto p = path_ / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

CommandResult runCommand(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  TempDir dir;
  const auto out_file = dir.path() / "out", err_file = dir.path() / "err";
  pid_t pid = fork();
  if (pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.exit_code = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  result.out = slurp(out_file);
  result.err = slurp(err_file);
  return result;
}

CommandResult zkstandby(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> all{ZKSTANDBY_BIN};
  all.insert(all.end(), args.begin(), args.end());
  return runCommand(all, timeout);
}

std::map<std::string, DumpedNode> dumpTree(const std::string& connect, const std::string& root,
                                           const std::vector<std::string>& auth) {
  std::vector<std::string> args{"/usr/bin/python3", ZKDUMP_SCRIPT, connect, root};
  for (const auto& a : auth) {
    args.push_back("--auth");
    args.push_back(a);
  }
  auto r = runCommand(args, std::chrono::seconds(120));
  if (r.exit_code != 0) throw std::runtime_error("zkdump failed: " + r.err);
  std::map<std::string, DumpedNode> out;
  for (const auto& j : nlohmann::json::parse(r.out)) {
    DumpedNode n;
    n.path = j["path"];
    n.data = base64Decode(j["data"]);
    n.czxid = j["czxid"];
    n.mzxid = j["mzxid"];
    n.pzxid = j["pzxid"];
    n.version = j["version"];
    n.cversion = j["cversion"];
    n.aversion = j["aversion"];
    n.ephemeral_owner = j["ephemeralOwner"];
    n.num_children = j["numChildren"];
    n.acl = j["acl"].get<std::vector<std::string>>();
    out[n.path] = std::move(n);
  }
  return out;
}

}  // namespace zks::testing
