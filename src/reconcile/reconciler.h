#pragma once

// One full reconcile pass: walks the primary's roots and the backup's target
// roots side by side, maps every primary node, plans what the backup needs
// (plan::planNode) and, unless it is a dry run, hands the writes to the
// Applier while the walk goes on. Deletes wait for the end of the walk: the
// delete guard needs the whole count first.
//
// Reads in bulk (SPEC 4): a directory's children are read with multiRead,
// getData in batches bounded by count and expected reply bytes, several
// batches in flight per site; then getChildren (also batched) of the nodes
// whose stat says they have children. The backup side is read the same
// way: getData of the mapped paths that its listing holds (existence, data
// and stat in one op), getChildren where the backup copy has children.
// Without Capabilities::multi_read (libzookeeper, servers before 3.6) the
// same batches go out as pipelined single reads, so there is one code path.
// ACLs cannot be batched: under `acls: copy` each node's getACL is
// pipelined beside its batch (a first read), or skipped where the index
// knows the backup copy and czxid and aversion did not move (a trusted
// pass).
//
// Memory: no payload outlives the node it belongs to; what a pass keeps is
// the directories being walked (their children's names in a NameList), at
// most max_outstanding_reads nodes being read, and the delete list.
//
// Threading: everything runs on `loop` (the caller runs it); client
// completions are posted there.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apply/applier.h"
#include "common/event_loop.h"
#include "plan/change.h"
#include "plan/node_plan.h"
#include "reconcile/node_index.h"
#include "zk/client.h"

namespace zks::reconcile {

// What the mapping makes of one primary node.
struct MappedNode {
  bool replicated = true;      // false: outside the mapping's reach, not copied
  std::string path;            // backup path (known even when the payload fails)
  std::string data;            // mapped payload
  std::vector<plan::FieldChange> fields;
  std::string failure;         // non-empty: the payload could not be mapped
};
using NodeMapper = std::function<MappedNode(const std::string& primary_path, const std::string& data)>;

struct Root {
  std::string source;
  std::string target;
};

struct ReconcileOptions {
  std::vector<Root> roots;
  NodeMapper mapper;
  std::function<bool(const std::string&)> excluded_primary;  // primary paths never read
  std::function<bool(const std::string&)> protected_backup;  // backup paths never written (exclude, state_path)
  plan::Policies policies;
  double max_delete_fraction = 0.25;
  bool allow_mass_delete = false;
  bool dry_run = false;
  // Daemon in per-node watch mode: arm data and child watches with every
  // primary read. Watches cannot ride in a multiRead, so the primary's
  // batches then go out as single reads with the watch flag.
  bool watch_primary = false;
  // Nodes being read at once (primary and backup reads of a node, ACLs
  // included): bounds the pass's memory.
  size_t max_outstanding_reads = 4096;
  size_t max_pending_writes = 20000;    // planned writes not yet answered; reading waits above it
  // Bulk reads: ops in one multiRead, the reply bytes one may be expected
  // to carry (node data is estimated from what the pass has seen so far),
  // and multiRead requests in flight per site.
  size_t read_batch_ops = 200;
  size_t read_batch_bytes = 512 * 1024;
  size_t read_batches_in_flight = 8;
  apply::ApplierOptions applier;
  // A long-lived applier to share (the daemon's); null: the pass makes its own.
  apply::Applier* shared_applier = nullptr;
  // Filled with every primary node the pass settles (mapped and written, or
  // found equal). With trust_index, a node whose czxid, mzxid and aversion
  // match its entry is only stat-ed: no data read, no backup read.
  NodeIndex* index = nullptr;
  bool trust_index = false;
  // An event pass (daemon): the roots are nodes a watch named. Children
  // already in the index are taken as replicated without a read (their own
  // watches cover them); new ones are read with their whole subtree; missing
  // ones are deleted. root_only: only the root nodes themselves (a data event).
  bool event_pass = false;
  bool root_only = false;
  // Posted to the loop once the pass is done (the reconciler may be destroyed then).
  std::function<void()> on_finished;
  // Called on the loop thread for every write the backup confirmed.
  std::function<void(const plan::Change&)> on_applied;
  // Called on the loop thread every `progress_every` nodes read.
  std::function<void(size_t nodes_read, size_t writes)> progress;
  size_t progress_every = 10000;
  // Called for each primary node read (daemon: index and watch bookkeeping).
  std::function<void(const std::string& primary_path, const zk::Stat& stat)> on_primary_node;
  // Called for each replicated node with its backup path and the primary's
  // stat: the sequence counters failover raises are taken from here.
  std::function<void(const std::string& backup_path, const zk::Stat& primary_stat)> on_replicated_node;

  // ---- The FIFO merge rule (docs: helpers/PHASE2.md; the daemon's invariant list) ----
  // Called on the loop thread with each primary reply the pass processes
  // (a multiRead reply, or each single read when they are pipelined);
  // returns its FIFO sequence. Unset: the pass numbers nothing (CLI sync/diff).
  std::function<uint64_t()> next_read_seq;
  // Asked before a plan for primary path `source` (backup path `backup`)
  // built from a read with sequence `seq` is emitted, and before the index
  // is settled from that read; false drops it (counted in the report as
  // superseded, not as a failure).
  std::function<bool(const std::string& source, const std::string& backup, uint64_t seq)> may_plan;
  // Asked before an orphan backup node (no primary counterpart, found under
  // a primary directory listed at `listing_seq`) is deleted; false keeps it
  // (and the orphans above it).
  std::function<bool(const std::string& backup, uint64_t listing_seq)> may_delete_orphan;
};

// How a full reconcile ended (SPEC 1 exit statuses, the state record's
// last_full_reconcile_result):
//  - converged: the backup is map(primary) under the roots;
//  - converged except reported nodes: it is, but for nodes reported as
//    unreplicable, each waiting for its primary node to change or for an
//    operator (mapping failures, writes too large or refused for good, ACLs
//    the primary redacted, primary nodes the replicator may not read,
//    deletes blocked and paths held by standby-site ephemerals);
//  - not converged: the delete guard tripped, a read failed, writes are
//    unresolved (refused for a reason a re-plan settles, or unknown), two
//    primary nodes map to one backup path (a mapping table to fix: which
//    node the standby should hold is a decision), or the fence moved.
enum class ReconcileResult : uint8_t { kConverged, kConvergedExceptReported, kNotConverged };
// "converged" | "converged_except_reported" | "not_converged"
std::string_view resultName(ReconcileResult result);

struct ReconcileReport {
  size_t primary_nodes = 0;         // read under the roots (excluded ones not counted)
  size_t backup_nodes = 0;          // replicated backup nodes seen (not ephemeral, not protected)
  size_t reads = 0;
  // Dry run: every planned change; otherwise the reports and the writes
  // that did not land. Change::reported marks the reported nodes.
  std::vector<plan::Change> changes;
  apply::ApplierStats applied;
  size_t planned_writes = 0;
  size_t planned_deletes = 0;
  bool guard_tripped = false;
  std::string guard_reason;
  // Not converged:
  size_t refused = 0;      // writes refused for a reason a re-read and re-plan settles
  size_t unknown = 0;      // writes with unknown outcome (re-plan)
  size_t conflicts = 0;    // two primary nodes that map to one backup path
  size_t acl_unknown = 0;  // nodes not created because their ACL was not known
  bool fenced = false;
  std::optional<Error> error;  // a read failed in a way a re-run would not fix here
  // Dropped by the FIFO rule (ReconcileOptions::may_plan / may_delete_orphan):
  // a newer read of the node was planned by someone else. Not a failure.
  size_t superseded = 0;        // nodes whose writes were dropped
  size_t orphans_kept = 0;      // orphan deletes not made
  // Reported nodes (converged except reported):
  size_t mapping_failures = 0;   // payload or path could not be mapped
  size_t too_large = 0;          // the write alone exceeds max_request_bytes
  size_t unreadable = 0;         // primary nodes the replicator may not read (no auth)
  size_t backup_unreadable = 0;  // backup nodes the replicator may not read
  size_t redacted_acls = 0;      // ACLs not copied: the primary showed redacted digest ids
  size_t parked = 0;             // writes refused for good (no auth, invalid ACL, bad arguments)
  size_t blocked = 0;            // deletes prevented by ephemerals or protected nodes
  size_t held_by_ephemeral = 0;  // paths a standby-site ephemeral holds
  // The highest primary zxid (mzxid or pzxid) among the nodes read, and the
  // lowest among the roots' reads (0 when a root was not read). Each node
  // of a root's subtree is read after the root's answer came back, so it
  // reflects every change up to that root's zxid: a pass without watches
  // that wrote everything it planned holds the primary as of root_zxid.
  int64_t max_primary_zxid = 0;
  int64_t root_zxid = 0;

  ReconcileResult result() const;
  // Strictly converged: nothing left to write, nothing reported.
  bool converged() const { return result() == ReconcileResult::kConverged; }
  bool anyReported() const;
  // Distinct paths among the reported changes.
  size_t reportedNodes() const;
  // Worth another pass: some writes were refused or have unknown outcome.
  bool needsAnotherPass() const { return !fenced && !error && (refused > 0 || unknown > 0); }
};

class Reconciler {
 public:
  Reconciler(EventLoop& loop, zk::Client& primary, zk::Client& backup, ReconcileOptions options);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  void start();
  bool done() const { return finished_; }
  const ReconcileReport& report() const { return report_; }

 private:
  struct Dir;
  struct Node;
  struct Orphan;
  struct NodeWrites;
  struct ReadBatch;
  using DirPtr = std::shared_ptr<Dir>;
  using NodePtr = std::shared_ptr<Node>;
  using OrphanPtr = std::shared_ptr<Orphan>;

  // ---- reads (reconciler_reads.cpp) ----
  void pump();
  bool pumpPrimary();
  bool pumpBackup();
  std::shared_ptr<ReadBatch> primaryDataBatch();
  void issue(std::shared_ptr<ReadBatch> batch);
  void issueSingles(std::shared_ptr<ReadBatch> batch, bool watch);
  void onBatch(const std::shared_ptr<ReadBatch>& batch);
  void getAcl(zk::Client& c, const std::string& path, std::function<void(zk::AclResult)> then);

  // ---- the walk (reconciler.cpp) ----
  void queueListing(const DirPtr& dir);
  void startListing(const DirPtr& dir);
  bool mayStartBig(const Dir& dir) const;
  void onPrimaryListed(const DirPtr& dir, zk::ReadResult r, uint64_t seq);
  void onBackupListed(const DirPtr& dir, zk::ReadResult r);
  void listed(const DirPtr& dir);
  // Whether `name` (child `index` of `dir`) needs a read, or is settled
  // without one (excluded, or an event pass's known child).
  bool needsRead(const DirPtr& dir, size_t index, const std::string& source_path);
  void onPrimaryData(const NodePtr& node, zk::ReadResult r, uint64_t seq);
  void primaryRead(const NodePtr& node);
  void onUnchanged(const NodePtr& node, const IndexEntry& entry);
  void mapNode(const NodePtr& node);
  void onBackupData(const NodePtr& node, zk::ReadResult r);
  void backupRead(const NodePtr& node);
  void planNode(const NodePtr& node);
  void updateKnownCopy(const NodePtr& node, const IndexEntry& known);
  void descend(const NodePtr& node, const std::string& backup_path, bool list_primary, bool list_backup,
               bool backup_unlisted, int32_t backup_hint, std::optional<zk::AclList> backup_acl);
  void readPrimaryAcl(const NodePtr& node);
  void readBackupAcl(const NodePtr& node);
  // The backup name `node` maps to is claimed in its directory; a second
  // primary node mapping to it is a conflict (the first keeps it). Returns
  // the first claimant's primary path on a conflict.
  // `listed`: the backup listing holds the name.
  std::optional<std::string> claim(const NodePtr& node, const std::string& backup_name, bool& listed);
  // Marks `backup_name` in `dir`'s backup listing as having a counterpart;
  // false when the listing does not hold it.
  bool claimListed(Dir& dir, std::string_view backup_name);
  void nodeDone(const NodePtr& node);
  void childDone(const DirPtr& dir);
  void dirDone(const DirPtr& dir);
  void visitOrphan(OrphanPtr parent, std::string path, uint64_t listing_seq);
  void onOrphanData(const OrphanPtr& orphan, zk::ReadResult r);
  void onOrphanListed(const OrphanPtr& orphan, zk::ReadResult r);
  void orphanDone(const OrphanPtr& orphan);
  void finishWalk();
  // A data event on a node replicated and watched since: its index entry.
  std::optional<IndexEntry> knownCopy(const Dir& dir, const std::string& source_path, const zk::Stat& stat) const;
  std::string backupPathOf(const Dir& dir, const std::string& source_path, const std::string& mapped_path) const;
  bool trusted(const Dir& dir) const;
  MappedNode mapPath(const std::string& source_path) const;
  bool mayPlan(const Node& node, const std::string& backup_path);
  bool isDataEventRoot(const Dir& dir) const;

  // ---- outcomes and reports (reconciler_report.cpp) ----
  void recordReport(plan::Change change);
  void emit(plan::Change change, std::shared_ptr<NodeWrites> node = nullptr);
  void settleIndex(const std::string& source_path, const zk::Stat& stat, bool ok, bool replicated = true);
  void forgetIndex(const std::string& source_path, bool subtree);
  apply::Applier* applier() const { return options_.shared_applier ? options_.shared_applier : own_applier_.get(); }
  void onOutcome(const apply::Outcome& outcome, const std::shared_ptr<NodeWrites>& node);
  // A read that failed: no auth is a reported node, anything else an error
  // of the pass.
  void readFailed(zk::Code code, const std::string& path, const char* what, bool primary_site);
  // Records a reported node (and, with an index, holds it there so that a
  // pass trusting the index reports it again without re-reading it).
  void reportNode(ReportedKind kind, plan::Change change, const zk::Stat* primary_stat = nullptr);
  void reportHeld(const std::string& source_path);
  void countReported(ReportedKind kind);
  // The ACL of `dir`'s backup node (for creates that take their parent's
  // ACL), read once per directory when first needed.
  void withBackupDirAcl(const DirPtr& dir, std::function<void(const zk::AclList*)> then);
  void maybeFinish();
  void scheduleFlush();
  void noteZxid(const zk::Stat& primary_stat, bool root);

  EventLoop& loop_;
  zk::Client& primary_;
  zk::Client& backup_;
  ReconcileOptions options_;
  std::unique_ptr<apply::Applier> own_applier_;
  size_t writes_pending_ = 0;  // submitted to the applier, outcome not yet heard
  ReconcileReport report_;

  // Listed directories whose children are still to be read: a stack, depth
  // first keeps the frontier small (a subdirectory is read before the rest
  // of its parent).
  std::vector<DirPtr> dirs_;
  // Waiting for a read slot: directories to list, nodes whose backup copy
  // to read, orphans to read and list.
  std::vector<DirPtr> big_active_;   // big directories being walked (each an ancestor of the next)
  std::vector<DirPtr> big_waiting_;  // big directories waiting for their turn
  std::vector<DirPtr> primary_lists_;
  std::vector<DirPtr> backup_lists_;
  std::vector<NodePtr> backup_reads_;
  std::vector<OrphanPtr> orphan_reads_;
  std::vector<OrphanPtr> orphan_lists_;
  size_t primary_batches_ = 0;  // multiRead requests in flight per site
  size_t backup_batches_ = 0;
  size_t nodes_in_flight_ = 0;  // nodes issued and not yet done
  size_t reads_out_ = 0;        // read requests (batches and ACL reads) in flight
  size_t open_work_ = 0;        // roots, directories and orphans not finished
  // Running averages for the byte bounds of batches.
  double avg_data_bytes_ = 16 * 1024;
  double avg_name_bytes_ = 32;
  std::vector<std::pair<plan::Change, uint64_t>> deletes_;  // post-order: children before parents; + listing seq
  bool walk_done_ = false;
  bool finished_ = false;
  size_t nodes_read_ = 0;
  size_t roots_read_ = 0;  // roots whose zxid went into root_zxid
  bool sweep_ = false;     // a full pass over an index: sweep it at a complete end
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace zks::reconcile
