// `zkstandby resume`: after failback (the primary rebuilt and brought level
// with `run --reverse` / `sync --reverse`), returns the backup site to
// standby with a new epoch, so forward replication may start again. On the
// rebuilt primary it moves the fence (a reverse daemon still running is
// stopped) and raises the sequence counters above what the active site
// handed out (state/failover.h runResume).

#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "reconcile/setup.h"
#include "cli/state_common.h"
#include "state/failover.h"
#include "state/identity.h"
#include "state/status.h"

namespace zks::cli {
namespace {

struct ResumeArgs {
  std::string config_file;
  std::string reason;
  bool yes = false;
};

// The rebuilt primary, connected within its connect timeout; a one-line
// error and nothing when it cannot be.
std::unique_ptr<zk::Client> connectPrimary(const config::Config& config) {
  auto options = config::connectOptions(config.primary, "primary");
  if (!options) {
    std::fprintf(stderr, "zkstandby: error: primary: %s\n", options.error().describe().c_str());
    return nullptr;
  }
  auto client = zk::makeClient(*options);
  if (auto s = client->reopen(options->connect_timeout); !s) {
    std::fprintf(stderr,
                 "zkstandby: error: the rebuilt primary %s is not reachable within %lld ms (%s): resume stops "
                 "reverse replicators and raises sequence counters there; nothing changed\n",
                 options->connect.c_str(), static_cast<long long>(options->connect_timeout.count()),
                 s.error().describe().c_str());
    return nullptr;
  }
  return client;
}

void printPrimarySteps(const state::ResumeReport& r) {
  auto row = [](const char* label, const std::string& value) { std::printf("  %-27s %s\n", label, value.c_str()); };
  row("reverse writers:", r.primary_fenced ? "fenced on the primary: a `run --reverse` still running stops (exit 4)"
                                           : "NOT fenced");
  if (r.raise) {
    row("sequence counters:", state::summarizeRaise(*r.raise) + " on the primary (" +
                                  std::to_string(r.counters_collected) + " parents of the active site)");
  }
  if (!r.primary_error.empty()) row("PROBLEM:", r.primary_error);
  if (r.raise && !r.raise->failures.empty()) row("PROBLEM:", "first failure: " + r.raise->failures.front().describe());
}

int runResumeCommand(const ResumeArgs& args) {
  std::optional<BackupSession> session = openBackup(args.config_file);
  if (!session) return kExitError;
  const std::string& state_path = session->config.state_path;
  auto stored = state::readState(*session->client, state_path);
  if (!stored) {
    std::fprintf(stderr, "zkstandby: error: %s\n", stored.error().describe().c_str());
    return kExitError;
  }
  // Counters are carried over through the inverse mapping, exactly as
  // failback replicated the nodes.
  auto engine = reconcile::buildEngine(session->config, /*reverse=*/true);
  if (!engine) {
    for (const auto& line : engine.error()) std::fprintf(stderr, "%s\n", line.c_str());
    std::fprintf(stderr, "zkstandby: error: resume needs the inverse mapping (as failback does); nothing changed\n");
    return kExitError;
  }
  auto primary = connectPrimary(session->config);
  if (!primary) return kExitError;

  const bool standby = stored->state.role == state::Role::kStandby;
  if (!standby) {
    const std::string question =
        "This returns " + session->config.backup.connect + " (ACTIVE since " +
        state::formatTime(stored->state.role_changed_ms) + ", epoch " + std::to_string(stored->state.epoch) +
        ") to STANDBY, and stops any `run --reverse` writing to " + session->config.primary.connect +
        ".\n  Before: stop the applications writing to this site and check that `zkstandby diff --reverse -c FILE` "
        "exits 0.\n  After: the primary is the source of truth again and `zkstandby run -c FILE` overwrites this "
        "site with it.";
    switch (askConsent(question, args.yes)) {
      case Consent::kGiven: break;
      case Consent::kDeclined:
        std::fprintf(stderr, "zkstandby: resume cancelled; nothing changed\n");
        return kExitError;
      case Consent::kNoTerminal:
        std::fprintf(stderr, "zkstandby: error: resume needs confirmation: run it on a terminal or pass --yes\n");
        return kExitError;
    }
  }

  state::ResumeOptions options{
      .state_path = state_path, .reason = args.reason, .who = state::operatorIdentity(), .now_ms = nowMs()};
  options.primary = primary.get();
  for (const auto& root : session->config.sync.roots) {
    options.backup_roots.push_back(root.target.empty() ? root.source : root.target);
    options.primary_roots.push_back(root.source);
  }
  auto mapper = engine->options.mapper;
  options.to_primary = [mapper](const std::string& backup_path) -> std::optional<std::string> {
    auto mapped = mapper(backup_path, "");
    if (!mapped.replicated) return std::nullopt;
    return mapped.path.empty() ? backup_path : mapped.path;
  };
  options.excluded = engine->options.excluded_primary;  // in reverse: the backup's excluded paths and state_path
  options.raise.max_request_bytes = session->config.sync.max_request_bytes;
  auto report = state::runResume(*session->client, options);
  if (!report) {
    std::fprintf(stderr, "zkstandby: error: resume failed, nothing changed: %s\n", report.error().describe().c_str());
    return kExitError;
  }
  if (report->already_standby) {
    std::printf("Backup site %s is already a STANDBY (epoch %lld): the role is unchanged; finished the steps on the "
                "primary.\n",
                session->config.backup.connect.c_str(), static_cast<long long>(report->after.epoch));
  } else {
    std::printf("Resume done: backup site %s is a STANDBY again.\n", session->config.backup.connect.c_str());
    std::printf("  %-27s %lld -> %lld\n", "epoch:", static_cast<long long>(report->before.epoch),
                static_cast<long long>(report->after.epoch));
    std::printf("  %-27s %s\n", "history record:", report->history_node.c_str());
  }
  printPrimarySteps(*report);
  if (!report->complete()) {
    std::fprintf(stderr,
                 "zkstandby: error: the backup is a STANDBY (epoch %lld) but the steps on the rebuilt primary did "
                 "not all finish; run `zkstandby resume -c %s --yes` again to finish\n",
                 static_cast<long long>(report->after.epoch), args.config_file.c_str());
    return kExitError;
  }
  std::printf("Next: point the applications at the primary site, then start forward replication: zkstandby run -c %s\n",
              args.config_file.c_str());
  return kExitOk;
}

}  // namespace

Action addResumeCommand(CLI::App& app) {
  auto args = std::make_shared<ResumeArgs>();
  auto* sub = app.add_subcommand("resume", "after failback, return the backup site to standby with a new epoch");
  sub->add_option("-c,--config", args->config_file, "configuration file")->required();
  sub->add_option("--reason", args->reason, "why, recorded in the history");
  sub->add_flag("--yes", args->yes, "do not ask for confirmation");
  return [args] { return runResumeCommand(*args); };
}

}  // namespace zks::cli
