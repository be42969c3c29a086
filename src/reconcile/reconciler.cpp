#include "reconcile/reconciler.h"

#include <spdlog/spdlog.h>

#include <unordered_map>
#include <unordered_set>

#include "plan/delete_guard.h"

namespace zks::reconcile {

namespace {

std::string join(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

std::string lastSegment(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string_view resultName(ReconcileResult result) {
  switch (result) {
    case ReconcileResult::kConverged: return "converged";
    case ReconcileResult::kConvergedExceptReported: return "converged_except_reported";
    case ReconcileResult::kNotConverged: return "not_converged";
  }
  return "not_converged";
}

bool ReconcileReport::anyReported() const {
  return mapping_failures || too_large || unreadable || backup_unreadable || redacted_acls || parked || blocked ||
         held_by_ephemeral;
}

ReconcileResult ReconcileReport::result() const {
  if (fenced || error || guard_tripped) return ReconcileResult::kNotConverged;
  if (refused || unknown || conflicts || acl_unknown) return ReconcileResult::kNotConverged;
  return anyReported() ? ReconcileResult::kConvergedExceptReported : ReconcileResult::kConverged;
}

size_t ReconcileReport::reportedNodes() const {
  std::unordered_set<std::string_view> paths;
  for (const auto& c : changes) {
    if (c.reported) paths.insert(c.path);
  }
  return paths.size();
}

// A directory pair being walked: the primary node's children against its
// backup counterpart's children.
struct Reconciler::Dir {
  std::string primary_path;
  std::string backup_path;
  bool list_backup = true;      // false when the backup node is new or absent
  // An event pass over a directory: its backup children were not listed
  // (they may exist). Known children are left to their own events.
  bool backup_unlisted = false;
  const Root* root = nullptr;   // set for the virtual parent of a root
  bool primary_listed = false;
  bool backup_listed = false;
  std::vector<std::string> primary_children;
  size_t next_child = 0;
  std::unordered_set<std::string> backup_children;  // names not yet claimed by a primary child
  std::unordered_map<std::string, std::string> claimed;  // backup name -> the primary path that maps to it
  size_t pending = 0;           // children issued and not finished
  bool suppress_deletes = false;
  // The backup node's ACL when known (read, or set by our create), and the
  // creates waiting for it to be read (withBackupDirAcl).
  std::optional<zk::AclList> backup_acl;
  std::vector<std::function<void(const zk::AclList*)>> acl_waiters;
};

// A backup node with no primary counterpart, and its subtree.
struct Reconciler::Orphan {
  std::shared_ptr<Orphan> parent;
  std::string path;
  std::string data;
  zk::Stat stat;
  size_t pending = 0;
  bool blocked = false;
  std::string blocked_by;
};

// The writes one primary node needs; when all have landed the node is
// settled in the index, when one did not it is dropped from it.
struct Reconciler::NodeWrites {
  std::string source_path;
  zk::Stat stat;
  size_t pending = 0;
  bool failed = false;
  bool retry = false;  // a failure a re-read and re-plan may settle (else: parked)
};

Reconciler::Reconciler(EventLoop& loop, zk::Client& primary, zk::Client& backup, ReconcileOptions options)
    : loop_(loop), primary_(primary), backup_(backup), options_(std::move(options)) {
  if (!options_.dry_run && !options_.shared_applier) {
    own_applier_ = std::make_unique<apply::Applier>(backup_, loop_, options_.applier, nullptr);
  }
  if (!options_.excluded_primary) options_.excluded_primary = [](const std::string&) { return false; };
  if (!options_.protected_backup) options_.protected_backup = [](const std::string&) { return false; };
}

Reconciler::~Reconciler() { *alive_ = false; }

void Reconciler::start() {
  // Each root is the only child of a virtual directory, so that roots go
  // through the same read-map-plan path as every other node.
  for (const auto& root : options_.roots) {
    auto dir = std::make_shared<Dir>();
    dir->root = &root;
    dir->primary_listed = dir->backup_listed = true;
    dir->list_backup = false;
    dir->primary_children = {lastSegment(root.source)};
    ++open_work_;
    dirs_to_list_.push_back(dir);
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

void Reconciler::countRead() {
  ++report_.reads;
}

void Reconciler::get(zk::Client& c, const std::string& path, bool watch, std::function<void(zk::GetResult)> then) {
  ++outstanding_;
  countRead();
  c.get(path, watch, [this, loop = &loop_, alive = alive_, then = std::move(then)](zk::GetResult r) mutable {
    loop->post([this, alive, then = std::move(then), r = std::move(r)]() mutable {
      if (!*alive) return;
      --outstanding_;
      then(std::move(r));
      pump();
      maybeFinish();
    });
  });
}

void Reconciler::exists(zk::Client& c, const std::string& path, bool watch, std::function<void(zk::StatResult)> then) {
  ++outstanding_;
  countRead();
  c.exists(path, watch, [this, loop = &loop_, alive = alive_, then = std::move(then)](zk::StatResult r) mutable {
    loop->post([this, alive, then = std::move(then), r = std::move(r)]() mutable {
      if (!*alive) return;
      --outstanding_;
      then(std::move(r));
      pump();
      maybeFinish();
    });
  });
}

void Reconciler::getAcl(zk::Client& c, const std::string& path, std::function<void(zk::AclResult)> then) {
  ++outstanding_;
  countRead();
  c.getAcl(path, [this, loop = &loop_, alive = alive_, then = std::move(then)](zk::AclResult r) mutable {
    loop->post([this, alive, then = std::move(then), r = std::move(r)]() mutable {
      if (!*alive) return;
      --outstanding_;
      then(std::move(r));
      pump();
      maybeFinish();
    });
  });
}

void Reconciler::children(zk::Client& c, const std::string& path, bool watch,
                          std::function<void(zk::ChildrenResult)> then) {
  ++outstanding_;
  countRead();
  c.getChildren(path, watch, [this, loop = &loop_, alive = alive_, then = std::move(then)](zk::ChildrenResult r) mutable {
    loop->post([this, alive, then = std::move(then), r = std::move(r)]() mutable {
      if (!*alive) return;
      --outstanding_;
      then(std::move(r));
      pump();
      maybeFinish();
    });
  });
}

// Issues reads while the window has room: children of listed directories
// first (depth first keeps the frontier small), then new listings.
void Reconciler::pump() {
  // Backpressure: reading stops while the writes it produced wait to be sent,
  // so a slow backup bounds memory instead of growing a queue.
  while (outstanding_ < options_.max_outstanding_reads && !dirs_to_list_.empty() &&
         writes_pending_ < options_.max_pending_writes) {
    auto dir = dirs_to_list_.back();
    if (!dir->primary_listed || !dir->backup_listed) {
      dirs_to_list_.pop_back();
      listDir(dir);
      continue;
    }
    if (dir->next_child < dir->primary_children.size()) {
      std::string name = dir->primary_children[dir->next_child++];
      ++dir->pending;
      readPrimaryChild(dir, std::move(name));
      continue;
    }
    dirs_to_list_.pop_back();
    if (dir->pending == 0) dirDone(dir);
  }
  if (writes_pending_ >= options_.max_pending_writes) applier()->flush();
}

void Reconciler::listDir(std::shared_ptr<Dir> dir) {
  children(primary_, dir->primary_path, options_.watch_primary, [this, dir](zk::ChildrenResult r) {
    if (r.code == zk::Code::kOk) {
      dir->primary_children = std::move(r.children);
      std::sort(dir->primary_children.begin(), dir->primary_children.end());
    } else if (r.code != zk::Code::kNoNode) {
      readFailed(r.code, dir->primary_path, "list primary children", true);
      dir->suppress_deletes = true;
    }
    dir->primary_listed = true;
    onListed(dir);
  });
  if (dir->list_backup) {
    children(backup_, dir->backup_path, false, [this, dir](zk::ChildrenResult r) {
      if (r.code == zk::Code::kOk) {
        dir->backup_children.insert(r.children.begin(), r.children.end());
      } else if (r.code != zk::Code::kNoNode) {
        readFailed(r.code, dir->backup_path, "list backup children", false);
        dir->suppress_deletes = true;
      }
      dir->backup_listed = true;
      onListed(dir);
    });
  } else {
    dir->backup_listed = true;
  }
}

void Reconciler::onListed(std::shared_ptr<Dir> dir) {
  if (dir->primary_listed && dir->backup_listed) dirs_to_list_.push_back(dir);
}

void Reconciler::readPrimaryChild(std::shared_ptr<Dir> dir, std::string name) {
  const std::string source_path = dir->root ? dir->root->source : join(dir->primary_path, name);
  if (options_.excluded_primary(source_path)) {
    // Its backup counterpart (same name) is never touched either.
    dir->backup_children.erase(name);
    childDone(dir);
    return;
  }
  if (options_.event_pass && !dir->root && options_.index && options_.index->find(source_path)) {
    // Replicated before and watched since: a change to it has its own event.
    if (dir->backup_unlisted) {
      childDone(dir);
      return;
    }
    // Unless its backup copy is not there (deleted meanwhile): then it is read.
    const MappedNode mapped = options_.mapper ? options_.mapper(source_path, "") : MappedNode{true, source_path, "", {}, {}};
    if (dir->backup_children.erase(lastSegment(mapped.path.empty() ? source_path : mapped.path)) > 0) {
      childDone(dir);
      return;
    }
    options_.index->eraseSubtree(source_path);
  }
  // A data event names a node that moved: read it at once, no stat first.
  const bool known_changed = options_.event_pass && options_.root_only && dir->root;
  if (options_.index && options_.trust_index && !options_.dry_run && !known_changed) {
    if (auto entry = options_.index->find(source_path)) {
      exists(primary_, source_path, options_.watch_primary, [this, dir, source_path, entry](zk::StatResult r) {
        if (r.code == zk::Code::kNoNode) options_.index->eraseSubtree(source_path);
        if (r.code == zk::Code::kOk && entry->sameContent(r.stat)) {
          onUnchangedPrimary(dir, source_path, r.stat, *entry);
        } else {
          readPrimaryFull(dir, source_path);
        }
      });
      return;
    }
  }
  readPrimaryFull(dir, source_path);
}

void Reconciler::readPrimaryFull(std::shared_ptr<Dir> dir, const std::string& source_path) {
  const bool want_acl = options_.policies.acls == plan::AclPolicy::kCopy;
  struct Pending {
    std::optional<zk::GetResult> get;
    std::optional<zk::AclResult> acl;
    bool want_acl;
  };
  auto pending = std::make_shared<Pending>();
  pending->want_acl = want_acl;
  auto maybe_done = [this, dir, source_path, pending] {
    if (!pending->get || (pending->want_acl && !pending->acl)) return;
    onPrimaryChild(dir, source_path, std::move(*pending->get), std::move(pending->acl));
  };
  // A data event's root: its ACL is read only if it may have moved (the
  // index does not know it as this copy), one round trip later.
  if (want_acl && options_.event_pass && options_.root_only && dir->root) {
    get(primary_, source_path, options_.watch_primary,
        [this, pending, maybe_done, source_path](zk::GetResult r) {
          const bool known = r.code == zk::Code::kOk && knownCopy(source_path, r.stat).has_value();
          pending->get = std::move(r);
          if (known) {
            pending->want_acl = false;
            maybe_done();
            return;
          }
          getAcl(primary_, source_path, [pending, maybe_done](zk::AclResult a) {
            pending->acl = std::move(a);
            maybe_done();
          });
        });
    return;
  }
  get(primary_, source_path, options_.watch_primary, [pending, maybe_done](zk::GetResult r) {
    pending->get = std::move(r);
    maybe_done();
  });
  if (want_acl) {
    getAcl(primary_, source_path, [pending, maybe_done](zk::AclResult r) {
      pending->acl = std::move(r);
      maybe_done();
    });
  }
}

// A node the last pass settled and that has not changed since: its backup
// counterpart is taken as it was left. Only its children are walked.
void Reconciler::onUnchangedPrimary(std::shared_ptr<Dir> dir, const std::string& source_path, const zk::Stat& stat,
                                    const IndexEntry& entry) {
  ++report_.primary_nodes;
  ++nodes_read_;
  noteZxid(stat, dir->root != nullptr);
  if (options_.on_primary_node) options_.on_primary_node(source_path, stat);
  if (!plan::replicates(stat, options_.policies)) {
    childDone(dir);
    return;
  }
  const MappedNode mapped = options_.mapper ? options_.mapper(source_path, "") : MappedNode{true, source_path, "", {}, {}};
  const std::string backup_path =
      dir->root ? dir->root->target : join(dir->backup_path, lastSegment(mapped.path.empty() ? source_path : mapped.path));
  if (!dir->root && dir->list_backup && dir->backup_children.erase(lastSegment(backup_path)) == 0 &&
      entry.replicated) {
    // The counterpart is gone from the backup (drift): read it all again.
    // (A node that was not replicated — a mapping failure, a parked
    // create — has none to lose.)
    options_.index->erase(source_path);
    readPrimaryFull(dir, source_path);
    return;
  }
  options_.index->put(source_path, IndexEntry::of(stat, entry.replicated));
  // Reported before and unchanged since: reported again, not retried.
  if (const auto* held = options_.index->held(source_path)) {
    for (const auto& [kind, change] : *held) {
      countReported(kind);
      report_.changes.push_back(change);
    }
  }
  if (options_.on_replicated_node) options_.on_replicated_node(backup_path, stat);
  const bool descend = options_.event_pass ? (dir->root && !options_.root_only) : true;
  if (descend && (stat.num_children > 0 || options_.watch_primary)) {
    auto child = std::make_shared<Dir>();
    child->primary_path = source_path;
    child->backup_path = backup_path;
    // In a full pass the backup copy's children are listed only where the
    // primary has children or its list moved since it was last reconciled
    // (pzxid): a leaf that stayed a leaf left its copy a leaf, and drift
    // below one is the audit's to find.
    // An event pass (a children event) does not list them at all: a child
    // deleted on the primary fires its own NodeDeleted, known children have
    // their own watches, and only new ones are read, each with its backup
    // counterpart. On a directory of 20,000 topics this is the difference
    // between one index lookup per child and two listings, a sort, a hash
    // set and a mapping per child, for every topic created.
    child->list_backup = !options_.event_pass && (stat.num_children > 0 || stat.pzxid != entry.pzxid);
    child->backup_unlisted = options_.event_pass;
    ++open_work_;
    dirs_to_list_.push_back(child);
  }
  childDone(dir);
}

void Reconciler::noteZxid(const zk::Stat& stat, bool root) {
  const int64_t zxid = std::max(stat.mzxid, stat.pzxid);
  report_.max_primary_zxid = std::max(report_.max_primary_zxid, zxid);
  if (root) {
    report_.root_zxid = roots_read_++ == 0 ? zxid : std::min(report_.root_zxid, zxid);
  }
}

void Reconciler::onPrimaryChild(std::shared_ptr<Dir> dir, std::string source_path, zk::GetResult get,
                                std::optional<zk::AclResult> acl) {
  // A node deleted between its getData and its getACL is gone, like one
  // deleted before both.
  if (get.code == zk::Code::kOk && acl && acl->code == zk::Code::kNoNode) get.code = zk::Code::kNoNode;
  if (get.code == zk::Code::kNoNode) {
    // Whatever the index knew of it is gone: if it comes back, it is new.
    if (options_.index && !options_.dry_run) options_.index->eraseSubtree(source_path);
    // Gone since the listing. Its backup counterpart stays unclaimed and is
    // handled as an orphan; a vanished root makes its whole target an orphan.
    if (dir->root) {
      auto holder = std::shared_ptr<Orphan>();
      ++open_work_;
      visitOrphan(holder, dir->root->target);
    }
    childDone(dir);
    return;
  }
  // Under `acls: copy` the ACL is part of what is read: a node whose ACL
  // could not be read is a failed read (an empty list must never become an
  // open ACL). A data event on a known copy reads no ACL (knownCopy).
  const bool acl_missing = options_.policies.acls == plan::AclPolicy::kCopy && get.code == zk::Code::kOk &&
                           (acl ? acl->code != zk::Code::kOk : !(dir->root && knownCopy(source_path, get.stat)));
  if (get.code != zk::Code::kOk || acl_missing) {
    const zk::Code code = get.code != zk::Code::kOk ? get.code : (acl ? acl->code : zk::Code::kSystemError);
    readFailed(code, source_path, get.code != zk::Code::kOk ? "read primary node" : "read primary ACL", true);
    if (code == zk::Code::kNoAuth && !dir->root) {
      // Its backup counterpart is left as it is, and is no orphan.
      const MappedNode m = options_.mapper ? options_.mapper(source_path, "") : MappedNode{true, source_path, "", {}, {}};
      dir->backup_children.erase(lastSegment(m.path.empty() ? source_path : m.path));
    } else if (code != zk::Code::kNoAuth) {
      dir->suppress_deletes = true;
    }
    childDone(dir);
    return;
  }
  ++report_.primary_nodes;
  ++nodes_read_;
  noteZxid(get.stat, dir->root != nullptr);
  if (options_.on_primary_node) options_.on_primary_node(source_path, get.stat);
  if (options_.progress && nodes_read_ % options_.progress_every == 0) {
    options_.progress(nodes_read_, report_.planned_writes - writes_pending_);
  }
  if (!plan::replicates(get.stat, options_.policies)) {
    childDone(dir);  // a primary ephemeral: not copied, and it has no children
    return;
  }
  // Read again: whatever was reported of it is decided anew (but a data
  // event on a known copy reads no ACL: a redacted one stays reported).
  if (options_.index && !options_.dry_run && !(dir->root && knownCopy(source_path, get.stat))) {
    options_.index->release(source_path);
  }
  MappedNode mapped = options_.mapper ? options_.mapper(source_path, get.data)
                                      : MappedNode{true, source_path, get.data, {}, {}};
  // The walk maps one level at a time: the backup parent is already known,
  // only this node's own name can change.
  const std::string backup_path =
      dir->root ? dir->root->target : join(dir->backup_path, lastSegment(mapped.path.empty() ? source_path : mapped.path));
  const std::string backup_name = lastSegment(backup_path);
  const bool backup_listed_here = !dir->root && dir->backup_children.erase(backup_name) > 0;

  if (!mapped.replicated || !mapped.failure.empty()) {
    // Retried when it changes: the index holds its version as seen.
    settleIndex(source_path, get.stat, true, /*replicated=*/false);
    reportNode(ReportedKind::kMappingFailure,
               plan::Change{.kind = plan::ChangeKind::kSkipped,
                            .path = backup_path,
                            .source_path = source_path,
                            .reason = mapped.failure.empty() ? "not replicated by the mapping" : mapped.failure},
               &get.stat);
    // Its existing backup subtree is still walked (children may map fine);
    // a missing one cannot receive children.
    if (backup_listed_here || dir->root) {
      auto child = std::make_shared<Dir>();
      child->primary_path = source_path;
      child->backup_path = backup_path;
      ++open_work_;
      dirs_to_list_.push_back(child);
    }
    childDone(dir);
    return;
  }

  plan::DesiredNode desired{.source_path = source_path,
                            .path = backup_path,
                            .data = std::move(mapped.data),
                            .stat = get.stat,
                            .acl = acl && acl->code == zk::Code::kOk ? std::move(acl->acl) : zk::AclList{},
                            .fields = std::move(mapped.fields)};
  const zk::Stat primary_stat = get.stat;
  if (!dir->root) {
    // Two primary nodes that map to one backup path: the first keeps it, the
    // second is reported and not written (SPEC 3, path collisions).
    auto [claim, fresh] = dir->claimed.try_emplace(backup_name, source_path);
    if (!fresh) {
      ++report_.conflicts;
      recordReport(plan::Change{.kind = plan::ChangeKind::kConflict,
                                .path = backup_path,
                                .source_path = source_path,
                                .reason = "maps to the same backup path as " + claim->second});
      childDone(dir);
      return;
    }
  }
  if (!dir->root && !backup_listed_here && !dir->backup_unlisted) {
    planAndDescend(dir, std::move(desired), std::nullopt, primary_stat);
    return;
  }
  if (dir->root) {
    if (auto known = knownCopy(source_path, primary_stat)) {
      updateKnownCopy(dir, std::move(desired), primary_stat, *known);
      return;
    }
  }
  readBackupAndPlan(dir, std::move(desired), primary_stat);
}

// An event pass for a data change only, on a node the index holds as
// replicated, with the same czxid (not re-created) and ACL version: its
// backup copy is the one this replicator wrote, so it is not read again.
// This halves the requests per replicated write; a retry after a refused
// write comes as a children event too and takes the full path.
std::optional<IndexEntry> Reconciler::knownCopy(const std::string& source_path, const zk::Stat& stat) const {
  if (!options_.event_pass || !options_.root_only || !options_.index || options_.dry_run) return std::nullopt;
  auto entry = options_.index->find(source_path);
  if (entry && entry->replicated && entry->czxid == stat.czxid && entry->aversion == stat.aversion) return entry;
  return std::nullopt;
}

void Reconciler::updateKnownCopy(std::shared_ptr<Dir> dir, plan::DesiredNode desired, zk::Stat primary_stat,
                                 const IndexEntry& known) {
  if (options_.on_replicated_node) options_.on_replicated_node(desired.path, primary_stat);
  auto node = std::make_shared<NodeWrites>(NodeWrites{desired.source_path, primary_stat, 0, false});
  if (known.mzxid == primary_stat.mzxid) {
    // The event's change was already replicated (by an earlier pass).
    settleIndex(desired.source_path, primary_stat, true);
  } else {
    node->pending = 1;
    emit(plan::planKnownUpdate(desired), node);
  }
  childDone(dir);
}

void Reconciler::readBackupAndPlan(std::shared_ptr<Dir> dir, plan::DesiredNode desired, zk::Stat primary_stat) {
  const bool want_acl = options_.policies.acls != plan::AclPolicy::kKeepBackup;
  struct Pending {
    std::optional<zk::GetResult> get;
    std::optional<zk::AclResult> acl;
    bool want_acl;
    plan::DesiredNode desired;
  };
  auto pending = std::make_shared<Pending>(Pending{{}, {}, want_acl, std::move(desired)});
  const std::string path = pending->desired.path;
  auto maybe_done = [this, dir, pending, primary_stat] {
    if (!pending->get || (pending->want_acl && !pending->acl)) return;
    auto& g = *pending->get;
    if (g.code == zk::Code::kOk && pending->want_acl && pending->acl->code == zk::Code::kNoNode) g.code = zk::Code::kNoNode;
    if (g.code == zk::Code::kNoNode) {
      planAndDescend(dir, std::move(pending->desired), std::nullopt, primary_stat);
      return;
    }
    if (g.code != zk::Code::kOk || (pending->want_acl && pending->acl->code != zk::Code::kOk)) {
      const bool data_failed = g.code != zk::Code::kOk;
      readFailed(data_failed ? g.code : pending->acl->code, pending->desired.path,
                 data_failed ? "read backup node" : "read backup ACL", false);
      childDone(dir);
      return;
    }
    ++report_.backup_nodes;
    plan::BackupNode backup{.path = pending->desired.path, .data = std::move(g.data), .stat = g.stat};
    if (pending->want_acl) backup.acl = std::move(pending->acl->acl);
    planAndDescend(dir, std::move(pending->desired), std::move(backup), primary_stat);
  };
  get(backup_, path, false, [pending, maybe_done](zk::GetResult r) {
    pending->get = std::move(r);
    maybe_done();
  });
  if (want_acl) {
    getAcl(backup_, path, [pending, maybe_done](zk::AclResult r) {
      pending->acl = std::move(r);
      maybe_done();
    });
  }
}

void Reconciler::withBackupDirAcl(std::shared_ptr<Dir> dir, std::function<void(const zk::AclList*)> then) {
  if (dir->backup_acl) return then(&*dir->backup_acl);
  dir->acl_waiters.push_back(std::move(then));
  if (dir->acl_waiters.size() > 1) return;  // already being read
  // A root's virtual directory stands for the target's backup parent.
  std::string path = dir->backup_path;
  if (dir->root) {
    const auto slash = dir->root->target.rfind('/');
    path = slash == 0 ? "/" : dir->root->target.substr(0, slash);
  }
  getAcl(backup_, path, [this, dir, path](zk::AclResult r) {
    if (r.code == zk::Code::kOk) {
      dir->backup_acl = std::move(r.acl);
    } else {
      readFailed(r.code, path, "read backup ACL", false);
    }
    auto waiters = std::move(dir->acl_waiters);
    dir->acl_waiters.clear();
    for (auto& w : waiters) w(dir->backup_acl ? &*dir->backup_acl : nullptr);
  });
}

void Reconciler::planAndDescend(std::shared_ptr<Dir> dir, std::optional<plan::DesiredNode> desired,
                                std::optional<plan::BackupNode> backup, zk::Stat primary_stat) {
  if (!backup && !desired->parent_acl && plan::needsParentAcl(*desired, options_.policies)) {
    // A node to create that takes its backup parent's ACL (keep-backup, or
    // a copied ACL with nothing left to copy): read that first.
    withBackupDirAcl(dir, [this, dir, desired = std::move(desired), primary_stat](const zk::AclList* acl) mutable {
      if (!acl) {
        childDone(dir);  // the failed read is in the report
        return;
      }
      desired->parent_acl = *acl;
      planAndDescend(dir, std::move(desired), std::nullopt, primary_stat);
    });
    return;
  }
  const std::string source_path = desired->source_path;
  const std::string backup_path = desired->path;
  const bool backup_exists = backup.has_value();
  const int32_t backup_children = backup ? backup->stat.num_children : 0;
  std::optional<zk::AclList> child_acl = backup ? backup->acl : std::nullopt;
  if (options_.on_replicated_node) options_.on_replicated_node(backup_path, primary_stat);
  // Writes to a node the replicator had copied and the primary has not
  // changed since: the backup drifted.
  bool drift = false;
  if (options_.index && !options_.event_pass) {
    const auto entry = options_.index->find(source_path);
    drift = entry && entry->replicated && entry->sameContent(primary_stat);
  }
  bool can_descend = true;
  auto changes = plan::planNode(desired, backup, options_.policies);
  auto node = std::make_shared<NodeWrites>(NodeWrites{source_path, primary_stat, 0, false});
  for (auto& c : changes) {
    if (plan::isWrite(c)) {
      ++node->pending;
      c.drift = drift;
    }
    if (c.kind == plan::ChangeKind::kCreate) child_acl = c.acl;
    if (c.kind == plan::ChangeKind::kConflict) {
      can_descend = false;
      node->failed = true;
    }
  }
  if (node->pending == 0) settleIndex(source_path, primary_stat, !node->failed);
  for (auto& change : changes) {
    if (plan::isWrite(change)) {
      emit(std::move(change), node);
    } else if (change.kind == plan::ChangeKind::kConflict) {
      reportNode(ReportedKind::kHeldByEphemeral, std::move(change), &primary_stat);
    } else if (change.kind == plan::ChangeKind::kSkipped && plan::hasRedactedDigest(desired->acl)) {
      reportNode(ReportedKind::kRedactedAcl, std::move(change), &primary_stat);
    } else {
      ++report_.acl_unknown;  // a create without a known ACL: not done, not converged
      recordReport(std::move(change));
    }
  }
  if (options_.root_only && dir->root) can_descend = false;
  if (can_descend && (primary_stat.num_children > 0 || backup_children > 0 || options_.watch_primary)) {
    auto child = std::make_shared<Dir>();
    child->primary_path = source_path;
    child->backup_path = backup_path;
    child->list_backup = backup_exists && backup_children > 0;
    child->backup_acl = std::move(child_acl);
    ++open_work_;
    dirs_to_list_.push_back(child);
  }
  childDone(dir);
}

void Reconciler::childDone(std::shared_ptr<Dir> dir) {
  --dir->pending;
  if (dir->pending == 0 && dir->next_child == dir->primary_children.size() && dir->primary_listed &&
      dir->backup_listed) {
    // Finished unless pump() has yet to pop it; dirDone runs once either way.
    auto it = std::find(dirs_to_list_.begin(), dirs_to_list_.end(), dir);
    if (it != dirs_to_list_.end()) dirs_to_list_.erase(it);
    dirDone(dir);
  }
}

void Reconciler::dirDone(std::shared_ptr<Dir> dir) {
  if (!dir->root && !dir->suppress_deletes) {
    for (const auto& name : dir->backup_children) {
      const std::string path = join(dir->backup_path, name);
      if (options_.protected_backup(path)) continue;
      ++open_work_;
      visitOrphan(nullptr, path);
    }
  } else if (dir->suppress_deletes && !dir->backup_children.empty()) {
    spdlog::warn("not deleting {} unmatched backup children of {}: its walk was incomplete",
                 dir->backup_children.size(), dir->backup_path);
  }
  dir->backup_children.clear();
  --open_work_;
}

void Reconciler::visitOrphan(std::shared_ptr<Orphan> parent, std::string path) {
  get(backup_, path, false, [this, parent, path](zk::GetResult r) {
    if (r.code == zk::Code::kNoNode) {
      if (parent && --parent->pending == 0) orphanDone(parent);
      --open_work_;
      return;
    }
    if (r.code != zk::Code::kOk) {
      readFailed(r.code, path, "read backup node", false);
      if (parent) {
        parent->blocked = true;
        parent->blocked_by = path + " (unreadable)";
        if (--parent->pending == 0) orphanDone(parent);
      }
      --open_work_;
      return;
    }
    if (zk::kindOf(r.stat) == zk::NodeKind::kEphemeral) {
      // A standby-site session's node: never removed, and it keeps its parents.
      if (parent) {
        parent->blocked = true;
        parent->blocked_by = path + " (ephemeral)";
        if (--parent->pending == 0) orphanDone(parent);
      }
      --open_work_;
      return;
    }
    ++report_.backup_nodes;
    auto orphan = std::make_shared<Orphan>();
    orphan->parent = parent;
    orphan->path = path;
    orphan->data = std::move(r.data);
    orphan->stat = r.stat;
    if (r.stat.num_children == 0) {
      orphanDone(orphan);
      --open_work_;
      return;
    }
    orphan->pending = 1;  // held by the listing below
    children(backup_, path, false, [this, orphan](zk::ChildrenResult c) {
      if (c.code != zk::Code::kOk && c.code != zk::Code::kNoNode) {
        readFailed(c.code, orphan->path, "list backup children", false);
        orphan->blocked = true;
        orphan->blocked_by = orphan->path + " (unlistable)";
      }
      for (const auto& name : c.children) {
        const std::string child = join(orphan->path, name);
        if (options_.protected_backup(child)) {
          orphan->blocked = true;
          orphan->blocked_by = child + " (excluded or protected)";
          continue;
        }
        ++orphan->pending;
        ++open_work_;
        visitOrphan(orphan, child);
      }
      if (--orphan->pending == 0) orphanDone(orphan);
      --open_work_;
    });
  });
}

// All of an orphan's subtree is settled: delete it (after its children,
// which were appended first) or report what keeps it.
void Reconciler::orphanDone(std::shared_ptr<Orphan> orphan) {
  if (orphan->blocked) {
    reportNode(ReportedKind::kBlocked, plan::Change{.kind = plan::ChangeKind::kBlocked,
                                                    .path = orphan->path,
                                                    .reason = "delete blocked by " + orphan->blocked_by});
    if (orphan->parent) {
      orphan->parent->blocked = true;
      orphan->parent->blocked_by = orphan->path + " (kept)";
    }
  } else {
    auto changes = plan::planNode(std::nullopt,
                                  plan::BackupNode{.path = orphan->path, .data = std::move(orphan->data), .stat = orphan->stat},
                                  options_.policies);
    for (auto& c : changes) {
      // Outside event passes, a backup node the primary does not have is
      // drift: a primary delete has its own event.
      c.drift = !options_.event_pass;
      deletes_.push_back(std::move(c));
    }
    if (changes.empty() && orphan->parent) {
      // deletes: keep — the parent stays too.
      orphan->parent->blocked = true;
      orphan->parent->blocked_by = orphan->path + " (kept)";
    }
  }
  if (orphan->parent && --orphan->parent->pending == 0) orphanDone(orphan->parent);
}

void Reconciler::emit(plan::Change change, std::shared_ptr<NodeWrites> node) {
  if (!plan::isWrite(change)) {
    recordReport(std::move(change));
    return;
  }
  ++report_.planned_writes;
  if (options_.dry_run) {
    report_.changes.push_back(std::move(change));
    return;
  }
  ++writes_pending_;
  applier()->submit(std::move(change), [this, alive = alive_, node](const apply::Outcome& o) {
    if (!*alive) return;
    --writes_pending_;
    onOutcome(o, node);
    if (node && --node->pending == 0) {
      if (!node->failed) {
        settleIndex(node->source_path, node->stat, true);
      } else if (node->retry) {
        settleIndex(node->source_path, node->stat, false);
      } else if (options_.index) {
        // Refused for good: parked until the primary node changes. The
        // index holds it as seen (not a copy), so a trusted pass leaves it
        // alone and reports it again.
        options_.index->put(node->source_path, IndexEntry::of(node->stat, false));
      }
    }
    pump();
  });
}

void Reconciler::settleIndex(const std::string& source_path, const zk::Stat& stat, bool ok, bool replicated) {
  if (!options_.index || options_.dry_run) return;
  if (ok) {
    auto entry = IndexEntry::of(stat, replicated);
    // The index's pzxid says up to where the children were reconciled; a
    // data-only pass did not look at them.
    if (options_.event_pass && options_.root_only) {
      const auto before = options_.index->find(source_path);
      entry.pzxid = before ? before->pzxid : 0;
    }
    options_.index->put(source_path, entry);
  } else {
    options_.index->erase(source_path);
  }
}

void Reconciler::recordReport(plan::Change change) {
  if (change.kind == plan::ChangeKind::kSkipped || change.kind == plan::ChangeKind::kBlocked) {
    spdlog::warn("{} {}: {}", plan::changeKindName(change.kind), change.path, change.reason);
  } else if (change.kind == plan::ChangeKind::kConflict) {
    spdlog::warn("conflict {}: {}", change.path, change.reason);
  }
  report_.changes.push_back(std::move(change));
}

void Reconciler::countReported(ReportedKind kind) {
  switch (kind) {
    case ReportedKind::kMappingFailure: ++report_.mapping_failures; break;
    case ReportedKind::kTooLarge: ++report_.too_large; break;
    case ReportedKind::kUnreadable: ++report_.unreadable; break;
    case ReportedKind::kBackupUnreadable: ++report_.backup_unreadable; break;
    case ReportedKind::kRedactedAcl: ++report_.redacted_acls; break;
    case ReportedKind::kParked: ++report_.parked; break;
    case ReportedKind::kBlocked: ++report_.blocked; break;
    case ReportedKind::kHeldByEphemeral: ++report_.held_by_ephemeral; break;
  }
}

void Reconciler::reportNode(ReportedKind kind, plan::Change change, const zk::Stat* primary_stat) {
  change.reported = true;
  countReported(kind);
  if (primary_stat && options_.index && !options_.dry_run && !change.source_path.empty()) {
    options_.index->hold(change.source_path, kind, change);
  }
  recordReport(std::move(change));
}

void Reconciler::onOutcome(const apply::Outcome& outcome, const std::shared_ptr<NodeWrites>& node) {
  // The applier is mid-callback; look at the finish line once it is done.
  loop_.post([this, alive = alive_] {
    if (*alive) maybeFinish();
  });
  if (outcome.kind != apply::OutcomeKind::kApplied && node) node->failed = true;
  switch (outcome.kind) {
    case apply::OutcomeKind::kApplied:
      if (options_.on_applied) options_.on_applied(outcome.change);
      switch (outcome.change.kind) {
        case plan::ChangeKind::kCreate: ++report_.applied.created; break;
        case plan::ChangeKind::kUpdate: ++report_.applied.updated; break;
        case plan::ChangeKind::kSetAcl: ++report_.applied.acls_set; break;
        case plan::ChangeKind::kDelete: ++report_.applied.deleted; break;
        default: break;
      }
      return;
    case apply::OutcomeKind::kFenced:
      report_.fenced = true;
      return;
    case apply::OutcomeKind::kRefused: {
      auto c = outcome.change;
      if (apply::refusedForGood(outcome.code)) {
        // No re-plan changes the answer: reported, and parked until the
        // primary node changes (or the next audit).
        c.reason = std::string("refused for good (") + std::string(zk::codeName(outcome.code)) +
                   "): not retried until the primary node changes or the next audit";
        reportNode(ReportedKind::kParked, std::move(c), node ? &node->stat : nullptr);
        return;
      }
      ++report_.refused;
      if (node) node->retry = true;
      c.reason = std::string("refused: ") + std::string(zk::codeName(outcome.code));
      spdlog::info("{} {} refused ({}); will re-read and re-plan", plan::changeKindName(c.kind), c.path,
                   zk::codeName(outcome.code));
      report_.changes.push_back(std::move(c));
      return;
    }
    case apply::OutcomeKind::kUnknown: {
      ++report_.unknown;
      if (node) node->retry = true;
      auto c = outcome.change;
      c.reason = std::string("outcome unknown: ") + std::string(zk::codeName(outcome.code));
      report_.changes.push_back(std::move(c));
      return;
    }
    case apply::OutcomeKind::kTooLarge: {
      auto c = outcome.change;
      c.reason = "the write alone exceeds the request limit (max_request_bytes)";
      reportNode(ReportedKind::kTooLarge, std::move(c), node ? &node->stat : nullptr);
      return;
    }
  }
}

void Reconciler::readFailed(zk::Code code, const std::string& path, const char* what, bool primary_site) {
  if (code == zk::Code::kNoAuth) {
    reportNode(primary_site ? ReportedKind::kUnreadable : ReportedKind::kBackupUnreadable,
               plan::Change{.kind = plan::ChangeKind::kSkipped,
                            .path = path,
                            .source_path = primary_site ? path : std::string(),
                            .reason = std::string(what) + ": not authorized (check auth for the " +
                                      (primary_site ? "primary" : "backup") + " site)"});
    return;
  }
  if (!report_.error) {
    report_.error = Error{ErrorCode::kZooKeeper, std::string(what) + " failed: " + std::string(zk::codeName(code)), path};
  }
}

void Reconciler::finishWalk() {
  walk_done_ = true;
  const auto verdict = plan::checkDeleteGuard(deletes_.size(), report_.backup_nodes, options_.max_delete_fraction,
                                              options_.allow_mass_delete);
  report_.planned_deletes = deletes_.size();
  if (!verdict.allowed) {
    report_.guard_tripped = true;
    report_.guard_reason = verdict.reason;
    spdlog::error("{}", verdict.reason);
    if (options_.dry_run) {
      for (auto& d : deletes_) report_.changes.push_back(std::move(d));
    }
  } else if (!report_.error) {
    for (auto& d : deletes_) emit(std::move(d));
  } else if (!deletes_.empty()) {
    spdlog::warn("not deleting {} backup nodes: the walk was incomplete", deletes_.size());
  }
  deletes_.clear();
  deletes_submitted_ = true;
  if (applier()) applier()->flush();
}

void Reconciler::maybeFinish() {
  if (finished_) return;
  if (!walk_done_) {
    if (open_work_ == 0 && outstanding_ == 0 && dirs_to_list_.empty()) finishWalk();
    else return;
  }
  if (writes_pending_ > 0) {
    applier()->flush();
    return;
  }
  if (own_applier_) {
    report_.applied.batches = own_applier_->stats().batches;
    report_.applied.batch_fallbacks = own_applier_->stats().batch_fallbacks;
  }
  // A root not read (missing, or its read failed) proves nothing.
  if (roots_read_ < options_.roots.size()) report_.root_zxid = 0;
  finished_ = true;
  if (options_.on_finished) loop_.post(options_.on_finished);
}

}  // namespace zks::reconcile
