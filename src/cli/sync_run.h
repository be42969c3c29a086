#pragma once

#include <string>

#include "reconcile/setup.h"

namespace zks::cli {

// sync: converged except nodes reported as unreplicable (listed on stderr).
inline constexpr int kExitReportedNodes = 4;

struct SyncOutcome {
  // kExitOk converged, kExitReportedNodes converged except reported nodes,
  // kExitNotConverged, kExitError, kExitFenced.
  int exit_code = 0;
  std::string summary;  // one line for the operator
};

// One sync the way `sync` runs it: take the fence on the written site
// (refused while the backup is active, unless reverse), reconcile until
// stable, record the full reconcile (time, result, reported nodes), the full
// sync (when converged, reported nodes allowed), the applied-zxid watermark
// and the sequence counters in the site state (forward only), and explain a
// lost fence.
SyncOutcome syncBehindFence(const reconcile::Engine& engine, reconcile::Sites& sites, bool allow_mass_delete,
                            const std::string& who);

}  // namespace zks::cli
