// WatchLedger: the SetWatches request the C client would send after a lost
// connection (ZOOKEEPER-706), counted as the C client keeps its tables.

#include <gtest/gtest.h>

#include <future>

#include "daemon/watch_ledger.h"
#include "testdoubles/fake_client.h"

namespace zks::daemon {
namespace {

using namespace std::chrono_literals;

template <typename R, typename F>
R await(F&& issue) {
  std::promise<R> p;
  auto f = p.get_future();
  issue([&p](R r) { p.set_value(std::move(r)); });
  return f.get();
}

// A path in a table costs its 4-byte length and its bytes with the chroot.
size_t entry(const std::string& chroot, const std::string& path) { return 4 + chroot.size() + path.size(); }

TEST(WatchLedger, CountsTheTablesTheCClientKeepsWithTheirChroot) {
  auto server = std::make_shared<zk::FakeServer>();
  server->createRecursiveDirect("/a/b", "x");
  const std::string chroot = "/tenant";
  WatchLedger ledger(std::make_unique<zk::FakeClient>(server, zk::FakeClientOptions{.capabilities = {}}), chroot);
  std::atomic<int> events{0};
  ledger.setWatchListener([&](const zk::WatchEvent&) { ++events; });
  const size_t empty = ledger.setWatchesSize().bytes();
  EXPECT_EQ(empty, 4u + 8 + 8 + 12) << "frame length, header, relativeZxid, three empty vectors";

  await<zk::GetResult>([&](auto cb) { ledger.get("/a", true, cb); });              // data table
  await<zk::ChildrenResult>([&](auto cb) { ledger.getChildren("/a", true, cb); });  // child table
  await<zk::StatResult>([&](auto cb) { ledger.exists("/x", true, cb); });           // exist table (no node)
  await<zk::GetResult>([&](auto cb) { ledger.get("/nope", true, cb); });            // no node: no watch
  await<zk::GetResult>([&](auto cb) { ledger.get("/a/b", false, cb); });            // no watch asked
  EXPECT_EQ(ledger.setWatchesSize().paths, 3u);
  EXPECT_EQ(ledger.setWatchesSize().bytes(), empty + 2 * entry(chroot, "/a") + entry(chroot, "/x"));
  EXPECT_EQ(ledger.watchedPaths(), 2u) << "/a counts once";

  // Events remove what they fire, as the C client does.
  server->setDirect("/a", "y");  // data changed: the data watch of /a
  server->createDirect({.path = "/a/c"});  // children changed: the child watch of /a
  server->createDirect({.path = "/x"});  // created: the exist watch of /x
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (events < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(events, 3);
  EXPECT_EQ(ledger.setWatchesSize().paths, 0u);
  EXPECT_EQ(ledger.setWatchesSize().bytes(), empty);

  await<zk::GetResult>([&](auto cb) { ledger.get("/a", true, cb); });
  ASSERT_TRUE(ledger.reopen(5s));
  EXPECT_EQ(ledger.setWatchesSize().paths, 0u) << "a new session holds no watch";
  ledger.close();
}

// The band issue 11 found: around 20,000 nodes with short paths, the old
// check (512 KiB of indexed path bytes) saw room while the real request,
// with a data and a child watch per node and a length per path, passed the
// server's 1 MiB, and the C client reconnected forever.
TEST(WatchLedger, TheOldBudgetMissedRequestsOverTheServersLimit) {
  const size_t nodes = 20000, path_length = 25;
  EXPECT_LT(nodes * path_length, 512u * 1024) << "what the old check compared";
  SetWatchesSize size{.paths = 2 * nodes, .path_bytes = 2 * nodes * path_length};
  EXPECT_GT(size.bytes(), 1024u * 1024) << "what the server receives";
  EXPECT_GT(size.bytes(), kSetWatchesLimit);
}

TEST(WatchLedger, ChrootOfAConnectString) {
  EXPECT_EQ(chrootOf("h1:2181,h2:2181/zk/app"), "/zk/app");
  EXPECT_EQ(chrootOf("h1:2181"), "");
  EXPECT_EQ(chrootOf("h1:2181/"), "");
}

}  // namespace
}  // namespace zks::daemon
