#pragma once

// What the failover, resume and status commands share: loading the config,
// connecting to the backup within its connect timeout, asking for
// confirmation, and reading the daemon's live figures.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "state/status.h"
#include "zk/client.h"

namespace zks::cli {

struct BackupSession {
  config::Config config;
  std::unique_ptr<zk::Client> client;
};

// Loads `config_file` and connects to the backup. On failure prints every
// problem (config) or one line (connection) to stderr and returns nothing:
// the caller exits with kExitError.
std::optional<BackupSession> openBackup(const std::string& config_file);

// Asks `question` on the terminal and wants "yes" typed back. `assume_yes`
// (--yes) skips the question. Without a terminal and without --yes it
// refuses, so a script never fails over by accident.
enum class Consent { kGiven, kDeclined, kNoTerminal };
Consent askConsent(const std::string& question, bool assume_yes);

// GET /metrics from the daemon's endpoint (config http.listen) with a short
// timeout; never fails, says why not instead.
state::LiveFigures fetchLiveFigures(const config::Config& config, std::chrono::milliseconds timeout);

int64_t nowMs();

}  // namespace zks::cli
