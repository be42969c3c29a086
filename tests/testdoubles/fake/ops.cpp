#include "testdoubles/fake/ops.h"

#include <cstdio>
#include <variant>

#include "testdoubles/fake/paths.h"

namespace zks::zk::fake::ops {

Code create(Store& store, Txn& txn, const Caller& caller, const CreateOp& op, std::string& created) {
  if (isTtlMode(op.mode)) {
    if (!store.options().extended_types_enabled) return Code::kUnimplemented;
    if (op.ttl_ms <= 0 || op.ttl_ms > kMaxTtl) return Code::kBadArguments;
  }
  if (isEphemeralMode(op.mode) && !isSessionOwner(caller.ephemeral_owner)) return Code::kBadArguments;
  if (op.path.find('\0') != std::string::npos) return Code::kBadArguments;
  auto acl = fixupAcl(caller.ids, op.acl);
  if (!acl) return Code::kInvalidAcl;
  const Node* parent = store.find(parentOf(op.path));
  if (parent == nullptr) return Code::kNoNode;
  if (!permitted(caller.ids, parent->acl, perm::kCreate)) return Code::kNoAuth;
  std::string path = op.path;
  if (isSequential(op.mode)) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%010d", parent->stored_cversion);
    path += suffix;
  }
  if (store.contains(path)) return Code::kNodeExists;
  if (isSessionOwner(parent->owner)) return Code::kNoChildrenForEphemerals;

  Node node;
  node.data = op.data;
  node.acl = std::move(*acl);
  node.czxid = node.mzxid = node.pzxid = txn.zxid;
  node.ctime = node.mtime = txn.time;
  if (op.mode == CreateMode::kContainer) {
    node.owner = static_cast<int64_t>(kContainerOwner);
  } else if (isTtlMode(op.mode)) {
    node.owner = static_cast<int64_t>(kExtendedMask | static_cast<uint64_t>(op.ttl_ms));
  } else if (isEphemeralMode(op.mode)) {
    node.owner = caller.ephemeral_owner;
  }
  store.insert(txn, path, std::move(node));
  created = std::move(path);
  return Code::kOk;
}

Code set(Store& store, Txn& txn, const Caller& caller, const SetOp& op, Stat& stat) {
  const Node* n = store.find(op.path);
  if (n == nullptr) return Code::kNoNode;
  if (!permitted(caller.ids, n->acl, perm::kWrite)) return Code::kNoAuth;
  if (op.version != -1 && op.version != n->version) return Code::kBadVersion;
  store.setData(txn, op.path, op.data);
  stat = store.statOf(*store.find(op.path));
  return Code::kOk;
}

Code remove(Store& store, Txn& txn, const Caller& caller, const DeleteOp& op) {
  if (op.path.find('\0') != std::string::npos || isSpecialPath(op.path)) return Code::kBadArguments;
  const Node* parent = store.find(parentOf(op.path));
  if (parent == nullptr) return Code::kNoNode;
  if (!permitted(caller.ids, parent->acl, perm::kDelete)) return Code::kNoAuth;
  const Node* n = store.find(op.path);
  if (n == nullptr) return Code::kNoNode;
  if (op.version != -1 && op.version != n->version) return Code::kBadVersion;
  if (!n->children.empty()) return Code::kNotEmpty;
  store.erase(txn, op.path);
  return Code::kOk;
}

Code check(const Store& store, const Caller& caller, const CheckOp& op) {
  const Node* n = store.find(op.path);
  if (n == nullptr) return Code::kNoNode;
  if (!permitted(caller.ids, n->acl, perm::kRead)) return Code::kNoAuth;
  if (op.version != -1 && op.version != n->version) return Code::kBadVersion;
  return Code::kOk;
}

Code setAcl(Store& store, Txn& txn, const Caller& caller, const std::string& path, const AclList& acl,
            int32_t version) {
  auto fixed = fixupAcl(caller.ids, acl);
  if (!fixed) return Code::kInvalidAcl;
  const Node* n = store.find(path);
  if (n == nullptr) return Code::kNoNode;
  if (!permitted(caller.ids, n->acl, perm::kAdmin)) return Code::kNoAuth;
  if (version != -1 && version != n->aversion) return Code::kBadVersion;
  store.setAcl(txn, path, std::move(*fixed));
  return Code::kOk;
}

MultiResult multi(Store& store, Txn& txn, const Caller& caller, const std::vector<Op>& ops) {
  MultiResult res;
  res.results.resize(ops.size());
  size_t failed = ops.size();
  for (size_t i = 0; i < ops.size() && failed == ops.size(); ++i) {
    OpResult& out = res.results[i];
    const Code code = std::visit(
        [&](const auto& op) -> Code {
          using T = std::decay_t<decltype(op)>;
          if constexpr (std::is_same_v<T, CreateOp>) {
            return create(store, txn, caller, op, out.path);
          } else if constexpr (std::is_same_v<T, SetOp>) {
            return set(store, txn, caller, op, out.stat);
          } else if constexpr (std::is_same_v<T, DeleteOp>) {
            return remove(store, txn, caller, op);
          } else {
            return check(store, caller, op);
          }
        },
        ops[i]);
    if (code != Code::kOk) {
      failed = i;
      res.code = code;
    }
  }
  if (failed == ops.size()) return res;
  txn.rollback();
  for (size_t i = 0; i < ops.size(); ++i) {
    res.results[i] = OpResult{};
    res.results[i].code = i < failed ? Code::kOk : i == failed ? res.code : Code::kRuntimeInconsistency;
  }
  return res;
}

GetResult getData(const Store& store, const Caller& caller, const std::string& path) {
  GetResult res;
  const Node* n = store.find(path);
  if (n == nullptr) {
    res.code = Code::kNoNode;
  } else if (!permitted(caller.ids, n->acl, perm::kRead)) {
    res.code = Code::kNoAuth;
  } else {
    res.data = n->data;
    res.stat = store.statOf(*n);
  }
  return res;
}

ChildrenResult getChildren(const Store& store, const Caller& caller, const std::string& path) {
  ChildrenResult res;
  const Node* n = store.find(path);
  if (n == nullptr) {
    res.code = Code::kNoNode;
  } else if (!permitted(caller.ids, n->acl, perm::kRead)) {
    res.code = Code::kNoAuth;
  } else {
    res.children = store.childList(*n);
    res.stat = store.statOf(*n);
  }
  return res;
}

StatResult exists(const Store& store, const std::string& path) {
  StatResult res;
  const Node* n = store.find(path);
  if (n == nullptr) {
    res.code = Code::kNoNode;
  } else {
    res.stat = store.statOf(*n);
  }
  return res;
}

AclResult getAcl(const Store& store, const Caller& caller, const std::string& path) {
  AclResult res;
  const Node* n = store.find(path);
  if (n == nullptr) {
    res.code = Code::kNoNode;
  } else if (!permitted(caller.ids, n->acl, perm::kRead | perm::kAdmin)) {
    res.code = Code::kNoAuth;
  } else {
    res.acl = permitted(caller.ids, n->acl, perm::kAdmin) ? n->acl : hideDigests(n->acl);
    res.stat = store.statOf(*n);
  }
  return res;
}

ReadResult read(const Store& store, const Caller& caller, const ReadOp& op) {
  ReadResult out;
  if (op.kind == ReadKind::kGetData) {
    GetResult r = getData(store, caller, op.path);
    out.code = r.code;
    out.data = std::move(r.data);
    out.stat = r.stat;
  } else {
    ChildrenResult r = getChildren(store, caller, op.path);
    out.code = r.code;
    out.children = std::move(r.children);
  }
  return out;
}

}  // namespace zks::zk::fake::ops
