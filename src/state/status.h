#pragma once

// `zkstandby status`: everything the backup alone knows about the site
// (state, fence, election, history, saved counters), plus live figures from
// the daemon's /metrics when it answers. Reading is blocking; the rest is
// pure formatting.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "state/election.h"
#include "state/store.h"
#include "zk/client.h"

namespace zks::state {

struct StatusSnapshot {
  std::string backup;  // connect string, for the header; set by the caller
  std::string state_path;
  StoredState state;
  int32_t fence_version = -1;  // -1: no fence node
  std::string fence_holder;
  std::vector<Candidate> candidates;  // the first leads
  std::vector<HistoryEntry> history;  // newest last
  size_t counters_saved = 0;
  int64_t counters_saved_ms = 0;
  std::string counters_problem;  // saved counters unreadable (or partly): why
  zk::AclList records_acl;       // the state record's ACL; empty when it does not exist
  std::optional<FenceLease> lease;  // a live final-sync lease on the fence
};

// Reads without writing anything (not even the layout). `now_ms` decides
// whether a lease is still live.
Result<StatusSnapshot> readStatus(zk::Client& backup, const std::string& state_path, size_t history_limit,
                                  int64_t now_ms = 0);

// Who may change the records, for operators: "digest:zks" (ids without
// hashes, comma-separated), or empty when everyone may (world-open).
std::string recordWriters(const zk::AclList& acl);

struct LiveFigures {
  std::string endpoint;  // "http://127.0.0.1:9406/metrics"; empty: http disabled in the config
  bool reachable = false;
  std::string problem;  // why not reachable
  std::vector<std::pair<std::string, std::string>> metrics;  // series -> value, in text order
};

// From Prometheus text: the series about lag, queue depth and backlog, plus
// role, epoch, leader, readiness, sessions and zxid. Histogram buckets are
// left out (_sum and _count stay); a lag histogram adds "<name>:p50" and
// "<name>:p99" estimated from its buckets, as histogram_quantile() would.
std::vector<std::pair<std::string, std::string>> pickLiveMetrics(std::string_view prometheus_text);

std::string formatStatusText(const StatusSnapshot& snapshot, const LiveFigures& live, int64_t now_ms);
std::string formatStatusJson(const StatusSnapshot& snapshot, const LiveFigures& live, int64_t now_ms);

// "2026-11-22T03:25:36Z"; "never" for 0.
std::string formatTime(int64_t ms);

}  // namespace zks::state
