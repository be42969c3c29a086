#include "cli/reconcile_common.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

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

ProgressReporter::ProgressReporter(std::string label) : label_(std::move(label)), terminal_(isatty(STDERR_FILENO)) {}

ProgressReporter::~ProgressReporter() {
  if (drew_) std::fputc('\n', stderr);
}

void ProgressReporter::attach(reconcile::ReconcileOptions& options) {
  options.progress_every = 5000;
  options.progress = [this](size_t nodes, size_t writes) { update(nodes, writes); };
}

void ProgressReporter::update(size_t nodes, size_t writes) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(nodes) / elapsed : 0;
  if (terminal_) {
    if (now - last_ < std::chrono::milliseconds(200)) return;
    std::fprintf(stderr, "\r%s: %zu nodes read, %zu written, %.0f nodes/s, %.0f s   ", label_.c_str(), nodes, writes,
                 rate, elapsed);
    drew_ = true;
  } else {
    if (now - last_ < std::chrono::seconds(10)) return;
    spdlog::info("{}: {} nodes read, {} written, {:.0f} nodes/s, {:.0f} s elapsed", label_, nodes, writes, rate,
                 elapsed);
  }
  last_ = now;
}

}  // namespace zks::cli
