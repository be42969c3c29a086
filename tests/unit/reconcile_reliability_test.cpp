// The reconciler on failover day (issue 12): ACL reads that fail, ACLs the
// primary redacted, `acls: keep-backup` creates, and writes the backup
// refuses for good. In memory (FakeServer enforces ACLs and redacts digest
// ids for clients without ADMIN, as a 3.8 server does), with FaultClient for
// failed reads.

#include <gtest/gtest.h>

#include <algorithm>

#include "reconcile/reconciler.h"
#include "testdoubles/fake_client.h"
#include "testdoubles/fault_client.h"

namespace zks::reconcile {
namespace {

using zk::Acl;
using zk::AclList;
using zk::FakeClient;
using zk::FakeServer;
namespace perm = zk::perm;

const std::string kReplicator = "zks:replicator-secret";
const std::string kOther = "otheruser:other-secret";
const std::string kSuper = "super:super-secret";

class ReconcileReliabilityTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeServer> primary_server = std::make_shared<FakeServer>();
  std::shared_ptr<FakeServer> backup_server = std::make_shared<FakeServer>();

  static zk::FakeClientOptions as(const std::string& credentials) {
    zk::FakeClientOptions o;
    if (!credentials.empty()) o.auth = {{"digest", credentials}};
    return o;
  }

  ReconcileOptions options() {
    ReconcileOptions o;
    o.roots = {{"/zms", "/zms"}};
    o.max_delete_fraction = 1.0;
    return o;
  }

  ReconcileReport pass(zk::Client& primary, zk::Client& backup, ReconcileOptions o) {
    EventLoop loop;
    Reconciler r(loop, primary, backup, std::move(o));
    r.start();
    EXPECT_TRUE(loop.runUntil([&] { return r.done(); }, EventLoop::Clock::now() + std::chrono::seconds(20)));
    return r.report();
  }

  static bool hasAclId(const AclList& acl, const std::string& id) {
    return std::any_of(acl.begin(), acl.end(), [&](const Acl& a) { return a.id == id; });
  }
  static AclList sorted(AclList acl) {
    std::sort(acl.begin(), acl.end());
    return acl;
  }
};

// Issue 12 item 6: a getACL that fails after its getData succeeded used to
// leave an empty list, which became world:anyone:cdrwa on the backup.
TEST_F(ReconcileReliabilityTest, AFailedPrimaryAclReadNeverOpensTheBackupNode) {
  const AclList secret{{perm::kAll, "digest", zk::digestAclId(kReplicator)},
                       {perm::kRead, "digest", zk::digestAclId("app:app-secret")}};
  primary_server->createRecursiveDirect("/zms");
  backup_server->createRecursiveDirect("/zms");
  primary_server->createDirect({.path = "/zms/secret", .data = "v2", .acl = secret});
  backup_server->createDirect({.path = "/zms/secret", .data = "v1", .acl = secret});
  primary_server->createDirect({.path = "/zms/fresh", .data = "new", .acl = secret});

  FakeClient primary_fake(primary_server, as(kReplicator));
  FakeClient backup(backup_server, as(kReplicator));
  zk::FaultClient primary(primary_fake);
  zk::FaultRule rule;
  rule.ops = zk::op_mask::bit(zk::OpKind::kGetAcl);
  rule.predicate = [](zk::OpKind, const std::string& p) { return p == "/zms/secret" || p == "/zms/fresh"; };
  const size_t id = primary.addRule(rule);

  auto broken = pass(primary, backup, options());
  EXPECT_FALSE(broken.converged());
  EXPECT_TRUE(broken.error.has_value()) << "a failed ACL read is a failed read";
  EXPECT_EQ(sorted(backup_server->node("/zms/secret")->acl), sorted(secret)) << "the protected ACL was downgraded";
  if (auto fresh = backup_server->node("/zms/fresh")) {
    EXPECT_EQ(sorted(fresh->acl), sorted(secret)) << "a node was created without its ACL";
  }

  primary.removeRule(id);
  auto healed = pass(primary, backup, options());
  EXPECT_TRUE(healed.converged());
  EXPECT_EQ(backup_server->node("/zms/secret")->data, "v2");
  ASSERT_TRUE(backup_server->node("/zms/fresh"));
  EXPECT_EQ(sorted(backup_server->node("/zms/fresh")->acl), sorted(secret));
}

// Issue 12 item 7: without ADMIN on the primary node, ZooKeeper answers
// getACL with "otheruser:x" (CVE-2019-0201). That id is never written; the
// node's data still is, and its ACL is reported.
TEST_F(ReconcileReliabilityTest, ARedactedDigestIdIsNeverWrittenButTheDataIs) {
  const AclList theirs{{perm::kAll, "digest", zk::digestAclId(kOther)}, {perm::kRead, "world", "anyone"}};
  // The replicator is super on the backup (it may write any node there).
  zk::FakeServerOptions backup_options;
  backup_options.super_digest = zk::digestAclId(kSuper);
  backup_server = std::make_shared<FakeServer>(backup_options);
  primary_server->createRecursiveDirect("/zms");
  primary_server->createDirect({.path = "/zms/theirs", .data = "payload", .acl = theirs});
  // An older copy made when the replicator still had ADMIN: the real hash.
  primary_server->createDirect({.path = "/zms/kept", .data = "new", .acl = theirs});
  backup_server->createRecursiveDirect("/zms");
  backup_server->createDirect({.path = "/zms/kept", .data = "old", .acl = theirs});

  FakeClient primary(primary_server);  // no ADMIN: digest ids come back redacted
  FakeClient backup(backup_server, as(kSuper));
  auto report = pass(primary, backup, options());

  ASSERT_TRUE(backup_server->node("/zms/theirs")) << "the node's data must still be replicated";
  EXPECT_EQ(backup_server->node("/zms/theirs")->data, "payload");
  EXPECT_FALSE(hasAclId(backup_server->node("/zms/theirs")->acl, "otheruser:x"));
  EXPECT_EQ(backup_server->node("/zms/kept")->data, "new");
  EXPECT_EQ(sorted(backup_server->node("/zms/kept")->acl), sorted(theirs)) << "the real hash was overwritten";
  EXPECT_FALSE(report.converged());
  size_t reported = 0;
  for (const auto& c : report.changes) reported += c.path == "/zms/theirs" || c.path == "/zms/kept";
  EXPECT_GE(reported, 2u) << "both redacted ACLs are reported";
}

// With ADMIN (here: the replicator's identity holds every permission) the
// hash is read and copied exactly.
TEST_F(ReconcileReliabilityTest, WithAdminTheDigestHashIsCopiedExactly) {
  const AclList both{{perm::kAll, "digest", zk::digestAclId(kReplicator)},
                     {perm::kRead, "digest", zk::digestAclId(kOther)}};
  primary_server->createRecursiveDirect("/zms");
  primary_server->createDirect({.path = "/zms/shared", .data = "x", .acl = both});
  FakeClient primary(primary_server, as(kReplicator));
  FakeClient backup(backup_server, as(kReplicator));
  auto report = pass(primary, backup, options());
  EXPECT_TRUE(report.converged());
  ASSERT_TRUE(backup_server->node("/zms/shared"));
  EXPECT_EQ(sorted(backup_server->node("/zms/shared")->acl), sorted(both));
}

// Issue 12 item 10: `acls: keep-backup` never touches ACLs; a node the
// replicator creates takes its backup parent's ACL, not world:anyone.
TEST_F(ReconcileReliabilityTest, KeepBackupCreatesNodesWithTheirBackupParentsAcl) {
  const AclList site{{perm::kAll, "digest", zk::digestAclId(kReplicator)}, {perm::kRead, "world", "anyone"}};
  const AclList odd{{perm::kAll, "digest", zk::digestAclId(kReplicator)}};
  primary_server->createRecursiveDirect("/zms/a/b", "leaf");
  primary_server->createRecursiveDirect("/zms/old", "new");
  backup_server->createDirect({.path = "/zms", .acl = site});
  backup_server->createDirect({.path = "/zms/old", .data = "old", .acl = odd});
  FakeClient primary(primary_server);
  FakeClient backup(backup_server, as(kReplicator));
  auto o = options();
  o.policies.acls = plan::AclPolicy::kKeepBackup;
  auto report = pass(primary, backup, o);
  EXPECT_TRUE(report.converged());
  ASSERT_TRUE(backup_server->node("/zms/a/b"));
  EXPECT_EQ(sorted(backup_server->node("/zms/a")->acl), sorted(site));
  EXPECT_EQ(sorted(backup_server->node("/zms/a/b")->acl), sorted(site));
  EXPECT_EQ(backup_server->node("/zms/old")->data, "new");
  EXPECT_EQ(sorted(backup_server->node("/zms/old")->acl), sorted(odd)) << "an existing backup ACL was changed";
}

// Issue 12 item 8: a write the backup refuses for good (no WRITE permission)
// is reported, and is no reason for another pass.
TEST_F(ReconcileReliabilityTest, AWriteRefusedForGoodIsReportedAndNeedsNoOtherPass) {
  primary_server->createRecursiveDirect("/zms/locked", "primary");
  primary_server->createRecursiveDirect("/zms/free", "primary");
  backup_server->createRecursiveDirect("/zms");
  backup_server->createDirect({.path = "/zms/locked", .data = "standby", .acl = {{perm::kRead, "world", "anyone"}}});
  FakeClient primary(primary_server);
  FakeClient backup(backup_server);
  auto o = options();
  o.policies.acls = plan::AclPolicy::kOpen;
  auto report = pass(primary, backup, o);
  EXPECT_EQ(backup_server->node("/zms/free")->data, "primary");
  EXPECT_EQ(backup_server->node("/zms/locked")->data, "standby");
  EXPECT_FALSE(report.needsAnotherPass()) << "a refusal for good must not start pass after pass";
  bool listed = false;
  for (const auto& c : report.changes) listed |= c.path == "/zms/locked";
  EXPECT_TRUE(listed);
}

// A pass that trusts the index reports the nodes reported before and
// unchanged since, without writing them again: the result of a trusted full
// reconcile tells the same story as the pass that found them.
TEST_F(ReconcileReliabilityTest, ATrustedPassReportsParkedAndUnmappableNodesAgainWithoutWriting) {
  primary_server->createRecursiveDirect("/zms/locked", "primary");
  primary_server->createRecursiveDirect("/zms/bad", "x");
  backup_server->createRecursiveDirect("/zms");
  backup_server->createDirect({.path = "/zms/locked", .data = "standby", .acl = {{perm::kRead, "world", "anyone"}}});
  FakeClient primary(primary_server);
  FakeClient backup(backup_server);
  NodeIndex index;
  auto o = options();
  o.policies.acls = plan::AclPolicy::kOpen;
  o.index = &index;
  o.mapper = [](const std::string& path, const std::string& data) {
    MappedNode m{.path = path, .data = data};
    if (path == "/zms/bad") m.failure = "value not in table";
    return m;
  };
  auto first = pass(primary, backup, o);
  EXPECT_EQ(first.result(), ReconcileResult::kConvergedExceptReported);
  EXPECT_EQ(first.reportedNodes(), 2u);
  EXPECT_EQ(index.parked(), 1u);

  backup_server->resetCounters();
  o.trust_index = true;
  auto second = pass(primary, backup, o);
  EXPECT_EQ(second.result(), ReconcileResult::kConvergedExceptReported);
  EXPECT_EQ(second.reportedNodes(), 2u);
  EXPECT_EQ(second.mapping_failures, 1u);
  EXPECT_GE(second.parked, 1u);
  EXPECT_EQ(backup_server->counters().write_requests, 0u) << "a parked node was written again";

  // The primary node changes: it is tried again (and parked again).
  primary_server->setDirect("/zms/locked", "primary v2");
  auto third = pass(primary, backup, o);
  EXPECT_GT(backup_server->counters().write_requests, 0u);
  EXPECT_EQ(third.reportedNodes(), 2u);
}

}  // namespace
}  // namespace zks::reconcile
