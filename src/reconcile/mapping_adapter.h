#pragma once

#include <expected>
#include <string>
#include <vector>

#include "config/config.h"
#include "reconcile/reconciler.h"

namespace zks::reconcile {

struct Mappers {
  NodeMapper fast;        // for sync and the daemon
  NodeMapper explaining;  // also names each changed field (diff, map)
};

// NodeMappers for the config's mapping files, scoped to its roots and
// excludes (their inverse with --reverse). Fails with one
// "file:line: message" line per problem.
std::expected<Mappers, std::vector<std::string>> makeNodeMappers(const config::Config& config, bool reverse);

}  // namespace zks::reconcile
