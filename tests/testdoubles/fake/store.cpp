#include "testdoubles/fake/store.h"

#include <algorithm>
#include <chrono>

#include "testdoubles/fake/paths.h"

namespace zks::zk::fake {
namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

int64_t systemClockMs() {
  using std::chrono::duration_cast, std::chrono::milliseconds, std::chrono::system_clock;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

void Txn::rollback() {
  for (auto it = undo.rbegin(); it != undo.rend(); ++it) (*it)();
  undo.clear();
  triggers.clear();
  applied = {};
}

Store::Store(const FakeServerOptions& options) : options_(options) {
  tree_["/"] = Node{};
  if (options_.system_nodes) {
    // As DataTree's constructor builds them: zxid 0, time 0, stored cversion 0.
    tree_["/"].children = {"zookeeper"};
    tree_["/zookeeper"].children = {"quota", "config"};
    tree_["/zookeeper/quota"] = Node{};
    Node config;
    config.acl = {Acl{perm::kRead, "world", "anyone"}};
    config.aversion = -1;
    tree_["/zookeeper/config"] = config;
  }
  for (auto& [path, node] : tree_) {
    if (node.acl.empty()) node.acl = openAcl();
  }
}

Txn Store::begin() {
  Txn txn;
  txn.zxid = ++zxid_;
  txn.time = options_.clock ? options_.clock() : systemClockMs();
  return txn;
}

const Node* Store::find(const std::string& path) const {
  auto it = tree_.find(path);
  return it == tree_.end() ? nullptr : &it->second;
}

std::set<std::string> Store::ephemeralsOf(int64_t session_id) const {
  auto it = ephemerals_.find(session_id);
  return it == ephemerals_.end() ? std::set<std::string>{} : it->second;
}

void Store::insert(Txn& txn, const std::string& path, Node node) {
  const std::string parent_path = parentOf(path);
  Node& parent = at(parent_path);
  const int32_t old_cversion = parent.stored_cversion;
  const int64_t old_pzxid = parent.pzxid;
  parent.stored_cversion += 1;
  parent.pzxid = txn.zxid;
  parent.children.insert(nameOf(path));
  const int64_t owner = node.owner;
  tree_.emplace(path, std::move(node));
  if (isSessionOwner(owner)) ephemerals_[owner].insert(path);
  txn.undo.push_back([this, path, parent_path, old_cversion, old_pzxid, owner] {
    tree_.erase(path);
    Node& p = at(parent_path);
    p.children.erase(nameOf(path));
    p.stored_cversion = old_cversion;
    p.pzxid = old_pzxid;
    if (isSessionOwner(owner)) ephemerals_[owner].erase(path);
  });
  txn.triggers.push_back({EventType::kCreated, path});
  txn.triggers.push_back({EventType::kChildrenChanged, parent_path});
  ++txn.applied.creates;
}

void Store::erase(Txn& txn, const std::string& path) {
  const std::string parent_path = parentOf(path);
  Node& parent = at(parent_path);
  const int64_t old_pzxid = parent.pzxid;
  // DataTree.deleteNode moves pzxid only forward and leaves the stored
  // cversion alone: the reported cversion still grows, as a child is gone.
  parent.pzxid = std::max(parent.pzxid, txn.zxid);
  parent.children.erase(nameOf(path));
  auto it = tree_.find(path);
  Node old = std::move(it->second);
  tree_.erase(it);
  if (isSessionOwner(old.owner)) {
    ephemerals_[old.owner].erase(path);
    if (ephemerals_[old.owner].empty()) ephemerals_.erase(old.owner);
  }
  txn.undo.push_back([this, path, parent_path, old_pzxid, old = std::move(old)]() mutable {
    Node& p = at(parent_path);
    p.children.insert(nameOf(path));
    p.pzxid = old_pzxid;
    if (isSessionOwner(old.owner)) ephemerals_[old.owner].insert(path);
    tree_.emplace(path, std::move(old));
  });
  txn.triggers.push_back({EventType::kDeleted, path});
  txn.triggers.push_back({EventType::kChildrenChanged, parent_path});
  ++txn.applied.deletes;
}

void Store::setData(Txn& txn, const std::string& path, std::string data) {
  Node& n = at(path);
  txn.undo.push_back([this, path, data = n.data, version = n.version, mzxid = n.mzxid, mtime = n.mtime]() mutable {
    Node& m = at(path);
    m.data = std::move(data);
    m.version = version;
    m.mzxid = mzxid;
    m.mtime = mtime;
  });
  n.data = std::move(data);
  n.version += 1;
  n.mzxid = txn.zxid;
  n.mtime = txn.time;
  txn.triggers.push_back({EventType::kDataChanged, path});
  ++txn.applied.sets;
}

void Store::setAcl(Txn& txn, const std::string& path, AclList acl) {
  Node& n = at(path);
  txn.undo.push_back([this, path, old = n.acl, aversion = n.aversion]() mutable {
    Node& m = at(path);
    m.acl = std::move(old);
    m.aversion = aversion;
  });
  n.acl = std::move(acl);
  n.aversion += 1;
  ++txn.applied.set_acls;  // setAcl fires no watch
}

Stat Store::statOf(const Node& n) const {
  Stat s;
  s.czxid = n.czxid;
  s.mzxid = n.mzxid;
  s.ctime = n.ctime;
  s.mtime = n.mtime;
  s.version = n.version;
  s.cversion = n.stored_cversion * 2 - static_cast<int32_t>(n.children.size());
  s.aversion = n.aversion;
  s.ephemeral_owner = (options_.expose_extended_owner || isSessionOwner(n.owner)) ? n.owner : 0;
  s.data_length = static_cast<int32_t>(n.data.size());
  s.num_children = static_cast<int32_t>(n.children.size());
  s.pzxid = n.pzxid;
  return s;
}

FakeNode Store::fakeNode(const std::string& path, const Node& n) const {
  FakeNode f;
  f.path = path;
  f.data = n.data;
  f.stat = statOf(n);
  f.acl = n.acl;
  Stat raw;
  raw.ephemeral_owner = n.owner;
  f.kind = kindOf(raw);
  if (f.kind == NodeKind::kTtl) f.ttl_ms = static_cast<int64_t>(static_cast<uint64_t>(n.owner) & ~kExtendedMask);
  return f;
}

std::vector<std::string> Store::childList(const Node& n) const {
  std::vector<std::string> out(n.children.begin(), n.children.end());
  if (options_.child_order == ChildOrder::kHashed) {
    std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
      const auto ha = fnv1a(a), hb = fnv1a(b);
      return ha != hb ? ha < hb : a < b;
    });
  }
  return out;
}

}  // namespace zks::zk::fake
