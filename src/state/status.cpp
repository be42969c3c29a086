#include "state/status.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "state/counters.h"
#include "zk/blocking.h"

namespace zks::state {
namespace {

using nlohmann::json;

std::string metricName(std::string_view series) {
  const size_t end = series.find_first_of("{ ");
  return std::string(series.substr(0, end));
}

bool wanted(const std::string& name) {
  if (name.ends_with("_bucket")) return false;
  for (std::string_view word :
       {"lag", "queue", "backlog", "role", "epoch", "pending", "leader", "ready", "session", "zxid"}) {
    if (name.find(word) != std::string::npos) return true;
  }
  return false;
}

// Prometheus' histogram_quantile: linear interpolation inside the bucket
// that holds the rank; the +Inf bucket answers with the highest finite bound.
std::optional<double> histogramQuantile(const std::vector<std::pair<double, double>>& buckets, double q) {
  if (buckets.empty() || buckets.back().second <= 0) return std::nullopt;
  const double rank = q * buckets.back().second;
  double lower = 0, below = 0;
  for (const auto& [upper, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(upper)) return lower;
      if (count == below) return upper;
      return lower + (upper - lower) * (rank - below) / (count - below);
    }
    lower = upper;
    below = count;
  }
  return std::nullopt;
}

json historyJson(const HistoryEntry& e) {
  json j = {{"node", e.name}};
  if (!e.problem.empty()) {
    j["problem"] = e.problem;
    return j;
  }
  const auto& r = e.record;
  j.update(json::parse(toJson(r)));
  return j;
}

}  // namespace

std::string formatTime(int64_t ms) {
  if (ms <= 0) return "never";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string recordWriters(const zk::AclList& acl) {
  if (!isProtectedAcl(acl)) return {};
  std::string out;
  for (const auto& a : acl) {
    if ((a.perms & zk::perm::kWrite) == 0 || (a.scheme == "world" && a.id == "anyone")) continue;
    // A digest id without its hash: the hash is a crackable SHA-1 of the password.
    const std::string id = a.scheme == "digest" ? a.id.substr(0, a.id.find(':')) : a.id;
    out += (out.empty() ? "" : ", ") + a.scheme + ":" + id;
  }
  return out;
}

Result<StatusSnapshot> readStatus(zk::Client& backup, const std::string& state_path, size_t history_limit,
                                  int64_t now_ms) {
  const StatePaths p(state_path);
  StatusSnapshot s;
  s.state_path = p.root;
  auto stored = readState(backup, state_path);
  if (!stored) return std::unexpected(stored.error());
  s.state = *stored;

  auto fence = zk::getSync(backup, p.fence);
  if (fence.code == zk::Code::kOk) {
    s.fence_version = fence.stat.version;
    s.fence_holder = fence.data;
  } else if (fence.code != zk::Code::kNoNode) {
    return std::unexpected(zkError("reading the fence failed", fence.code, p.fence));
  }

  auto candidates = readCandidates(backup, state_path);
  if (!candidates) return std::unexpected(candidates.error());
  s.candidates = std::move(*candidates);

  auto history = readHistory(backup, state_path, history_limit);
  if (!history) return std::unexpected(history.error());
  s.history = std::move(*history);

  // Unreadable saved counters do not make status fail; they are a finding.
  if (auto saved = loadCounters(backup, state_path)) {
    s.counters_saved = saved->counters.size();
    s.counters_saved_ms = saved->saved_ms;
    if (!saved->problems.empty()) s.counters_problem = saved->problems.front();
  } else {
    s.counters_problem = saved.error().describe();
  }
  if (s.state.exists()) {
    auto acl = zk::getAclSync(backup, p.state);
    if (acl.code == zk::Code::kOk) s.records_acl = std::move(acl.acl);
  }
  if (auto lease = readFenceLease(backup, state_path, now_ms); lease && lease->has_value()) s.lease = **lease;
  return s;
}

std::vector<std::pair<std::string, std::string>> pickLiveMetrics(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  // Lag histograms: cumulative bucket counts per upper bound, for quantiles.
  std::map<std::string, std::vector<std::pair<double, double>>> lag_buckets;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    // "series value [timestamp]"; the series may hold spaces inside {labels}.
    const size_t labels_end = line.find('}');
    const size_t split = line.find(' ', labels_end == std::string_view::npos ? 0 : labels_end);
    if (split == std::string_view::npos) continue;
    std::string series(line.substr(0, split));
    std::string_view rest = line.substr(split + 1);
    std::string value(rest.substr(0, rest.find(' ')));
    const std::string name = metricName(series);
    if (name.ends_with("_bucket") && name.find("lag") != std::string::npos) {
      const size_t le = series.find("le=\"");
      if (le != std::string::npos) {
        const std::string bound = series.substr(le + 4, series.find('"', le + 4) - le - 4);
        const double upper = bound == "+Inf" ? HUGE_VAL : std::strtod(bound.c_str(), nullptr);
        lag_buckets[name.substr(0, name.size() - 7)].emplace_back(upper, std::strtod(value.c_str(), nullptr));
      }
    }
    if (wanted(name)) out.emplace_back(std::move(series), std::move(value));
  }
  for (auto& [name, buckets] : lag_buckets) {
    std::sort(buckets.begin(), buckets.end());
    for (const auto& [label, q] : {std::pair{"p50", 0.5}, std::pair{"p99", 0.99}}) {
      if (auto v = histogramQuantile(buckets, q)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6g", *v);
        out.emplace_back(name + ":" + label, buf);
      }
    }
  }
  return out;
}

std::string formatStatusText(const StatusSnapshot& s, const LiveFigures& live, int64_t now_ms) {
  std::string out;
  auto line = [&](std::string_view label, const std::string& value) {
    out += label;
    out.append(label.size() < 27 ? 27 - label.size() : 1, ' ');
    out += value;
    out += '\n';
  };
  const SiteState& st = s.state.state;
  line("backup:", s.backup.empty() ? s.state_path : s.backup + "  (state " + s.state_path + ")");
  if (!s.state.exists()) {
    line("state:", "none yet: no daemon, failover or resume has written it (a standby at epoch 0)");
  }
  line("role:", std::string(roleName(st.role)) +
                    (st.role == Role::kActive ? "  (failed over: replication into this site is fenced)" : ""));
  line("epoch:", std::to_string(st.epoch));
  if (s.candidates.empty()) {
    line("leader:", "none (no daemon is running against this backup)");
  } else {
    std::string v = s.candidates.front().identity;
    if (s.candidates.size() > 1) v += "  (+" + std::to_string(s.candidates.size() - 1) + " waiting)";
    line("leader:", v);
  }
  line("last full sync:", formatTime(st.last_full_sync_ms) +
                              (st.last_full_sync_ms > 0 ? "  (" + formatAge(st.last_full_sync_ms, now_ms) + " ago)" : ""));
  if (st.last_full_reconcile_ms > 0) {
    std::string v = formatTime(st.last_full_reconcile_ms) + "  (" + formatAge(st.last_full_reconcile_ms, now_ms) +
                    " ago)  " + (st.last_full_reconcile_result.empty() ? "result unknown" : st.last_full_reconcile_result);
    if (st.reported_nodes > 0) v += ", " + std::to_string(st.reported_nodes) + " nodes reported";
    line("last full reconcile:", v);
  } else {
    line("last full reconcile:", "none recorded");
  }
  line("last applied primary zxid:", st.last_applied_zxid > 0 ? formatZxid(st.last_applied_zxid) : "none");
  if (st.updated_ms > 0) {
    line("state written:", formatTime(st.updated_ms) + "  (" + formatAge(st.updated_ms, now_ms) + " ago" +
                               (st.leader.empty() ? ")" : ") by " + st.leader));
  } else {
    line("state written:", "never by a replicator");
  }
  if (st.role_changed_ms > 0) {
    line("role changed:", formatTime(st.role_changed_ms) + " by " + st.role_changed_by);
  }
  line("fence:", s.fence_version < 0 ? "none"
                                     : "version " + std::to_string(s.fence_version) +
                                           (s.fence_holder.empty() ? "" : ", set by " + s.fence_holder));
  if (s.lease) {
    line("fence lease:", "held by " + s.lease->holder + (s.lease->purpose.empty() ? "" : " (" + s.lease->purpose + ")") +
                             " until " + formatTime(s.lease->until_ms) + ": other replicators wait");
  }
  if (s.state.exists()) {
    const std::string writers = recordWriters(s.records_acl);
    line("records:", writers.empty() ? "OPEN: any client of the backup ensemble may write them (and fake a "
                                       "failover); give the replicator backup.auth"
                                     : "writable only by " + writers + ", readable by all");
  }
  if (!s.counters_problem.empty() && s.counters_saved_ms > 0) {
    line("sequence counters:", std::to_string(s.counters_saved) + " parents readable, saved " +
                                   formatAge(s.counters_saved_ms, now_ms) + " ago; PROBLEM: " + s.counters_problem +
                                   " (failover still raises from the replicated names)");
  } else if (!s.counters_problem.empty()) {
    line("sequence counters:", "UNREADABLE: " + s.counters_problem + " (failover still raises from the replicated names)");
  } else if (s.counters_saved_ms == 0) {
    line("sequence counters:", "never saved");
  } else {
    line("sequence counters:", std::to_string(s.counters_saved) + " parents, saved " +
                                   formatAge(s.counters_saved_ms, now_ms) + " ago");
  }
  if (live.endpoint.empty()) {
    line("live:", "http endpoint disabled in the config");
  } else if (!live.reachable) {
    line("live:", "daemon not reachable at " + live.endpoint + " (" + live.problem + ")");
  } else {
    out += "live (" + live.endpoint + "):\n";
    if (live.metrics.empty()) out += "  (no lag or queue figures exported)\n";
    for (const auto& [series, value] : live.metrics) out += "  " + series + " " + value + "\n";
  }
  if (s.history.empty()) {
    out += "history: none\n";
  } else {
    out += "history (oldest first):\n";
    for (const auto& e : s.history) {
      if (!e.problem.empty()) {
        out += "  " + e.name + "  unreadable: " + e.problem + "\n";
        continue;
      }
      const auto& r = e.record;
      out += "  " + e.name + "  " + formatTime(r.time_ms) + "  epoch " + std::to_string(r.epoch) + "  " +
             std::string(roleName(r.from_role)) + " -> " + std::string(roleName(r.to_role)) + "  by " + r.who;
      if (!r.reason.empty()) out += "  reason: " + r.reason;
      out += "\n";
      if (r.action == "failover") {
        out += "      backup had primary zxid " + formatZxid(r.last_applied_zxid) + ", last full sync " +
               formatTime(r.last_full_sync_ms) + "\n";
      }
      if (!r.counters.empty()) out += "      counters: " + r.counters + "\n";
      if (!r.final_sync.empty()) out += "      final sync: " + r.final_sync + "\n";
    }
  }
  return out;
}

std::string formatStatusJson(const StatusSnapshot& s, const LiveFigures& live, int64_t now_ms) {
  const SiteState& st = s.state.state;
  json candidates = json::array();
  for (const auto& c : s.candidates) candidates.push_back({{"node", c.node}, {"identity", c.identity}});
  json history = json::array();
  for (const auto& e : s.history) history.push_back(historyJson(e));
  json metrics = json::object();
  for (const auto& [series, value] : live.metrics) metrics[series] = value;
  json j = {
      {"backup", s.backup},
      {"state_path", s.state_path},
      {"state_exists", s.state.exists()},
      {"role", roleName(st.role)},
      {"epoch", st.epoch},
      {"leader", s.candidates.empty() ? json(nullptr) : json(s.candidates.front().identity)},
      {"candidates", candidates},
      {"last_full_sync_ms", st.last_full_sync_ms},
      {"last_full_sync_age_s", st.last_full_sync_ms > 0 ? json((now_ms - st.last_full_sync_ms) / 1000) : json(nullptr)},
      {"last_full_reconcile_ms", st.last_full_reconcile_ms},
      {"last_full_reconcile_result", st.last_full_reconcile_result},
      {"reported_nodes", st.reported_nodes},
      {"last_applied_zxid", st.last_applied_zxid},
      {"last_applied_zxid_hex", formatZxid(st.last_applied_zxid)},
      {"state_updated_ms", st.updated_ms},
      {"state_written_by", st.leader},
      {"role_changed_ms", st.role_changed_ms},
      {"role_changed_by", st.role_changed_by},
      {"fence", {{"version", s.fence_version}, {"holder", s.fence_holder}}},
      {"fence_lease", s.lease ? json{{"holder", s.lease->holder}, {"purpose", s.lease->purpose},
                                     {"until_ms", s.lease->until_ms}}
                              : json(nullptr)},
      {"records", {{"protected", isProtectedAcl(s.records_acl)}, {"writers", recordWriters(s.records_acl)}}},
      {"counters",
       {{"parents", s.counters_saved},
        {"saved_ms", s.counters_saved_ms},
        {"problem", s.counters_problem.empty() ? json(nullptr) : json(s.counters_problem)}}},
      {"history", history},
      {"live",
       {{"endpoint", live.endpoint},
        {"reachable", live.reachable},
        {"problem", live.problem.empty() ? json(nullptr) : json(live.problem)},
        {"metrics", metrics}}},
  };
  return j.dump(2) + "\n";
}

}  // namespace zks::state
