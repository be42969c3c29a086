#include "testdoubles/fake/requests.h"

#include "testdoubles/fake/paths.h"
#include "testdoubles/fake/watches.h"

namespace zks::zk::fake {
namespace {

// jute sizes.
constexpr size_t kRequestHeader = 8;  // xid, type
constexpr size_t kMultiHeader = 9;    // type, done, err
size_t juteString(const std::string& s) { return 4 + s.size(); }
size_t juteAcl(const AclList& acl) {
  size_t n = 4;
  for (const auto& a : acl) n += 4 + juteString(a.scheme) + juteString(a.id);
  return n;
}

size_t opBodySize(const Op& op) {
  struct Visitor {
    size_t operator()(const CreateOp& o) const {
      return juteString(o.path) + juteString(o.data) + juteAcl(o.acl) + 4 + (isTtlMode(o.mode) ? 8 : 0);
    }
    size_t operator()(const SetOp& o) const { return juteString(o.path) + juteString(o.data) + 4; }
    size_t operator()(const DeleteOp& o) const { return juteString(o.path) + 4; }
    size_t operator()(const CheckOp& o) const { return juteString(o.path) + 4; }
  };
  return std::visit(Visitor{}, op);
}

Code pathCheck(const std::string& path) { return validPath(path, false) ? Code::kOk : Code::kBadArguments; }

}  // namespace

bool isWrite(const Request& req) {
  return std::holds_alternative<CreateReq>(req) || std::holds_alternative<SetReq>(req) ||
         std::holds_alternative<DeleteReq>(req) || std::holds_alternative<SetAclReq>(req) ||
         std::holds_alternative<MultiReq>(req);
}

std::function<void()> failure(Request& req, Code code) {
  return std::visit(
      [code](auto& r) {
        typename std::decay_t<decltype(r)>::Result result;
        result.code = code;
        return bind(r, std::move(result));
      },
      req);
}

Code clientCheck(const Request& req, const Capabilities& capabilities) {
  struct Visitor {
    const Capabilities& caps;
    Code operator()(const GetReq& r) const { return pathCheck(r.path); }
    Code operator()(const ChildrenReq& r) const { return pathCheck(r.path); }
    Code operator()(const ExistsReq& r) const { return pathCheck(r.path); }
    Code operator()(const GetAclReq& r) const { return pathCheck(r.path); }
    // A bad path in a multiRead is that op's answer (see execute.cpp).
    Code operator()(const MultiReadReq&) const { return Code::kOk; }
    Code operator()(const SyncReq& r) const { return pathCheck(r.path); }
    Code operator()(const AddWatchReq& r) const { return pathCheck(r.path); }
    Code operator()(const RemoveWatchesReq& r) const { return pathCheck(r.path); }
    Code operator()(const CreateReq& r) const {
      if (isTtlMode(r.op.mode) && (r.op.ttl_ms <= 0 || r.op.ttl_ms > kMaxTtl)) return Code::kBadArguments;
      return validPath(r.op.path, isSequential(r.op.mode)) ? Code::kOk : Code::kBadArguments;
    }
    Code operator()(const SetReq& r) const { return pathCheck(r.op.path); }
    Code operator()(const DeleteReq& r) const { return pathCheck(r.op.path); }
    Code operator()(const SetAclReq& r) const { return pathCheck(r.path); }
    Code operator()(const MultiReq& r) const {
      bool bad_path = false;
      for (const auto& op : r.ops) {
        if (const auto* c = std::get_if<CreateOp>(&op)) {
          // The packaged C client cannot send these inside a multi: it
          // answers ZUNIMPLEMENTED when it meets one, even after an op with
          // a bad path.
          if (!caps.special_creates_in_multi && isSpecialCreate(c->mode)) return Code::kUnimplemented;
          bad_path |= !validPath(c->path, isSequential(c->mode));
        } else {
          bad_path |= !validPath(opPath(op), false);
        }
      }
      return bad_path ? Code::kBadArguments : Code::kOk;
    }
  };
  return std::visit(Visitor{capabilities}, req);
}

size_t requestSize(const Request& req) {
  struct Visitor {
    size_t operator()(const GetReq& r) const { return juteString(r.path) + 1; }
    size_t operator()(const ChildrenReq& r) const { return juteString(r.path) + 1; }
    size_t operator()(const ExistsReq& r) const { return juteString(r.path) + 1; }
    size_t operator()(const GetAclReq& r) const { return juteString(r.path); }
    size_t operator()(const MultiReadReq& r) const {
      size_t n = kMultiHeader;  // the closing header
      for (const auto& op : r.ops) n += kMultiHeader + juteString(op.path) + 1;
      return n;
    }
    size_t operator()(const SyncReq& r) const { return juteString(r.path); }
    size_t operator()(const AddWatchReq& r) const { return juteString(r.path) + 4; }
    size_t operator()(const RemoveWatchesReq& r) const { return juteString(r.path) + 4; }
    size_t operator()(const CreateReq& r) const { return opBodySize(r.op); }
    size_t operator()(const SetReq& r) const { return opBodySize(r.op); }
    size_t operator()(const DeleteReq& r) const { return opBodySize(r.op); }
    size_t operator()(const SetAclReq& r) const { return juteString(r.path) + juteAcl(r.acl) + 4; }
    size_t operator()(const MultiReq& r) const {
      size_t n = kMultiHeader;  // the closing header
      for (const auto& op : r.ops) n += kMultiHeader + opBodySize(op);
      return n;
    }
  };
  return kRequestHeader + std::visit(Visitor{}, req);
}

size_t setWatchesSize(const ClientWatches& w) {
  size_t n = kRequestHeader + 8;  // relativeZxid
  auto add = [&](const std::set<std::string>& table) {
    n += 4;
    for (const auto& p : table) n += juteString(p);
  };
  add(w.data);
  add(w.exist);
  add(w.child);
  // SetWatches2 adds the two persistent lists; SetWatches has none.
  if (!w.persistent.empty() || !w.recursive.empty()) {
    add(w.persistent);
    add(w.recursive);
  }
  return n;
}

}  // namespace zks::zk::fake
