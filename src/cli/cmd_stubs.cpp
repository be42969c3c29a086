// Commands not built yet. Each prints so and exits 2; its real file replaces
// its entry here.
#include <cstdio>

#include "cli/command.h"

namespace zks::cli {
namespace {
Action notBuilt(CLI::App& app, const char* name, const char* help) {
  auto* sub = app.add_subcommand(name, help);
  sub->allow_extras();
  return [name] {
    std::fprintf(stderr, "zkstandby: error: '%s' is not built yet in this version\n", name);
    return kExitError;
  };
}
}  // namespace

Action addRunCommand(CLI::App& app) { return notBuilt(app, "run", "the daemon: full reconcile, then continuous replication"); }
Action addValidateCommand(CLI::App& app) { return notBuilt(app, "validate", "check config and mapping rules offline"); }
Action addMapCommand(CLI::App& app) { return notBuilt(app, "map", "preview what one primary node becomes on the backup"); }

}  // namespace zks::cli
