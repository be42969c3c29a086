#include "cli/reconcile_common.h"

#include <cstdio>

#include "common/log.h"

namespace zks::cli {

std::optional<reconcile::Engine> loadEngine(const std::string& config_file, bool reverse) {
  auto config = config::loadConfig(config_file);
  if (!config) {
    for (const auto& p : config.error()) std::fprintf(stderr, "%s\n", p.describe().c_str());
    return std::nullopt;
  }
  if (auto s = setupLogging(config->log.level, config->log.format); !s) {
    std::fprintf(stderr, "zkstandby: error: %s\n", s.error().describe().c_str());
    return std::nullopt;
  }
  auto engine = reconcile::buildEngine(std::move(*config), reverse);
  if (!engine) {
    for (const auto& line : engine.error()) std::fprintf(stderr, "%s\n", line.c_str());
    return std::nullopt;
  }
  return std::move(*engine);
}

std::optional<reconcile::Sites> connectOrExplain(const reconcile::Engine& engine) {
  auto sites = reconcile::connectSites(engine.config, engine.reverse);
  if (!sites) {
    std::fprintf(stderr, "zkstandby: error: %s\n", sites.error().describe().c_str());
    return std::nullopt;
  }
  return std::move(*sites);
}

}  // namespace zks::cli
