// /readyz decisions (issue 12 item 4) and the board the HTTP threads read
// while the loop thread writes it (item 17: readiness() raced reload()).

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "daemon/readiness.h"

namespace zks::daemon {
namespace {

ReadinessState healthyLeader() {
  ReadinessState s;
  s.read_connected = s.write_connected = s.in_election = true;
  s.leader = s.first_done = true;
  s.last_result = "converged";
  return s;
}

TEST(Readiness, DecidesFromTheDaemonsState) {
  struct Case {
    const char* name;
    void (*change)(ReadinessState&);
    bool ready;
    const char* says;
  };
  const Case cases[] = {
      {"a converged leader", [](ReadinessState&) {}, true, "leader: replicating"},
      {"a follower",
       [](ReadinessState& s) {
         s.leader = false;
         s.standing_by = true;
       },
       true, "follower: standing by"},
      {"elected neither leader nor follower yet", [](ReadinessState& s) { s.leader = false; }, false,
       "not yet leader or follower"},
      {"converged except reported nodes",
       [](ReadinessState& s) {
         s.last_result = "converged_except_reported";
         s.reported_nodes = 3;
         s.unreadable_nodes = 1;
         s.parked_nodes = 1;
       },
       true, "ready, 3 reported nodes (1 unreadable on the primary, 1 parked"},
      {"fenced", [](ReadinessState& s) { s.fenced = true; }, false, "fenced"},
      {"backup unreachable", [](ReadinessState& s) { s.write_connected = false; }, false, "not connected to the backup"},
      {"primary unreachable", [](ReadinessState& s) { s.read_connected = false; }, false,
       "not connected to the primary"},
      {"a broken election",
       [](ReadinessState& s) {
         s.election_ok = false;
         s.election_error = "joining the leader election failed: no node";
       },
       false, "leader election failing (joining the leader election failed: no node)"},
      {"a follower whose election broke",
       [](ReadinessState& s) {
         s.leader = false;
         s.election_ok = false;
       },
       false, "leader election failing"},
      {"first pass running", [](ReadinessState& s) { s.first_done = false; }, false, "first full reconcile not done"},
      {"delete guard tripped",
       [](ReadinessState& s) {
         s.last_result = "not_converged";
         s.guard_tripped = true;
         s.not_converged_reason = "would delete 80 of 100";
       },
       false, "delete guard held back"},
      {"not converged",
       [](ReadinessState& s) {
         s.last_result = "not_converged";
         s.not_converged_reason = "read primary node failed: connection loss";
       },
       false, "did not converge (read primary node failed"},
  };
  for (const auto& c : cases) {
    ReadinessState s = healthyLeader();
    c.change(s);
    const auto r = judgeReadiness(s, "primary", "backup");
    EXPECT_EQ(r.ready, c.ready) << c.name << ": " << r.text;
    EXPECT_NE(r.text.find(c.says), std::string::npos) << c.name << ": " << r.text;
  }
}

// The HTTP threads judge while the loop thread updates (run under TSan).
TEST(Readiness, TheBoardIsReadAndWrittenFromDifferentThreads) {
  ReadinessBoard board("primary", "backup");
  std::atomic<bool> stop{false};
  std::atomic<size_t> judged{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!stop) {
        auto r = board.judge();
        EXPECT_FALSE(r.text.empty());
        ++judged;
      }
    });
  }
  for (int i = 0; i < 20000; ++i) {
    board.update([i](ReadinessState& s) {
      s = healthyLeader();
      s.reported_nodes = static_cast<size_t>(i % 7);
      s.not_converged_reason = std::string(static_cast<size_t>(i % 50), 'x');
      s.last_result = i % 2 ? "converged" : "not_converged";
    });
  }
  while (judged < 100) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_TRUE(board.judge().ready);
}

}  // namespace
}  // namespace zks::daemon
