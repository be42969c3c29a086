#pragma once

// The progress of a long `sync` or `diff` on stderr.
//
// On a terminal: one line, redrawn in place (\r) at most four times a second
// and cleared when the reconcile ends, so the summary and the diff print on a
// clean line:
//   sync: 120000 nodes read (48%), 3100 nodes/s, 5400 written, ETA 1m20s
// The share and the ETA need the number of nodes to expect, which a first
// pass does not know (ZooKeeper has no cheap count of a subtree): they show
// from the second pass of a sync on (the first pass's count), or when a
// caller knows the size (expect()).
// Not a terminal: a log line every 10 s instead (journald, cron mail).
//
// Threading: update() runs on the reconcile loop's thread, which is the
// caller's thread for sync and diff; nothing here is shared across threads.

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "reconcile/reconciler.h"

namespace zks::cli {

struct ProgressSnapshot {
  size_t nodes_read = 0;
  size_t writes = 0;
  double elapsed_s = 0;
  std::optional<size_t> expected_nodes;  // the pass's size, when known
};

// "<label>: N nodes read[ (P%)], R nodes/s, W written[, ETA T]". Pure.
std::string formatProgressLine(std::string_view label, const ProgressSnapshot& snapshot);
// "45s", "3m05s", "2h07m". Pure.
std::string formatEta(double seconds);

class ProgressReporter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    bool terminal = false;
    std::FILE* out = stderr;                       // where the terminal line goes
    std::function<Clock::time_point()> now = Clock::now;
  };
  // Terminal or not from isatty(stderr).
  explicit ProgressReporter(std::string label);
  ProgressReporter(std::string label, Options options);
  ~ProgressReporter();  // finish()
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // Installs the progress callback (and how often the reconcile calls it).
  void attach(reconcile::ReconcileOptions& options);
  // The number of nodes the pass will read, when the caller knows it.
  void expect(size_t nodes) { expected_ = nodes; }
  void update(size_t nodes_read, size_t writes);
  // Clears the terminal line (once); later updates draw again.
  void finish();

  static constexpr auto kRedrawEvery = std::chrono::milliseconds(250);
  static constexpr auto kLogEvery = std::chrono::seconds(10);

 private:
  void draw(const std::string& line);

  std::string label_;
  Options options_;
  Clock::time_point start_;        // of this pass
  Clock::time_point last_update_;  // the last update() call
  std::optional<Clock::time_point> last_shown_;
  size_t last_nodes_ = 0;
  std::optional<size_t> expected_;
  size_t drawn_width_ = 0;  // characters of the line on screen; 0: none
};

}  // namespace zks::cli
