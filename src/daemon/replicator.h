#pragma once

// The elected leader's replication engine: full reconciles (on gaining
// leadership, after a primary session loss or backup reconnect, on audit and
// reload), re-verifications after a reconnect, and, between them, event
// passes driven by the primary's watches. Every write goes through one
// shared Applier behind the fence check.
//
// Two ways to watch the primary (SPEC 4 "Watching"):
//  - recursive (default on the native client, servers 3.6+): one
//    addWatch(PERSISTENT_RECURSIVE) per source root, added before the full
//    read of each new session. Each created, deleted or data-changed event
//    starts a NodePass for that node alone. After a reconnect of the same
//    session the server re-adds the watch but replays nothing: a paced
//    background re-verification (a full pass trusting the index) covers the
//    window while live events keep replicating.
//  - per-node (servers without addWatch, `persistent_watches: false`,
//    `client: libzookeeper`): a data and a child watch on every node, armed
//    by the reads; data events start a NodePass, children events a
//    Reconciler event pass over the directory.
// Events and reads are merged by the FIFO rule (fifo_merge.h).
//
// Threading: constructed, driven and destroyed on the daemon's loop thread;
// everything it starts posts back to that loop.

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "apply/applier.h"
#include "common/event_loop.h"
#include "daemon/daemon_metrics.h"
#include "daemon/dirty_set.h"
#include "daemon/fifo_merge.h"
#include "daemon/node_pass.h"
#include "daemon/watermark.h"
#include "reconcile/node_index.h"
#include "reconcile/setup.h"
#include "state/counters.h"
#include "zk/client.h"

namespace zks::daemon {

enum class WatchMode : uint8_t { kRecursive, kPerNode };
std::string_view watchModeName(WatchMode mode);

struct ReplicatorHooks {
  std::function<void()> on_fenced;  // a batch was refused on the fence
  std::function<void(const reconcile::ReconcileReport&, const std::string& reason)> on_full_reconcile_done;
  // Per-node mode: how many watches the primary session holds, when the
  // daemon counts them (libzookeeper); unset: one per indexed node.
  std::function<size_t()> watch_count;
};

class Replicator {
 public:
  Replicator(EventLoop& loop, zk::Client& primary, zk::Client& backup, const reconcile::Engine& engine,
             std::vector<zk::Op> fence_prefix, DaemonMetrics& metrics, reconcile::NodeIndex& index,
             ReplicatorHooks hooks, WatchMode mode = WatchMode::kPerNode);
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Queues a full reconcile. `trust_index`: read only stats where the index
  // says a node has not moved (after a session loss); false reads everything
  // (audit, reload, leadership), which is what finds drift on the backup.
  // Passes that trust the index, and audits, are re-verifications: paced so
  // that live events never wait behind them.
  void requestFullReconcile(const std::string& reason, bool trust_index);
  // The primary session's watches were lost (a new session): changes made
  // meanwhile fired no event, so the applied-zxid watermark waits for the
  // next full reconcile that starts after this. Call before requesting it.
  void primaryGap();
  // The primary session reconnected (same session, its watches re-sent by
  // the client). Recursive mode: the server replayed nothing, so a
  // re-verification covers the window. Per-node mode: the server fired what
  // changed (SetWatches), nothing to do.
  void primaryReconnected();
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

  WatchMode mode() const { return mode_; }
  bool firstReconcileDone() const { return first_done_; }
  bool fenced() const { return applier_.fenced(); }
  // The low watermark of primary changes on the backup (see watermark.h);
  // 0 until one is proven.
  int64_t maxAppliedZxid() const { return watermark_.value(); }
  // Sequence counters seen since the last call (backup parent path -> the
  // primary's next sequence number; the highest value seen): the daemon's
  // state worker merges them into what it saves.
  state::Counters takeCounterChanges();
  bool counterChangesPending() const { return !counter_changes_.empty(); }
  // Writes not yet on the backup: paths waiting to be read (one write each
  // at least) plus planned writes being batched, queued or in flight.
  size_t queueDepth() const { return dirty_.waiting() + applier_.pendingWrites(); }
  // Nodes parked after a write refused for good.
  size_t parkedNodes() const { return index_.parked(); }
  // Primary nodes this replicator may not read (no auth): from the last
  // full pass and the event passes since. The server sends no events for
  // them (CVE-2024-23944), so their changes wait for the next full pass.
  size_t unreadableNodes() const;
  std::string firstUnreadable() const;
  bool fullPassRunning() const { return full_running_ || full_pending_.has_value(); }
  // Event and node passes running.
  size_t eventPassesRunning() const { return event_passes_; }
  // Recursive mode: roots watched on the current primary session.
  size_t watchedRoots() const { return watched_roots_; }
  // A re-verification is running: nodes it read so far.
  bool reverifying() const { return reverify_running_; }
  size_t reverifyNodes() const { return reverify_nodes_; }
  // The last full pass numbered its primary reads: the reconciler honours
  // the merge hooks (may_plan, may_delete_orphan).
  bool fullPassNumbersReads() const { return full_numbered_; }
  // Sets the gauges that follow the replicator's state (queue, parked nodes).
  void updateGauges();

 private:
  struct Pass;
  void startFull();
  void subscribe();
  void onSubscribed(uint64_t generation, const std::vector<zk::Code>& codes);
  void pumpEvents();
  void startEventPass(DirtyItem item);
  void startNodePass(DirtyItem item, std::optional<Watermark::Ticket> ticket);
  void startSubtreePass(DirtyItem item, std::optional<Watermark::Ticket> ticket, const std::string& backup_path);
  reconcile::ReconcileOptions baseOptions();
  void onApplied(const plan::Change& change, bool event_pass, bool audit);
  void afterPass(Pass* pass);
  void afterFullPass(Pass& pass, const reconcile::ReconcileReport& report);
  void afterEventPass(Pass& pass, const reconcile::ReconcileReport& report);
  void afterNodePass(const NodePass& node);
  // The gauges that follow a full reconcile's result.
  void publishVerdict(const reconcile::ReconcileReport& report);
  // An event pass on `path` ended clean: if it was the last retry a full
  // pass's verdict waited for, that pass is converged after all.
  void settleFullVerdict(const std::string& path);
  // Marks `path` dirty with the watermark ticket of the work it stands for
  // (a new one if not given).
  void markDirty(const std::string& path, uint8_t flags, std::optional<Watermark::Ticket> ticket = std::nullopt);
  // Looks at `path` again after a pause that doubles with each failure in
  // a row (100 ms up to 30 s), holding `ticket` open meanwhile.
  void retryLater(const std::string& path, uint8_t flags, Watermark::Ticket ticket);
  // The flags a retry carries: everything read again.
  uint8_t retryFlags() const { return mode_ == WatchMode::kRecursive ? kDirtyFull : kDirtyData | kDirtyChildren; }
  void setWatchGauge();
  bool connected() const { return primary_connected_ && backup_connected_; }
  bool recursive() const { return mode_ == WatchMode::kRecursive; }

  EventLoop& loop_;
  zk::Client& primary_;
  zk::Client& backup_;
  reconcile::Engine engine_;
  DaemonMetrics& metrics_;
  reconcile::NodeIndex& index_;
  ReplicatorHooks hooks_;
  WatchMode mode_;
  apply::Applier applier_;

  // The FIFO merge rule (fifo_merge.h).
  ReadSequence seq_;
  MergeLedger ledger_;
  // The running full pass numbered its primary reads, i.e. it honours the
  // merge hooks (a reconciler that does not leaves I2 to the look-again of
  // every event path after it, I7).
  bool full_numbered_ = false;

  // Recursive mode: the primary session generation whose roots are watched
  // (0: none yet), and an addWatch round in flight.
  uint64_t watched_generation_ = 0;
  bool subscribing_ = false;
  size_t watched_roots_ = 0;

  DirtySet dirty_;
  // Event paths to look at again once the running full pass is done (I7).
  std::unordered_set<std::string> during_full_;
  std::vector<std::unique_ptr<Pass>> passes_;  // running passes
  size_t event_passes_ = 0;                    // of which event or node passes
  bool full_running_ = false;
  std::optional<std::pair<std::string, bool>> full_pending_;  // reason, trust_index
  bool first_done_ = false;
  bool stopped_ = false;
  bool primary_connected_ = true;
  bool backup_connected_ = true;
  int full_failures_ = 0;                               // full passes in a row that did not end clean
  std::unordered_map<std::string, int> path_failures_;  // event paths: failed passes in a row

  // Unreadable primary nodes: the last full pass's count plus what event
  // passes found since (and minus what they could read again).
  size_t full_unreadable_ = 0;
  std::string full_first_unreadable_;
  std::set<std::string> event_unreadable_;
  // Primary parents not replicated whose children's creates were left
  // alone (NodePass::skippedForParent): once the parent's copy is created,
  // its subtree is read whole.
  std::unordered_set<std::string> waiting_for_parent_;

  // The last full pass, amended, while the retries of its refused writes
  // are pending (afterFullPass).
  struct PendingVerdict {
    reconcile::ReconcileReport report;
    std::string reason;
    std::unordered_set<std::string> unresolved;
  };
  std::optional<PendingVerdict> pending_verdict_;

  // Re-verification progress.
  bool reverify_running_ = false;
  size_t reverify_nodes_ = 0;

  // The applied-zxid watermark: a ticket per dirty path not yet taken, per
  // running event pass, per retry waiting, per primary gap not yet covered
  // by a clean full pass, and for unresolved full-pass writes that only
  // another full pass retries.
  Watermark watermark_;
  std::unordered_map<std::string, Watermark::Ticket> waiting_tickets_;
  std::vector<Watermark::Ticket> gap_tickets_;
  std::optional<Watermark::Ticket> full_retry_ticket_;

  state::Counters counter_changes_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace zks::daemon
