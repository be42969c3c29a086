#include "testdoubles/fake/server_impl.h"

namespace zks::zk {

FakeServer::Impl::Impl(FakeServerOptions o)
    : options(std::move(o)), store(options), watches(options.one_shot_replaces_persistent) {}

void FakeServer::Impl::commit(fake::Txn& txn) {
  for (const auto& t : txn.triggers) fire(t.type, t.path);
  txn.undo.clear();
}

void FakeServer::Impl::fire(EventType type, const std::string& path) {
  for (int64_t id : watches.trigger(type, path)) notify(id, type, path);
}

void FakeServer::Impl::notify(int64_t session_id, EventType type, const std::string& path) {
  auto it = sessions.find(session_id);
  if (it == sessions.end() || !it->second.connected) return;
  if (auto core = it->second.core.lock()) {
    std::lock_guard lk(core->mu);
    if (core->session_id == session_id) core->notifyLocked(type, path);
  }
}

}  // namespace zks::zk
