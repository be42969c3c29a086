#include "zk/native/operations.h"

#include "zk/native/paths.h"
#include "zk/native/protocol.h"
#include "zk/native/records.h"

namespace zks::zk::native {
namespace {

// The server's answer, or the failure, kept until the dispatcher runs the
// callback with it.
template <typename R, typename Cb>
class TypedCall : public Call {
 public:
  explicit TypedCall(Cb cb) : cb_(std::move(cb)) {}
  void onFailure(Code code) override {
    result_ = R{};
    result_.code = code;
  }
  Code code() const override { return result_.code; }
  void run() override {
    if (cb_) cb_(std::move(result_));
  }

 protected:
  R result_;
  Cb cb_;
};

// A path ZooKeeper would refuse is refused here, before sending.
void refuseBadPath(Call& call, const std::string& path, bool sequential = false) {
  if (pathError(path, sequential)) call.refused = Code::kBadArguments;
}

std::string strip(const std::string& chroot, std::string server_path) {
  auto client_path = stripChroot(chroot, server_path);
  return client_path ? std::move(*client_path) : std::move(server_path);
}

class GetCall final : public TypedCall<GetResult, GetCallback> {
 public:
  using TypedCall::TypedCall;
  bool onReply(Code code, JuteReader& in) override {
    result_.code = code;
    if (code != Code::kOk) return true;
    result_.data = in.buffer();
    result_.stat = readStat(in);
    return in.ok();
  }
};

class ChildrenCall final : public TypedCall<ChildrenResult, ChildrenCallback> {
 public:
  using TypedCall::TypedCall;
  bool onReply(Code code, JuteReader& in) override {
    result_.code = code;
    if (code != Code::kOk) return true;
    result_.children = readStrings(in);
    result_.stat = readStat(in);
    return in.ok();
  }
};

// exists and setData: a Stat.
class StatCall final : public TypedCall<StatResult, StatCallback> {
 public:
  using TypedCall::TypedCall;
  bool onReply(Code code, JuteReader& in) override {
    result_.code = code;
    if (code != Code::kOk) return true;
    result_.stat = readStat(in);
    return in.ok();
  }
};

class AclCall final : public TypedCall<AclResult, AclCallback> {
 public:
  using TypedCall::TypedCall;
  bool onReply(Code code, JuteReader& in) override {
    result_.code = code;
    if (code != Code::kOk) return true;
    result_.acl = readAcls(in);
    result_.stat = readStat(in);
    return in.ok();
  }
};

class CreateCall final : public TypedCall<CreateResult, CreateCallback> {
 public:
  CreateCall(std::string chroot, CreateCallback cb) : TypedCall(std::move(cb)), chroot_(std::move(chroot)) {}
  bool onReply(Code code, JuteReader& in) override {
    result_.code = code;
    if (code != Code::kOk) return true;
    result_.path = strip(chroot_, in.buffer());
    // Container and TTL creates answer with a Create2Response (path, stat).
    if (opcode != op::kCreate) readStat(in);
    return in.ok();
  }

 private:
  std::string chroot_;
};

// delete, setACL, sync, addWatch, removeWatches: only the code matters.
class VoidCall : public TypedCall<VoidResult, VoidCallback> {
 public:
  using TypedCall::TypedCall;
  bool onReply(Code code, JuteReader&) override {
    result_.code = code;
    return true;
  }
};

class AddWatchCall final : public VoidCall {
 public:
  AddWatchCall(VoidCallback cb, std::atomic<bool>* supported) : VoidCall(std::move(cb)), supported_(supported) {}
  bool onReply(Code code, JuteReader& in) override {
    if (code == Code::kUnimplemented && supported_ != nullptr) supported_->store(false);
    return VoidCall::onReply(code, in);
  }

 private:
  std::atomic<bool>* supported_;
};

class MultiCall final : public TypedCall<MultiResult, MultiCallback> {
 public:
  MultiCall(std::string chroot, std::vector<Op> ops, MultiCallback cb)
      : TypedCall(std::move(cb)), chroot_(std::move(chroot)), ops_(std::move(ops)) {}

  // Every op shares the request's fate: one result each, all with `code`.
  void onFailure(Code code) override {
    TypedCall::onFailure(code);
    result_.results.assign(ops_.size(), OpResult{code, {}, {}});
  }

  bool onReply(Code code, JuteReader& in) override {
    if (code != Code::kOk) {
      onFailure(code);
      return true;
    }
    auto entries = readMultiResponse(in);
    if (!in.ok() || entries.size() != ops_.size()) return false;
    result_.code = Code::kOk;
    result_.results.resize(entries.size());
    // A failed transaction still answers with header error 0: each op has
    // an ErrorResult, the failing one with its reason, those before it
    // kOk (rolled back) and those after it kRuntimeInconsistency
    // (DataTree.processTxn). The request's code is the failing op's.
    Code first_error = Code::kOk;
    for (size_t i = 0; i < entries.size(); ++i) {
      OpResult& r = result_.results[i];
      auto& e = entries[i];
      if (e.type == op::kError) {
        r.code = codeOf(e.err);
        if (first_error == Code::kOk && r.code != Code::kOk && r.code != Code::kRuntimeInconsistency) {
          first_error = r.code;
        }
        if (result_.code == Code::kOk && r.code != Code::kOk) result_.code = r.code;
        continue;
      }
      r.code = Code::kOk;
      if (std::holds_alternative<CreateOp>(ops_[i])) r.path = strip(chroot_, std::move(e.path));
      if (std::holds_alternative<SetOp>(ops_[i])) r.stat = e.stat;
    }
    if (first_error != Code::kOk) result_.code = first_error;
    return true;
  }

 private:
  std::string chroot_;
  std::vector<Op> ops_;
};

class MultiReadCall final : public TypedCall<MultiReadResult, MultiReadCallback> {
 public:
  MultiReadCall(std::vector<ReadOp> ops, MultiReadCallback cb, std::atomic<bool>* supported,
                MultiReadFallback fallback)
      : TypedCall(std::move(cb)), ops_(std::move(ops)), supported_(supported), fallback_(std::move(fallback)) {}

  bool onReply(Code code, JuteReader& in) override {
    result_.code = code;
    if (code != Code::kOk) return true;
    auto entries = readMultiResponse(in);
    if (!in.ok() || entries.size() != ops_.size()) return false;
    result_.results.resize(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      ReadResult& r = result_.results[i];
      auto& e = entries[i];
      if (e.type == op::kError) {
        r.code = codeOf(e.err);
      } else if (e.type == op::kGetData) {
        r.data = std::move(e.data);
        r.stat = e.stat;
      } else {
        r.children = std::move(e.children);
      }
    }
    return true;
  }

  void run() override {
    if (result_.code == Code::kUnimplemented && fallback_) {
      if (supported_ != nullptr) supported_->store(false);
      fallback_(std::move(ops_), std::move(cb_));
      return;
    }
    TypedCall::run();
  }

 private:
  std::vector<ReadOp> ops_;
  std::atomic<bool>* supported_;
  MultiReadFallback fallback_;
};

bool badTtl(const CreateOp& op) { return isTtl(op.mode) && (op.ttl_ms <= 0 || op.ttl_ms > kMaxTtlMs); }

// The opcode and body of one write inside a multi (or alone).
MultiRequestOp encodeOp(const std::string& chroot, const Op& op) {
  struct Visitor {
    const std::string& chroot;
    MultiRequestOp operator()(const CreateOp& o) const {
      const std::string path = addChroot(chroot, o.path);
      const int32_t flags = createFlags(o.mode);
      if (isTtl(o.mode)) return {op::kCreateTtl, createTtlRequest(path, o.data, o.acl, flags, o.ttl_ms)};
      return {createOpcode(o.mode), createRequest(path, o.data, o.acl, flags)};
    }
    MultiRequestOp operator()(const SetOp& o) const {
      return {op::kSetData, setDataRequest(addChroot(chroot, o.path), o.data, o.version)};
    }
    MultiRequestOp operator()(const DeleteOp& o) const {
      return {op::kDelete, deleteRequest(addChroot(chroot, o.path), o.version)};
    }
    MultiRequestOp operator()(const CheckOp& o) const {
      // CheckVersionRequest has DeleteRequest's layout: path, version.
      return {op::kCheck, deleteRequest(addChroot(chroot, o.path), o.version)};
    }
  };
  return std::visit(Visitor{chroot}, op);
}

bool validOp(const Op& op) {
  if (const auto* c = std::get_if<CreateOp>(&op)) return !pathError(c->path, isSequential(c->mode)) && !badTtl(*c);
  return !pathError(opPath(op));
}

}  // namespace

std::unique_ptr<Call> getCall(const std::string& chroot, const std::string& path, bool watch, GetCallback cb) {
  auto call = std::make_unique<GetCall>(std::move(cb));
  refuseBadPath(*call, path);
  call->opcode = op::kGetData;
  const std::string server = addChroot(chroot, path);
  call->body = pathWatchRequest(server, watch);
  if (watch) call->watch = {WatchIntent::kData, server};
  return call;
}

std::unique_ptr<Call> childrenCall(const std::string& chroot, const std::string& path, bool watch,
                                   ChildrenCallback cb) {
  auto call = std::make_unique<ChildrenCall>(std::move(cb));
  refuseBadPath(*call, path);
  call->opcode = op::kGetChildren2;
  const std::string server = addChroot(chroot, path);
  call->body = pathWatchRequest(server, watch);
  if (watch) call->watch = {WatchIntent::kChild, server};
  return call;
}

std::unique_ptr<Call> existsCall(const std::string& chroot, const std::string& path, bool watch, StatCallback cb) {
  auto call = std::make_unique<StatCall>(std::move(cb));
  refuseBadPath(*call, path);
  call->opcode = op::kExists;
  const std::string server = addChroot(chroot, path);
  call->body = pathWatchRequest(server, watch);
  if (watch) call->watch = {WatchIntent::kExists, server};
  return call;
}

std::unique_ptr<Call> getAclCall(const std::string& chroot, const std::string& path, AclCallback cb) {
  auto call = std::make_unique<AclCall>(std::move(cb));
  refuseBadPath(*call, path);
  call->opcode = op::kGetAcl;
  call->body = pathRequest(addChroot(chroot, path));
  return call;
}

std::unique_ptr<Call> createCall(const std::string& chroot, CreateOp op, CreateCallback cb) {
  auto call = std::make_unique<CreateCall>(chroot, std::move(cb));
  refuseBadPath(*call, op.path, isSequential(op.mode));
  if (badTtl(op)) call->refused = Code::kBadArguments;
  auto encoded = encodeOp(chroot, op);
  call->opcode = encoded.opcode;
  call->body = std::move(encoded.body);
  return call;
}

std::unique_ptr<Call> setCall(const std::string& chroot, SetOp op, StatCallback cb) {
  auto call = std::make_unique<StatCall>(std::move(cb));
  refuseBadPath(*call, op.path);
  auto encoded = encodeOp(chroot, op);
  call->opcode = encoded.opcode;
  call->body = std::move(encoded.body);
  return call;
}

std::unique_ptr<Call> deleteCall(const std::string& chroot, DeleteOp op, VoidCallback cb) {
  auto call = std::make_unique<VoidCall>(std::move(cb));
  refuseBadPath(*call, op.path);
  auto encoded = encodeOp(chroot, op);
  call->opcode = encoded.opcode;
  call->body = std::move(encoded.body);
  return call;
}

std::unique_ptr<Call> setAclCall(const std::string& chroot, const std::string& path, const AclList& acl,
                                 int32_t version, VoidCallback cb) {
  auto call = std::make_unique<VoidCall>(std::move(cb));
  refuseBadPath(*call, path);
  call->opcode = op::kSetAcl;
  call->body = setAclRequest(addChroot(chroot, path), acl, version);
  return call;
}

std::unique_ptr<Call> syncCall(const std::string& chroot, const std::string& path, VoidCallback cb) {
  auto call = std::make_unique<VoidCall>(std::move(cb));
  refuseBadPath(*call, path);
  call->opcode = op::kSync;
  call->body = pathRequest(addChroot(chroot, path));
  return call;
}

std::unique_ptr<Call> multiCall(const std::string& chroot, std::vector<Op> ops, MultiCallback cb) {
  std::vector<MultiRequestOp> encoded;
  encoded.reserve(ops.size());
  bool valid = true;
  for (const auto& op : ops) {
    valid = valid && validOp(op);
    encoded.push_back(encodeOp(chroot, op));
  }
  auto call = std::make_unique<MultiCall>(chroot, std::move(ops), std::move(cb));
  if (!valid) call->refused = Code::kBadArguments;
  call->opcode = op::kMulti;
  call->body = multiRequest(encoded);
  return call;
}

std::unique_ptr<Call> multiReadCall(const std::string& chroot, std::vector<ReadOp> ops, MultiReadCallback cb,
                                    std::atomic<bool>* supported, MultiReadFallback fallback) {
  std::vector<MultiRequestOp> encoded;
  encoded.reserve(ops.size());
  bool valid = true;
  for (const auto& read : ops) {
    valid = valid && !pathError(read.path);
    // GetDataRequest and GetChildrenRequest: path and watch flag (never set
    // here: a multiRead sets no watches).
    encoded.push_back({read.kind == ReadKind::kGetData ? op::kGetData : op::kGetChildren,
                       pathWatchRequest(addChroot(chroot, read.path), false)});
  }
  auto call = std::make_unique<MultiReadCall>(std::move(ops), std::move(cb), supported, std::move(fallback));
  if (!valid) call->refused = Code::kBadArguments;
  call->opcode = op::kMultiRead;
  call->body = multiRequest(encoded);
  return call;
}

std::unique_ptr<Call> addWatchCall(const std::string& chroot, const std::string& path, AddWatchMode mode,
                                   VoidCallback cb, std::atomic<bool>* supported) {
  auto call = std::make_unique<AddWatchCall>(std::move(cb), supported);
  refuseBadPath(*call, path);
  call->opcode = op::kAddWatch;
  const std::string server = addChroot(chroot, path);
  const bool recursive = mode == AddWatchMode::kPersistentRecursive;
  call->body = addWatchRequest(server, recursive ? kAddWatchPersistentRecursive : kAddWatchPersistent);
  call->watch = {recursive ? WatchIntent::kRecursive : WatchIntent::kPersistent, server};
  return call;
}

std::unique_ptr<Call> removeWatchesCall(const std::string& chroot, const std::string& path, VoidCallback cb) {
  auto call = std::make_unique<VoidCall>(std::move(cb));
  refuseBadPath(*call, path);
  call->opcode = op::kRemoveWatches;
  const std::string server = addChroot(chroot, path);
  // WatcherType Any: a 3.8 server leaves half a persistent watch behind
  // when asked to remove only its data or child part.
  call->body = removeWatchesRequest(server, kWatcherTypeAny);
  call->watch = {WatchIntent::kRemove, server};
  return call;
}

}  // namespace zks::zk::native
