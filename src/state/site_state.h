#pragma once

// The replicator's own records on the backup ensemble, as values: the site
// state, failover/resume history records, and where each lives under the
// configured state_path. Pure: no client, no clock, no I/O.
//
// Layout under state_path (default /zkstandby) on the BACKUP ensemble:
//   state      JSON SiteState; written by the daemon leader and by failover/resume
//   fence      its version is the fence token (see fence.h)
//   leader/    election: ephemeral sequential children (see election.h)
//   history/   persistent sequential failover-/resume- records (JSON HistoryRecord)
//   counters   + counters/<generation>-NNNN: the primary's sequence counters (see counters.h)
//   lease      JSON FenceLease while `failover --final-sync` holds the fence; empty otherwise
//
// Every record carries the ACL of store.h protectedRecordAcl() when the
// writer authenticated (only the replicator's identity may change it, anyone
// may read it), or is open when it did not.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/error.h"

namespace zks::state {

enum class Role : uint8_t { kStandby, kActive };
std::string_view roleName(Role role);  // "standby" | "active"
Result<Role> parseRole(std::string_view text);

// Contents of state_path/state. Times are ms since the Unix epoch, 0 = never.
struct SiteState {
  Role role = Role::kStandby;
  int64_t epoch = 0;  // bumped by every failover and resume, never by the daemon
  // The end of the last full reconcile that converged, or converged except
  // for reported nodes (see last_full_reconcile_result).
  int64_t last_full_sync_ms = 0;
  // The end of the last full reconcile, whatever its result, and that
  // result: "converged", "converged_except_reported" (everything was
  // replicated but `reported_nodes` nodes that cannot be: malformed
  // payloads, refused writes, deletes blocked by standby-site ephemerals),
  // or "not_converged". Empty: no full reconcile recorded yet.
  int64_t last_full_reconcile_ms = 0;
  std::string last_full_reconcile_result;
  int64_t reported_nodes = 0;
  int64_t last_applied_zxid = 0;  // highest primary zxid applied to the backup
  std::string leader;             // identity of the daemon leader that wrote last ("host:pid")
  int64_t updated_ms = 0;         // when any writer last wrote this record
  // Set by failover/resume: when and by whom the role last changed, and the
  // random id of that change, so a retry after an unknown outcome can tell
  // whether its own write landed.
  int64_t role_changed_ms = 0;
  std::string role_changed_by;
  std::string change_id;
  // Keys this version does not know, as raw JSON text, written back as they
  // were: a newer daemon's fields survive a failover run by an older binary.
  std::map<std::string, std::string> extra;

  bool operator==(const SiteState&) const = default;
};

std::string toJson(const SiteState& state);
// Errors (kInvalidArgument) name the offending key; unknown keys go to `extra`.
Result<SiteState> siteStateFromJson(std::string_view text);

// One record under state_path/history.
struct HistoryRecord {
  std::string action;  // "failover" | "resume"
  int64_t time_ms = 0;
  std::string reason;
  std::string who;  // user@host of the operator
  int64_t epoch = 0;  // the epoch the action created
  Role from_role = Role::kStandby;
  Role to_role = Role::kActive;
  int64_t last_applied_zxid = 0;  // what the backup had from the primary at that moment
  int64_t last_full_sync_ms = 0;
  std::string final_sync;  // summary of --final-sync; empty when not run
  std::string counters;    // summary of the sequence counter raise; empty when not run
  std::string change_id;

  bool operator==(const HistoryRecord&) const = default;
};

std::string toJson(const HistoryRecord& record);
Result<HistoryRecord> historyRecordFromJson(std::string_view text);

// The znode paths of the layout, from the configured state_path.
struct StatePaths {
  explicit StatePaths(std::string root_path);
  std::string root;
  std::string state;
  std::string fence;
  std::string leader;
  std::string history;
  std::string counters;
  std::string lease;
};

// "0x1a2b": zxids read best in hex, as ZooKeeper's own tools print them.
std::string formatZxid(int64_t zxid);
// "3h12m", "45s", "never" (when since_ms is 0): the age of an event at now_ms.
std::string formatAge(int64_t since_ms, int64_t now_ms);

}  // namespace zks::state
