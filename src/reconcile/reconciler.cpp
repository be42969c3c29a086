// The Reconciler's walk: directories listed, children read, mapped,
// compared with their backup copies and planned; orphans found and deleted
// at the end. Reads go through the batches of reconciler_reads.cpp.

#include "reconcile/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "reconcile/reconciler_internal.h"

namespace zks::reconcile {

namespace {
// A listing expected to hold more names than this waits for the other
// side's: two replies of this size need not be decoded at once.
constexpr int32_t kBigListing = 20000;
}  // namespace

std::string joinPath(const std::string& parent, std::string_view name) {
  std::string out;
  out.reserve(parent.size() + 1 + name.size());
  if (parent != "/") out.append(parent);
  out.push_back('/');
  out.append(name);
  return out;
}

std::string lastSegment(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Reconciler::Reconciler(EventLoop& loop, zk::Client& primary, zk::Client& backup, ReconcileOptions options)
    : loop_(loop), primary_(primary), backup_(backup), options_(std::move(options)) {
  if (!options_.dry_run && !options_.shared_applier) {
    own_applier_ = std::make_unique<apply::Applier>(backup_, loop_, options_.applier, nullptr);
  }
  if (!options_.excluded_primary) options_.excluded_primary = [](const std::string&) { return false; };
  if (!options_.protected_backup) options_.protected_backup = [](const std::string&) { return false; };
  options_.read_batch_ops = std::max<size_t>(1, options_.read_batch_ops);
  options_.read_batches_in_flight = std::max<size_t>(1, options_.read_batches_in_flight);
  options_.max_outstanding_reads = std::max<size_t>(1, options_.max_outstanding_reads);
}

Reconciler::~Reconciler() { *alive_ = false; }

void Reconciler::start() {
  // A full pass marks what it sees in the index; a complete one then drops
  // what it did not see (nodes gone from the primary).
  sweep_ = options_.index && !options_.dry_run && !options_.event_pass;
  if (sweep_) options_.index->beginSweep();
  // Each root is the only child of a virtual directory, so that roots go
  // through the same read-map-plan path as every other node.
  for (const auto& root : options_.roots) {
    auto dir = std::make_shared<Dir>();
    dir->root = &root;
    dir->list_primary = dir->list_backup = false;
    dir->primary = NameList(std::vector<std::string>{lastSegment(root.source)});
    ++open_work_;
    listed(dir);
  }
  pump();
  maybeFinish();
  if (!options_.event_pass && !options_.dry_run) scheduleFlush();
}

// A long pass fills its batches while it reads; a partial one would wait
// for the end of the walk. Sent at least every 100 ms, a change found early
// in a re-read of a million nodes reaches the backup within that, not after
// the two minutes the walk takes; full batches still go at once.
void Reconciler::scheduleFlush() {
  loop_.postAfter(std::chrono::milliseconds(100), [this, alive = alive_] {
    if (!*alive || finished_) return;
    if (writes_pending_ > 0) applier()->flush();
    scheduleFlush();
  });
}

bool Reconciler::trusted(const Dir& dir) const {
  // A data event names a node that moved: it is read at once, not compared.
  return options_.index && options_.trust_index && !options_.dry_run && !isDataEventRoot(dir);
}

bool Reconciler::isDataEventRoot(const Dir& dir) const {
  return options_.event_pass && options_.root_only && dir.root != nullptr;
}

MappedNode Reconciler::mapPath(const std::string& source_path) const {
  return options_.mapper ? options_.mapper(source_path, "") : MappedNode{true, source_path, "", {}, {}};
}

std::string Reconciler::backupPathOf(const Dir& dir, const std::string& source_path,
                                     const std::string& mapped_path) const {
  // The walk maps one level at a time: the backup parent is already known,
  // only this node's own name can change.
  if (dir.root) return dir.root->target;
  return joinPath(dir.backup_path, lastSegment(mapped_path.empty() ? source_path : mapped_path));
}

bool Reconciler::mayPlan(const Node& node, const std::string& backup_path) {
  return !options_.may_plan || options_.may_plan(node.source_path, backup_path, node.seq);
}

// ---- listings ----

void Reconciler::queueListing(const DirPtr& dir) {
  dir->big = std::max(dir->primary_hint, dir->backup_hint) > kBigListing;
  if (dir->big) {
    if (!mayStartBig(*dir)) {
      big_waiting_.push_back(dir);
      return;
    }
    big_active_.push_back(dir);
  }
  startListing(dir);
}

// Big directories one at a time, except one below another (which must not
// wait for its ancestor to finish: that would wait for it in turn).
bool Reconciler::mayStartBig(const Dir& dir) const {
  return std::all_of(big_active_.begin(), big_active_.end(), [&](const DirPtr& active) {
    const std::string& above = active->primary_path;
    return dir.primary_path.size() > above.size() && dir.primary_path.starts_with(above) &&
           (above == "/" || dir.primary_path[above.size()] == '/');
  });
}

void Reconciler::startListing(const DirPtr& dir) {
  dir->listings_out = static_cast<uint8_t>(dir->list_primary + dir->list_backup);
  if (dir->listings_out == 0) {
    listed(dir);
    return;
  }
  if (dir->list_primary) primary_lists_.push_back(dir);
  if (dir->list_backup) {
    dir->backup_deferred = dir->list_primary && dir->big;
    if (!dir->backup_deferred) backup_lists_.push_back(dir);
  }
}

void Reconciler::onPrimaryListed(const DirPtr& dir, zk::ReadResult r, uint64_t seq) {
  dir->listing_seq = seq;
  if (r.code == zk::Code::kOk) {
    if (!r.children.empty()) {
      size_t bytes = 0;
      for (const auto& c : r.children) bytes += c.size();
      avg_name_bytes_ = static_cast<double>(bytes) / static_cast<double>(r.children.size());
    }
    dir->primary = NameList(std::move(r.children));
  } else if (r.code != zk::Code::kNoNode) {
    readFailed(r.code, dir->primary_path, "list primary children", true);
    dir->suppress_deletes = true;
  }
  if (dir->backup_deferred) {
    dir->backup_deferred = false;
    backup_lists_.push_back(dir);
  }
  if (--dir->listings_out == 0) listed(dir);
}

void Reconciler::onBackupListed(const DirPtr& dir, zk::ReadResult r) {
  if (r.code == zk::Code::kOk) {
    dir->backup = NameList(std::move(r.children));
    dir->backup_claimed.assign(dir->backup.size(), false);
  } else if (r.code != zk::Code::kNoNode) {
    readFailed(r.code, dir->backup_path, "list backup children", false);
    dir->suppress_deletes = true;
  }
  if (--dir->listings_out == 0) listed(dir);
}

void Reconciler::listed(const DirPtr& dir) {
  dir->listed = true;
  dir->identity_claimed.assign(dir->primary.size(), false);
  dirs_.push_back(dir);
}

bool Reconciler::needsRead(const DirPtr& dir, size_t index, const std::string& source_path) {
  if (options_.excluded_primary(source_path)) {
    // Its backup counterpart (same name) is never touched either.
    claimListed(*dir, dir->primary[index]);
    return false;
  }
  if (options_.event_pass && !dir->root && options_.index && options_.index->find(source_path)) {
    // LEGACY (the per-node daemon's event passes): a child replicated
    // before and watched since has its own events.
    if (dir->backup_unlisted) return false;
    // Unless its backup copy is not there (deleted meanwhile): then it is read.
    const MappedNode mapped = mapPath(source_path);
    if (claimListed(*dir, lastSegment(mapped.path.empty() ? source_path : mapped.path))) return false;
    options_.index->eraseSubtree(source_path);
  }
  return true;
}

// ---- a primary node ----

void Reconciler::onPrimaryData(const NodePtr& node, zk::ReadResult r, uint64_t seq) {
  node->seq = seq;
  node->code = r.code;
  node->stat = r.stat;
  if (r.code == zk::Code::kOk) {
    avg_data_bytes_ += (static_cast<double>(r.data.size()) - avg_data_bytes_) / 16.0;
  }
  node->data = std::move(r.data);
  node->data_in = true;
  if (node->acl_out) return;  // continues when its ACL is in (readPrimaryAcl)
  primaryRead(node);
}

// The primary's answers for `node` are in (its data, and its ACL if it was
// asked for): what is it, and does it need more?
void Reconciler::primaryRead(const NodePtr& node) {
  Dir& dir = *node->dir;
  const bool root = dir.root != nullptr;
  // A node deleted between its getData and its getACL is gone, like one
  // deleted before both.
  if (node->code == zk::Code::kOk && node->acl && node->acl->code == zk::Code::kNoNode) node->code = zk::Code::kNoNode;
  if (node->code == zk::Code::kNoNode) {
    // Whatever the index knew of it is gone: if it comes back, it is new.
    forgetIndex(node->source_path, true);
    // Gone since the listing. Its backup counterpart stays unclaimed and is
    // handled as an orphan; a vanished root makes its whole target an orphan.
    if (root) {
      ++open_work_;
      visitOrphan(nullptr, dir.root->target, node->seq);
    }
    nodeDone(node);
    return;
  }
  // Under `acls: copy` the ACL is part of what is read: a node whose ACL
  // could not be read is a failed read (an empty list must never become an
  // open ACL).
  const bool acl_failed = node->acl && node->acl->code != zk::Code::kOk;
  if (node->code != zk::Code::kOk || acl_failed) {
    const zk::Code code = node->code != zk::Code::kOk ? node->code : node->acl->code;
    readFailed(code, node->source_path, node->code != zk::Code::kOk ? "read primary node" : "read primary ACL", true);
    if (code == zk::Code::kNoAuth && !root) {
      // Its backup counterpart is left as it is, and is no orphan.
      const MappedNode m = mapPath(node->source_path);
      claimListed(dir, lastSegment(m.path.empty() ? node->source_path : m.path));
    } else if (code != zk::Code::kNoAuth) {
      dir.suppress_deletes = true;
    }
    nodeDone(node);
    return;
  }
  if (!node->counted) {
    node->counted = true;
    ++report_.primary_nodes;
    ++nodes_read_;
    noteZxid(node->stat, root);
    if (options_.on_primary_node) options_.on_primary_node(node->source_path, node->stat);
    if (options_.progress && nodes_read_ % options_.progress_every == 0) {
      options_.progress(nodes_read_, report_.planned_writes - writes_pending_);
    }
    if (!plan::replicates(node->stat, options_.policies)) {
      nodeDone(node);  // a primary ephemeral: not copied, and it has no children
      return;
    }
    if (options_.index && !options_.dry_run && (trusted(dir) || isDataEventRoot(dir))) {
      node->entry = options_.index->find(node->source_path);
    }
    if (trusted(dir) && node->entry && node->entry->sameContent(node->stat)) {
      onUnchanged(node, *node->entry);
      return;
    }
  }
  if (options_.policies.acls == plan::AclPolicy::kCopy && !node->acl && !node->acl_skipped) {
    // The same node with the same ACL version, copied by this replicator:
    // its ACL (on both sites) is the one the backup copy was given.
    if (node->entry && node->entry->sameAcl(node->stat)) {
      node->acl_skipped = true;
    } else {
      readPrimaryAcl(node);
      return;
    }
  }
  mapNode(node);
}

// A node the last pass settled and that has not changed since: its backup
// counterpart is taken as it was left. Only its children are walked.
void Reconciler::onUnchanged(const NodePtr& node, const IndexEntry& entry) {
  Dir& dir = *node->dir;
  const bool root = dir.root != nullptr;
  const zk::Stat& stat = node->stat;
  const MappedNode mapped = mapPath(node->source_path);
  const std::string backup_path = backupPathOf(dir, node->source_path, mapped.path);
  if (!root && dir.list_backup && !claimListed(dir, lastSegment(backup_path)) && entry.replicated) {
    // The counterpart is gone from the backup (drift): read it all again.
    // (A node that was not replicated — a mapping failure, a parked
    // create — has none to lose.)
    options_.index->erase(node->source_path);
    node->entry.reset();
    if (options_.policies.acls == plan::AclPolicy::kCopy) {
      readPrimaryAcl(node);
    } else {
      mapNode(node);
    }
    return;
  }
  options_.index->put(node->source_path, IndexEntry::of(stat, entry.replicated));
  // Reported before and unchanged since: reported again, not retried.
  reportHeld(node->source_path);
  if (options_.on_replicated_node) options_.on_replicated_node(backup_path, stat);
  const bool walk_children = options_.event_pass ? (root && !options_.root_only) : true;
  if (walk_children && (stat.num_children > 0 || options_.watch_primary)) {
    // In a full pass the backup copy's children are listed only where the
    // primary has children or its list moved since it was last reconciled
    // (pzxid): a leaf that stayed a leaf left its copy a leaf, and drift
    // below one is the audit's to find.
    // An event pass (a children event) does not list them at all: a child
    // deleted on the primary fires its own NodeDeleted, known children have
    // their own watches, and only new ones are read, each with its backup
    // counterpart.
    const bool list_backup = !options_.event_pass && (stat.num_children > 0 || stat.pzxid != entry.pzxid);
    descend(node, backup_path, /*list_primary=*/true, list_backup, /*backup_unlisted=*/options_.event_pass,
            stat.num_children, std::nullopt);
  }
  nodeDone(node);
}

void Reconciler::mapNode(const NodePtr& node) {
  Dir& dir = *node->dir;
  const bool root = dir.root != nullptr;
  const std::string& source_path = node->source_path;
  // Read again: whatever was reported of it is decided anew. A known copy
  // whose ACL was not read keeps (and reports again) what was held, such
  // as an ACL the primary redacted.
  if (options_.index && !options_.dry_run) {
    if (node->acl_skipped) {
      reportHeld(source_path);
    } else {
      options_.index->release(source_path);
    }
  }
  MappedNode mapped = options_.mapper ? options_.mapper(source_path, node->data)
                                      : MappedNode{true, source_path, std::move(node->data), {}, {}};
  std::string().swap(node->data);
  std::string backup_path = backupPathOf(dir, source_path, mapped.path);
  const std::string backup_name = lastSegment(backup_path);

  if (!mapped.replicated || !mapped.failure.empty()) {
    const bool listed_here = !root && claimListed(dir, backup_name);
    // Retried when it changes: the index holds its version as seen.
    if (mayPlan(*node, backup_path)) {
      settleIndex(source_path, node->stat, true, /*replicated=*/false);
      reportNode(ReportedKind::kMappingFailure,
                 plan::Change{.kind = plan::ChangeKind::kSkipped,
                              .path = backup_path,
                              .source_path = source_path,
                              .reason = mapped.failure.empty() ? "not replicated by the mapping" : mapped.failure},
                 &node->stat);
    }
    // Its existing backup subtree is still walked (children may map fine);
    // a missing one cannot receive children.
    if (listed_here || root) {
      descend(node, backup_path, node->stat.num_children > 0 || options_.watch_primary, /*list_backup=*/true, false,
              node->stat.num_children, std::nullopt);
    }
    nodeDone(node);
    return;
  }
  bool listed_here = false;
  if (!root) {
    // Two primary nodes that map to one backup path: the first keeps it, the
    // second is reported and not written (SPEC 3, path collisions).
    if (auto first = claim(node, backup_name, listed_here)) {
      ++report_.conflicts;
      recordReport(plan::Change{.kind = plan::ChangeKind::kConflict,
                                .path = backup_path,
                                .source_path = source_path,
                                .reason = "maps to the same backup path as " + *first});
      nodeDone(node);
      return;
    }
  }
  node->desired = plan::DesiredNode{.source_path = source_path,
                                    .path = std::move(backup_path),
                                    .data = std::move(mapped.data),
                                    .stat = node->stat,
                                    .acl = {},
                                    .fields = std::move(mapped.fields)};
  if (node->acl && node->acl->code == zk::Code::kOk) node->desired->acl = std::move(node->acl->acl);
  node->acl.reset();
  if (!root && !listed_here && !dir.backup_unlisted) {
    planNode(node);  // nothing there to read
    return;
  }
  if (auto known = knownCopy(dir, source_path, node->stat)) {
    updateKnownCopy(node, *known);
    return;
  }
  // Read its backup copy (batched); under `acls: copy` its ACL beside it,
  // unless the index knows the copy.
  node->stage = Node::Stage::kBackup;
  backup_reads_.push_back(node);
  if (options_.policies.acls == plan::AclPolicy::kCopy && !node->acl_skipped) readBackupAcl(node);
}

// ---- its backup copy ----

void Reconciler::onBackupData(const NodePtr& node, zk::ReadResult r) {
  node->backup = std::move(r);
  if (node->backup_acl_out) return;  // continues when the ACL is in (readBackupAcl)
  backupRead(node);
}

void Reconciler::backupRead(const NodePtr& node) {
  auto& g = *node->backup;
  if (g.code == zk::Code::kOk && node->backup_acl && node->backup_acl->code == zk::Code::kNoNode) {
    g.code = zk::Code::kNoNode;
  }
  if (g.code == zk::Code::kNoNode) {
    node->backup.reset();
    node->backup_acl.reset();
    planNode(node);
    return;
  }
  const bool acl_failed = node->backup_acl && node->backup_acl->code != zk::Code::kOk;
  if (g.code != zk::Code::kOk || acl_failed) {
    readFailed(g.code != zk::Code::kOk ? g.code : node->backup_acl->code, node->desired->path,
               g.code != zk::Code::kOk ? "read backup node" : "read backup ACL", false);
    nodeDone(node);
    return;
  }
  // `acls: open`: a backup node keeps the ACL it was created with until a
  // setACL moves its aversion. This replicator creates open nodes, so only
  // a node whose aversion moved can differ; its ACL is read (one round
  // trip later) and reopened if needed. (A node created by someone else
  // with another ACL and never changed since is not detected: see README.)
  if (options_.policies.acls == plan::AclPolicy::kOpen && !node->backup_acl && g.stat.aversion != 0 &&
      !node->acl_skipped) {
    readBackupAcl(node);
    return;
  }
  if (!node->backup_counted) {
    node->backup_counted = true;
    ++report_.backup_nodes;
  }
  planNode(node);
}

void Reconciler::planNode(const NodePtr& node) {
  node->stage = Node::Stage::kPlan;
  DirPtr dir = node->dir;
  plan::DesiredNode& desired = *node->desired;
  const bool have_backup = node->backup.has_value();
  if (node->acl) {
    // Read late (below): the known copy is gone from the backup.
    if (node->acl->code != zk::Code::kOk) {
      if (node->acl->code != zk::Code::kNoNode) {
        readFailed(node->acl->code, node->source_path, "read primary ACL", true);
      }
      nodeDone(node);
      return;
    }
    desired.acl = std::move(node->acl->acl);
    node->acl.reset();
    node->acl_skipped = false;
  }
  if (!have_backup && options_.policies.acls == plan::AclPolicy::kCopy && node->acl_skipped) {
    // A known copy missing on the backup: its create needs the ACL after all.
    readPrimaryAcl(node);
    return;
  }
  if (!have_backup && !desired.parent_acl && plan::needsParentAcl(desired, options_.policies)) {
    // A node to create that takes its backup parent's ACL (keep-backup, or
    // a copied ACL with nothing left to copy): read that first.
    withBackupDirAcl(dir, [this, node](const zk::AclList* acl) {
      if (!acl) {
        nodeDone(node);  // the failed read is in the report
        return;
      }
      node->desired->parent_acl = *acl;
      planNode(node);
    });
    return;
  }
  std::optional<plan::BackupNode> backup;
  if (have_backup) {
    auto& g = *node->backup;
    backup = plan::BackupNode{.path = desired.path, .data = std::move(g.data), .stat = g.stat};
    if (node->backup_acl) backup->acl = std::move(node->backup_acl->acl);
  }
  const std::string& source_path = node->source_path;
  const zk::Stat& primary_stat = node->stat;
  const int32_t backup_children = backup ? backup->stat.num_children : 0;
  if (options_.on_replicated_node) options_.on_replicated_node(desired.path, primary_stat);
  // Writes to a node the replicator had copied and the primary has not
  // changed since: the backup drifted.
  bool drift = false;
  if (options_.index && !options_.event_pass && !options_.dry_run) {
    const auto entry = node->entry ? node->entry : options_.index->find(source_path);
    drift = entry && entry->replicated && entry->sameContent(primary_stat);
  }
  bool can_descend = true;
  // node->desired, not `desired`: a DesiredNode would be copied into the optional.
  auto changes = plan::planNode(node->desired, backup, options_.policies);
  size_t write_count = 0;
  bool failed = false;
  // The ACL the backup node has (read) or gets (created): creates below
  // that take their parent's ACL need it.
  const zk::AclList* child_acl = backup && backup->acl ? &*backup->acl : nullptr;
  for (auto& c : changes) {
    if (plan::isWrite(c)) {
      ++write_count;
      c.drift = drift;
    }
    if (c.kind == plan::ChangeKind::kCreate) child_acl = &c.acl;
    if (c.kind == plan::ChangeKind::kConflict) {
      can_descend = false;
      failed = true;
    }
  }
  const bool walk_children =
      can_descend && !(options_.root_only && dir->root) &&
      (primary_stat.num_children > 0 || backup_children > 0 || options_.watch_primary);
  std::optional<zk::AclList> children_acl;
  if (walk_children && child_acl) children_acl = *child_acl;
  if (!mayPlan(*node, desired.path)) {
    // A newer read of this node was planned meanwhile (FIFO rule): this
    // older one writes nothing and leaves the index to it. Its children
    // are still walked: each has its own read.
    if (write_count > 0) ++report_.superseded;
  } else {
    if (write_count == 0) settleIndex(source_path, primary_stat, !failed);
    auto writes = write_count == 0 ? nullptr
                                   : std::make_shared<NodeWrites>(NodeWrites{source_path, primary_stat, write_count, failed});
    for (auto& change : changes) {
      if (plan::isWrite(change)) {
        emit(std::move(change), writes);
      } else if (change.kind == plan::ChangeKind::kConflict) {
        reportNode(ReportedKind::kHeldByEphemeral, std::move(change), &primary_stat);
      } else if (change.kind == plan::ChangeKind::kSkipped && plan::hasRedactedDigest(desired.acl)) {
        reportNode(ReportedKind::kRedactedAcl, std::move(change), &primary_stat);
      } else {
        ++report_.acl_unknown;  // a create without a known ACL: not done, not converged
        recordReport(std::move(change));
      }
    }
  }
  if (walk_children) {
    descend(node, desired.path, primary_stat.num_children > 0 || options_.watch_primary,
            backup.has_value() && backup_children > 0, false, backup_children, std::move(children_acl));
  }
  nodeDone(node);
}

// An event pass for a data change only, on a node the index holds as
// replicated, with the same czxid (not re-created) and ACL version: its
// backup copy is the one this replicator wrote, so it is not read again.
// This halves the requests per replicated write; a retry after a refused
// write comes as a children event too and takes the full path.
std::optional<IndexEntry> Reconciler::knownCopy(const Dir& dir, const std::string& source_path,
                                                const zk::Stat& stat) const {
  if (!isDataEventRoot(dir) || !options_.index || options_.dry_run) return std::nullopt;
  auto entry = options_.index->find(source_path);
  if (entry && entry->sameAcl(stat)) return entry;
  return std::nullopt;
}

void Reconciler::updateKnownCopy(const NodePtr& node, const IndexEntry& known) {
  const plan::DesiredNode& desired = *node->desired;
  if (options_.on_replicated_node) options_.on_replicated_node(desired.path, node->stat);
  if (mayPlan(*node, desired.path)) {
    auto writes = std::make_shared<NodeWrites>(NodeWrites{desired.source_path, node->stat, 0, false});
    if (known.mzxid == node->stat.mzxid) {
      // The event's change was already replicated (by an earlier pass).
      settleIndex(desired.source_path, node->stat, true);
    } else {
      writes->pending = 1;
      emit(plan::planKnownUpdate(desired), writes);
    }
  } else if (known.mzxid != node->stat.mzxid) {
    ++report_.superseded;
  }
  nodeDone(node);
}

void Reconciler::descend(const NodePtr& node, const std::string& backup_path, bool list_primary, bool list_backup,
                         bool backup_unlisted, int32_t backup_hint, std::optional<zk::AclList> backup_acl) {
  auto child = std::make_shared<Dir>();
  child->primary_path = node->source_path;
  child->backup_path = backup_path;
  child->list_primary = list_primary;
  child->list_backup = list_backup;
  child->backup_unlisted = backup_unlisted;
  child->primary_hint = node->stat.num_children;
  child->backup_hint = backup_hint;
  child->backup_acl = std::move(backup_acl);
  child->listing_seq = node->seq;  // as of this read, unless the primary is listed
  ++open_work_;
  queueListing(child);
}

// ---- claims ----

bool Reconciler::claimListed(Dir& dir, std::string_view backup_name) {
  // Children are read in name order and mostly keep their names: the next
  // one is usually where the last one was found, or just after.
  size_t at = NameList::npos;
  for (size_t i = dir.backup_cursor; i < dir.backup.size() && i < dir.backup_cursor + 2; ++i) {
    if (dir.backup[i] == backup_name) {
      at = i;
      break;
    }
  }
  if (at == NameList::npos) at = dir.backup.find(backup_name);
  if (at == NameList::npos) return false;
  dir.backup_claimed[at] = true;
  dir.backup_cursor = at + 1;
  return true;
}

std::optional<std::string> Reconciler::claim(const NodePtr& node, const std::string& backup_name, bool& listed) {
  Dir& dir = *node->dir;
  listed = claimListed(dir, backup_name);
  const std::string_view own = dir.primary[node->child];
  if (auto it = dir.renamed.find(backup_name); it != dir.renamed.end()) return it->second;
  if (backup_name == own) {
    dir.identity_claimed[node->child] = true;
    return std::nullopt;
  }
  // Renamed: onto a sibling's own name already planned under it?
  if (const size_t sibling = dir.primary.find(backup_name);
      sibling != NameList::npos && dir.identity_claimed[sibling]) {
    return joinPath(dir.primary_path, backup_name);
  }
  dir.renamed.emplace(backup_name, node->source_path);
  return std::nullopt;
}

// ---- completion ----

void Reconciler::nodeDone(const NodePtr& node) {
  if (node->done) return;
  node->done = true;
  --nodes_in_flight_;
  childDone(node->dir);
}

void Reconciler::childDone(const DirPtr& dir) {
  --dir->pending;
  if (dir->pending == 0 && dir->listed && dir->next_child >= dir->primary.size()) dirDone(dir);
}

void Reconciler::dirDone(const DirPtr& dir) {
  if (dir->finished) return;
  dir->finished = true;
  if (auto it = std::find(dirs_.rbegin(), dirs_.rend(), dir); it != dirs_.rend()) dirs_.erase(std::next(it).base());
  size_t unclaimed = 0;
  for (size_t i = 0; i < dir->backup.size(); ++i) unclaimed += !dir->backup_claimed[i];
  if (!dir->root && !dir->suppress_deletes) {
    for (size_t i = 0; i < dir->backup.size(); ++i) {
      if (dir->backup_claimed[i]) continue;
      std::string path = joinPath(dir->backup_path, dir->backup[i]);
      if (options_.protected_backup(path)) continue;
      ++open_work_;
      visitOrphan(nullptr, std::move(path), dir->listing_seq);
    }
  } else if (dir->suppress_deletes && unclaimed > 0) {
    spdlog::warn("not deleting {} unmatched backup children of {}: its walk was incomplete", unclaimed,
                 dir->backup_path);
  }
  if (dir->big) {
    std::erase(big_active_, dir);
    // The next big directories may go.
    auto waiting = std::move(big_waiting_);
    big_waiting_.clear();
    for (auto& next : waiting) {
      if (mayStartBig(*next)) {
        big_active_.push_back(next);
        startListing(next);
      } else {
        big_waiting_.push_back(next);
      }
    }
  }
  // The names are not needed any more (a big directory's are megabytes).
  dir->primary = NameList();
  dir->backup = NameList();
  std::vector<bool>().swap(dir->backup_claimed);
  std::vector<bool>().swap(dir->identity_claimed);
  dir->renamed.clear();
  --open_work_;
}

// ---- orphans ----

void Reconciler::visitOrphan(OrphanPtr parent, std::string path, uint64_t listing_seq) {
  auto orphan = std::make_shared<Orphan>();
  orphan->parent = std::move(parent);
  orphan->path = std::move(path);
  orphan->listing_seq = listing_seq;
  orphan_reads_.push_back(std::move(orphan));
}

void Reconciler::onOrphanData(const OrphanPtr& orphan, zk::ReadResult r) {
  const auto& parent = orphan->parent;
  if (r.code == zk::Code::kNoNode) {
    if (parent && --parent->pending == 0) orphanDone(parent);
    --open_work_;
    return;
  }
  if (r.code != zk::Code::kOk) {
    readFailed(r.code, orphan->path, "read backup node", false);
    if (parent) {
      parent->blocked = true;
      parent->blocked_by = orphan->path + " (unreadable)";
      if (--parent->pending == 0) orphanDone(parent);
    }
    --open_work_;
    return;
  }
  if (zk::kindOf(r.stat) == zk::NodeKind::kEphemeral) {
    // A standby-site session's node: never removed, and it keeps its parents.
    if (parent) {
      parent->blocked = true;
      parent->blocked_by = orphan->path + " (ephemeral)";
      if (--parent->pending == 0) orphanDone(parent);
    }
    --open_work_;
    return;
  }
  ++report_.backup_nodes;
  orphan->data = std::move(r.data);
  orphan->stat = r.stat;
  if (r.stat.num_children == 0) {
    orphanDone(orphan);
    --open_work_;
    return;
  }
  orphan->pending = 1;  // held by the listing
  orphan_lists_.push_back(orphan);
}

void Reconciler::onOrphanListed(const OrphanPtr& orphan, zk::ReadResult r) {
  if (r.code != zk::Code::kOk && r.code != zk::Code::kNoNode) {
    readFailed(r.code, orphan->path, "list backup children", false);
    orphan->blocked = true;
    orphan->blocked_by = orphan->path + " (unlistable)";
  }
  for (const auto& name : r.children) {
    std::string child = joinPath(orphan->path, name);
    if (options_.protected_backup(child)) {
      orphan->blocked = true;
      orphan->blocked_by = child + " (excluded or protected)";
      continue;
    }
    ++orphan->pending;
    ++open_work_;
    visitOrphan(orphan, std::move(child), orphan->listing_seq);
  }
  if (--orphan->pending == 0) orphanDone(orphan);
  --open_work_;
}

// All of an orphan's subtree is settled: delete it (after its children,
// which were appended first) or report what keeps it.
void Reconciler::orphanDone(const OrphanPtr& orphan) {
  if (orphan->blocked) {
    reportNode(ReportedKind::kBlocked, plan::Change{.kind = plan::ChangeKind::kBlocked,
                                                    .path = orphan->path,
                                                    .reason = "delete blocked by " + orphan->blocked_by});
    if (orphan->parent) {
      orphan->parent->blocked = true;
      orphan->parent->blocked_by = orphan->path + " (kept)";
    }
  } else {
    auto changes = plan::planNode(
        std::nullopt, plan::BackupNode{.path = orphan->path, .data = std::move(orphan->data), .stat = orphan->stat},
        options_.policies);
    for (auto& c : changes) {
      // Outside event passes, a backup node the primary does not have is
      // drift: a primary delete has its own event.
      c.drift = !options_.event_pass;
      deletes_.emplace_back(std::move(c), orphan->listing_seq);
    }
    if (changes.empty() && orphan->parent) {
      // deletes: keep — the parent stays too.
      orphan->parent->blocked = true;
      orphan->parent->blocked_by = orphan->path + " (kept)";
    }
  }
  if (orphan->parent && --orphan->parent->pending == 0) orphanDone(orphan->parent);
}

}  // namespace zks::reconcile
