#include "daemon/node_pass.h"

#include <spdlog/spdlog.h>

#include "plan/node_plan.h"

namespace zks::daemon {

namespace {

std::string join(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

std::string parentOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

}  // namespace

// A backup node with no primary counterpart, and its subtree (as in a full
// pass): deleted after its children, or kept and reported when something
// below it must stay.
struct NodePass::Orphan {
  std::shared_ptr<Orphan> parent;
  std::string path;
  std::string data;
  zk::Stat stat;
  size_t pending = 0;
  bool blocked = false;
  std::string blocked_by;
};

// The writes planned for the node; once all are answered the index is
// settled from the read they came from.
struct NodePass::Writes {
  bool for_node = true;  // false: orphan deletes (no primary node to settle)
  size_t pending = 0;
  bool failed = false;
  bool retry = false;    // a failure a re-read settles (else: parked)
  bool created = false;  // the node's copy was created
};

NodePass::NodePass(const NodePassContext& context, NodePassRequest request)
    : ctx_(context), request_(std::move(request)) {}

NodePass::~NodePass() { *alive_ = false; }

bool NodePass::isRoot() const {
  for (const auto& r : ctx_.options.roots) {
    if (r.source == request_.path) return true;
  }
  return false;
}

void NodePass::start() {
  started_ = true;
  ++open_;  // held until start() returns
  const auto& o = ctx_.options;
  const bool excluded = o.excluded_primary && o.excluded_primary(request_.path);
  const auto mapped = o.mapper ? o.mapper(request_.path, "") : reconcile::MappedNode{true, request_.path, "", {}, {}};
  if (!excluded && mapped.replicated && !mapped.path.empty()) {
    backup_path_ = mapped.path;
    readPrimary();
  }
  workDone();
}

// ---- reads ----

void NodePass::get(bool primary_site, const std::string& path, bool watch, std::function<void(zk::GetResult)> then) {
  ++open_;
  ++report_.reads;
  auto& client = primary_site ? ctx_.primary : ctx_.backup;
  client.get(path, watch,
             [this, loop = &ctx_.loop, alive = alive_, primary_site, then = std::move(then)](zk::GetResult r) mutable {
               loop->post([this, alive, primary_site, then = std::move(then), r = std::move(r)]() mutable {
                 if (!*alive) return;
                 if (primary_site) read_seq_ = ctx_.seq.next();
                 then(std::move(r));
                 workDone();
               });
             });
}

void NodePass::getAcl(bool primary_site, const std::string& path, std::function<void(zk::AclResult)> then) {
  ++open_;
  ++report_.reads;
  auto& client = primary_site ? ctx_.primary : ctx_.backup;
  client.getAcl(path, [this, loop = &ctx_.loop, alive = alive_, primary_site, then = std::move(then)](
                          zk::AclResult r) mutable {
    loop->post([this, alive, primary_site, then = std::move(then), r = std::move(r)]() mutable {
      if (!*alive) return;
      if (primary_site) ctx_.seq.next();
      then(std::move(r));
      workDone();
    });
  });
}

void NodePass::children(const std::string& path, std::function<void(zk::ChildrenResult)> then) {
  ++open_;
  ++report_.reads;
  ctx_.backup.getChildren(path, false,
                          [this, loop = &ctx_.loop, alive = alive_, then = std::move(then)](zk::ChildrenResult r) mutable {
                            loop->post([this, alive, then = std::move(then), r = std::move(r)]() mutable {
                              if (!*alive) return;
                              then(std::move(r));
                              workDone();
                            });
                          });
}

void NodePass::readPrimary() {
  const bool want_acl = ctx_.options.policies.acls == plan::AclPolicy::kCopy;
  struct Pending {
    std::optional<zk::GetResult> get;
    std::optional<zk::AclResult> acl;
    bool want_acl = false;
  };
  auto pending = std::make_shared<Pending>();
  pending->want_acl = want_acl;
  auto maybe_done = [this, pending] {
    if (!pending->get || (pending->want_acl && !pending->acl)) return;
    onPrimary(std::move(*pending->get), std::move(pending->acl));
  };
  // A data event on a node whose copy the index knows: its ACL is read only
  // if it may have moved (czxid or aversion differ), one round trip later.
  const auto entry = request_.data_only ? ctx_.index.find(request_.path) : std::nullopt;
  if (want_acl && entry && entry->replicated) {
    get(true, request_.path, request_.watch, [this, pending, maybe_done](zk::GetResult r) {
      const bool known = r.code == zk::Code::kOk && knownCopy(r.stat).has_value();
      const bool read = r.code == zk::Code::kOk;
      pending->get = std::move(r);
      if (known || !read) {
        pending->want_acl = false;
        maybe_done();
        return;
      }
      getAcl(true, request_.path, [pending, maybe_done](zk::AclResult a) {
        pending->acl = std::move(a);
        maybe_done();
      });
    });
    return;
  }
  get(true, request_.path, request_.watch, [pending, maybe_done](zk::GetResult r) {
    pending->get = std::move(r);
    maybe_done();
  });
  if (want_acl) {
    getAcl(true, request_.path, [pending, maybe_done](zk::AclResult r) {
      pending->acl = std::move(r);
      maybe_done();
    });
  }
}

std::optional<reconcile::IndexEntry> NodePass::knownCopy(const zk::Stat& stat) const {
  if (!request_.data_only) return std::nullopt;
  auto entry = ctx_.index.find(request_.path);
  if (entry && entry->replicated && entry->czxid == stat.czxid && entry->aversion == stat.aversion) return entry;
  return std::nullopt;
}

void NodePass::onPrimary(zk::GetResult get, std::optional<zk::AclResult> acl) {
  const auto& o = ctx_.options;
  // Deleted between its getData and its getACL: gone, like one deleted before both.
  if (get.code == zk::Code::kOk && acl && acl->code == zk::Code::kNoNode) get.code = zk::Code::kNoNode;
  if (get.code == zk::Code::kNoNode) return onGone();
  const bool known = get.code == zk::Code::kOk && knownCopy(get.stat).has_value();
  // Under `acls: copy` the ACL is part of the read: one that failed is a
  // failed read (an empty list must never become an open ACL).
  const bool acl_missing =
      o.policies.acls == plan::AclPolicy::kCopy && get.code == zk::Code::kOk && !known && (!acl || acl->code != zk::Code::kOk);
  if (get.code != zk::Code::kOk || acl_missing) {
    const zk::Code code = get.code != zk::Code::kOk ? get.code : (acl ? acl->code : zk::Code::kSystemError);
    readFailed(code, request_.path, get.code != zk::Code::kOk ? "read primary node" : "read primary ACL", true);
    return;
  }
  read_ok_ = true;
  primary_stat_ = get.stat;
  ++report_.primary_nodes;
  report_.max_primary_zxid = std::max(get.stat.mzxid, get.stat.pzxid);
  if (!plan::replicates(get.stat, o.policies)) {
    // A primary ephemeral (skipped): its path holds no copy on the backup.
    return onGone();
  }
  // Read again: what was reported of it is decided anew (but a known copy
  // reads no ACL: a redacted one stays reported).
  if (!known) ctx_.index.release(request_.path);
  reconcile::MappedNode mapped =
      o.mapper ? o.mapper(request_.path, get.data) : reconcile::MappedNode{true, request_.path, get.data, {}, {}};
  const std::string backup_path = mapped.path.empty() ? backup_path_ : mapped.path;
  if (!mapped.replicated || !mapped.failure.empty()) {
    // Retried when it changes: the index holds its version as seen.
    ctx_.index.put(request_.path, reconcile::IndexEntry::of(get.stat, false));
    planned(backup_path);
    reportNode(reconcile::ReportedKind::kMappingFailure,
               plan::Change{.kind = plan::ChangeKind::kSkipped,
                            .path = backup_path,
                            .source_path = request_.path,
                            .reason = mapped.failure.empty() ? "not replicated by the mapping" : mapped.failure},
               true);
    return;
  }
  plan::DesiredNode desired{.source_path = request_.path,
                            .path = backup_path,
                            .data = std::move(mapped.data),
                            .stat = get.stat,
                            .acl = acl && acl->code == zk::Code::kOk ? std::move(acl->acl) : zk::AclList{},
                            .fields = std::move(mapped.fields)};
  if (auto entry = knownCopy(get.stat)) {
    // The backup holds this replicator's copy: no read of it.
    if (o.on_replicated_node) o.on_replicated_node(desired.path, get.stat);
    planned(desired.path);
    auto writes = std::make_shared<Writes>();
    if (entry->mzxid == get.stat.mzxid) {
      settle(writes);  // replicated already (an earlier pass)
      return;
    }
    writes->pending = 1;
    emit(plan::planKnownUpdate(desired), writes);
    return;
  }
  readBackup(std::move(desired));
}

void NodePass::readBackup(plan::DesiredNode desired) {
  const bool want_acl = ctx_.options.policies.acls != plan::AclPolicy::kKeepBackup;
  struct Pending {
    std::optional<zk::GetResult> get;
    std::optional<zk::AclResult> acl;
    bool want_acl;
    plan::DesiredNode desired;
  };
  auto pending = std::make_shared<Pending>(Pending{{}, {}, want_acl, std::move(desired)});
  const std::string path = pending->desired.path;
  auto maybe_done = [this, pending] {
    if (!pending->get || (pending->want_acl && !pending->acl)) return;
    auto& g = *pending->get;
    if (g.code == zk::Code::kOk && pending->want_acl && pending->acl->code == zk::Code::kNoNode) g.code = zk::Code::kNoNode;
    if (g.code == zk::Code::kNoNode) return plan(std::move(pending->desired), std::nullopt);
    if (g.code != zk::Code::kOk || (pending->want_acl && pending->acl->code != zk::Code::kOk)) {
      const bool data_failed = g.code != zk::Code::kOk;
      readFailed(data_failed ? g.code : pending->acl->code, pending->desired.path,
                 data_failed ? "read backup node" : "read backup ACL", false);
      return;
    }
    ++report_.backup_nodes;
    plan::BackupNode backup{.path = pending->desired.path, .data = std::move(g.data), .stat = g.stat};
    if (pending->want_acl) backup.acl = std::move(pending->acl->acl);
    plan(std::move(pending->desired), std::move(backup));
  };
  get(false, path, false, [pending, maybe_done](zk::GetResult r) {
    pending->get = std::move(r);
    maybe_done();
  });
  if (want_acl) {
    getAcl(false, path, [pending, maybe_done](zk::AclResult r) {
      pending->acl = std::move(r);
      maybe_done();
    });
  }
}

// ---- plan and write ----

void NodePass::plan(plan::DesiredNode desired, std::optional<plan::BackupNode> backup) {
  const auto& o = ctx_.options;
  if (!backup && !desired.parent_acl && plan::needsParentAcl(desired, o.policies)) {
    // A node to create that takes its backup parent's ACL: read that first.
    const std::string parent = parentOf(desired.path);
    getAcl(false, parent, [this, parent, desired = std::move(desired)](zk::AclResult r) mutable {
      if (r.code != zk::Code::kOk) {
        readFailed(r.code, parent, "read backup ACL", false);
        return;
      }
      desired.parent_acl = std::move(r.acl);
      plan(std::move(desired), std::nullopt);
    });
    return;
  }
  if (o.on_replicated_node) o.on_replicated_node(desired.path, desired.stat);
  planned(desired.path);
  auto changes = plan::planNode(desired, backup, o.policies);
  auto writes = std::make_shared<Writes>();
  for (const auto& c : changes) {
    if (plan::isWrite(c)) ++writes->pending;
    if (c.kind == plan::ChangeKind::kConflict) writes->failed = true;
  }
  if (writes->pending == 0) settle(writes);
  for (auto& change : changes) {
    if (plan::isWrite(change)) {
      emit(std::move(change), writes);
    } else if (change.kind == plan::ChangeKind::kConflict) {
      reportNode(reconcile::ReportedKind::kHeldByEphemeral, std::move(change), true);
    } else if (change.kind == plan::ChangeKind::kSkipped && plan::hasRedactedDigest(desired.acl)) {
      reportNode(reconcile::ReportedKind::kRedactedAcl, std::move(change), true);
    } else {
      ++report_.acl_unknown;  // a create without a known ACL: not done
      recordReport(std::move(change));
    }
  }
}

void NodePass::emit(plan::Change change, const std::shared_ptr<Writes>& writes) {
  ++report_.planned_writes;
  ++open_;
  ctx_.applier.submit(std::move(change), [this, alive = alive_, writes](const apply::Outcome& outcome) {
    if (!*alive) return;
    onOutcome(outcome, writes);
    if (--writes->pending == 0) settle(writes);
    // The applier is mid-callback: finish (and maybe be destroyed) after it.
    ctx_.loop.post([this, alive] {
      if (*alive) workDone();
    });
  });
  // Group commit: out at the next free slot, with whatever joins it meanwhile.
  ctx_.applier.flush();
}

void NodePass::onOutcome(const apply::Outcome& outcome, const std::shared_ptr<Writes>& writes) {
  if (outcome.kind != apply::OutcomeKind::kApplied) writes->failed = true;
  switch (outcome.kind) {
    case apply::OutcomeKind::kApplied:
      if (request_.on_applied) request_.on_applied(outcome.change);
      report_.applied.countApplied(outcome.change.kind);
      if (outcome.change.kind == plan::ChangeKind::kCreate &&
          (outcome.change.path == backup_path_ || outcome.change.source_path == request_.path)) {
        writes->created = true;
      }
      return;
    case apply::OutcomeKind::kFenced:
      report_.fenced = true;
      return;
    case apply::OutcomeKind::kRefused: {
      auto c = outcome.change;
      if (apply::refusedForGood(outcome.code)) {
        c.reason = apply::refusedForGoodReason(outcome.code);
        reportNode(reconcile::ReportedKind::kParked, std::move(c), writes->for_node);
        return;
      }
      if (outcome.code == zk::Code::kNoNode && c.kind == plan::ChangeKind::kCreate && !isRoot()) {
        // The backup parent is missing. If the primary parent is known as
        // not replicated (its mapping failed, its write was refused for
        // good), neither is this node, as in a full pass, which does not
        // descend below a parent the backup lacks. Its creation waits for
        // the parent's (skippedForParent()).
        const auto parent = ctx_.index.find(parentOf(request_.path));
        if (parent && !parent->replicated) {
          skipped_for_parent_ = true;
          spdlog::debug("{}: not created on the backup: its parent is not replicated", request_.path);
          return;
        }
      }
      ++report_.refused;
      writes->retry = true;
      c.reason = std::string("refused: ") + std::string(zk::codeName(outcome.code));
      spdlog::info("{} {} refused ({}); will re-read and re-plan", plan::changeKindName(c.kind), c.path,
                   zk::codeName(outcome.code));
      report_.changes.push_back(std::move(c));
      return;
    }
    case apply::OutcomeKind::kUnknown: {
      ++report_.unknown;
      writes->retry = true;
      auto c = outcome.change;
      c.reason = std::string("outcome unknown: ") + std::string(zk::codeName(outcome.code));
      report_.changes.push_back(std::move(c));
      return;
    }
    case apply::OutcomeKind::kTooLarge: {
      auto c = outcome.change;
      c.reason = "the write alone exceeds the request limit (max_request_bytes)";
      reportNode(reconcile::ReportedKind::kTooLarge, std::move(c), writes->for_node);
      return;
    }
  }
}

void NodePass::settle(const std::shared_ptr<Writes>& writes) {
  if (!writes->for_node) return;
  auto& index = ctx_.index;
  if (!writes->failed) {
    auto entry = reconcile::IndexEntry::of(primary_stat_, true);
    // pzxid says up to where the children were reconciled: a single-node
    // pass did not look at them.
    const auto before = index.find(request_.path);
    entry.pzxid = before ? before->pzxid : 0;
    index.put(request_.path, entry);
    created_copy_ = writes->created;
  } else if (writes->retry) {
    index.erase(request_.path);
  } else {
    // Refused for good, or held by a conflict: seen, not a copy. A pass
    // trusting the index leaves it alone and reports it again.
    index.put(request_.path, reconcile::IndexEntry::of(primary_stat_, false));
  }
}

// ---- a node gone from the primary ----

void NodePass::onGone() {
  // Whatever the index knew of it is gone: if it comes back, it is new
  // (its descendants' entries went with their own events, I6).
  ctx_.index.erase(request_.path);
  if (isRoot()) {
    root_vanished_ = true;
    return;
  }
  planned(backup_path_);
  const auto& o = ctx_.options;
  if (o.protected_backup && o.protected_backup(backup_path_)) return;
  visitOrphan(nullptr, backup_path_);
}

void NodePass::visitOrphan(std::shared_ptr<Orphan> parent, std::string path) {
  ++open_;  // held until the visit settles (its own reads hold more)
  get(false, path, false, [this, parent, path](zk::GetResult r) {
    auto release = [this, &parent] {
      if (parent && --parent->pending == 0) orphanDone(parent);
      workDone();
    };
    if (r.code == zk::Code::kNoNode) {
      if (!parent) gone_without_copy_ = true;
      return release();
    }
    if (r.code != zk::Code::kOk) {
      readFailed(r.code, path, "read backup node", false);
      if (parent) {
        parent->blocked = true;
        parent->blocked_by = path + " (unreadable)";
      }
      return release();
    }
    if (zk::kindOf(r.stat) == zk::NodeKind::kEphemeral) {
      // A standby-site session's node: never removed, and it keeps its parents.
      if (parent) {
        parent->blocked = true;
        parent->blocked_by = path + " (ephemeral)";
      }
      return release();
    }
    ++report_.backup_nodes;
    auto orphan = std::make_shared<Orphan>();
    orphan->parent = parent;
    orphan->path = path;
    orphan->data = std::move(r.data);
    orphan->stat = r.stat;
    if (r.stat.num_children == 0) {
      orphanDone(orphan);
      workDone();
      return;
    }
    orphan->pending = 1;  // held by the listing below
    children(path, [this, orphan](zk::ChildrenResult c) {
      if (c.code != zk::Code::kOk && c.code != zk::Code::kNoNode) {
        readFailed(c.code, orphan->path, "list backup children", false);
        orphan->blocked = true;
        orphan->blocked_by = orphan->path + " (unlistable)";
      }
      const auto& o = ctx_.options;
      for (const auto& name : c.children) {
        const std::string child = join(orphan->path, name);
        if (o.protected_backup && o.protected_backup(child)) {
          orphan->blocked = true;
          orphan->blocked_by = child + " (excluded or protected)";
          continue;
        }
        ++orphan->pending;
        visitOrphan(orphan, child);
      }
      if (--orphan->pending == 0) orphanDone(orphan);
    });
    workDone();
  });
}

// The orphan's subtree is settled: delete it (its children's deletes were
// submitted first, and the applier keeps submit order) or report what keeps it.
void NodePass::orphanDone(const std::shared_ptr<Orphan>& orphan) {
  if (orphan->blocked) {
    reportNode(reconcile::ReportedKind::kBlocked,
               plan::Change{.kind = plan::ChangeKind::kBlocked,
                            .path = orphan->path,
                            .reason = "delete blocked by " + orphan->blocked_by},
               false);
    if (orphan->parent) {
      orphan->parent->blocked = true;
      orphan->parent->blocked_by = orphan->path + " (kept)";
    }
  } else {
    auto changes = plan::planNode(std::nullopt,
                                  plan::BackupNode{.path = orphan->path, .data = std::move(orphan->data), .stat = orphan->stat},
                                  ctx_.options.policies);
    if (changes.empty() && orphan->parent) {
      // deletes: keep — the parent stays too.
      orphan->parent->blocked = true;
      orphan->parent->blocked_by = orphan->path + " (kept)";
    }
    for (auto& c : changes) {
      if (!plan::isWrite(c)) {
        recordReport(std::move(c));
        continue;
      }
      auto writes = std::make_shared<Writes>();
      writes->for_node = false;
      writes->pending = 1;
      emit(std::move(c), writes);
    }
  }
  if (orphan->parent && --orphan->parent->pending == 0) orphanDone(orphan->parent);
}

// ---- reports ----

void NodePass::planned(const std::string& backup) {
  if (request_.on_planned) request_.on_planned(request_.path, backup, read_seq_);
}

void NodePass::readFailed(zk::Code code, const std::string& path, const char* what, bool primary_site) {
  if (code == zk::Code::kNoAuth) {
    if (primary_site) unreadable_ = true;
    reportNode(primary_site ? reconcile::ReportedKind::kUnreadable : reconcile::ReportedKind::kBackupUnreadable,
               plan::Change{.kind = plan::ChangeKind::kSkipped,
                            .path = path,
                            .source_path = primary_site ? path : std::string(),
                            .reason = std::string(what) + ": not authorized (check auth for the " +
                                      (primary_site ? "primary" : "backup") + " site)"},
               primary_site);
    return;
  }
  if (!report_.error) {
    report_.error = Error{ErrorCode::kZooKeeper, std::string(what) + " failed: " + std::string(zk::codeName(code)), path};
  }
}

void NodePass::reportNode(reconcile::ReportedKind kind, plan::Change change, bool hold) {
  change.reported = true;
  switch (kind) {
    case reconcile::ReportedKind::kMappingFailure: ++report_.mapping_failures; break;
    case reconcile::ReportedKind::kTooLarge: ++report_.too_large; break;
    case reconcile::ReportedKind::kUnreadable: ++report_.unreadable; break;
    case reconcile::ReportedKind::kBackupUnreadable: ++report_.backup_unreadable; break;
    case reconcile::ReportedKind::kRedactedAcl: ++report_.redacted_acls; break;
    case reconcile::ReportedKind::kParked: ++report_.parked; break;
    case reconcile::ReportedKind::kBlocked: ++report_.blocked; break;
    case reconcile::ReportedKind::kHeldByEphemeral: ++report_.held_by_ephemeral; break;
  }
  // Held in the index, so that a pass trusting it reports the node again
  // without re-reading it.
  if (hold && !change.source_path.empty()) ctx_.index.hold(change.source_path, kind, change);
  recordReport(std::move(change));
}

void NodePass::recordReport(plan::Change change) {
  if (change.kind == plan::ChangeKind::kSkipped || change.kind == plan::ChangeKind::kBlocked) {
    spdlog::warn("{} {}: {}", plan::changeKindName(change.kind), change.path, change.reason);
  } else if (change.kind == plan::ChangeKind::kConflict) {
    spdlog::warn("conflict {}: {}", change.path, change.reason);
  }
  report_.changes.push_back(std::move(change));
}

// ---- completion ----

void NodePass::workDone() {
  --open_;
  maybeFinish();
}

void NodePass::maybeFinish() {
  if (finished_ || open_ > 0 || !started_) return;
  finished_ = true;
  if (request_.on_finished) ctx_.loop.post(request_.on_finished);
}

}  // namespace zks::daemon
