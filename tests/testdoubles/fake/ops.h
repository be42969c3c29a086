#pragma once

// One unit per ZooKeeper operation, over the store: the server's checks in
// its order (PrepRequestProcessor for writes, FinalRequestProcessor for
// reads), then the change through the transaction, which can undo it. A
// multi runs its ops in one transaction and rolls all of them back when one
// fails. Watches are not set here: the caller sets them from the answer.

#include <string>
#include <vector>

#include "testdoubles/fake/auth.h"
#include "testdoubles/fake/store.h"

namespace zks::zk::fake {

// Who issues an operation: a session (its identities; its id owns the
// ephemerals it creates) or, with `ids` null, the direct helpers, which skip
// ACL checks and name an ephemeral owner of their choice.
struct Caller {
  const AuthIds* ids = nullptr;
  int64_t ephemeral_owner = 0;
};

namespace ops {

// ---- writes: the answer code; on kOk the change is in `txn` ----
Code create(Store& store, Txn& txn, const Caller& caller, const CreateOp& op, std::string& created);
Code set(Store& store, Txn& txn, const Caller& caller, const SetOp& op, Stat& stat);
Code remove(Store& store, Txn& txn, const Caller& caller, const DeleteOp& op);
Code check(const Store& store, const Caller& caller, const CheckOp& op);
Code setAcl(Store& store, Txn& txn, const Caller& caller, const std::string& path, const AclList& acl, int32_t version);
// All or nothing. On failure `txn` is rolled back and the results say which
// op failed: kOk before it, its code, kRuntimeInconsistency after it.
MultiResult multi(Store& store, Txn& txn, const Caller& caller, const std::vector<Op>& ops);

// ---- reads ----
GetResult getData(const Store& store, const Caller& caller, const std::string& path);
ChildrenResult getChildren(const Store& store, const Caller& caller, const std::string& path);
StatResult exists(const Store& store, const std::string& path);  // no ACL check
AclResult getAcl(const Store& store, const Caller& caller, const std::string& path);
// One op of a multiRead: getChildren entries carry no stat.
ReadResult read(const Store& store, const Caller& caller, const ReadOp& op);

}  // namespace ops
}  // namespace zks::zk::fake
