// The progress line: its text, how often it is drawn on a terminal, that it
// is cleared at the end, that a second pass knows its size, and that nothing
// is drawn when stderr is not a terminal. A manual clock, a memory stream.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cli/progress.h"

namespace zks::cli {
namespace {

using namespace std::chrono_literals;

TEST(ProgressLine, WithoutASizeShowsNeitherShareNorEta) {
  EXPECT_EQ(formatProgressLine("sync", {.nodes_read = 5000, .writes = 120, .elapsed_s = 2.0}),
            "sync: 5000 nodes read, 2500 nodes/s, 120 written");
}

TEST(ProgressLine, WithASizeShowsShareAndEta) {
  // 30,000 of 100,000 at 1,000/s: 70 s to go.
  EXPECT_EQ(formatProgressLine("sync", {.nodes_read = 30000, .writes = 7, .elapsed_s = 30.0, .expected_nodes = 100000}),
            "sync: 30000 nodes read (30%), 1000 nodes/s, 7 written, ETA 1m10s");
}

TEST(ProgressLine, ASizeAlreadyPassedIsNotShown) {
  EXPECT_EQ(formatProgressLine("diff", {.nodes_read = 1200, .writes = 0, .elapsed_s = 1.0, .expected_nodes = 1000}),
            "diff: 1200 nodes read, 1200 nodes/s, 0 written");
}

TEST(ProgressLine, EtaUnits) {
  EXPECT_EQ(formatEta(0), "0s");
  EXPECT_EQ(formatEta(59.4), "59s");
  EXPECT_EQ(formatEta(185), "3m05s");
  EXPECT_EQ(formatEta(2 * 3600 + 7 * 60 + 30), "2h07m");
  EXPECT_EQ(formatEta(-3), "0s");
}

// A reporter writing to a memory stream with a clock the test moves.
struct Harness {
  explicit Harness(bool terminal) {
    out = open_memstream(&buffer, &size);
    reporter.emplace("sync", ProgressReporter::Options{.terminal = terminal, .out = out, .now = [this] { return now; }});
  }
  ~Harness() {
    reporter.reset();
    std::fclose(out);
    std::free(buffer);
  }
  std::string text() {
    std::fflush(out);
    return std::string(buffer, size);
  }
  ProgressReporter::Clock::time_point now{};
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = nullptr;
  std::optional<ProgressReporter> reporter;
};

TEST(ProgressReporter, DrawsAtOnceThenAtMostFourTimesASecondInPlace) {
  Harness h(true);
  h.now += 1s;
  h.reporter->update(1000, 0);
  EXPECT_EQ(h.text(), "\rsync: 1000 nodes read, 1000 nodes/s, 0 written");
  h.now += 100ms;  // too soon: not redrawn
  h.reporter->update(2000, 5);
  EXPECT_EQ(h.text(), "\rsync: 1000 nodes read, 1000 nodes/s, 0 written");
  h.now += 150ms;
  h.reporter->update(3000, 10);
  EXPECT_EQ(h.text(),
            "\rsync: 1000 nodes read, 1000 nodes/s, 0 written"
            "\rsync: 3000 nodes read, 2400 nodes/s, 10 written");
}

TEST(ProgressReporter, AShorterLineCoversTheLongerOneAndTheEndClearsIt) {
  Harness h(true);
  h.now += 1s;
  h.reporter->update(100000, 12345);  // "sync: 100000 nodes read, 100000 nodes/s, 12345 written" (55 chars)
  h.now = {};                          // a clock that went back: rate 0
  h.now += 10s;
  h.reporter->update(100000, 0);
  h.reporter->finish();
  const std::string first = "sync: 100000 nodes read, 100000 nodes/s, 12345 written";
  const std::string second = "sync: 100000 nodes read, 10000 nodes/s, 0 written";
  EXPECT_EQ(h.text(), "\r" + first + "\r" + second + std::string(first.size() - second.size(), ' ') + "\r" +
                          std::string(first.size(), ' ') + "\r");
  h.reporter->finish();  // once only
  EXPECT_EQ(h.text().size(), 1 + first.size() + 1 + first.size() + 1 + first.size() + 1);
}

TEST(ProgressReporter, ASecondPassIsSizedByTheFirst) {
  Harness h(true);
  h.now += 1s;
  h.reporter->update(40000, 0);  // first pass, 40,000 nodes
  h.now += 1s;
  h.reporter->update(1000, 0);  // second pass: starts again, 1,000 nodes in 1 s
  h.now += 1s;
  h.reporter->update(2000, 0);  // 2,000 in 2 s: 38,000 to go at 1,000/s
  const std::string text = h.text();
  EXPECT_NE(text.find("\rsync: 1000 nodes read (2%), 1000 nodes/s, 0 written, ETA 39s"), std::string::npos) << text;
  EXPECT_NE(text.find("\rsync: 2000 nodes read (5%), 1000 nodes/s, 0 written, ETA 38s"), std::string::npos) << text;
}

TEST(ProgressReporter, ACallerSizeGivesAnEtaOnTheFirstPass) {
  Harness h(true);
  h.reporter->expect(10000);
  h.now += 2s;
  h.reporter->update(5000, 0);
  EXPECT_EQ(h.text(), "\rsync: 5000 nodes read (50%), 2500 nodes/s, 0 written, ETA 2s");
}

TEST(ProgressReporter, NotATerminalDrawsNothing) {
  Harness h(false);
  for (int i = 1; i <= 30; ++i) {
    h.now += 1s;
    h.reporter->update(i * 1000, i);
  }
  h.reporter->finish();
  EXPECT_EQ(h.text(), "");  // a log line every 10 s instead, through spdlog
}

TEST(ProgressReporter, AttachSetsTheCallbackAndItsPace) {
  Harness terminal(true);
  reconcile::ReconcileOptions options;
  terminal.reporter->attach(options);
  ASSERT_TRUE(options.progress);
  EXPECT_EQ(options.progress_every, 1000u);
  terminal.now += 1s;
  options.progress(1000, 3);
  EXPECT_EQ(terminal.text(), "\rsync: 1000 nodes read, 1000 nodes/s, 3 written");

  Harness log(false);
  reconcile::ReconcileOptions log_options;
  log.reporter->attach(log_options);
  EXPECT_EQ(log_options.progress_every, 5000u);
}

}  // namespace
}  // namespace zks::cli
