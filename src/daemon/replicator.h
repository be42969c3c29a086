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
#include <unordered_map>
#include <unordered_set>
#include <string>
#include <vector>

#include "apply/applier.h"
#include "common/event_loop.h"
#include "daemon/daemon_metrics.h"
#include "daemon/dirty_set.h"
#include "daemon/watermark.h"
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
  // The primary session's watches were lost (a new session): changes made
  // meanwhile fired no event, so the applied-zxid watermark waits for the
  // next full reconcile that starts after this. Call before requesting it.
  void primaryGap();
  // A primary watch event of the current session.
  void onPrimaryEvent(const zk::WatchEvent& event);
  // Replaces the mapping and options (SIGHUP); a full reconcile follows.
  void reload(const reconcile::Engine& engine);
  // Passes start only while both sites are connected; work that arrives
  // meanwhile waits (instead of failing and being retried every 100 ms).
  void setConnected(bool primary, bool backup);

  // Stops starting work; what is in flight finishes or is dropped.
  void stop();
  // Nothing in flight toward the backup.
  bool drained() const;

  bool firstReconcileDone() const { return first_done_; }
  bool fenced() const { return applier_.fenced(); }
  // The low watermark of primary changes on the backup (see watermark.h);
  // 0 until one is proven.
  int64_t maxAppliedZxid() const { return watermark_.value(); }
  const state::Counters& counters() const { return counters_; }
  bool countersChanged() const { return counters_changed_; }
  void countersSaved() { counters_changed_ = false; }
  // Merges counters saved by an earlier leader (the highest value wins):
  // a new leader must never save less than what is stored.
  void adoptSavedCounters(const state::Counters& saved);
  // Writes not yet on the backup: paths waiting to be read (one write each
  // at least) plus planned writes being batched, queued or in flight.
  size_t queueDepth() const { return dirty_.waiting() + applier_.pendingWrites(); }
  // Nodes parked after a write refused for good.
  size_t parkedNodes() const { return index_.parked(); }
  // Sets the gauges that follow the replicator's state (queue, parked nodes).
  void updateGauges();

 private:
  struct Pass;
  void startFull();
  void pumpEvents();
  void startEventPass(DirtyItem item);
  reconcile::ReconcileOptions baseOptions();
  void onApplied(const plan::Change& change, bool event_pass, bool audit);
  void afterPass(Pass* pass);
  void afterFullPass(Pass& pass, const reconcile::ReconcileReport& report);
  void afterEventPass(Pass& pass, const reconcile::ReconcileReport& report);
  // Marks `path` dirty with the watermark ticket of the work it stands for
  // (a new one if not given).
  void markDirty(const std::string& path, uint8_t flags, std::optional<Watermark::Ticket> ticket = std::nullopt);
  // Looks at `path` again after a pause that doubles with each failure in
  // a row (100 ms up to 30 s), holding `ticket` open meanwhile.
  void retryLater(const std::string& path, uint8_t flags, Watermark::Ticket ticket);
  bool connected() const { return primary_connected_ && backup_connected_; }

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
  bool primary_connected_ = true;
  bool backup_connected_ = true;
  int full_failures_ = 0;                               // full passes in a row that did not end clean
  std::unordered_map<std::string, int> path_failures_;  // event paths: failed passes in a row

  // The applied-zxid watermark: a ticket per dirty path not yet taken, per
  // running event pass, per retry waiting, per primary gap not yet covered
  // by a clean full pass, and for unresolved full-pass writes that only
  // another full pass retries.
  Watermark watermark_;
  std::unordered_map<std::string, Watermark::Ticket> waiting_tickets_;
  std::vector<Watermark::Ticket> gap_tickets_;
  std::optional<Watermark::Ticket> full_retry_ticket_;

  state::Counters counters_;
  bool counters_changed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace zks::daemon
