// A client's request on the fake server: session and size checks, then one
// handler per request kind. Reads answer from the store and set watches;
// writes run as one transaction, committed (firing watches) before the
// answer is queued, so a session sees its own watch events first.

#include <variant>

#include "testdoubles/fake/paths.h"
#include "testdoubles/fake/server_impl.h"

namespace zks::zk {
namespace {

using fake::Caller;

// One request kind's execution; `core.mu` is not held while it runs (firing
// watches notifies cores, this one included).
class Executor {
 public:
  Executor(FakeServer::Impl& impl, FakeClient::Core& core, const FakeServer::Impl::Session& session)
      : impl_(impl), core_(core), sid_(session.id), caller_{&session.auth, session.id} {}

  std::function<void()> operator()(fake::GetReq& r) {
    count({.reads = 1});
    GetResult res = fake::ops::getData(impl_.store, caller_, r.path);
    if (r.watch && res.code == Code::kOk) watchData(r.path, core_.watches.data);
    return fake::bind(r, std::move(res));
  }

  std::function<void()> operator()(fake::ChildrenReq& r) {
    count({.reads = 1});
    ChildrenResult res = fake::ops::getChildren(impl_.store, caller_, r.path);
    if (r.watch && res.code == Code::kOk) {
      impl_.watches.addChild(r.path, sid_);
      registerLocally(core_.watches.child, r.path);
    }
    return fake::bind(r, std::move(res));
  }

  std::function<void()> operator()(fake::ExistsReq& r) {
    count({.reads = 1});
    StatResult res = fake::ops::exists(impl_.store, r.path);
    // A missing node gets a creation watch (the client's exist table).
    if (r.watch) watchData(r.path, res.code == Code::kOk ? core_.watches.data : core_.watches.exist);
    return fake::bind(r, std::move(res));
  }

  std::function<void()> operator()(fake::GetAclReq& r) {
    count({.reads = 1});
    return fake::bind(r, fake::ops::getAcl(impl_.store, caller_, r.path));
  }

  std::function<void()> operator()(fake::MultiReadReq& r) {
    count({.reads = r.ops.size(), .multi_reads = 1});
    MultiReadResult res;
    res.results.reserve(r.ops.size());
    for (const auto& op : r.ops) {
      // Each op is answered on its own, a bad path too (as the pipelined
      // emulation of multiRead answers it).
      res.results.push_back(fake::validPath(op.path, false) ? fake::ops::read(impl_.store, caller_, op)
                                                            : ReadResult{.code = Code::kBadArguments});
    }
    return fake::bind(r, std::move(res));
  }

  std::function<void()> operator()(fake::SyncReq& r) { return fake::bind(r, VoidResult{}); }

  std::function<void()> operator()(fake::AddWatchReq& r) {
    impl_.watches.addWatch(r.path, sid_, r.mode);
    registerLocally(r.mode == AddWatchMode::kPersistent ? core_.watches.persistent : core_.watches.recursive, r.path);
    return fake::bind(r, VoidResult{});
  }

  std::function<void()> operator()(fake::RemoveWatchesReq& r) {
    impl_.watches.remove(r.path, sid_);
    {
      std::lock_guard lk(core_.mu);
      core_.watches.removeAll(r.path);
    }
    return fake::bind(r, VoidResult{});
  }

  std::function<void()> operator()(fake::CreateReq& r) {
    return write(r, [&](fake::Txn& txn, Code& code) {
      CreateResult res;
      res.code = code = fake::ops::create(impl_.store, txn, caller_, r.op, res.path);
      if (code != Code::kOk) res.path.clear();
      return res;
    });
  }

  std::function<void()> operator()(fake::SetReq& r) {
    return write(r, [&](fake::Txn& txn, Code& code) {
      StatResult res;
      res.code = code = fake::ops::set(impl_.store, txn, caller_, r.op, res.stat);
      return res;
    });
  }

  std::function<void()> operator()(fake::DeleteReq& r) {
    return write(r, [&](fake::Txn& txn, Code& code) {
      return VoidResult{code = fake::ops::remove(impl_.store, txn, caller_, r.op)};
    });
  }

  std::function<void()> operator()(fake::SetAclReq& r) {
    return write(r, [&](fake::Txn& txn, Code& code) {
      return VoidResult{code = fake::ops::setAcl(impl_.store, txn, caller_, r.path, r.acl, r.version)};
    });
  }

  std::function<void()> operator()(fake::MultiReq& r) {
    return write(r, [&](fake::Txn& txn, Code& code) {
      MultiResult res = fake::ops::multi(impl_.store, txn, caller_, r.ops);
      code = res.code;
      return res;
    });
  }

 private:
  void count(const FakeCounters& c) {
    impl_.counters += c;
    std::lock_guard lk(core_.mu);
    core_.counters += c;
  }

  // The client registers a watch when the answer arrives, i.e. now, before
  // any later notification can be queued.
  void registerLocally(std::set<std::string>& table, const std::string& path) {
    std::lock_guard lk(core_.mu);
    table.insert(path);
  }

  void watchData(const std::string& path, std::set<std::string>& table) {
    impl_.watches.addData(path, sid_);
    registerLocally(table, path);
  }

  // One transaction: a zxid even when the answer is an error; the changes
  // are committed (watches fire) or rolled back before the answer is queued.
  template <typename R, typename Apply>
  std::function<void()> write(R& req, Apply&& apply) {
    fake::Txn txn = impl_.store.begin();
    Code code = Code::kOk;
    auto res = apply(txn, code);
    if (code != Code::kOk) txn.rollback();
    FakeCounters c = txn.applied;
    c.write_requests = 1;
    c.multis = std::is_same_v<R, fake::MultiReq> ? 1 : 0;
    count(c);
    impl_.commit(txn);
    return fake::bind(req, std::move(res));
  }

  FakeServer::Impl& impl_;
  FakeClient::Core& core_;
  int64_t sid_;
  Caller caller_;
};

}  // namespace

void FakeServer::Impl::execute(FakeClient::Core& core, fake::Request& req) {
  std::unique_lock lk(core.mu);
  const Code state_code = pendingCode(core.state);
  auto session = sessions.find(core.session_id);
  if (state_code != Code::kOk || session == sessions.end()) {
    core.respondLocked(fake::failure(req, state_code != Code::kOk ? state_code : Code::kSessionExpired));
    return;
  }
  if (fake::requestSize(req) > options.max_request_bytes) {
    // The server closes the connection on a packet over jute.maxbuffer; the
    // C client fails everything in flight and reconnects to the same session.
    core.respondLocked(fake::failure(req, Code::kConnectionLoss));
    disconnect(core);
    reconnect(core);
    return;
  }
  lk.unlock();
  auto done = std::visit(Executor(*this, core, session->second), req);
  lk.lock();
  core.last_zxid = store.zxid();
  core.respondLocked(std::move(done));
}

}  // namespace zks::zk
