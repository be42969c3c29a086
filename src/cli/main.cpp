#include <cstdio>
#include <exception>
#include <vector>

#include "cli/command.h"

int main(int argc, char** argv) {
  using namespace zks::cli;
  CLI::App app{"zkstandby: keeps a standby site's ZooKeeper in step with the primary's, mapping cluster references"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "zkstandby 0.1.0");
  std::vector<std::pair<CLI::App*, Action>> commands;
  auto add = [&](Action (*registrar)(CLI::App&)) {
    auto action = registrar(app);
    commands.emplace_back(app.get_subcommands({}).back(), std::move(action));
  };
  add(addRunCommand);
  add(addSyncCommand);
  add(addDiffCommand);
  add(addFailoverCommand);
  add(addStatusCommand);
  add(addResumeCommand);
  add(addValidateCommand);
  add(addMapCommand);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 uses 0 for --help/--version; every usage error is our status 2.
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitError;
  }
  try {
    for (auto& [sub, action] : commands) {
      if (sub->parsed()) return action();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zkstandby: error: %s\n", e.what());
    return kExitError;
  }
  return kExitError;
}
