#pragma once

// What sync, diff and failover --final-sync share: config and mapping
// loading with every problem printed, both sites connected, a progress line.

#include <optional>
#include <string>

#include "cli/progress.h"  // ProgressReporter
#include "reconcile/setup.h"

namespace zks::cli {

// Loads the config and mapping and sets up logging. Prints every problem
// ("file:line: message") to stderr and returns nothing on failure.
std::optional<reconcile::Engine> loadEngine(const std::string& config_file, bool reverse);

// Connects both sites; prints a one-line error and returns nothing on failure.
std::optional<reconcile::Sites> connectOrExplain(const reconcile::Engine& engine);

}  // namespace zks::cli
