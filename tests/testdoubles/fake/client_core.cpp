#include "testdoubles/fake/client_core.h"

#include "testdoubles/fake/server_impl.h"

namespace zks::zk {

Code pendingCode(SessionState state) {
  switch (state) {
    case SessionState::kConnected: return Code::kOk;
    case SessionState::kConnecting: return Code::kConnectionLoss;
    case SessionState::kExpired: return Code::kSessionExpired;
    case SessionState::kAuthFailed: return Code::kAuthFailed;
    case SessionState::kClosed: return Code::kClosing;
  }
  return Code::kClosing;
}

void FakeClient::Core::issue(fake::Request req) {
  std::lock_guard lk(mu);
  requests.push_back(std::move(req));
  ++pending;
  cv.notify_one();
}

void FakeClient::Core::pushLocked(Delivery d) {
  deliveries.push_back(std::move(d));
  cv.notify_one();
}

void FakeClient::Core::respondLocked(std::function<void()> fn) {
  pushLocked(Delivery{Delivery::Kind::kResponse, std::move(fn)});
}

void FakeClient::Core::sessionEventLocked(SessionState s) {
  pushLocked(Delivery{Delivery::Kind::kSession, {}, {}, SessionEvent{s, generation}});
}

void FakeClient::Core::failQueuedLocked(Code code) {
  while (!requests.empty()) {
    respondLocked(fake::failure(requests.front(), code));
    requests.pop_front();
  }
}

void FakeClient::Core::notifyLocked(EventType type, const std::string& path) {
  const uint8_t origins = watches.match(type, path);
  if (origins == 0) return;
  Delivery d{Delivery::Kind::kWatch};
  d.watch = WatchEvent{type, path, generation, origins};
  d.session_id = session_id;
  pushLocked(std::move(d));
}

void FakeClient::Core::runOne(fake::Request req) {
  if (const Code code = fake::clientCheck(req, options.capabilities); code != Code::kOk) {
    std::lock_guard lk(mu);
    respondLocked(fake::failure(req, code));
    return;
  }
  std::lock_guard slk(impl->mu);
  impl->execute(*this, req);
}

void FakeClient::Core::loop() {
  std::unique_lock lk(mu);
  for (;;) {
    if (!deliveries.empty()) {
      Delivery d = std::move(deliveries.front());
      deliveries.pop_front();
      busy = true;
      std::function<void()> fn;
      switch (d.kind) {
        case Delivery::Kind::kResponse: fn = std::move(d.fn); break;
        case Delivery::Kind::kWatch:
          // Events of an older session, or of a closed client, are never delivered.
          if (watch_listener && d.session_id == session_id && d.watch.generation == generation &&
              state != SessionState::kClosed) {
            fn = [listener = watch_listener, ev = std::move(d.watch)] { listener(ev); };
          }
          break;
        case Delivery::Kind::kSession:
          if (session_listener && d.session.generation == generation && state != SessionState::kClosed) {
            fn = [listener = session_listener, ev = d.session] { listener(ev); };
          }
          break;
      }
      lk.unlock();
      if (fn) fn();
      fn = nullptr;  // the callback's captures die outside the lock
      lk.lock();
      if (d.kind == Delivery::Kind::kResponse) --pending;
      busy = false;
      continue;
    }
    if (!requests.empty() && !paused) {
      fake::Request req = std::move(requests.front());
      requests.pop_front();
      busy = true;
      lk.unlock();
      runOne(std::move(req));
      lk.lock();
      busy = false;
      continue;
    }
    idle_cv.notify_all();
    if (stop) break;
    cv.wait(lk);
  }
}

}  // namespace zks::zk
