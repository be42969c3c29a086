#pragma once

// One ZooKeeper session of the native client, from its first connect until
// it expires, fails authentication or is closed. It owns an I/O thread that
// connects, resumes and keeps the session alive, moves requests to the wire,
// matches replies to them and routes watch events.
//
//   - Connect: hosts in a shuffled order; TCP (and TLS), then the handshake
//     (ConnectRequest with the trailing readOnly byte). A resume sends
//     (sessionId, password, lastZxidSeen); a server that is behind that
//     zxid (a lagging follower) closes the connection, and the next host is
//     tried. A ConnectResponse with timeout 0 means the session expired.
//     After a cycle of failed hosts the session backs off (25 ms doubling to
//     1 s, with jitter) before the next cycle. Before the first connection,
//     a cycle in which every host refused the TLS handshake for good (an
//     untrusted certificate on either side) ends the session at once, so
//     that reopen() reports it instead of waiting out its timeout.
//   - On every connection: digest auth first, then SetWatches/SetWatches2
//     for every registered watch (packets of at most 128 KiB of paths),
//     then requests. reopen() returns only once the first connection's auth
//     has been answered.
//   - Liveness: a ping when nothing was sent for a third of the negotiated
//     timeout; the connection is dropped when nothing at all arrived for two
//     thirds of it. Any byte counts, so a session with thousands of requests
//     in flight on a slow link is never cut while data flows. There is no
//     per-request timeout.
//   - Window: at most `window` requests on the wire; the rest wait in FIFO
//     order. Replies must come back in xid order (the server answers a
//     session's requests in order); anything else drops the connection.
//   - Pending requests: on a lost connection every request on the wire or
//     waiting fails with kConnectionLoss (its outcome is unknown), and
//     requests made while reconnecting fail at once with kConnectionLoss.
//     Before the first connection they wait. Expiry fails them with
//     kSessionExpired, close() with kClosing, a refused auth with
//     kAuthFailed. Each call completes exactly once, and calls complete
//     in the order they were submitted (a request refused before sending,
//     for a bad path, is answered at once).
//   - close(): when connected, sends closeSession (so the server drops this
//     session's ephemeral nodes at once) and waits for its answer at most
//     two seconds, while the replies already due keep arriving; when not
//     connected it stops at once, cutting a pending connect short.
//
// Threads: submit(), state() and friends may be called from any thread.
// Completions, watch events and session events go to the SessionSink in
// the order they happened; the sink runs them on the dispatcher thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "zk/connect_options.h"
#include "zk/native/call.h"
#include "zk/native/frame_reader.h"
#include "zk/native/paths.h"
#include "zk/native/records.h"
#include "zk/native/transport.h"
#include "zk/native/watch_registry.h"

namespace zks::zk::native {

class TlsContext;

// Where a session hands what it produced. Called from the session's I/O
// thread and from submit()'s caller; must be thread-safe and cheap.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  // Runs the tasks on the dispatcher thread, in order, after everything
  // posted before.
  virtual void post(std::vector<std::unique_ptr<Task>> tasks) = 0;
  virtual std::unique_ptr<Task> watchTask(WatchEvent event) = 0;
  virtual std::unique_ptr<Task> sessionTask(SessionEvent event) = 0;
};

struct SessionConfig {
  std::vector<HostPort> hosts;
  std::string chroot;       // "" when none
  std::string connect;      // the connect string, for messages
  std::string name = "zk";  // for log lines
  std::chrono::milliseconds session_timeout{30000};
  std::vector<AuthEntry> auth;
  size_t window = 2048;
  size_t max_packet_bytes = 256u << 20;
  std::shared_ptr<const TlsContext> tls;  // null: plain TCP
  uint64_t generation = 1;
  // Path bytes per SetWatches packet (the Java client's limit).
  size_t set_watches_bytes = 128 * 1024;
};

class Session {
 public:
  Session(SessionConfig config, SessionSink& sink);
  ~Session();  // close()
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  void submit(std::unique_ptr<Call> call);

  // kRefused: every host refused the TLS handshake before the first
  // connection (see lastError()).
  enum class Ready { kReady, kAuthFailed, kExpired, kTimeout, kClosed, kRefused };
  // Waits for the first connection with every auth entry answered.
  Ready waitReady(Clock::time_point deadline);
  // Why the last connection attempt failed (for reopen()'s error).
  std::string lastError() const;

  // Ends the session (see the top of the file) and joins the I/O thread.
  // Idempotent.
  void close();
  // Tells the I/O thread to end the session without waiting for it: a
  // pending connect is cut short and waitReady() returns kClosed.
  void requestStop() { waker_.stop(); }

  SessionState state() const;
  uint64_t generation() const { return config_.generation; }
  int64_t sessionId() const { return session_id_.load(); }
  std::string password() const;
  size_t pending() const { return pending_.load(); }
  // Test hook: SetWatches/SetWatches2 packets sent on reconnects so far.
  uint64_t setWatchesPacketsSent() const { return set_watches_sent_.load(); }
  // Test hook: while held, a lost connection is not reconnected (so that a
  // test can close the session from another connection without this one
  // taking it back first).
  void holdReconnectsForTesting(bool hold) { hold_reconnects_.store(hold); }

 private:
  // kRefused: a TLS handshake that failed for good (certificates).
  enum class Attempt { kConnected, kFailed, kRefused, kExpired, kStopped };
  enum class End { kLost, kStopped, kAuthFailed };
  struct InFlight {
    int32_t xid = 0;
    std::unique_ptr<Call> call;  // null for the session's own closeSession
  };

  void run();
  Attempt connectTo(const HostPort& host);
  End serve(const HostPort& host);
  void backOff(int cycles);

  void sendSessionSetup();
  void pump();
  bool flush(std::string& error);
  // Returns false when the frame breaks the protocol (error says how).
  bool handleFrame(std::string_view frame, std::string& error);
  void registerWatch(const Call& call);
  void complete(std::unique_ptr<Call> call);
  void startClosing();

  // Ends the connection or the session; every call still owed fails with `code`.
  void connectionLost(const HostPort& host, const std::string& reason);
  void finish(SessionState final_state, Code code);
  // Sets state_ and posts its SessionEvent; mutex_ held.
  void announceLocked(SessionState state);
  void failAll(Code code, std::deque<std::unique_ptr<Call>> waiting);
  void deliver();
  void setLastError(std::string error);
  bool everConnected() const;
  std::chrono::milliseconds timeout() const;

  const SessionConfig config_;
  SessionSink& sink_;
  Waker waker_;
  std::thread thread_;
  std::once_flag close_once_;

  // Shared with other threads, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable ready_cv_;
  SessionState state_ = SessionState::kConnecting;
  bool ever_connected_ = false;
  bool ready_ = false;
  bool refused_ = false;
  std::deque<std::unique_ptr<Call>> waiting_;  // submitted, not yet on the wire
  std::string last_error_;
  std::string password_;
  std::atomic<int64_t> session_id_{0};
  std::atomic<size_t> pending_{0};
  std::atomic<uint64_t> set_watches_sent_{0};
  std::atomic<bool> hold_reconnects_{false};

  // The I/O thread's own.
  std::vector<HostPort> hosts_;
  std::unique_ptr<class Transport> transport_;
  FrameReader frames_;
  std::string out_;
  size_t out_sent_ = 0;
  std::deque<InFlight> in_flight_;
  WatchRegistry registry_;
  int32_t next_xid_ = 1;
  int64_t last_zxid_ = 0;
  int32_t negotiated_timeout_ms_ = 0;
  int auth_outstanding_ = 0;
  bool auth_failed_ = false;
  bool closing_ = false;
  bool close_answered_ = false;
  Clock::time_point close_deadline_;
  Clock::time_point last_send_;
  Clock::time_point last_receive_;
  std::vector<std::unique_ptr<Task>> deliveries_;
};

}  // namespace zks::zk::native
