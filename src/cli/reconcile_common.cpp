#include "cli/reconcile_common.h"

#include <cstdio>

#include "common/log.h"
#include "state/store.h"

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
  if (engine.reverse) {
    // In reverse the backup is the site read.
    auto backup = state::readState(*sites->read, engine.config.state_path);
    if (!backup) {
      std::fprintf(stderr, "zkstandby: error: reading the backup's role: %s\n", backup.error().describe().c_str());
      return std::nullopt;
    }
    if (backup->state.role != state::Role::kActive) {
      std::fprintf(stderr, "zkstandby: refused: %s\n", state::reverseRefusal(backup->state).c_str());
      return std::nullopt;
    }
  }
  return std::move(*sites);
}

std::optional<Redactor> makeRedactor(const config::Config& config, bool show_secrets) {
  auto globs = mapping::GlobSet::compile(config.diff.secret_paths);
  if (!globs) {
    std::fprintf(stderr, "zkstandby: error: %s: diff.secret_paths: %s\n", config.file.c_str(),
                 globs.error().describe().c_str());
    return std::nullopt;
  }
  return Redactor(show_secrets, std::move(*globs));
}

}  // namespace zks::cli
