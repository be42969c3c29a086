#pragma once

// Reading and writing the records of site_state.h on the backup ensemble, and
// the fence.
//
// All functions here are blocking (zk/blocking.h): call them from a CLI
// command or an owner's loop thread, never from a client callback.
// ZooKeeper failures come back as ErrorCode::kZooKeeper naming the code and
// the znode; the fence refusing a writer is ErrorCode::kFenced.
//
// Fencing. The VERSION of state_path/fence is the fence token. A writer
// acquires the fence with one multi [check state version, set fence] after
// reading role=standby, so the fence can only move to a forward writer while
// the site is a standby. It then leads every write batch with
// fenceCheckOp(token). Any later acquisition, failover or resume moves the
// version, so an older writer's next batch fails on op 0 with kBadVersion;
// that writer calls explainFenceLoss(): failed over -> exit 3, deposed ->
// stop writing (the daemon re-enters the election).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "state/site_state.h"
#include "zk/client.h"

namespace zks::state {

// Creates state_path and its children if absent; a missing state record is
// created as a standby at epoch 0. Idempotent, safe to run concurrently.
Status ensureLayout(zk::Client& c, const std::string& state_path);

struct StoredState {
  SiteState state;
  int32_t version = -1;  // znode version; -1: the record does not exist (defaults in `state`)
  bool exists() const { return version >= 0; }
};
// A record that does not parse is an error (kInvalidArgument naming the znode).
Result<StoredState> readState(zk::Client& c, const std::string& state_path);

struct FenceToken {
  std::string path;      // state_path/fence
  int32_t version = -1;  // the version this writer set
};

enum class FenceMode : uint8_t {
  kForward,    // primary -> backup writers: refused with kFenced while the role is active
  kUnchecked,  // no role check (reverse writers fencing on the ensemble they write to)
};

// Moves the fence to `identity` (stored as the fence node's data) and returns
// the new token. Every holder of an older token is fenced from now on.
Result<FenceToken> acquireFence(zk::Client& c, const std::string& state_path, const std::string& identity,
                                FenceMode mode = FenceMode::kForward);

// The op that leads every write batch of the token's holder.
zk::CheckOp fenceCheckOp(const FenceToken& token);

enum class FenceLoss : uint8_t {
  kFailedOver,  // the role is active: stop for good, exit 3
  kDeposed,     // still a standby: another writer took the fence
};
Result<FenceLoss> explainFenceLoss(zk::Client& c, const std::string& state_path);

// The daemon leader's read-modify-write of its fields (last sync, zxid,
// leader, updated_ms): one multi [fence check, versioned set], re-read and
// redone when another writer's set slipped in. kFenced when the fence moved
// or the role is active. Role, epoch and change fields are left to
// failover/resume: changes to them by `change` are discarded.
Result<SiteState> updateState(zk::Client& c, const std::string& state_path, const FenceToken& fence,
                              const std::function<void(SiteState&)>& change);

// ---- history ----

// A persistent sequential create of state_path/history/<action>-NNNNNNNNNN,
// to put in the same multi as the state change it records.
zk::CreateOp historyCreateOp(const std::string& state_path, const HistoryRecord& record);

struct HistoryEntry {
  std::string name;      // "failover-0000000003"
  HistoryRecord record;  // default when `problem` is set
  std::string problem;   // why the record could not be read, empty when fine
};
// The newest `limit` records, oldest first (0: all).
Result<std::vector<HistoryEntry>> readHistory(zk::Client& c, const std::string& state_path, size_t limit);

// The sequence number ZooKeeper appended to a sequential node's name (its last
// ten characters), or -1 when the name does not end in one.
int64_t sequenceSuffix(std::string_view name);

// "get failed: connection loss" as an Error naming the znode; shared by the
// state module's blocking helpers.
Error zkError(std::string_view what, zk::Code code, const std::string& path);

}  // namespace zks::state
