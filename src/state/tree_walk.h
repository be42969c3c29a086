#pragma once

// Lists every node of a subtree with pipelined getChildren: the failover's
// scan for sequential-looking children, and resume's reading of the active
// site's counters. Blocking: call from a CLI command, never from a client
// callback.

#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "zk/client.h"

namespace zks::state {

struct WalkReport {
  size_t nodes = 0;                // nodes listed
  size_t unreadable = 0;           // nodes this identity may not list (NoAuth): skipped with their subtrees
  std::string unreadable_example;  // one of them
  std::vector<Error> failures;     // nodes that could not be listed for other reasons (their subtrees are not walked)
};

// Lists `roots` and everything below them, at most `in_flight` requests at
// once, and calls visit(path, answer) on the calling thread for each listed
// node (nodes deleted meanwhile are skipped). Nodes this identity may not
// read are counted and skipped: an ACL is not a fault a rerun can fix.
// Connection trouble is retried a few times per node with a short backoff;
// what still fails is reported.
// `skip(path)` keeps a child (and its subtree) out of the walk.
WalkReport walkTree(zk::Client& c, const std::vector<std::string>& roots, size_t in_flight,
                    const std::function<bool(const std::string& path)>& skip,
                    const std::function<void(const std::string& path, const zk::ChildrenResult& answer)>& visit);

// "/a" + "b" -> "/a/b"; "/" + "b" -> "/b".
std::string childPath(const std::string& parent, const std::string& name);

}  // namespace zks::state
