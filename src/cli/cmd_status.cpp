// `zkstandby status`: the site as the backup records it, without needing the
// daemon; live lag and queue figures are added when its endpoint answers.

#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/state_common.h"
#include "state/status.h"

namespace zks::cli {
namespace {

constexpr size_t kHistoryShown = 10;

struct StatusArgs {
  std::string config_file;
  std::string format = "text";
};

int runStatusCommand(const StatusArgs& args) {
  std::optional<BackupSession> session = openBackup(args.config_file);
  if (!session) return kExitError;
  auto snapshot = state::readStatus(*session->client, session->config.state_path, kHistoryShown, nowMs());
  if (!snapshot) {
    std::fprintf(stderr, "zkstandby: error: %s\n", snapshot.error().describe().c_str());
    return kExitError;
  }
  snapshot->backup = session->config.backup.connect;
  const auto live = fetchLiveFigures(session->config, std::chrono::milliseconds(1000));
  const std::string out = args.format == "json" ? state::formatStatusJson(*snapshot, live, nowMs())
                                                : state::formatStatusText(*snapshot, live, nowMs());
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

Action addStatusCommand(CLI::App& app) {
  auto args = std::make_shared<StatusArgs>();
  auto* sub = app.add_subcommand("status", "role, epoch, leader, last sync, lag");
  sub->add_option("-c,--config", args->config_file, "configuration file")->required();
  sub->add_option("--format", args->format, "text | json")->check(CLI::IsMember({"text", "json"}));
  return [args] { return runStatusCommand(*args); };
}

}  // namespace zks::cli
