#include "state/store.h"

#include <algorithm>

#include "zk/blocking.h"

namespace zks::state {
namespace {

// Retries of a versioned write that lost a race with another writer. Each
// retry re-reads, so a handful is plenty; more means something is spinning.
constexpr int kMaxRaceRetries = 8;

Status createIfAbsent(zk::Client& c, const std::string& path, const std::string& data) {
  auto r = zk::createSync(c, zk::CreateOp{.path = path, .data = data});
  if (r.code == zk::Code::kOk || r.code == zk::Code::kNodeExists) return {};
  return std::unexpected(zkError("create failed", r.code, path));
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

Status ensureLayout(zk::Client& c, const std::string& state_path) {
  const StatePaths p(state_path);
  if (auto code = zk::createRecursiveSync(c, p.root); code != zk::Code::kOk) {
    return std::unexpected(zkError("create failed", code, p.root));
  }
  if (auto s = createIfAbsent(c, p.state, toJson(SiteState{})); !s) return s;
  for (const std::string* path : {&p.fence, &p.leader, &p.history, &p.counters}) {
    if (auto s = createIfAbsent(c, *path, ""); !s) return s;
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
    // The state check makes the fence move only while the role is still the
    // one just read: a failover landing in between fails this multi.
    std::vector<zk::Op> ops;
    if (mode == FenceMode::kForward) ops.push_back(zk::CheckOp{p.state, stored->version});
    ops.push_back(zk::SetOp{p.fence, identity, fence.stat.version});
    auto r = zk::multiSync(c, std::move(ops));
    if (r.code == zk::Code::kOk) return FenceToken{p.fence, r.results.back().stat.version};
    // Lost a race (state or fence moved), or the outcome is unknown: re-read.
    // Taking the fence twice is harmless: the newest token is ours.
    if (r.code == zk::Code::kBadVersion || zk::isRetryable(r.code)) continue;
    return std::unexpected(zkError("taking the fence failed", r.code, p.fence));
  }
  return fail(ErrorCode::kConflict, "taking the fence kept racing with other writers", p.fence);
}

zk::CheckOp fenceCheckOp(const FenceToken& token) { return zk::CheckOp{token.path, token.version}; }

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
    return std::unexpected(zkError("writing the site state failed", r.code, p.state));
  }
  return fail(ErrorCode::kConflict, "writing the site state kept racing with other writers", p.state);
}

zk::CreateOp historyCreateOp(const std::string& state_path, const HistoryRecord& record) {
  const StatePaths p(state_path);
  return zk::CreateOp{.path = p.history + "/" + record.action + "-",
                      .data = toJson(record),
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
