#pragma once

// Runs a program as a child process and measures it: wall time and peak
// resident memory (wait4's ru_maxrss of that child alone).

#include <chrono>
#include <string>
#include <vector>

#include "common/error.h"

namespace zks::bench {

struct MeasuredRun {
  int exit_code = -1;     // -1: killed at the deadline or by a signal
  double seconds = 0;     // wall time from fork to exit
  long max_rss_kb = 0;    // peak resident set of the child
  std::string out;        // its stdout
  std::string err;        // its stderr
};

// args[0] is the program (searched in PATH when it has no slash). stdin is /dev/null; stdout and stderr go to
// files in `scratch_dir` and are read back. The child dies with the caller
// (PR_SET_PDEATHSIG) and is killed at `timeout`.
Result<MeasuredRun> runMeasured(const std::vector<std::string>& args, const std::string& scratch_dir,
                                std::chrono::seconds timeout);

}  // namespace zks::bench
