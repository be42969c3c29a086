#include <cstdio>
#include <exception>
#include <vector>

#include "cli/command.h"
#include "zks_version.h"  // generated at build time (cmake/version.cmake)

int main(int argc, char** argv) {
  using namespace zks::cli;
  // The name is fixed: usage lines (and the man page made from them) say
  // "zkstandby", not the path it was started by.
  CLI::App app{"zkstandby: keeps a standby site's ZooKeeper in step with the primary's, mapping cluster references",
               "zkstandby"};
  app.require_subcommand(1);
  // "zkstandby 0.1.0 (commit 1a2b3c4)"; "-dirty" after the hash when the tree
  // had uncommitted changes, "unknown" when built outside git.
  app.set_version_flag("--version", "zkstandby " ZKS_VERSION " (commit " ZKS_GIT_COMMIT ")",
                       "print the version and the git commit it was built from, then exit");
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
