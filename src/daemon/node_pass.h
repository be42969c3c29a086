#pragma once

// The single-node event pass: what the daemon does for one primary node a
// watch event named. Read the node (getData; getACL under `acls: copy` when
// the index does not know the copy), map it, read its backup copy (or trust
// the index's known copy for a data change), plan and emit the writes.
// A node gone from the primary takes its backup copy with it: that copy's
// subtree is walked, children deleted before parents; a standby-site
// ephemeral, an excluded or a protected node blocks the deletes above it
// (reported). No listing of the primary, no descent: descendants have their
// own events (fifo_merge.h, I5).
//
// Threading: created, started and destroyed on the loop thread; its reads
// and the applier's outcomes are posted there. It may be destroyed at any
// time (late completions are dropped).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apply/applier.h"
#include "common/event_loop.h"
#include "daemon/fifo_merge.h"
#include "reconcile/node_index.h"
#include "reconcile/reconciler.h"
#include "zk/client.h"

namespace zks::daemon {

// What every node pass of one replicator shares.
struct NodePassContext {
  EventLoop& loop;
  zk::Client& primary;
  zk::Client& backup;
  apply::Applier& applier;
  reconcile::NodeIndex& index;
  ReadSequence& seq;
  // The engine's options: roots, mapper, policies, excluded and protected
  // paths, on_replicated_node (counters). Read at start().
  const reconcile::ReconcileOptions& options;
};

struct NodePassRequest {
  std::string path;  // the primary node
  // A data-changed event: a node whose backup copy the index knows as this
  // replicator's (same czxid and ACL version) is written without reading
  // the backup. Off for created/deleted events and retries.
  bool data_only = false;
  // Per-node watch mode: re-arm the node's data watch with the read. Never
  // in recursive mode (ZOOKEEPER-4466).
  bool watch = false;
  // Called on the loop thread when the pass planned the node (writes or
  // not) from its read numbered `seq` (fifo_merge.h I2, I3).
  std::function<void(const std::string& source, const std::string& backup, uint64_t seq)> on_planned;
  // Called on the loop thread for every write the backup confirmed.
  std::function<void(const plan::Change&)> on_applied;
  // Posted to the loop once the pass is done.
  std::function<void()> on_finished;
};

class NodePass {
 public:
  NodePass(const NodePassContext& context, NodePassRequest request);
  ~NodePass();
  NodePass(const NodePass&) = delete;
  NodePass& operator=(const NodePass&) = delete;

  void start();
  bool done() const { return finished_; }
  const NodePassRequest& request() const { return request_; }
  // Refusals, unknown outcomes, reports and errors, as a full pass reports
  // them (the daemon's retry and watermark logic reads the same fields).
  const reconcile::ReconcileReport& report() const { return report_; }
  // The node is a root and is gone from the primary: its target is not
  // deleted here; a full reconcile decides, behind the delete guard.
  bool rootVanished() const { return root_vanished_; }
  // The node's create was refused because its backup parent is missing and
  // the index holds the primary parent as not replicated (mapping failure,
  // refused for good): like a full pass, which does not descend there, the
  // node is left alone; it is created with its parent's subtree once the
  // parent is replicated (the daemon keeps such parents, see createdCopy()).
  bool skippedForParent() const { return skipped_for_parent_; }
  // This pass created the node's backup copy (and every write landed).
  bool createdCopy() const { return created_copy_; }
  // The primary refused to let this replicator read the node (no auth).
  bool unreadable() const { return unreadable_; }
  // The node was read and settled: it exists and is readable.
  bool readable() const { return read_ok_; }
  // The node is gone from the primary and the backup showed no copy of it:
  // a create another pass has queued but not yet sent would not have been
  // seen (fifo_merge.h, I7).
  bool goneWithoutCopy() const { return gone_without_copy_; }

 private:
  struct Orphan;
  struct Writes;

  void readPrimary();
  void onPrimary(zk::GetResult get, std::optional<zk::AclResult> acl);
  void onGone();
  void readBackup(plan::DesiredNode desired);
  void plan(plan::DesiredNode desired, std::optional<plan::BackupNode> backup);
  void visitOrphan(std::shared_ptr<Orphan> parent, std::string path);
  void orphanDone(const std::shared_ptr<Orphan>& orphan);
  void emit(plan::Change change, const std::shared_ptr<Writes>& writes);
  void onOutcome(const apply::Outcome& outcome, const std::shared_ptr<Writes>& writes);
  void settle(const std::shared_ptr<Writes>& writes);
  void readFailed(zk::Code code, const std::string& path, const char* what, bool primary_site);
  void reportNode(reconcile::ReportedKind kind, plan::Change change, bool hold);
  void recordReport(plan::Change change);
  void planned(const std::string& backup);
  // The index entry of a data event's node when its backup copy is known.
  std::optional<reconcile::IndexEntry> knownCopy(const zk::Stat& stat) const;
  bool isRoot() const;
  // Async reads that post their answer to the loop; primary answers take
  // the next FIFO number.
  void get(bool primary_site, const std::string& path, bool watch, std::function<void(zk::GetResult)> then);
  void getAcl(bool primary_site, const std::string& path, std::function<void(zk::AclResult)> then);
  void children(const std::string& path, std::function<void(zk::ChildrenResult)> then);
  void workDone();
  void maybeFinish();

  NodePassContext ctx_;
  NodePassRequest request_;
  reconcile::ReconcileReport report_;
  std::string backup_path_;  // where the node goes (from its path alone)
  uint64_t read_seq_ = 0;    // the FIFO number of the primary getData
  zk::Stat primary_stat_;
  bool started_ = false;
  bool finished_ = false;
  size_t open_ = 0;  // reads, orphan visits and writes not finished
  bool root_vanished_ = false;
  bool skipped_for_parent_ = false;
  bool created_copy_ = false;
  bool unreadable_ = false;
  bool read_ok_ = false;
  bool gone_without_copy_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace zks::daemon
