#include "state/store.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "zk/blocking.h"

namespace zks::state {
namespace {

// Retries of a versioned write that lost a race with another writer. Each
// retry re-reads, so a handful is plenty; more means something is spinning.
constexpr int kMaxRaceRetries = 8;

int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Creates the records of the layout, protected while the session can use the
// "auth" scheme (it authenticated), open once the server said it cannot.
class RecordCreator {
 public:
  explicit RecordCreator(zk::Client& c) : c_(c) {}
  Status createIfAbsent(const std::string& path, const std::string& data) {
    // A create of an existing node still needs CREATE on the parent: look
    // first, so that a reader of protected records is not refused here.
    auto there = zk::existsSync(c_, path);
    if (there.code == zk::Code::kOk) return {};
    if (there.code != zk::Code::kNoNode) return std::unexpected(zkError("reading failed", there.code, path));
    if (authenticated_) {
      auto r = zk::createSync(c_, zk::CreateOp{.path = path, .data = data, .acl = protectedRecordAcl()});
      if (r.code == zk::Code::kOk || r.code == zk::Code::kNodeExists) return {};
      if (r.code != zk::Code::kInvalidAcl) return std::unexpected(recordError("create failed", r.code, path));
      authenticated_ = false;  // the session has no identity: records stay open
    }
    auto r = zk::createSync(c_, zk::CreateOp{.path = path, .data = data});
    if (r.code == zk::Code::kOk || r.code == zk::Code::kNodeExists) return {};
    return std::unexpected(recordError("create failed", r.code, path));
  }
  // Records left open (by an unauthenticated writer, or a version without
  // record ACLs) get the protected ACL once this session has an identity.
  Status tighten(const std::string& path) {
    if (!authenticated_) return {};
    auto acl = zk::getAclSync(c_, path);
    if (acl.code == zk::Code::kNoNode) return {};
    if (acl.code != zk::Code::kOk) return std::unexpected(zkError("reading the ACL failed", acl.code, path));
    if (isProtectedAcl(acl.acl)) return {};
    auto r = zk::setAclSync(c_, path, protectedRecordAcl(), acl.stat.aversion);
    if (r.code == zk::Code::kOk || r.code == zk::Code::kBadVersion) return {};  // changed meanwhile: next time
    // Not ours to change (no ADMIN): left as it is; writes will say whether it matters.
    if (r.code == zk::Code::kNoAuth) return {};
    if (r.code == zk::Code::kInvalidAcl) {
      authenticated_ = false;
      return {};
    }
    return std::unexpected(recordError("tightening the ACL failed", r.code, path));
  }

 private:
  zk::Client& c_;
  bool authenticated_ = true;  // until the server says otherwise
};

std::string parentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

Result<zk::GetResult> readLeaseNode(zk::Client& c, const StatePaths& p) {
  auto r = zk::getSync(c, p.lease);
  if (r.code != zk::Code::kOk && r.code != zk::Code::kNoNode) {
    return std::unexpected(zkError("reading the fence lease failed", r.code, p.lease));
  }
  return r;
}

// The unexpired lease a lease node holds, if any. A lease that does not
// parse is treated as none: it must never lock the replicators out for good.
std::optional<FenceLease> liveLease(const zk::GetResult& node, int64_t now_ms) {
  if (node.code != zk::Code::kOk || node.data.empty()) return std::nullopt;
  auto j = nlohmann::json::parse(node.data, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  FenceLease lease;
  lease.holder = j.value("holder", std::string());
  lease.purpose = j.value("purpose", std::string());
  lease.until_ms = j.value("until_ms", int64_t{0});
  if (lease.holder.empty() || lease.until_ms <= now_ms) return std::nullopt;
  return lease;
}

std::string describeLease(const FenceLease& lease) {
  const int64_t left_s = std::max<int64_t>(0, (lease.until_ms - systemNowMs() + 999) / 1000);
  return "the fence is leased to " + lease.holder + (lease.purpose.empty() ? "" : " (" + lease.purpose + ")") +
         " for " + std::to_string(left_s) + " s more";
}

// The failing op of a refused multi: the one carrying the multi's code.
size_t failedOp(const zk::MultiResult& r) {
  for (size_t i = 0; i < r.results.size(); ++i) {
    if (r.results[i].code == r.code) return i;
  }
  return r.results.size();
}

}  // namespace

Error zkError(std::string_view what, zk::Code code, const std::string& path) {
  return Error{ErrorCode::kZooKeeper, std::string(what) + ": " + std::string(zk::codeName(code)), path};
}

Error recordError(std::string_view what, zk::Code code, const std::string& path) {
  Error e = zkError(what, code, path);
  if (code == zk::Code::kNoAuth) {
    // The usual cause: records protected for another identity.
    e.message += " (the replicator's records may be changed only by the identity that created them: give every "
                 "zkstandby the same auth for this site, or use a super identity)";
  }
  return e;
}

zk::AclList protectedRecordAcl() {
  return {zk::Acl{zk::perm::kAll, "auth", ""}, zk::Acl{zk::perm::kRead, "world", "anyone"}};
}

bool isProtectedAcl(const zk::AclList& acl) {
  bool someone_else = false;
  for (const auto& a : acl) {
    if (a.scheme == "world" && a.id == "anyone") {
      if ((a.perms & ~zk::perm::kRead) != 0) return false;
    } else if (a.perms != 0) {
      someone_else = true;
    }
  }
  return someone_else;
}

Result<zk::AclList> recordAcl(zk::Client& c, const std::string& state_path) {
  const StatePaths p(state_path);
  auto r = zk::getAclSync(c, p.root);
  if (r.code == zk::Code::kNoNode) return zk::openAcl();
  if (r.code != zk::Code::kOk) return std::unexpected(zkError("reading the ACL failed", r.code, p.root));
  return isProtectedAcl(r.acl) ? protectedRecordAcl() : zk::openAcl();
}

Status ensureLayout(zk::Client& c, const std::string& state_path) {
  const StatePaths p(state_path);
  // The parents of state_path are not the replicator's: plain nodes.
  if (const std::string parent = parentOf(p.root); parent != "/") {
    if (auto code = zk::createRecursiveSync(c, parent); code != zk::Code::kOk) {
      return std::unexpected(zkError("create failed", code, parent));
    }
  }
  RecordCreator records(c);
  if (auto s = records.createIfAbsent(p.root, ""); !s) return s;
  if (auto s = records.createIfAbsent(p.state, toJson(SiteState{})); !s) return s;
  for (const std::string* path : {&p.fence, &p.leader, &p.history, &p.counters, &p.lease}) {
    if (auto s = records.createIfAbsent(*path, ""); !s) return s;
  }
  for (const std::string* path : {&p.root, &p.state, &p.fence, &p.leader, &p.history, &p.counters, &p.lease}) {
    if (auto s = records.tighten(*path); !s) return s;
  }
  return {};
}

Result<StoredState> readState(zk::Client& c, const std::string& state_path) {
  const StatePaths p(state_path);
  auto r = zk::getSync(c, p.state);
  if (r.code == zk::Code::kNoNode) return StoredState{};
  if (r.code != zk::Code::kOk) return std::unexpected(zkError("reading the site state failed", r.code, p.state));
  auto parsed = siteStateFromJson(r.data);
  if (!parsed) return fail(ErrorCode::kInvalidArgument, parsed.error().message, p.state);
  return StoredState{std::move(*parsed), r.stat.version};
}

Result<FenceToken> acquireFence(zk::Client& c, const std::string& state_path, const std::string& identity,
                                FenceMode mode) {
  const StatePaths p(state_path);
  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    auto stored = readState(c, state_path);
    if (!stored) return std::unexpected(stored.error());
    auto fence = zk::existsSync(c, p.fence);
    if (!stored->exists() || fence.code == zk::Code::kNoNode) {
      if (auto s = ensureLayout(c, state_path); !s) return std::unexpected(s.error());
      continue;
    }
    if (fence.code != zk::Code::kOk) return std::unexpected(zkError("reading the fence failed", fence.code, p.fence));
    if (mode == FenceMode::kForward && stored->state.role == Role::kActive) {
      return fail(ErrorCode::kFenced,
                  "this site was failed over (role active, epoch " + std::to_string(stored->state.epoch) +
                      "): forward replication is refused until `zkstandby resume`",
                  p.state);
    }
    std::optional<zk::GetResult> lease_node;
    if (mode == FenceMode::kForward) {
      auto node = readLeaseNode(c, p);
      if (!node) return std::unexpected(node.error());
      if (auto lease = liveLease(*node, systemNowMs()); lease && lease->holder != identity) {
        return fail(ErrorCode::kConflict, describeLease(*lease), p.lease);
      }
      lease_node = std::move(*node);
    }
    // The state check makes the fence move only while the role is still the
    // one just read: a failover landing in between fails this multi. The
    // lease check does the same for a lease taken in between.
    std::vector<zk::Op> ops;
    if (mode == FenceMode::kForward) {
      ops.push_back(zk::CheckOp{p.state, stored->version});
      if (lease_node && lease_node->code == zk::Code::kOk) ops.push_back(zk::CheckOp{p.lease, lease_node->stat.version});
    }
    ops.push_back(zk::SetOp{p.fence, identity, fence.stat.version});
    auto r = zk::multiSync(c, std::move(ops));
    if (r.code == zk::Code::kOk) return FenceToken{p.fence, r.results.back().stat.version, identity};
    // Lost a race (state or fence moved), or the outcome is unknown: re-read.
    // Taking the fence twice is harmless: the newest token is ours.
    if (r.code == zk::Code::kBadVersion || zk::isRetryable(r.code)) continue;
    return std::unexpected(recordError("taking the fence failed", r.code, p.fence));
  }
  return fail(ErrorCode::kConflict, "taking the fence kept racing with other writers", p.fence);
}

zk::CheckOp fenceCheckOp(const FenceToken& token) { return zk::CheckOp{token.path, token.version}; }

Status moveFence(zk::Client& c, const std::string& state_path, const std::string& note) {
  if (auto s = ensureLayout(c, state_path); !s) return s;
  const StatePaths p(state_path);
  zk::Code code = zk::Code::kOk;
  // An unconditional set: after a lost answer, setting again only moves the
  // fence once more, which is just as good.
  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    code = zk::setSync(c, zk::SetOp{p.fence, note}).code;
    if (code == zk::Code::kOk) return {};
    if (!zk::isRetryable(code)) break;
  }
  return std::unexpected(recordError("moving the fence failed", code, p.fence));
}

Result<std::optional<FenceLease>> readFenceLease(zk::Client& c, const std::string& state_path, int64_t now_ms) {
  auto node = readLeaseNode(c, StatePaths(state_path));
  if (!node) return std::unexpected(node.error());
  return liveLease(*node, now_ms);
}

Status takeFenceLease(zk::Client& c, const std::string& state_path, const FenceLease& lease, int64_t now_ms) {
  const StatePaths p(state_path);
  const std::string data =
      nlohmann::json{{"holder", lease.holder}, {"purpose", lease.purpose}, {"until_ms", lease.until_ms}}.dump();
  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    auto node = readLeaseNode(c, p);
    if (!node) return std::unexpected(node.error());
    if (auto held = liveLease(*node, now_ms); held && held->holder != lease.holder) {
      return fail(ErrorCode::kConflict, describeLease(*held), p.lease);
    }
    zk::Code code;
    if (node->code == zk::Code::kNoNode) {
      auto acl = recordAcl(c, state_path);
      if (!acl) return std::unexpected(acl.error());
      code = zk::createSync(c, zk::CreateOp{.path = p.lease, .data = data, .acl = *acl}).code;
    } else {
      code = zk::setSync(c, zk::SetOp{p.lease, data, node->stat.version}).code;
    }
    if (code == zk::Code::kOk) return {};
    if (code == zk::Code::kBadVersion || code == zk::Code::kNodeExists || zk::isRetryable(code)) continue;
    return std::unexpected(recordError("taking the fence lease failed", code, p.lease));
  }
  return fail(ErrorCode::kConflict, "taking the fence lease kept racing with other writers", p.lease);
}

Status releaseFenceLease(zk::Client& c, const std::string& state_path, const std::string& holder) {
  const StatePaths p(state_path);
  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    auto node = readLeaseNode(c, p);
    if (!node) return std::unexpected(node.error());
    if (node->code != zk::Code::kOk || node->data.empty()) return {};
    auto j = nlohmann::json::parse(node->data, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("holder", std::string()) != holder) return {};
    auto r = zk::setSync(c, zk::SetOp{p.lease, "", node->stat.version});
    if (r.code == zk::Code::kOk || r.code == zk::Code::kNoNode) return {};
    if (r.code == zk::Code::kBadVersion || zk::isRetryable(r.code)) continue;
    return std::unexpected(recordError("releasing the fence lease failed", r.code, p.lease));
  }
  return fail(ErrorCode::kConflict, "releasing the fence lease kept racing with other writers", p.lease);
}

std::string reverseRefusal(const SiteState& backup) {
  return "the backup site is a " + std::string(roleName(backup.role)) + " (epoch " + std::to_string(backup.epoch) +
         "): forward (primary -> backup) is still the direction; --reverse is only for failback after "
         "`zkstandby failover`, and stops once `zkstandby resume` returned the roles";
}

Result<FenceToken> acquireReverseFence(zk::Client& primary, zk::Client& backup, const std::string& state_path,
                                       const std::string& identity) {
  const StatePaths p(state_path);
  auto before = readState(backup, state_path);
  if (!before) return std::unexpected(before.error());
  if (before->state.role != Role::kActive) return fail(ErrorCode::kFenced, reverseRefusal(before->state), p.state);
  auto token = acquireFence(primary, state_path, identity, FenceMode::kUnchecked);
  if (!token) return token;
  // `resume` flips the backup's role first and moves this fence second. Had
  // it done both between the read above and our fence move, this token
  // would be valid: the second read catches exactly that case.
  auto after = readState(backup, state_path);
  if (!after) return std::unexpected(after.error());
  if (after->state.role != Role::kActive) return fail(ErrorCode::kFenced, reverseRefusal(after->state), p.state);
  return token;
}

Result<ReverseFenceLoss> explainReverseFenceLoss(zk::Client& backup, const std::string& state_path) {
  auto stored = readState(backup, state_path);
  if (!stored) return std::unexpected(stored.error());
  return stored->state.role == Role::kActive ? ReverseFenceLoss::kDeposed : ReverseFenceLoss::kFailbackOver;
}

Result<FenceLoss> explainFenceLoss(zk::Client& c, const std::string& state_path) {
  auto stored = readState(c, state_path);
  if (!stored) return std::unexpected(stored.error());
  return stored->state.role == Role::kActive ? FenceLoss::kFailedOver : FenceLoss::kDeposed;
}

Result<SiteState> updateState(zk::Client& c, const std::string& state_path, const FenceToken& fence,
                              const std::function<void(SiteState&)>& change) {
  const StatePaths p(state_path);
  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    auto stored = readState(c, state_path);
    if (!stored) return std::unexpected(stored.error());
    if (stored->state.role == Role::kActive) {
      return fail(ErrorCode::kFenced, "this site was failed over (role active)", p.state);
    }
    SiteState next = stored->state;
    change(next);
    if (!fence.identity.empty()) next.leader = fence.identity;
    next.updated_ms = std::max(systemNowMs(), stored->state.updated_ms);
    next.role = stored->state.role;
    next.epoch = stored->state.epoch;
    next.role_changed_ms = stored->state.role_changed_ms;
    next.role_changed_by = stored->state.role_changed_by;
    next.change_id = stored->state.change_id;
    std::vector<zk::Op> ops{fenceCheckOp(fence)};
    if (stored->exists()) {
      ops.push_back(zk::SetOp{p.state, toJson(next), stored->version});
    } else {
      ops.push_back(zk::CreateOp{.path = p.state, .data = toJson(next)});
    }
    auto r = zk::multiSync(c, std::move(ops));
    if (r.code == zk::Code::kOk) return next;
    if (failedOp(r) == 0) return fail(ErrorCode::kFenced, "the fence moved: another writer took over", fence.path);
    if (r.code == zk::Code::kBadVersion || r.code == zk::Code::kNodeExists) continue;
    return std::unexpected(recordError("writing the site state failed", r.code, p.state));
  }
  return fail(ErrorCode::kConflict, "writing the site state kept racing with other writers", p.state);
}

zk::CreateOp historyCreateOp(const std::string& state_path, const HistoryRecord& record, const zk::AclList& acl) {
  const StatePaths p(state_path);
  return zk::CreateOp{.path = p.history + "/" + record.action + "-",
                      .data = toJson(record),
                      .acl = acl,
                      .mode = zk::CreateMode::kPersistentSequential};
}

int64_t sequenceSuffix(std::string_view name) {
  constexpr size_t kDigits = 10;  // ZooKeeper formats the counter as %010d
  if (name.size() < kDigits) return -1;
  int64_t value = 0;
  for (char ch : name.substr(name.size() - kDigits)) {
    if (ch < '0' || ch > '9') return -1;
    value = value * 10 + (ch - '0');
  }
  return value;
}

Result<std::vector<HistoryEntry>> readHistory(zk::Client& c, const std::string& state_path, size_t limit) {
  const StatePaths p(state_path);
  auto list = zk::getChildrenSync(c, p.history);
  if (list.code == zk::Code::kNoNode) return std::vector<HistoryEntry>{};
  if (list.code != zk::Code::kOk) return std::unexpected(zkError("listing the history failed", list.code, p.history));
  // Names differ in their prefix (failover-, resume-); the shared sequence
  // counter of the parent orders them.
  auto names = std::move(list.children);
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return sequenceSuffix(a) < sequenceSuffix(b); });
  if (limit > 0 && names.size() > limit) names.erase(names.begin(), names.end() - static_cast<ptrdiff_t>(limit));
  std::vector<HistoryEntry> entries;
  for (auto& name : names) {
    HistoryEntry e{.name = name};
    auto r = zk::getSync(c, p.history + "/" + name);
    if (r.code == zk::Code::kNoNode) continue;  // removed by an operator meanwhile
    if (r.code != zk::Code::kOk) return std::unexpected(zkError("reading history failed", r.code, p.history + "/" + name));
    if (auto rec = historyRecordFromJson(r.data)) {
      e.record = std::move(*rec);
    } else {
      e.problem = rec.error().message;
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace zks::state
