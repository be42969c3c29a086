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
//
// Lease. `failover --final-sync` takes the fence for one last reconcile while
// daemons may still run (or be restarted by systemd). So that the two do not
// take the fence from each other, the final sync first writes a lease
// (state_path/lease: holder and expiry) and renews it while it runs; a
// forward acquireFence by anyone else is refused with kConflict while the
// lease is unexpired (a daemon retries and, once the failover's multi has
// cleared the lease and made the site active, gets kFenced and exits 3).
//
// Reverse writers (failback: backup -> rebuilt primary) fence on the
// primary's state_path, and may only write while the BACKUP's role is
// active: acquireReverseFence checks that role before and after taking the
// fence, and `resume` flips the role before it moves the primary's fence, so
// a reverse writer either is fenced by resume or sees the standby role.
//
// ACLs. Records are created with protectedRecordAcl() when the session has
// authenticated (digest from backup.auth, or an x509 client certificate over
// TLS): only that identity may change them, everyone may read them. Without
// authentication they are created open (world:anyone:cdrwa), and `validate`
// warns. ensureLayout tightens open records once the replicator has auth.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "state/site_state.h"
#include "zk/client.h"

namespace zks::state {

// ---- record ACLs ----

// Every permission for the identities the writing session authenticated
// with (ZooKeeper's "auth" scheme: the server stores digest:user:hash, or the
// x509 subject, of that session), READ for everyone. A session without
// authentication cannot use it: the server answers kInvalidAcl.
zk::AclList protectedRecordAcl();
// True when world:anyone holds at most READ (and something else holds more):
// only authenticated identities may change the node.
bool isProtectedAcl(const zk::AclList& acl);
// The ACL new records under state_path get: protectedRecordAcl() when
// state_path itself carries a protected ACL (ensureLayout made it so for an
// authenticated writer), open otherwise. One getAcl.
Result<zk::AclList> recordAcl(zk::Client& c, const std::string& state_path);

// Creates state_path and its children if absent; a missing state record is
// created as a standby at epoch 0. Idempotent, safe to run concurrently.
// Records are created protected when the session authenticated, open
// otherwise; open records are tightened (setACL) once the session has auth.
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
  std::string identity;  // who took it ("host:pid"); updateState writes it as `leader`
};

enum class FenceMode : uint8_t {
  kForward,    // primary -> backup writers: refused with kFenced while the role is active
  kUnchecked,  // no role check (reverse writers fencing on the ensemble they write to)
};

// Moves the fence to `identity` (stored as the fence node's data) and returns
// the new token. Every holder of an older token is fenced from now on.
// kForward: kFenced while the role is active; kConflict while another
// holder's lease is unexpired (retry later: the lease ends with the failover
// or expires).
Result<FenceToken> acquireFence(zk::Client& c, const std::string& state_path, const std::string& identity,
                                FenceMode mode = FenceMode::kForward);

// ---- lease (failover --final-sync) ----

struct FenceLease {
  std::string holder;   // the identity that will take the fence ("final-sync@host:pid")
  std::string purpose;  // for operators: "failover --final-sync by ops@jump"
  int64_t until_ms = 0; // expiry, ms since the Unix epoch (the holder's clock)
};
// Reads the lease; nullopt when none is held or it expired at now_ms.
Result<std::optional<FenceLease>> readFenceLease(zk::Client& c, const std::string& state_path, int64_t now_ms);
// Takes (or renews, for the same holder) the lease. kConflict when another
// holder's lease is unexpired at now_ms.
Status takeFenceLease(zk::Client& c, const std::string& state_path, const FenceLease& lease, int64_t now_ms);
// Clears the lease if `holder` holds it (a lease of someone else is left).
Status releaseFenceLease(zk::Client& c, const std::string& state_path, const std::string& holder);

// ---- reverse writers (failback) ----

// Takes the fence on the rebuilt primary's state_path for a reverse writer,
// only while the backup's role is active: reads that role, takes the fence
// (no role check on the primary), reads the role again. kFenced with a
// one-line reason when the backup is a standby (failback finished with
// `resume`, or never started): the writer must not write, and a daemon exits
// with status 4.
Result<FenceToken> acquireReverseFence(zk::Client& primary, zk::Client& backup, const std::string& state_path,
                                       const std::string& identity);
// Why a reverse writer's fence check failed: kFailbackOver when the backup's
// role is standby again (stop for good, exit 4), kDeposed when another
// reverse writer took the fence.
enum class ReverseFenceLoss : uint8_t { kFailbackOver, kDeposed };
Result<ReverseFenceLoss> explainReverseFenceLoss(zk::Client& backup, const std::string& state_path);
// The one-line refusal for reverse mode while the backup is a standby.
std::string reverseRefusal(const SiteState& backup_state);

// Moves the fence without taking it (`resume` on the rebuilt primary, where
// reverse writers fence): every holder is fenced. `note` becomes the fence's
// data. Creates the layout when missing.
Status moveFence(zk::Client& c, const std::string& state_path, const std::string& note);

// The op that leads every write batch of the token's holder.
zk::CheckOp fenceCheckOp(const FenceToken& token);

enum class FenceLoss : uint8_t {
  kFailedOver,  // the role is active: stop for good, exit 3
  kDeposed,     // still a standby: another writer took the fence
};
Result<FenceLoss> explainFenceLoss(zk::Client& c, const std::string& state_path);

// The daemon leader's read-modify-write of its fields (last sync, zxid, full
// reconcile result): one multi [fence check, versioned set], re-read and
// redone when another writer's set slipped in. kFenced when the fence moved
// or the role is active. Every write also sets `leader` to the token's
// identity and `updated_ms` to now. Role, epoch and change fields are left to
// failover/resume: changes to them by `change` are discarded.
Result<SiteState> updateState(zk::Client& c, const std::string& state_path, const FenceToken& fence,
                              const std::function<void(SiteState&)>& change);

// ---- history ----

// A persistent sequential create of state_path/history/<action>-NNNNNNNNNN,
// to put in the same multi as the state change it records.
zk::CreateOp historyCreateOp(const std::string& state_path, const HistoryRecord& record,
                             const zk::AclList& acl = zk::openAcl());

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
// The same for a write of the replicator's records: a NoAuth answer says
// that they are protected for another identity.
Error recordError(std::string_view what, zk::Code code, const std::string& path);

}  // namespace zks::state
