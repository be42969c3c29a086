// The whole round trip of SPEC section 5 against real servers: replicate,
// fail over, write on the promoted site, fail back to a rebuilt primary
// through the inverse mapping, resume, and replicate forward again.
#include <gtest/gtest.h>

#include "bench/zms_tree.h"
#include "cli_harness.h"
#include "support/zk_server.h"
#include "support/zk_session.h"
#include "zk/blocking.h"
#include "zms_oracle.h"

namespace zks::testing {
namespace {

std::unique_ptr<zk::Client> client(const std::string& connect) {
  auto c = connectClient(testClientOptions(connect));
  EXPECT_TRUE(c) << (c ? "" : c.error().describe());
  return std::move(*c);
}

std::string config(const TempDir& dir, const std::string& name, const std::string& primary, const std::string& backup) {
  return dir
      .write(name, "primary:\n  connect: \"" + primary + "\"\n  connect_timeout_ms: 5000\n" +
                       "backup:\n  connect: \"" + backup + "\"\n  connect_timeout_ms: 5000\n" +
                       "sync:\n  roots:\n    - source: /zms\n  exclude:\n    - /zms/topic/*/*\n"
                       "    - /zms/consumergroup/*/*\nmapping:\n  files: [ mapping.yaml ]\nhttp:\n  listen: \"\"\n")
      .string();
}

TEST(Failback, RoundTripLeavesTheRebuiltPrimaryEqualToTheInverseMapOfTheActiveSite) {
  ZkServer primary, backup, rebuilt;
  ASSERT_TRUE(primary.start());
  ASSERT_TRUE(backup.start());
  ASSERT_TRUE(rebuilt.start());
  TempDir dir;
  bench::ZmsShape shape;
  dir.write("mapping.yaml", bench::zmsMappingYaml(shape));
  const auto forward = config(dir, "forward.yaml", primary.connectString(), backup.connectString());
  const auto after_loss = config(dir, "rebuilt.yaml", rebuilt.connectString(), backup.connectString());

  auto p = client(primary.connectString());
  ASSERT_TRUE(bench::writeZmsTree(*p, shape));
  ASSERT_EQ(zkstandby({"sync", "-c", forward}).exit_code, 0);

  // The primary site is lost; the standby site takes over and is written to.
  ASSERT_TRUE(primary.stop());
  auto failover = zkstandby({"failover", "-c", forward, "--yes", "--reason", "round trip test"});
  ASSERT_EQ(failover.exit_code, 0) << failover.out << failover.err;
  EXPECT_EQ(zkstandby({"sync", "-c", after_loss}).exit_code, 3) << "forward sync refused while active";
  auto b = client(backup.connectString());
  ASSERT_EQ(zk::setSync(*b, {.path = "/zms/topic/topic_0000003", .data = "clusterName=kafka_sh_02\ntype=topic\n"}).code,
            zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*b, {.path = "/zms/topic/created_after_failover",
                                .data = "clusterName=rmq_sh_01\ntype=topic\ngatedIps=10.50.1.12\n"}).code,
            zk::Code::kOk);
  ASSERT_EQ(zk::removeSync(*b, {.path = "/zms/consumergroup/group_0000004"}).code, zk::Code::kOk);
  // Locks taken and released on the active site under a renamed cluster:
  // nothing is left to copy, but the names were handed out.
  for (int i = 0; i < 5; ++i) {
    auto lock = zk::createSync(*b, {.path = "/zms/cluster/kafka_sh_01/lock-", .mode = zk::CreateMode::kPersistentSequential});
    ASSERT_EQ(lock.code, zk::Code::kOk);
    ASSERT_EQ(zk::removeSync(*b, {.path = lock.path}).code, zk::Code::kOk);
  }

  // Failback: the rebuilt (empty) primary receives inverse-map(active site).
  auto preview = zkstandby({"diff", "--reverse", "-c", after_loss});
  EXPECT_EQ(preview.exit_code, 1) << preview.err;
  auto reverse = zkstandby({"sync", "--reverse", "-c", after_loss});
  ASSERT_EQ(reverse.exit_code, 0) << reverse.out << reverse.err;
  auto active = dumpTree(backup.connectString(), "/zms");
  auto rebuilt_tree = dumpTree(rebuilt.connectString(), "/zms");
  expectSameContent(expectedOtherSite(active, "/zms", false), rebuilt_tree);
  ASSERT_TRUE(rebuilt_tree.count("/zms/topic/created_after_failover"));
  EXPECT_EQ(rebuilt_tree["/zms/topic/created_after_failover"].data,
            "clusterName=rmq_bj_01\ntype=topic\ngatedIps=10.10.1.12\n");
  EXPECT_FALSE(rebuilt_tree.count("/zms/consumergroup/group_0000004"));
  EXPECT_EQ(zkstandby({"diff", "--reverse", "-c", after_loss}).exit_code, 0);

  // Roles back to normal: forward replication runs again and finds nothing to do.
  auto resume = zkstandby({"resume", "-c", after_loss, "--yes", "--reason", "failback done"});
  ASSERT_EQ(resume.exit_code, 0) << resume.out << resume.err;
  const auto before = dumpTree(backup.connectString(), "/zms");
  auto again = zkstandby({"sync", "-c", after_loss});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  const auto after = dumpTree(backup.connectString(), "/zms");
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [path, node] : before) EXPECT_EQ(after.at(path).mzxid, node.mzxid) << path;

  // Resume carried the active site's counters over through the inverse
  // mapping: the primary's next lock under the same cluster is above them.
  auto r = client(rebuilt.connectString());
  auto lock = zk::createSync(*r, {.path = "/zms/cluster/kafka_bj_01/lock-", .mode = zk::CreateMode::kEphemeralSequential});
  ASSERT_EQ(lock.code, zk::Code::kOk);
  EXPECT_GE(lock.path, "/zms/cluster/kafka_bj_01/lock-0000000005");
}

}  // namespace
}  // namespace zks::testing
