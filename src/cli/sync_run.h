#pragma once

#include <string>

#include "reconcile/setup.h"

namespace zks::cli {

struct SyncOutcome {
  int exit_code = 0;    // kExitOk converged, kExitNotConverged, kExitError, kExitFenced
  std::string summary;  // one line for the operator
};

// One sync the way `sync` runs it: take the fence on the written site
// (refused while the backup is active, unless reverse), reconcile until
// stable, record the full sync and the sequence counters in the site state
// (forward only), and explain a lost fence.
SyncOutcome syncBehindFence(const reconcile::Engine& engine, reconcile::Sites& sites, bool allow_mass_delete,
                            const std::string& who);

}  // namespace zks::cli
