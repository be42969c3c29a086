#pragma once

// The daemon behind runDaemon() (daemon.h), shared by daemon.cpp (sites,
// leadership, lifecycle) and daemon_records.cpp (the replicator's records
// on the written site: state record, sequence counters, roles).
//
// Threading: run() owns the calling thread as the loop thread; every client
// callback, election callback, timer and signal is posted to it. Blocking
// reads and writes of the records run on the state worker (StateWorker),
// whose jobs post their results back; the loop thread never waits on a site.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/event_loop.h"
#include "daemon/counter_keeper.h"
#include "daemon/daemon.h"
#include "daemon/daemon_metrics.h"
#include "daemon/readiness.h"
#include "daemon/replicator.h"
#include "daemon/site_session.h"
#include "daemon/state_worker.h"
#include "daemon/watch_ledger.h"
#include "metrics/http_server.h"
#include "reconcile/setup.h"
#include "state/election.h"
#include "state/identity.h"
#include "state/store.h"

namespace zks::daemon {

inline constexpr int kExitOk = 0, kExitDeposed = 1, kExitConfig = 2, kExitFenced = 3, kExitRoleStandby = 4;

class Daemon {
 public:
  Daemon(reconcile::Engine engine, DaemonOptions options);
  int run();

 private:
  // ---- sites (daemon.cpp) ----
  zk::Client& read() { return read_site_->client(); }
  zk::Client& write() { return write_site_->client(); }
  void openSites(const zk::ConnectOptions& read_options, const zk::ConnectOptions& write_options);
  void setRead(bool connected);
  void setWrite(bool connected);
  void onReadNewSession();
  void onWriteNewSession();
  // libzookeeper: a lost connection whose SetWatches packet would pass
  // the server's limit is given up for a new session (ZOOKEEPER-706).
  bool renewReadSession();
  // ---- leadership (daemon.cpp) ----
  void joinElection();
  void startElection();
  void onElectionError(const Error& e, uint64_t generation);
  std::shared_ptr<state::LeaderElection> currentElection();
  void onElected();
  void onFenceTaken(Result<state::FenceToken> token, uint64_t generation);
  void onLost();
  void onFenced();
  // ---- lifecycle (daemon.cpp) ----
  void reload();
  void shutdown();
  void exitWith(int code, const std::string& why);
  // Copies the loop thread's view into the readiness board (the HTTP
  // threads read only that) and sets zkstandby_ready.
  void publish();

  // ---- records on the written site (daemon_records.cpp) ----
  // Runs `job` on the state worker with the written site's client; the job
  // posts what the loop must learn.
  void onWriteConnected();
  // Reverse mode: exits 4 when the backup's role is standby; `then(true)`
  // when it is active, `then(false)` when it could not be read.
  void checkReverseRole(std::function<void(bool active)> then);
  void armBackupFenceWatch();
  // Whether this candidate is registered behind another one (a follower
  // standing by); polled after joining until it leads or stands by.
  void checkStandingBy();
  void pollStandingBy(int tries_left);
  void scheduleAudit();
  void scheduleStateUpdate();
  void scheduleCounterSave();
  void stateTick();
  void onFullReconcileDone(const reconcile::ReconcileReport& report);
  void loadSavedCounters();
  // Hands the counters the replicator saw to the worker, which saves them
  // when due (now, or within seconds of a change).
  void saveCounters(bool now);
  // A worker job's answer that the fence moved: handled on the loop.
  void postFenced();

  reconcile::Engine engine_;
  DaemonOptions options_;
  std::string state_path_;  // as the daemon started (a SIGHUP cannot move it)
  metrics::Registry registry_;
  DaemonMetrics metrics_;
  EventLoop loop_;
  ReadinessBoard board_;
  std::unique_ptr<metrics::HttpServer> http_;
  std::unique_ptr<SiteSession> read_site_;   // the primary (the backup with --reverse)
  std::unique_ptr<SiteSession> write_site_;  // the backup (the rebuilt primary with --reverse)
  WatchLedger* read_ledger_ = nullptr;       // read_site_'s client when it is libzookeeper
  StateWorker worker_;
  // The completion thread forwards the write site's watch events to the
  // election; the loop thread replaces it after an error. The lock guards
  // the pointer, the shared_ptr keeps a call in progress safe.
  std::mutex election_mutex_;
  std::shared_ptr<state::LeaderElection> election_;
  uint64_t election_generation_ = 0;
  int election_failures_ = 0;
  std::chrono::steady_clock::time_point election_error_at_{};
  int fence_failures_ = 0;
  bool taking_fence_ = false;
  std::unique_ptr<Replicator> replicator_;
  reconcile::NodeIndex index_;
  std::optional<state::FenceToken> fence_;
  // The leader's counters; used by worker jobs only (one per leadership).
  std::shared_ptr<CounterKeeper> keeper_;
  std::string identity_ = state::processIdentity();
  const std::string backup_fence_path_;

  // Loop thread only; published to board_.
  ReadinessState rs_;
  std::atomic<bool> election_started_{false};  // also read by the write client's completion thread
  bool joining_ = false;                       // ensureLayout on the worker, before the election starts
  bool reverse_role_checked_ = false;
  bool standby_check_running_ = false;
  bool tick_running_ = false;

  bool shutting_down_ = false;
  std::optional<int> exit_code_;
  std::shared_ptr<std::function<void()>> poll_holder_;  // keeps the drain poll alive
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace zks::daemon
