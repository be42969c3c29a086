#pragma once

// Runs a program as a child process and measures it: wall time and peak
// resident memory (wait4's ru_maxrss of that child alone).
//
// Why a helper process: ru_maxrss survives exec. A child forked from this
// (large) benchmark process starts with the benchmark's resident pages as
// its high-water mark, and would report them as the program's peak. So the
// benchmark re-executes itself as a small helper (`measuredChildMain`), and
// the helper, still small, forks and execs the program and reports its
// rusage.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace zks::bench {

struct MeasuredRun {
  int exit_code = -1;     // -1: killed at the deadline or by a signal
  double seconds = 0;     // wall time from fork to exit (measured by the helper)
  long max_rss_kb = 0;    // peak resident set of the program
  double user_s = 0;      // CPU time it used
  double sys_s = 0;
  std::string out;        // its stdout
  std::string err;        // its stderr
};

// args[0] is the program (searched in PATH when it has no slash). stdin is
// /dev/null; stdout and stderr go to files in `scratch_dir` and are read
// back. The program dies with the caller (PR_SET_PDEATHSIG) and is killed at
// `timeout`.
Result<MeasuredRun> runMeasured(const std::vector<std::string>& args, const std::string& scratch_dir,
                                std::chrono::seconds timeout);

// The helper's entry point. Call it first thing in main(): when argv asks
// for the helper it runs it and returns the exit status; otherwise nothing.
std::optional<int> measuredChildMain(int argc, char** argv);

}  // namespace zks::bench
