#pragma once

// The fake server's tree (ZooKeeper's DataTree) and its write transactions.
// Every mutation goes through a Txn that records how to undo it, so a
// multi can be rolled back op by op, and the watch triggers it causes, which
// fire only when the transaction commits. Not thread-safe: the server's
// mutex guards it.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "testdoubles/fake_server.h"

namespace zks::zk::fake {

struct Node {
  std::string data;
  AclList acl;
  int64_t czxid = 0;
  int64_t mzxid = 0;
  int64_t pzxid = 0;
  int64_t ctime = 0;
  int64_t mtime = 0;
  int32_t version = 0;
  // What the server stores as cversion: the number of child creates. Clients
  // see 2 * stored_cversion - numChildren (DataNode.copyStat).
  int32_t stored_cversion = 0;
  int32_t aversion = 0;
  int64_t owner = 0;  // stored ephemeralOwner: session id, container or TTL encoding
  std::set<std::string> children;
};

// A watch trigger a change causes (DataTree.createNode/deleteNode/setData).
struct Trigger {
  EventType type;
  std::string path;
};

// One write transaction: one zxid and time, the undo log of the changes
// applied so far, the watch triggers held back until commit, and the ops
// applied (for the counters).
struct Txn {
  int64_t zxid = 0;
  int64_t time = 0;
  std::vector<std::function<void()>> undo;
  std::vector<Trigger> triggers;
  FakeCounters applied;

  // Undoes every change, newest first; nothing will fire.
  void rollback();
};

class Store {
 public:
  // `options` must outlive the store (both belong to the server).
  explicit Store(const FakeServerOptions& options);

  const FakeServerOptions& options() const { return options_; }
  int64_t zxid() const { return zxid_; }
  // A transaction with the next zxid. Session opens take a zxid without one.
  Txn begin();
  void takeZxid() { ++zxid_; }

  const Node* find(const std::string& path) const;
  bool contains(const std::string& path) const { return tree_.contains(path); }
  const std::map<std::string, Node>& all() const { return tree_; }
  // The live paths of a session's ephemeral nodes.
  std::set<std::string> ephemeralsOf(int64_t session_id) const;

  // ---- mutations; each is undone by txn.rollback() ----
  // Adds `node` under its existing parent: parent cversion and pzxid move.
  void insert(Txn& txn, const std::string& path, Node node);
  // Removes a leaf: parent pzxid moves forward, its stored cversion stays.
  void erase(Txn& txn, const std::string& path);
  void setData(Txn& txn, const std::string& path, std::string data);
  void setAcl(Txn& txn, const std::string& path, AclList acl);

  // ---- what clients and tests see ----
  Stat statOf(const Node& n) const;
  FakeNode fakeNode(const std::string& path, const Node& n) const;
  std::vector<std::string> childList(const Node& n) const;

 private:
  Node& at(const std::string& path) { return tree_.at(path); }

  const FakeServerOptions& options_;
  std::map<std::string, Node> tree_;
  std::map<int64_t, std::set<std::string>> ephemerals_;  // session id -> paths
  int64_t zxid_ = 0;
};

}  // namespace zks::zk::fake
