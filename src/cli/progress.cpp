#include "cli/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>

namespace zks::cli {

std::string formatEta(double seconds) {
  const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

std::string formatProgressLine(std::string_view label, const ProgressSnapshot& p) {
  const double rate = p.elapsed_s > 0 ? static_cast<double>(p.nodes_read) / p.elapsed_s : 0;
  // A size that the pass has already gone past is no longer an estimate
  // worth showing (the tree grew): then neither share nor ETA.
  const bool sized = p.expected_nodes && *p.expected_nodes > p.nodes_read;
  std::string line = fmt::format("{}: {} nodes read", label, p.nodes_read);
  if (sized) line += fmt::format(" ({}%)", p.nodes_read * 100 / *p.expected_nodes);
  line += fmt::format(", {:.0f} nodes/s, {} written", rate, p.writes);
  if (sized && rate > 0) {
    line += ", ETA " + formatEta(static_cast<double>(*p.expected_nodes - p.nodes_read) / rate);
  }
  return line;
}

ProgressReporter::ProgressReporter(std::string label)
    : ProgressReporter(std::move(label), Options{.terminal = isatty(STDERR_FILENO) == 1}) {}

ProgressReporter::ProgressReporter(std::string label, Options options)
    : label_(std::move(label)), options_(std::move(options)), start_(options_.now()), last_update_(start_) {
  // Logs wait a first interval; a terminal line shows at the first update.
  if (!options_.terminal) last_shown_ = start_;
}

ProgressReporter::~ProgressReporter() { finish(); }

void ProgressReporter::attach(reconcile::ReconcileOptions& options) {
  // Cheap (a clock read): often enough on a terminal for a line that moves.
  options.progress_every = options_.terminal ? 1000 : 5000;
  options.progress = [this](size_t nodes, size_t writes) { update(nodes, writes); };
}

void ProgressReporter::update(size_t nodes_read, size_t writes) {
  const auto now = options_.now();
  if (nodes_read < last_nodes_) {
    // A new pass (sync re-reads after refused or unknown writes): the last
    // one's count sizes this one, and the rate starts over from about when
    // the last one stopped reading.
    if (!expected_) expected_ = last_nodes_;
    start_ = last_update_;
  }
  last_nodes_ = nodes_read;
  last_update_ = now;
  const auto every = options_.terminal ? std::chrono::duration_cast<Clock::duration>(kRedrawEvery)
                                       : std::chrono::duration_cast<Clock::duration>(kLogEvery);
  if (last_shown_ && now - *last_shown_ < every) return;
  last_shown_ = now;
  const ProgressSnapshot snapshot{.nodes_read = nodes_read,
                                  .writes = writes,
                                  .elapsed_s = std::chrono::duration<double>(now - start_).count(),
                                  .expected_nodes = expected_};
  if (options_.terminal) {
    draw(formatProgressLine(label_, snapshot));
  } else {
    // The log line keeps its established shape (log parsers may rely on it).
    const double rate = snapshot.elapsed_s > 0 ? static_cast<double>(nodes_read) / snapshot.elapsed_s : 0;
    spdlog::info("{}: {} nodes read, {} written, {:.0f} nodes/s, {:.0f} s elapsed", label_, nodes_read, writes, rate,
                 snapshot.elapsed_s);
  }
}

void ProgressReporter::draw(const std::string& line) {
  // Pad over the rest of a longer previous line instead of an escape
  // sequence, so a terminal without ANSI support shows it right too.
  const size_t pad = drawn_width_ > line.size() ? drawn_width_ - line.size() : 0;
  std::fprintf(options_.out, "\r%s%*s", line.c_str(), static_cast<int>(pad), "");
  std::fflush(options_.out);
  drawn_width_ = std::max(drawn_width_, line.size());
}

void ProgressReporter::finish() {
  if (drawn_width_ == 0) return;
  std::fprintf(options_.out, "\r%*s\r", static_cast<int>(drawn_width_), "");
  std::fflush(options_.out);
  drawn_width_ = 0;
  last_shown_.reset();
}

}  // namespace zks::cli
