#pragma once

// The two role changes, on the backup client alone: failover (standby ->
// active) and resume (active -> standby, after failback). The CLI commands
// wrap these with confirmation and printing; tests call them directly.
//
// Failover, in this order:
//  1. ensureLayout; read the state.
//  2. --final-sync only: take the fence lease (store.h) for the final sync's
//     identity and keep renewing it, then run the hook (one last reconcile
//     while the primary is reachable; it takes the fence under that
//     identity). A daemon deposed by it, and restarted by systemd, cannot
//     take the fence back while the lease lasts. An error aborts with
//     nothing changed (the lease is released); the summary (what could not
//     be copied) goes into the report and the history record.
//  3. ONE multi: versioned set of the state (role active, epoch + 1, change
//     id) + set of the fence (its version moves, so every replicator's next
//     batch is refused) + create of the history record + clearing the lease.
//  4. Load the saved counters and raise them (counters.h), walking the
//     target roots (RaiseOptions::scan_roots) for parents nobody saved, then
//     note the result in the history record. Unreadable saved counters are
//     a warning: the walk still covers every replicated sequential name.
// The raise comes after the role change on purpose: once the fence moved no
// replicator can save counters or replicate another sequential child, so the
// saved counters and the backup's children are final when they are read.
// Nothing on the backup takes application writes before the command returns
// (applications are pointed at the standby site after it), which is the
// moment SPEC section 4 asks for.
//
// Idempotence: on a site that is already active nothing changes (no epoch
// bump, no new history record) but step 4 runs again, so a failover cut off
// after step 3 is finished by running it again. A multi whose answer is lost
// is recognised on re-read by its change id.
//
// Blocking; never call from a client callback.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "state/counters.h"
#include "state/site_state.h"
#include "zk/client.h"

namespace zks::state {

// --final-sync: runs one last reconcile primary -> backup and returns a
// one-paragraph summary for the operator (what was copied, what could not
// be). Supplied by the sync engine; empty when this build has none.
using FinalSyncHook = std::function<Result<std::string>()>;

struct FailoverOptions {
  std::string state_path = "/zkstandby";
  std::string reason;
  std::string who;  // operatorIdentity()
  int64_t now_ms = 0;
  FinalSyncHook final_sync;  // empty: no final sync
  // The identity the final sync takes the fence under (the lease is held for
  // it), and how long one renewal of the lease lasts.
  std::string final_sync_holder = "final-sync";
  std::chrono::milliseconds lease_ttl{30000};
  RaiseOptions raise;
};

struct FailoverReport {
  bool already_active = false;  // nothing was changed; the counters were raised again
  SiteState before;             // as read before the change
  SiteState after;              // as written (or as found, when already active)
  std::string history_node;     // the record created; empty when already active
  std::string final_sync;       // the hook's summary; empty when not run
  size_t counters_saved = 0;    // parents in the saved counters
  int64_t counters_saved_ms = 0;
  std::optional<RaiseReport> raise;  // absent when the raise could not run
  std::string raise_error;           // why not, or why only partly
  std::vector<std::string> warnings; // worth telling, not a failure (e.g. no counters were ever saved)
  // True when the site is active and every known counter is raised.
  bool complete() const { return raise.has_value() && raise->failures.empty() && raise_error.empty(); }
};

// An Error means nothing was changed, except when the site became active
// and only the counter raise failed: that is reported through raise_error
// with a report, so the caller can say "active, rerun to finish".
Result<FailoverReport> runFailover(zk::Client& backup, const FailoverOptions& options);

struct ResumeOptions {
  std::string state_path = "/zkstandby";
  std::string reason;
  std::string who;
  int64_t now_ms = 0;
  // The rebuilt primary that failback wrote to; null: the backup alone (the
  // CLI always passes it). See runResume.
  zk::Client* primary = nullptr;
  std::vector<std::string> backup_roots;   // the target roots: where the active site's counters are read
  std::vector<std::string> primary_roots;  // the source roots: walked for sequential-looking children
  // A backup path's counterpart on the primary (the inverse mapping); nullopt
  // for paths failback does not replicate.
  std::function<std::optional<std::string>(const std::string& backup_path)> to_primary;
  std::function<bool(const std::string& backup_path)> excluded;  // subtrees of the backup not to read
  RaiseOptions raise;  // for the raise on the primary
};

struct ResumeReport {
  bool already_standby = false;  // the role was standby already: only the primary steps ran
  SiteState before;
  SiteState after;
  std::string history_node;
  // The primary steps (when a primary was given).
  bool primary_fenced = false;       // its fence moved: reverse writers are stopped
  size_t counters_collected = 0;     // active-site parents whose counters were carried over
  std::optional<RaiseReport> raise;  // on the primary
  std::string primary_error;         // why the primary steps did not all finish; rerun resume
  bool complete() const { return primary_error.empty() && (!raise || raise->failures.empty()); }
};

// Active -> standby with epoch + 1 in one multi that also moves the backup's
// fence and records a resume- history entry. last_applied_zxid and
// last_full_sync_ms are reset: they described the old primary, and the
// forward daemon's first reconcile after resume sets them anew.
//
// With a primary, then, in this order (also when the role was standby
// already, so a resume cut off after the role change is finished by running
// it again):
//  1. the fence on the primary's state_path moves: a reverse writer still
//     running (it fences there) has its next batch refused, finds the
//     backup's role standby and stops. The role change comes first, so a
//     reverse writer taking the fence after this move sees standby too
//     (store.h acquireReverseFence).
//  2. the active site's counters (every parent under backup_roots, mapped to
//     the primary) are raised on the primary, which is also walked for
//     sequential-looking children: sequential nodes created on the primary
//     after resume stay above every name the active site handed out.
// An Error means nothing was changed; problems of the primary steps are in
// the report (primary_error, raise failures).
Result<ResumeReport> runResume(zk::Client& backup, const ResumeOptions& options);

// One line for the history record: "raised 12 of 340 parents (1804 pairs) in 0.41 s".
std::string summarizeRaise(const RaiseReport& report);

}  // namespace zks::state
