// `zkstandby diff` and `sync` against two real ZooKeeper servers, checked by
// an independent reader (kazoo): the backup must equal map(primary).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "bench/zms_tree.h"
#include "cli_harness.h"
#include "zms_oracle.h"
#include "support/zk_server.h"
#include "support/zk_session.h"
#include "zk/blocking.h"

namespace zks::testing {
namespace {

const std::string kReplicator = "zks:replicator-secret";
const std::string kApp = "app:app-secret";
const std::string kSuper = "super:super-secret";
const std::string kOther = "otheruser:other-secret";

class SyncTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ZkServerOptions o;
    o.super_user = "super:super-secret";
    primary_ = new ZkServer(o);
    backup_ = new ZkServer(o);
    ASSERT_TRUE(primary_->start());
    ASSERT_TRUE(backup_->start());
  }
  static void TearDownTestSuite() {
    delete primary_;
    delete backup_;
  }

  void SetUp() override {
    // Each test starts from empty trees.
    for (auto* server : {primary_, backup_}) {
      auto c = client(server->connectString(), "super:super-secret");
      for (const auto& root : {"/zms", "/zkstandby"}) removeRecursive(*c, root);
    }
    tmp_ = std::make_unique<TempDir>();
    tmp_->write("mapping.yaml", bench::zmsMappingYaml(shape_));
    // Credentials files readable by their owner only (group- or
    // world-readable ones are refused).
    for (const auto& [file, credentials] : {std::pair<std::string, std::string>{"primary.digest", kReplicator},
                                            {"backup.digest", kReplicator},
                                            {"super.digest", kSuper}}) {
      ::chmod(tmp_->write(file, credentials + "\n").c_str(), 0600);
    }
  }

  static std::unique_ptr<zk::Client> client(const std::string& connect, const std::string& auth = kReplicator) {
    auto options = testClientOptions(connect);
    options.auth = {{"digest", auth}};
    auto c = connectClient(options);
    EXPECT_TRUE(c) << (c ? "" : c.error().describe());
    return std::move(*c);
  }

  static void removeRecursive(zk::Client& c, const std::string& path) {
    auto children = zk::getChildrenSync(c, path);
    for (const auto& child : children.children) removeRecursive(c, path + "/" + child);
    zk::removeSync(c, zk::DeleteOp{.path = path});
  }

  std::string writeConfig(const std::string& extra_sync = "", const std::string& primary_auth = "primary.digest",
                          const std::string& backup_auth = "backup.digest", const std::string& name = "zkstandby.yaml") {
    std::string y = "primary:\n  connect: \"" + primary_->connectString() +
                    "\"\n  connect_timeout_ms: 5000\n  auth:\n    - scheme: digest\n      credentials_file: " +
                    primary_auth + "\n"
                    "backup:\n  connect: \"" + backup_->connectString() +
                    "\"\n  connect_timeout_ms: 5000\n  auth:\n    - scheme: digest\n      credentials_file: " +
                    backup_auth + "\n"
                    "sync:\n  roots:\n    - source: /zms\n  exclude:\n    - /zms/topic/*/*\n    - /zms/consumergroup/*/*\n" +
                    extra_sync + "mapping:\n  files: [ mapping.yaml ]\nhttp:\n  listen: \"\"\n";
    return tmp_->write(name, y).string();
  }

  // The site state record on the backup, as JSON.
  nlohmann::json stateRecord() const {
    auto t = dumpTree(backup_->connectString(), "/zkstandby/state", {kReplicator});
    auto it = t.find("/zkstandby/state");
    return it == t.end() ? nlohmann::json() : nlohmann::json::parse(it->second.data, nullptr, false);
  }

  static std::map<std::string, DumpedNode> expectedBackup(const std::map<std::string, DumpedNode>& primary) {
    return expectedOtherSite(primary, "/zms", true);
  }

  static ZkServer* primary_;
  static ZkServer* backup_;
  bench::ZmsShape shape_;
  std::unique_ptr<TempDir> tmp_;
};

ZkServer* SyncTest::primary_ = nullptr;
ZkServer* SyncTest::backup_ = nullptr;

TEST_F(SyncTest, ReplicatesAZmsTreeExactlyAndASecondSyncWritesNothing) {
  auto p = client(primary_->connectString());
  ASSERT_TRUE(bench::writeZmsTree(*p, shape_));
  // Everything the replicator must carry besides the ZMS payloads.
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  zk::createRecursiveSync(*p, "/zms/extra");
  ASSERT_EQ(zk::createSync(*p, {.path = "/zms/extra/binary", .data = binary}).code, zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*p, {.path = "/zms/extra/utf8", .data = "主题=订单创建\nowner=结算\n"}).code, zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*p, {.path = "/zms/extra/big", .data = std::string(1000 * 1000, 'b')}).code, zk::Code::kOk);
  std::string deep = "/zms/extra";
  for (int i = 1; i <= 13; ++i) deep += "/d" + std::to_string(i);  // /zms is level 1: 15 levels in all
  ASSERT_EQ(zk::createRecursiveSync(*p, deep, "bottom"), zk::Code::kOk);
  zk::createSync(*p, {.path = "/zms/extra/queue"});
  for (int i = 0; i < 5; ++i) {
    zk::createSync(*p, {.path = "/zms/extra/queue/item-", .data = std::to_string(i), .mode = zk::CreateMode::kPersistentSequential});
  }
  zk::removeSync(*p, {.path = "/zms/extra/queue/item-0000000001"});
  ASSERT_EQ(zk::createSync(*p, {.path = "/zms/extra/container", .mode = zk::CreateMode::kContainer}).code, zk::Code::kOk);
  zk::createSync(*p, {.path = "/zms/extra/container/child", .data = "c"});
  const zk::AclList secret_acl{{zk::perm::kAll, "digest", ZkServer::digestId(kReplicator)},
                               {zk::perm::kRead, "digest", ZkServer::digestId(kApp)}};
  ASSERT_EQ(zk::createSync(*p, {.path = "/zms/extra/secret", .data = "password=hunter2", .acl = secret_acl}).code,
            zk::Code::kOk);
  // A client of the primary site registers itself: never copied.
  ASSERT_EQ(zk::createSync(*p, {.path = "/zms/topic/topic_0000001/10.10.5.7||DEFAULT_PRODUCER||1.0.0||2020-06-01T10:15:30.123||48213",
                                .mode = zk::CreateMode::kEphemeral}).code,
            zk::Code::kOk);
  const auto config = writeConfig();

  // diff: differences, and nothing written anywhere.
  auto primary_before = dumpTree(primary_->connectString(), "/zms", {kReplicator});
  auto diff = zkstandby({"diff", "-c", config});
  EXPECT_EQ(diff.exit_code, 1) << diff.err;
  EXPECT_NE(diff.out.find("to create"), std::string::npos);
  EXPECT_NE(diff.out.find("clusterName: kafka_bj_"), std::string::npos) << "diff shows mapped fields";
  EXPECT_TRUE(dumpTree(backup_->connectString(), "/zms", {kReplicator}).empty());
  EXPECT_EQ(dumpTree(backup_->connectString(), "/zkstandby", {kReplicator}).size(), 0u);

  auto sync = zkstandby({"sync", "-c", config});
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  auto primary_now = dumpTree(primary_->connectString(), "/zms", {kReplicator});
  EXPECT_EQ(primary_now.size(), primary_before.size());
  auto backup_after = dumpTree(backup_->connectString(), "/zms", {kReplicator});
  expectSameContent(expectedBackup(primary_now), backup_after);
  ASSERT_TRUE(backup_after.count("/zms/cluster/kafka_sh_01"));
  EXPECT_NE(backup_after["/zms/cluster/kafka_sh_01"].data.find("bootAddr=10.50."), std::string::npos);

  // The standby site's own client registers; a converged pair then gives zero writes.
  auto b = client(backup_->connectString());
  ASSERT_EQ(zk::createSync(*b, {.path = "/zms/topic/topic_0000001/10.50.5.7||DEFAULT_CONSUMER||1.0.0||x||1",
                                .mode = zk::CreateMode::kEphemeral}).code,
            zk::Code::kOk);
  auto converged = dumpTree(backup_->connectString(), "/zms", {kReplicator});
  auto again = zkstandby({"sync", "-c", config});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  auto after_second = dumpTree(backup_->connectString(), "/zms", {kReplicator});
  ASSERT_EQ(after_second.size(), converged.size());
  for (const auto& [path, node] : converged) {
    EXPECT_EQ(after_second[path].mzxid, node.mzxid) << path;
    EXPECT_EQ(after_second[path].cversion, node.cversion) << path;
  }

  auto clean = zkstandby({"diff", "-c", config});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  auto after_diff = dumpTree(backup_->connectString(), "/zms", {kReplicator});
  for (const auto& [path, node] : converged) EXPECT_EQ(after_diff[path].mzxid, node.mzxid) << path;
}

TEST_F(SyncTest, DeleteGuardTripsAndThenPassesWithTheFlag) {
  auto p = client(primary_->connectString());
  ASSERT_TRUE(bench::writeZmsTree(*p, shape_));
  const auto config = writeConfig();
  ASSERT_EQ(zkstandby({"sync", "-c", config}).exit_code, 0);
  const auto before = dumpTree(backup_->connectString(), "/zms", {kReplicator});

  for (const auto& parent : {"/zms/topic", "/zms/consumergroup"}) removeRecursive(*p, parent);
  auto tripped = zkstandby({"sync", "-c", config});
  EXPECT_EQ(tripped.exit_code, 1);
  EXPECT_NE(tripped.out.find("delete guard"), std::string::npos) << tripped.out;
  auto unchanged = dumpTree(backup_->connectString(), "/zms", {kReplicator});
  EXPECT_EQ(unchanged.size(), before.size());

  auto allowed = zkstandby({"sync", "-c", config, "--allow-mass-delete"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out << allowed.err;
  expectSameContent(expectedBackup(dumpTree(primary_->connectString(), "/zms", {kReplicator})),
                    dumpTree(backup_->connectString(), "/zms", {kReplicator}));
}

// Issue 12 item 5: a node that cannot be replicated is reported and the
// rest converges: sync exits 4 ("converged except reported nodes"), lists
// it, and records that result; diff exits 4 while the reported node is the
// only difference, 1 as soon as there is another.
TEST_F(SyncTest, AnUnmappedValueSkipsThatNodeOnly) {
  auto p = client(primary_->connectString());
  ASSERT_TRUE(bench::writeZmsTree(*p, shape_));
  ASSERT_EQ(zk::createSync(*p, {.path = "/zms/topic/orphan_topic", .data = "clusterName=kafka_xx_99\ntype=topic\n"}).code,
            zk::Code::kOk);
  const auto config = writeConfig();
  auto sync = zkstandby({"sync", "-c", config});
  EXPECT_EQ(sync.exit_code, 4) << sync.out << sync.err;
  EXPECT_NE(sync.err.find("/zms/topic/orphan_topic"), std::string::npos) << sync.err;
  EXPECT_NE(sync.out.find("converged except reported nodes"), std::string::npos) << sync.out;
  auto backup = dumpTree(backup_->connectString(), "/zms", {kReplicator});
  EXPECT_FALSE(backup.count("/zms/topic/orphan_topic"));
  auto want = expectedBackup(dumpTree(primary_->connectString(), "/zms", {kReplicator}));
  want.erase("/zms/topic/orphan_topic");
  expectSameContent(want, backup);
  const auto record = stateRecord();
  EXPECT_EQ(record.value("last_full_reconcile_result", ""), "converged_except_reported") << record.dump();
  EXPECT_EQ(record.value("reported_nodes", 0), 1) << record.dump();
  EXPECT_GT(record.value("last_full_sync_ms", 0LL), 0) << record.dump();
  EXPECT_GT(record.value("last_applied_zxid", 0LL), 0) << record.dump();

  auto only_reported = zkstandby({"diff", "-c", config});
  EXPECT_EQ(only_reported.exit_code, 4) << only_reported.out << only_reported.err;
  EXPECT_NE(only_reported.out.find("/zms/topic/orphan_topic"), std::string::npos) << only_reported.out;

  ASSERT_EQ(zk::setSync(*p, {.path = "/zms/topic/topic_0000001", .data = "clusterName=kafka_bj_01\nchanged=1\n"}).code,
            zk::Code::kOk);
  auto more = zkstandby({"diff", "-c", config});
  EXPECT_EQ(more.exit_code, 1) << more.out << more.err;
  EXPECT_EQ(zkstandby({"sync", "-c", config}).exit_code, 4);
  EXPECT_EQ(zkstandby({"diff", "-c", config}).exit_code, 4);
}

// Issue 12 item 7: without ADMIN on a primary node, ZooKeeper shows its
// digest ids redacted ("otheruser:x", CVE-2019-0201). Such an id is never
// written: the node's data is, its ACL is reported (sync and diff exit 4).
// With a super identity on both sites the hash is read and copied exactly.
TEST_F(SyncTest, ARedactedDigestIdIsReportedAndNeverWrittenAndSuperCopiesTheHash) {
  auto root = client(primary_->connectString(), kSuper);
  ASSERT_EQ(zk::createRecursiveSync(*root, "/zms/extra"), zk::Code::kOk);
  const zk::AclList theirs{{zk::perm::kAll, "digest", ZkServer::digestId(kOther)},
                           {zk::perm::kRead, "world", "anyone"}};
  ASSERT_EQ(zk::createSync(*root, {.path = "/zms/extra/theirs", .data = "payload", .acl = theirs}).code,
            zk::Code::kOk);
  const auto config = writeConfig();
  auto sync = zkstandby({"sync", "-c", config});
  EXPECT_EQ(sync.exit_code, 4) << sync.out << sync.err;
  EXPECT_NE(sync.err.find("/zms/extra/theirs"), std::string::npos) << sync.err;
  auto backup = dumpTree(backup_->connectString(), "/zms", {kSuper});
  ASSERT_TRUE(backup.count("/zms/extra/theirs")) << "the node's data must still be replicated";
  EXPECT_EQ(backup["/zms/extra/theirs"].data, "payload");
  for (const auto& entry : backup["/zms/extra/theirs"].acl) {
    EXPECT_EQ(entry.find("otheruser:x"), std::string::npos) << "a redacted digest id was written: " << entry;
  }
  auto diff = zkstandby({"diff", "-c", config});
  EXPECT_EQ(diff.exit_code, 4) << diff.out << diff.err;

  const auto as_super = writeConfig("", "super.digest", "super.digest", "super.yaml");
  auto healed = zkstandby({"sync", "-c", as_super});
  EXPECT_EQ(healed.exit_code, 0) << healed.out << healed.err;
  backup = dumpTree(backup_->connectString(), "/zms", {kSuper});
  const auto primary = dumpTree(primary_->connectString(), "/zms", {kSuper});
  EXPECT_EQ(backup["/zms/extra/theirs"].acl, primary.at("/zms/extra/theirs").acl) << "the hash was not copied exactly";
}

TEST_F(SyncTest, AnUnreachableSiteIsAOneLineErrorWithinTheConnectTimeout) {
  std::string y = "primary:\n  connect: \"127.0.0.1:1\"\n  connect_timeout_ms: 1000\n"
                  "backup:\n  connect: \"" + backup_->connectString() + "\"\n  connect_timeout_ms: 1000\n"
                  "sync:\n  roots:\n    - source: /zms\nmapping:\n  files: [ mapping.yaml ]\nhttp:\n  listen: \"\"\n";
  const auto config = tmp_->write("unreachable.yaml", y).string();
  for (const char* cmd : {"diff", "sync"}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = zkstandby({cmd, "-c", config}, std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 2) << cmd;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << cmd;
    EXPECT_NE(r.err.find("primary"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace zks::testing
