#include "state/site_state.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace zks::state {
namespace {

using nlohmann::json;

Result<json> parseObject(std::string_view text, std::string_view what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kInvalidArgument, std::string(what) + " is not a JSON object");
  }
  return j;
}

// Typed field readers: absent keys keep the default, a wrong type is an error
// naming the key (a half-understood state record must not be acted on).
Status readInt(const json& j, const char* key, int64_t& out) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (!it->is_number_integer()) return fail(ErrorCode::kInvalidArgument, std::string("'") + key + "' is not an integer");
  out = it->get<int64_t>();
  return {};
}

Status readString(const json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (!it->is_string()) return fail(ErrorCode::kInvalidArgument, std::string("'") + key + "' is not a string");
  out = it->get<std::string>();
  return {};
}

Status readRole(const json& j, const char* key, Role& out) {
  std::string text;
  if (auto s = readString(j, key, text); !s) return s;
  if (text.empty()) return {};
  auto role = parseRole(text);
  if (!role) return std::unexpected(role.error());
  out = *role;
  return {};
}

}  // namespace

std::string_view roleName(Role role) { return role == Role::kActive ? "active" : "standby"; }

Result<Role> parseRole(std::string_view text) {
  if (text == "standby") return Role::kStandby;
  if (text == "active") return Role::kActive;
  return fail(ErrorCode::kInvalidArgument, "unknown role '" + std::string(text) + "' (standby | active)");
}

std::string toJson(const SiteState& s) {
  json j = json::object();
  // Unknown keys first, so a known key can never be shadowed by an old extra.
  for (const auto& [key, raw] : s.extra) {
    json value = json::parse(raw, nullptr, false);
    if (!value.is_discarded()) j[key] = std::move(value);
  }
  j["role"] = roleName(s.role);
  j["epoch"] = s.epoch;
  j["last_full_sync_ms"] = s.last_full_sync_ms;
  j["last_full_reconcile_ms"] = s.last_full_reconcile_ms;
  j["last_full_reconcile_result"] = s.last_full_reconcile_result;
  j["reported_nodes"] = s.reported_nodes;
  j["last_applied_zxid"] = s.last_applied_zxid;
  j["leader"] = s.leader;
  j["updated_ms"] = s.updated_ms;
  j["role_changed_ms"] = s.role_changed_ms;
  j["role_changed_by"] = s.role_changed_by;
  j["change_id"] = s.change_id;
  return j.dump();
}

Result<SiteState> siteStateFromJson(std::string_view text) {
  auto parsed = parseObject(text, "state record");
  if (!parsed) return std::unexpected(parsed.error());
  const json& j = *parsed;
  SiteState s;
  for (const Status& st : {readRole(j, "role", s.role), readInt(j, "epoch", s.epoch),
                           readInt(j, "last_full_sync_ms", s.last_full_sync_ms),
                           readInt(j, "last_full_reconcile_ms", s.last_full_reconcile_ms),
                           readString(j, "last_full_reconcile_result", s.last_full_reconcile_result),
                           readInt(j, "reported_nodes", s.reported_nodes),
                           readInt(j, "last_applied_zxid", s.last_applied_zxid), readString(j, "leader", s.leader),
                           readInt(j, "updated_ms", s.updated_ms), readInt(j, "role_changed_ms", s.role_changed_ms),
                           readString(j, "role_changed_by", s.role_changed_by),
                           readString(j, "change_id", s.change_id)}) {
    if (!st) return fail(ErrorCode::kInvalidArgument, "state record: " + st.error().message);
  }
  static const char* const kKnown[] = {"role",       "epoch",           "last_full_sync_ms", "last_applied_zxid",
                                       "leader",     "updated_ms",      "role_changed_ms",   "role_changed_by",
                                       "change_id", "last_full_reconcile_ms", "last_full_reconcile_result",
                                       "reported_nodes"};
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* k : kKnown) known = known || key == k;
    if (!known) s.extra[key] = value.dump();
  }
  return s;
}

std::string toJson(const HistoryRecord& r) {
  json j = {{"action", r.action},
            {"time_ms", r.time_ms},
            {"reason", r.reason},
            {"who", r.who},
            {"epoch", r.epoch},
            {"from_role", roleName(r.from_role)},
            {"to_role", roleName(r.to_role)},
            {"last_applied_zxid", r.last_applied_zxid},
            {"last_full_sync_ms", r.last_full_sync_ms},
            {"final_sync", r.final_sync},
            {"counters", r.counters},
            {"change_id", r.change_id}};
  return j.dump();
}

Result<HistoryRecord> historyRecordFromJson(std::string_view text) {
  auto parsed = parseObject(text, "history record");
  if (!parsed) return std::unexpected(parsed.error());
  const json& j = *parsed;
  HistoryRecord r;
  for (const Status& st :
       {readString(j, "action", r.action), readInt(j, "time_ms", r.time_ms), readString(j, "reason", r.reason),
        readString(j, "who", r.who), readInt(j, "epoch", r.epoch), readRole(j, "from_role", r.from_role),
        readRole(j, "to_role", r.to_role), readInt(j, "last_applied_zxid", r.last_applied_zxid),
        readInt(j, "last_full_sync_ms", r.last_full_sync_ms), readString(j, "final_sync", r.final_sync),
        readString(j, "counters", r.counters), readString(j, "change_id", r.change_id)}) {
    if (!st) return fail(ErrorCode::kInvalidArgument, "history record: " + st.error().message);
  }
  return r;
}

StatePaths::StatePaths(std::string root_path) : root(std::move(root_path)) {
  // "/" would give "//state"; state_path is never the root (config rejects
  // it), but stay well-formed anyway.
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  const std::string base = root == "/" ? "" : root;
  state = base + "/state";
  fence = base + "/fence";
  leader = base + "/leader";
  history = base + "/history";
  counters = base + "/counters";
  lease = base + "/lease";
}

std::string formatZxid(int64_t zxid) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(zxid));
  return buf;
}

std::string formatAge(int64_t since_ms, int64_t now_ms) {
  if (since_ms <= 0) return "never";
  int64_t s = (now_ms - since_ms) / 1000;
  if (s < 0) s = 0;  // clocks of two hosts disagree; do not print "-3s"
  const int64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
  char buf[64];
  if (d > 0) {
    std::snprintf(buf, sizeof buf, "%lldd%lldh", static_cast<long long>(d), static_cast<long long>(h));
  } else if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lldh%lldm", static_cast<long long>(h), static_cast<long long>(m));
  } else if (m > 0) {
    std::snprintf(buf, sizeof buf, "%lldm%llds", static_cast<long long>(m), static_cast<long long>(sec));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(sec));
  }
  return buf;
}

}  // namespace zks::state
