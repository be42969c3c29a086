// `zkstandby run`: the replication daemon.
#include "cli/command.h"
#include "daemon/daemon.h"

namespace zks::cli {

Action addRunCommand(CLI::App& app) {
  auto options = std::make_shared<daemon::DaemonOptions>();
  auto* sub = app.add_subcommand("run", "the daemon: full reconcile, then continuous replication");
  sub->add_option("-c,--config", options->config_file, "config file")->required();
  sub->add_flag("--reverse", options->reverse,
                "replicate backup -> primary through the inverse mapping (failback to a rebuilt primary)");
  return [options] { return daemon::runDaemon(*options); };
}

}  // namespace zks::cli
