#pragma once

// FakeClient::Core: one client's request queue, completion thread, session
// view and watch registry.
//
// Locking: FakeServer::Impl::mu first, then a Core::mu. Every change of the
// session view (state, generation, session_id, watch registry) happens with
// both held, so the server sees a consistent view while executing a request
// and may read it with its own lock alone. A core's lock is never held while
// a session ends (that notifies other cores; see server_impl.h).

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "testdoubles/fake/requests.h"
#include "testdoubles/fake/watches.h"
#include "testdoubles/fake_client.h"

namespace zks::zk {

// What the completion thread delivers, in order.
struct Delivery {
  enum class Kind : uint8_t { kResponse, kWatch, kSession };
  Kind kind = Kind::kResponse;
  std::function<void()> fn;  // kResponse
  WatchEvent watch{};        // kWatch
  SessionEvent session{};    // kSession
  int64_t session_id = 0;    // kWatch: the session that set the watch
};

struct FakeClient::Core {
  std::shared_ptr<FakeServer> server;  // keeps `impl` alive
  FakeServer::Impl* impl = nullptr;
  FakeClientOptions options;

  mutable std::mutex mu;
  std::condition_variable cv;
  mutable std::condition_variable idle_cv;
  std::deque<fake::Request> requests;
  std::deque<Delivery> deliveries;
  bool paused = false;
  bool stop = false;
  bool busy = false;
  size_t pending = 0;
  std::thread worker;
  std::thread::id worker_id;

  SessionState state = SessionState::kClosed;
  uint64_t generation = 0;
  int64_t session_id = 0;
  int64_t last_zxid = 0;
  fake::ClientWatches watches;
  std::vector<AuthEntry> added_auth;  // addAuth() calls, replayed on every new session
  WatchListener watch_listener;
  SessionListener session_listener;
  FakeCounters counters;

  // The completion thread's body.
  void loop();
  // Executes one request: refused by the client, or sent to the server.
  void runOne(fake::Request req);
  void issue(fake::Request req);
  bool idleLocked() const { return deliveries.empty() && !busy && (requests.empty() || paused); }

  // The rest are called with mu held.
  void pushLocked(Delivery d);
  void respondLocked(std::function<void()> fn);
  void sessionEventLocked(SessionState s);
  // Answers every queued request with `code`.
  void failQueuedLocked(Code code);
  // A notification arrives: deliver it once, with the registrations it
  // matched, or drop it when it matched none.
  void notifyLocked(EventType type, const std::string& path);
};

// The code a request gets while the session is in `state` (kOk: connected).
Code pendingCode(SessionState state);

}  // namespace zks::zk
