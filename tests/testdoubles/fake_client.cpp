#include "testdoubles/fake_client.h"

#include "testdoubles/fake/client_core.h"
#include "testdoubles/fake/server_impl.h"

namespace zks::zk {

FakeClient::FakeClient(std::shared_ptr<FakeServer> server, FakeClientOptions options)
    : server_(std::move(server)), core_(std::make_shared<Core>()) {
  core_->server = server_;
  core_->impl = server_->impl_.get();
  core_->options = std::move(options);
  {
    std::lock_guard lk(server_->impl_->mu);
    auto& cores = server_->impl_->cores;
    std::erase_if(cores, [](const auto& w) { return w.expired(); });
    cores.push_back(core_);
  }
  {
    // The worker starts by taking the lock, so it sees worker_id set.
    std::lock_guard lk(core_->mu);
    core_->worker = std::thread([core = core_] { core->loop(); });
    core_->worker_id = core_->worker.get_id();
  }
  if (core_->options.connect) {
    std::lock_guard lk(server_->impl_->mu);
    (void)server_->impl_->openSession(core_, false);
  }
}

FakeClient::~FakeClient() {
  close();
  {
    std::lock_guard lk(core_->mu);
    core_->stop = true;
    core_->paused = false;  // every callback runs, even of paused requests
    core_->cv.notify_all();
  }
  // A callback may hold the last reference to its own client.
  if (std::this_thread::get_id() == core_->worker_id) {
    core_->worker.detach();
  } else {
    core_->worker.join();
  }
}

Capabilities FakeClient::capabilities() const { return core_->options.capabilities; }

void FakeClient::get(const std::string& path, bool watch, GetCallback cb) {
  core_->issue(fake::GetReq{path, watch, std::move(cb)});
}
void FakeClient::getChildren(const std::string& path, bool watch, ChildrenCallback cb) {
  core_->issue(fake::ChildrenReq{path, watch, std::move(cb)});
}
void FakeClient::exists(const std::string& path, bool watch, StatCallback cb) {
  core_->issue(fake::ExistsReq{path, watch, std::move(cb)});
}
void FakeClient::getAcl(const std::string& path, AclCallback cb) { core_->issue(fake::GetAclReq{path, std::move(cb)}); }
void FakeClient::create(CreateOp op, CreateCallback cb) { core_->issue(fake::CreateReq{std::move(op), std::move(cb)}); }
void FakeClient::set(SetOp op, StatCallback cb) { core_->issue(fake::SetReq{std::move(op), std::move(cb)}); }
void FakeClient::remove(DeleteOp op, VoidCallback cb) { core_->issue(fake::DeleteReq{std::move(op), std::move(cb)}); }
void FakeClient::setAcl(const std::string& path, AclList acl, int32_t version, VoidCallback cb) {
  core_->issue(fake::SetAclReq{path, std::move(acl), version, std::move(cb)});
}
void FakeClient::multi(std::vector<Op> ops, MultiCallback cb) {
  core_->issue(fake::MultiReq{std::move(ops), std::move(cb)});
}

void FakeClient::multiRead(std::vector<ReadOp> ops, MultiReadCallback cb) {
  if (!core_->options.capabilities.multi_read) return Client::multiRead(std::move(ops), std::move(cb));
  core_->issue(fake::MultiReadReq{std::move(ops), std::move(cb)});
}

void FakeClient::addWatch(const std::string& path, AddWatchMode mode, VoidCallback cb) {
  if (!core_->options.capabilities.persistent_watches) return Client::addWatch(path, mode, std::move(cb));
  core_->issue(fake::AddWatchReq{path, mode, std::move(cb)});
}

void FakeClient::removeWatches(const std::string& path, VoidCallback cb) {
  if (!core_->options.capabilities.persistent_watches) return Client::removeWatches(path, std::move(cb));
  core_->issue(fake::RemoveWatchesReq{path, std::move(cb)});
}

void FakeClient::sync(const std::string& path, VoidCallback cb) { core_->issue(fake::SyncReq{path, std::move(cb)}); }

void FakeClient::setWatchListener(WatchListener listener) {
  std::lock_guard lk(core_->mu);
  core_->watch_listener = std::move(listener);
}
void FakeClient::setSessionListener(SessionListener listener) {
  std::lock_guard lk(core_->mu);
  core_->session_listener = std::move(listener);
}

Status FakeClient::reopen(std::chrono::milliseconds /*timeout*/) {
  std::lock_guard lk(server_->impl_->mu);
  return server_->impl_->openSession(core_, true);
}

void FakeClient::close() {
  auto& impl = *server_->impl_;
  std::lock_guard slk(impl.mu);
  impl.closeSession(core_->session_id);  // without the core's lock (server_impl.h)
  std::lock_guard lk(core_->mu);
  core_->failQueuedLocked(Code::kClosing);
  core_->watches.clear();
  core_->state = SessionState::kClosed;
  core_->session_id = 0;
}

SessionState FakeClient::state() const {
  std::lock_guard lk(core_->mu);
  return core_->state;
}
uint64_t FakeClient::generation() const {
  std::lock_guard lk(core_->mu);
  return core_->generation;
}
int64_t FakeClient::sessionId() const {
  std::lock_guard lk(core_->mu);
  return core_->session_id;
}
size_t FakeClient::pending() const {
  std::lock_guard lk(core_->mu);
  return core_->pending;
}

void FakeClient::expireSession() {
  std::lock_guard slk(server_->impl_->mu);
  server_->impl_->expire(*core_);
}

void FakeClient::disconnect() {
  std::lock_guard slk(server_->impl_->mu);
  std::lock_guard lk(core_->mu);
  server_->impl_->disconnect(*core_);
}

SessionState FakeClient::reconnect() {
  std::lock_guard slk(server_->impl_->mu);
  std::lock_guard lk(core_->mu);
  return server_->impl_->reconnect(*core_);
}

void FakeClient::addAuth(const std::string& scheme, const std::string& credentials) {
  auto& impl = *server_->impl_;
  std::lock_guard slk(impl.mu);
  {
    std::lock_guard lk(core_->mu);
    core_->added_auth.push_back(AuthEntry{scheme, credentials});
  }
  auto it = impl.sessions.find(core_->session_id);
  if (it == impl.sessions.end()) return;
  if (!impl.addAuth(it->second, scheme, credentials)) impl.authFailed(*core_);
}

void FakeClient::pauseRequests() {
  std::lock_guard lk(core_->mu);
  core_->paused = true;
  core_->idle_cv.notify_all();
}

void FakeClient::resumeRequests() {
  std::lock_guard lk(core_->mu);
  core_->paused = false;
  core_->cv.notify_all();
}

bool FakeClient::waitIdle(std::chrono::milliseconds timeout) const {
  if (std::this_thread::get_id() == core_->worker_id) return false;
  std::unique_lock lk(core_->mu);
  return core_->idle_cv.wait_for(lk, timeout, [&] { return core_->idleLocked(); });
}

FakeCounters FakeClient::counters() const {
  std::lock_guard lk(core_->mu);
  return core_->counters;
}
void FakeClient::resetCounters() {
  std::lock_guard lk(core_->mu);
  core_->counters = {};
}
int64_t FakeClient::lastZxid() const {
  std::lock_guard lk(core_->mu);
  return core_->last_zxid;
}
size_t FakeClient::watchCount() const {
  std::lock_guard lk(core_->mu);
  return core_->watches.size();
}

}  // namespace zks::zk
