#pragma once

// What sync, diff and failover --final-sync share: config and mapping
// loading with every problem printed, both sites connected, a progress line.

#include <optional>
#include <string>

#include "cli/progress.h"  // ProgressReporter
#include "cli/redact.h"
#include "reconcile/setup.h"

namespace zks::cli {

// Loads the config and mapping and sets up logging. Prints every problem
// ("file:line: message") to stderr and returns nothing on failure.
std::optional<reconcile::Engine> loadEngine(const std::string& config_file, bool reverse);

// Connects both sites; prints a one-line error and returns nothing on failure.
// Reverse mode (failback) is refused, with one line, unless the backup's
// role is active: while it is a standby, forward is the direction, and a
// reverse run would overwrite and delete on the live primary.
std::optional<reconcile::Sites> connectOrExplain(const reconcile::Engine& engine);

// What diff prints of secrets (config diff.secret_paths, --show-secrets);
// prints a one-line error and returns nothing when a glob does not compile.
std::optional<Redactor> makeRedactor(const config::Config& config, bool show_secrets);

// Progress of a long reconcile: a line rewritten in place on a terminal,
// a log line every 10 s otherwise. Install with attach().

}  // namespace zks::cli
