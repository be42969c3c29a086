#pragma once

// The two role changes, on the backup client alone: failover (standby ->
// active) and resume (active -> standby, after failback). The CLI commands
// wrap these with confirmation and printing; tests call them directly.
//
// Failover, in this order:
//  1. ensureLayout; read the state.
//  2. --final-sync only: run the hook (one last reconcile while the primary
//     is reachable). An error aborts with nothing changed; its summary (what
//     could not be copied) goes into the report and the history record.
//  3. ONE multi: versioned set of the state (role active, epoch + 1, change
//     id) + set of the fence (its version moves, so every replicator's next
//     batch is refused) + create of the history record.
//  4. Load the saved counters and raise them (counters.h), then note the
//     result in the history record.
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
};

struct ResumeReport {
  bool already_standby = false;  // nothing was changed
  SiteState before;
  SiteState after;
  std::string history_node;
};

// Active -> standby with epoch + 1 in one multi that also moves the fence
// and records a resume- history entry. last_applied_zxid and
// last_full_sync_ms are reset: they described the old primary, and the
// forward daemon's first reconcile after resume sets them anew.
Result<ResumeReport> runResume(zk::Client& backup, const ResumeOptions& options);

// One line for the history record: "raised 12 of 340 parents (1804 pairs) in 0.41 s".
std::string summarizeRaise(const RaiseReport& report);

}  // namespace zks::state
