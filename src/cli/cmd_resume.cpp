// `zkstandby resume`: after failback (the primary rebuilt and brought level
// with `run --reverse` / `sync --reverse`), returns the backup site to
// standby with a new epoch, so forward replication may start again.

#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/state_common.h"
#include "state/failover.h"
#include "state/identity.h"

namespace zks::cli {
namespace {

struct ResumeArgs {
  std::string config_file;
  std::string reason;
  bool yes = false;
};

int runResumeCommand(const ResumeArgs& args) {
  std::optional<BackupSession> session = openBackup(args.config_file);
  if (!session) return kExitError;
  const std::string& state_path = session->config.state_path;
  auto stored = state::readState(*session->client, state_path);
  if (!stored) {
    std::fprintf(stderr, "zkstandby: error: %s\n", stored.error().describe().c_str());
    return kExitError;
  }
  if (stored->state.role == state::Role::kStandby) {
    std::printf("Backup site %s is already a STANDBY (epoch %lld): nothing changed.\n",
                session->config.backup.connect.c_str(), static_cast<long long>(stored->state.epoch));
    return kExitOk;
  }
  const std::string question =
      "This returns " + session->config.backup.connect + " (ACTIVE since " +
      state::formatTime(stored->state.role_changed_ms) + ", epoch " + std::to_string(stored->state.epoch) +
      ") to STANDBY.\n  Before: stop the applications writing to this site, stop every `run --reverse` daemon, "
      "and check that `zkstandby diff --reverse -c FILE` exits 0.\n  After: the primary is the source of truth "
      "again and `zkstandby run -c FILE` overwrites this site with it.";
  switch (askConsent(question, args.yes)) {
    case Consent::kGiven: break;
    case Consent::kDeclined:
      std::fprintf(stderr, "zkstandby: resume cancelled; nothing changed\n");
      return kExitError;
    case Consent::kNoTerminal:
      std::fprintf(stderr, "zkstandby: error: resume needs confirmation: run it on a terminal or pass --yes\n");
      return kExitError;
  }
  state::ResumeOptions options{
      .state_path = state_path, .reason = args.reason, .who = state::operatorIdentity(), .now_ms = nowMs()};
  auto report = state::runResume(*session->client, options);
  if (!report) {
    std::fprintf(stderr, "zkstandby: error: resume failed, nothing changed: %s\n", report.error().describe().c_str());
    return kExitError;
  }
  if (report->already_standby) {
    std::printf("Backup site %s is already a STANDBY (epoch %lld): nothing changed.\n",
                session->config.backup.connect.c_str(), static_cast<long long>(report->after.epoch));
    return kExitOk;
  }
  std::printf("Resume done: backup site %s is a STANDBY again.\n", session->config.backup.connect.c_str());
  std::printf("  %-27s %lld -> %lld\n", "epoch:", static_cast<long long>(report->before.epoch),
              static_cast<long long>(report->after.epoch));
  std::printf("  %-27s %s\n", "history record:", report->history_node.c_str());
  std::printf("Next: start forward replication: zkstandby run -c %s\n", args.config_file.c_str());
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
