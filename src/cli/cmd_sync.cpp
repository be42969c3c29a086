// `zkstandby sync`: one full reconcile behind the fence, then exit.
#include <cstdio>

#include "cli/command.h"
#include "cli/diff_format.h"
#include "cli/reconcile_common.h"
#include "cli/state_common.h"
#include "cli/sync_run.h"

namespace zks::cli {
namespace {

struct SyncArgs {
  std::string config_file;
  bool reverse = false;
  bool allow_mass_delete = false;
};

int runSync(const SyncArgs& args) {
  auto engine = loadEngine(args.config_file, args.reverse);
  if (!engine) return kExitError;
  auto sites = connectOrExplain(*engine);
  if (!sites) return kExitError;
  auto outcome = syncBehindFence(*engine, *sites, args.allow_mass_delete, "sync");
  std::printf("%s\n", outcome.summary.c_str());
  return outcome.exit_code;
}

}  // namespace

Action addSyncCommand(CLI::App& app) {
  auto args = std::make_shared<SyncArgs>();
  auto* sub = app.add_subcommand("sync", "one full reconcile, then exit");
  sub->add_option("-c,--config", args->config_file, "config file")->required();
  sub->add_flag("--reverse", args->reverse, "replicate backup -> primary through the inverse mapping (failback)");
  sub->add_flag("--allow-mass-delete", args->allow_mass_delete,
                "let this run delete more than sync.max_delete_fraction of the backup's replicated nodes");
  return [args] { return runSync(*args); };
}

}  // namespace zks::cli
