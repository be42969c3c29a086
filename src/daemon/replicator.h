#pragma once

// The elected leader's replication engine: full reconciles (on gaining
// leadership, after a primary session loss or backup reconnect, on audit and
// reload) and, between them, event passes driven by the primary's watches.
// Every write goes through one shared Applier behind the fence check.
//
// Threading: constructed, driven and destroyed on the daemon's loop thread;
// everything it starts posts back to that loop.

#include <functional>
#include <memory>
#include <optional>
#include <unordered_set>
#include <string>
#include <vector>

#include "apply/applier.h"
#include "common/event_loop.h"
#include "daemon/daemon_metrics.h"
#include "daemon/dirty_set.h"
#include "reconcile/node_index.h"
#include "reconcile/setup.h"
#include "state/counters.h"
#include "zk/client.h"

namespace zks::daemon {

struct ReplicatorHooks {
  std::function<void()> on_fenced;                     // a batch was refused on the fence
  std::function<void(const reconcile::ReconcileReport&, const std::string& reason)> on_full_reconcile_done;
};

class Replicator {
 public:
  Replicator(EventLoop& loop, zk::Client& primary, zk::Client& backup, const reconcile::Engine& engine,
             std::vector<zk::Op> fence_prefix, DaemonMetrics& metrics, reconcile::NodeIndex& index,
             ReplicatorHooks hooks);
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Queues a full reconcile. `trust_index`: read only stats where the index
  // says a node has not moved (after a session loss); false reads everything
  // (audit, reload, leadership), which is what finds drift on the backup.
  void requestFullReconcile(const std::string& reason, bool trust_index);
  // A primary watch event of the current session.
  void onPrimaryEvent(const zk::WatchEvent& event);
  // Replaces the mapping and options (SIGHUP); a full reconcile follows.
  void reload(const reconcile::Engine& engine);

  // Stops starting work; what is in flight finishes or is dropped.
  void stop();
  // Nothing in flight toward the backup.
  bool drained() const;

  bool firstReconcileDone() const { return first_done_; }
  bool fenced() const { return applier_.fenced(); }
  int64_t maxAppliedZxid() const { return max_applied_zxid_; }
  const state::Counters& counters() const { return counters_; }
  bool countersChanged() const { return counters_changed_; }
  void countersSaved() { counters_changed_ = false; }
  size_t queueDepth() const { return dirty_.waiting() + dirty_.inProgress() + applier_.queued(); }

 private:
  struct Pass;
  void startFull();
  void pumpEvents();
  void startEventPass(DirtyItem item);
  reconcile::ReconcileOptions baseOptions();
  void onApplied(const plan::Change& change, bool event_pass, bool audit);
  void afterPass(Pass* pass);

  EventLoop& loop_;
  zk::Client& primary_;
  zk::Client& backup_;
  reconcile::Engine engine_;
  DaemonMetrics& metrics_;
  reconcile::NodeIndex& index_;
  ReplicatorHooks hooks_;
  apply::Applier applier_;

  DirtySet dirty_;
  // Event passes started while a full pass ran: looked at again once it is
  // done. A full pass may have read a node before the primary deleted it
  // and land its create after the deletion's event pass found no backup
  // copy to remove; only a look after the full pass's writes can tell.
  std::unordered_set<std::string> during_full_;
  std::vector<std::unique_ptr<Pass>> passes_;  // running reconcilers
  bool full_running_ = false;
  std::optional<std::pair<std::string, bool>> full_pending_;  // reason, trust_index
  bool first_done_ = false;
  bool stopped_ = false;
  int64_t max_applied_zxid_ = 0;
  state::Counters counters_;
  bool counters_changed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace zks::daemon
