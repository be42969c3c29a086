#pragma once

// One ZooKeeper site as the daemon holds it: the client, a connect that
// runs off the loop thread and is retried after a pause until a session is
// up, and what the session's events mean to the daemon (a new session, the
// same session back after a lost connection, a lost connection, an expiry).
// Used for both sites, so that both follow one policy.
//
// Threading: everything but the constructor's listener runs on the loop
// thread. One connector thread at a time calls the blocking reopen(); it is
// joined before the next one starts and by close(), which cuts a connect in
// progress (both backends give up at once when closed), so that a daemon
// stopped while a site is unreachable does not wait out connect_timeout.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/event_loop.h"
#include "zk/client.h"
#include "zk/connect_options.h"

namespace zks::daemon {

struct SiteCallbacks {
  // Every session event of the current session, first (the election wants them).
  std::function<void(const zk::SessionEvent&)> on_event;
  // connect() succeeded: a new session (no watches, no ephemerals yet).
  std::function<void()> on_new_session;
  // The current session's connection came back after it was lost: the
  // session, its watches and ephemerals live on.
  std::function<void()> on_resumed;
  // The current session lost its connection (it may come back).
  std::function<void()> on_disconnected;
  // The current session expired; connect() is already called.
  std::function<void()> on_expired;
  // Whether to give up a session that lost its connection and open a new
  // one rather than wait for it to resume (asked at each disconnect).
  std::function<bool()> renew_on_disconnect;
};

class SiteSession {
 public:
  // `client` is not connected yet; the owner sets its watch listener.
  SiteSession(EventLoop& loop, std::string name, zk::ConnectOptions options, std::unique_ptr<zk::Client> client,
              SiteCallbacks callbacks);
  ~SiteSession();
  SiteSession(const SiteSession&) = delete;
  SiteSession& operator=(const SiteSession&) = delete;

  zk::Client& client() { return *client_; }
  const zk::ConnectOptions& options() const { return options_; }
  const std::string& name() const { return name_; }

  // Opens a new session (ending the current one), retrying every
  // kRetry after a failure, until one is connected or close() is called.
  // A connect already in progress is not started twice.
  void connect();
  // Cuts a connect in progress, ends the session and joins the connector
  // thread. Nothing is reported after it.
  void close();

  bool connected() const { return connected_; }
  bool connecting() const { return connecting_; }
  // Connect attempts that failed in a row.
  int failures() const { return failures_; }

  static constexpr auto kRetry = std::chrono::seconds(1);

 private:
  void onSessionEvent(const zk::SessionEvent& e);
  void onConnectDone(Status status, uint64_t generation);

  EventLoop& loop_;
  const std::string name_;
  const zk::ConnectOptions options_;
  std::unique_ptr<zk::Client> client_;
  SiteCallbacks callbacks_;
  std::thread connector_;
  bool connecting_ = false;
  bool connected_ = false;
  uint64_t session_generation_ = 0;  // the session connect() opened last
  int failures_ = 0;
  std::atomic<bool> closed_{false};
  std::atomic<bool> connector_running_{false};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace zks::daemon
