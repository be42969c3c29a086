#pragma once

// From a loaded config to a ready reconcile: the mapping, roots, excludes and
// policies in ReconcileOptions (forward, or inverted for --reverse), both
// sites connected, and passes repeated until the backup is stable. Shared by
// sync, diff, run and failover --final-sync.

#include <chrono>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "reconcile/reconciler.h"
#include "zk/client.h"

namespace zks::reconcile {

struct Engine {
  config::Config config;
  bool reverse = false;
  // The site read (primary; the backup with --reverse) and the one written.
  std::string read_site = "primary";
  std::string write_site = "backup";
  ReconcileOptions options;  // dry_run, allow_mass_delete and the fence prefix are the caller's
  NodeMapper explaining_mapper;  // options.mapper that also names each changed field (diff)
};

// Loads the mapping files (inverted with --reverse) and builds the options.
// Fails with every problem, one "file:line: message" line each.
std::expected<Engine, std::vector<std::string>> buildEngine(config::Config config, bool reverse);

struct Sites {
  std::unique_ptr<zk::Client> read;
  std::unique_ptr<zk::Client> write;
};
// Large blocks (listing replies of big directories, their decoded names)
// get their own mappings and go back to the system when freed, instead of
// staying in the allocator's heaps (SPEC 7: sync memory). Process-wide;
// connectSites() calls it. Long-running commands may call it at start.
void keepLargeBuffersOutOfTheHeap();

// Connects both sites at once, each within its connect_timeout_ms. A site
// with max_read_sessions > 1 gets that many sessions (ReadSessions).
Result<Sites> connectSites(const config::Config& config, bool reverse);

struct PassesSummary {
  ReconcileReport report;  // of the last pass
  int passes = 0;
  size_t writes = 0;       // over all passes
  double seconds = 0;
};
// Runs passes until one needs no other (refused or unknown writes are
// re-read and re-planned by the next pass), at most `max_passes`.
PassesSummary reconcileUntilStable(zk::Client& read, zk::Client& write, const ReconcileOptions& options,
                                   int max_passes = 5);

}  // namespace zks::reconcile
