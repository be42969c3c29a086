#pragma once

// A real ZooKeeper ensemble on loopback for integration tests: N members
// (ZkServer each, QuorumPeerMain), every port picked up front. Members can
// be killed and restarted one by one; the others keep the quorum.
//
// Not thread-safe: drive it from the test's thread (see ZkServer).

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "support/zk_server.h"

namespace zks::testing {

class ZkEnsemble {
 public:
  // `base` applies to every member (tick time, session timeouts, ...).
  explicit ZkEnsemble(int size = 3, ZkServerOptions base = {});

  // Launches every member and returns once each serves requests (which
  // needs a quorum, hence all are launched before waiting for any).
  Status start();

  int size() const { return static_cast<int>(members_.size()); }
  ZkServer& member(int index) { return *members_.at(static_cast<size_t>(index)); }
  // "127.0.0.1:<p1>,127.0.0.1:<p2>,..."
  std::string connectString() const;
  // The member whose "cons" lists `session_id`, or -1.
  int memberServing(int64_t session_id) const;

 private:
  std::vector<std::unique_ptr<ZkServer>> members_;
  ZkServerOptions base_;
};

}  // namespace zks::testing
