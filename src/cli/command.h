#pragma once

// Each subcommand lives in its own cmd_<name>.cpp and registers itself with
// main through one function of this shape: it adds its CLI11 subcommand and
// returns the action main runs when that subcommand was chosen.

#include <CLI/CLI.hpp>
#include <functional>

namespace zks::cli {

// Exit statuses shared by every command (SPEC.md section 1).
inline constexpr int kExitOk = 0;
inline constexpr int kExitNotConverged = 1;  // sync: not converged; diff: differences; map: not replicated
inline constexpr int kExitError = 2;         // bad config, bad input, unreachable ZooKeeper
inline constexpr int kExitFenced = 3;        // the backup site was failed over

using Action = std::function<int()>;

Action addRunCommand(CLI::App& app);
Action addSyncCommand(CLI::App& app);
Action addDiffCommand(CLI::App& app);
Action addFailoverCommand(CLI::App& app);
Action addStatusCommand(CLI::App& app);
Action addResumeCommand(CLI::App& app);
Action addValidateCommand(CLI::App& app);
Action addMapCommand(CLI::App& app);

}  // namespace zks::cli
