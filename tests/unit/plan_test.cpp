#include <gtest/gtest.h>

#include "plan/delete_guard.h"
#include "plan/node_plan.h"

namespace zks::plan {
namespace {

zk::Stat statWithOwner(int64_t owner) {
  zk::Stat s;
  s.ephemeral_owner = owner;
  s.version = 4;
  s.aversion = 1;
  return s;
}

DesiredNode desired(std::string data) {
  return DesiredNode{.source_path = "/p/a", .path = "/b/a", .data = std::move(data), .stat = {}, .acl = zk::openAcl()};
}

BackupNode backup(std::string data, int64_t owner = 0) {
  return BackupNode{.path = "/b/a", .data = std::move(data), .stat = statWithOwner(owner), .acl = zk::openAcl()};
}

TEST(PlanNode, DecidesByPresenceAndBytes) {
  Policies p;
  struct Case {
    const char* name;
    std::optional<DesiredNode> want;
    std::optional<BackupNode> have;
    std::vector<ChangeKind> kinds;
  };
  const std::vector<Case> cases = {
      {"missing on backup", desired("x"), std::nullopt, {ChangeKind::kCreate}},
      {"equal bytes", desired("x"), backup("x"), {}},
      {"different bytes", desired("x"), backup("y"), {ChangeKind::kUpdate}},
      {"orphan", std::nullopt, backup("y"), {ChangeKind::kDelete}},
      {"standby ephemeral orphan", std::nullopt, backup("", 0x1234), {}},
      {"standby ephemeral holds the path", desired("x"), backup("", 0x1234), {ChangeKind::kConflict}},
  };
  for (const auto& c : cases) {
    auto changes = planNode(c.want, c.have, p);
    std::vector<ChangeKind> kinds;
    for (const auto& ch : changes) kinds.push_back(ch.kind);
    EXPECT_EQ(kinds, c.kinds) << c.name;
  }
}

TEST(PlanNode, UpdateAndDeleteCarryTheBackupVersionRead) {
  Policies p;
  auto update = planNode(desired("new"), backup("old"), p);
  ASSERT_EQ(update.size(), 1u);
  EXPECT_EQ(update[0].expected_version, 4);
  EXPECT_EQ(update[0].before, "old");
  EXPECT_EQ(update[0].after, "new");
  auto del = planNode(std::nullopt, backup("old"), p);
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].expected_version, 4);
}

TEST(PlanNode, DeletesKeepLeavesOrphans) {
  Policies p;
  p.deletes = DeletePolicy::kKeep;
  EXPECT_TRUE(planNode(std::nullopt, backup("old"), p).empty());
}

// A digest id as a server shows it to a client with ADMIN: user:base64(sha1).
const std::string kU = "u:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=";

TEST(PlanNode, AclPolicies) {
  DesiredNode want = desired("x");
  want.acl = {zk::Acl{zk::perm::kRead, "digest", kU}};
  BackupNode have = backup("x");

  Policies copy;
  auto changes = planNode(want, have, copy);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, ChangeKind::kSetAcl);
  EXPECT_EQ(changes[0].acl, want.acl);
  EXPECT_EQ(changes[0].expected_version, 1);

  Policies open{.acls = AclPolicy::kOpen};
  EXPECT_TRUE(planNode(want, have, open).empty());

  Policies keep{.acls = AclPolicy::kKeepBackup};
  have.acl = want.acl;
  EXPECT_TRUE(planNode(desired("x"), have, keep).empty());

  // ACLs compare as sets.
  want.acl = {zk::Acl{1, "world", "anyone"}, zk::Acl{31, "digest", kU}};
  have.acl = zk::AclList{zk::Acl{31, "digest", kU}, zk::Acl{1, "world", "anyone"}};
  EXPECT_TRUE(planNode(want, have, copy).empty());
}

TEST(PlanNode, RedactedDigestIdsAreRecognised) {
  EXPECT_FALSE(isRedactedDigest({31, "digest", kU}));
  EXPECT_FALSE(isRedactedDigest({31, "world", "anyone"}));
  EXPECT_FALSE(isRedactedDigest({31, "ip", "10.0.0.0/8"}));
  for (const char* id : {"otheruser:x", "u:", ":tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=", "u:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkYx",
                         "u:tpUq/4Pn5A64fVZyQ0gOJ8ZWqk=", "u:tpUq/4Pn5A64fVZyQ0gOJ8ZW*kY=", "u"}) {
    EXPECT_TRUE(isRedactedDigest({31, "digest", id})) << id;
  }
}

// Issue 12 items 6 and 7: an ACL that was not read (empty) or that holds
// ids the primary redacted is never written, and never turned into an
// open one.
TEST(PlanNode, AnUnknownOrRedactedAclIsNeverWrittenNorOpened) {
  Policies copy;
  DesiredNode unknown = desired("x");
  unknown.acl.clear();
  BackupNode have = backup("x");
  have.acl = zk::AclList{zk::Acl{31, "digest", kU}};
  EXPECT_TRUE(planNode(unknown, have, copy).empty()) << "an ACL not read must not replace the backup's";
  auto create = planNode(unknown, std::nullopt, copy);
  ASSERT_EQ(create.size(), 1u);
  EXPECT_NE(create[0].kind, ChangeKind::kCreate) << "no create with a guessed ACL";
  EXPECT_TRUE(create[0].reported);

  DesiredNode redacted = desired("y");
  redacted.acl = {zk::Acl{31, "digest", "otheruser:x"}, zk::Acl{zk::perm::kRead, "world", "anyone"}};
  auto update = planNode(redacted, have, copy);
  ASSERT_EQ(update.size(), 2u);
  EXPECT_EQ(update[0].kind, ChangeKind::kUpdate) << "the data still goes";
  EXPECT_EQ(update[1].kind, ChangeKind::kSkipped);
  EXPECT_TRUE(update[1].reported);
  auto created = planNode(redacted, std::nullopt, copy);
  ASSERT_EQ(created.size(), 2u);
  EXPECT_EQ(created[0].kind, ChangeKind::kCreate);
  EXPECT_EQ(created[0].acl, (zk::AclList{zk::Acl{zk::perm::kRead, "world", "anyone"}})) << "only what can be copied";
  EXPECT_TRUE(created[1].reported);

  // Nothing copyable is left: the node takes its backup parent's ACL.
  redacted.acl = {zk::Acl{31, "digest", "otheruser:x"}};
  EXPECT_TRUE(needsParentAcl(redacted, copy));
  redacted.parent_acl = zk::AclList{zk::Acl{31, "digest", kU}};
  created = planNode(redacted, std::nullopt, copy);
  ASSERT_EQ(created.size(), 2u);
  EXPECT_EQ(created[0].acl, *redacted.parent_acl);
}

// Issue 12 item 10: keep-backup never changes an ACL and creates with the
// backup parent's ACL, never world-open.
TEST(PlanNode, KeepBackupCreatesWithTheParentsAcl) {
  Policies keep{.acls = AclPolicy::kKeepBackup};
  DesiredNode want = desired("x");
  EXPECT_TRUE(needsParentAcl(want, keep));
  auto without = planNode(want, std::nullopt, keep);
  ASSERT_EQ(without.size(), 1u);
  EXPECT_NE(without[0].kind, ChangeKind::kCreate);
  want.parent_acl = zk::AclList{zk::Acl{31, "digest", kU}, zk::Acl{1, "world", "anyone"}};
  auto with = planNode(want, std::nullopt, keep);
  ASSERT_EQ(with.size(), 1u);
  EXPECT_EQ(with[0].kind, ChangeKind::kCreate);
  EXPECT_EQ(with[0].acl, *want.parent_acl);
}

TEST(PlanNode, EphemeralPrimaryNodesFollowThePolicy) {
  zk::Stat eph = statWithOwner(0x55);
  EXPECT_FALSE(replicates(eph, Policies{}));
  EXPECT_TRUE(replicates(eph, Policies{.ephemerals = EphemeralPolicy::kPersist}));
  DesiredNode want = desired("x");
  want.stat = eph;
  auto changes = planNode(want, std::nullopt, Policies{.ephemerals = EphemeralPolicy::kPersist});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].mode, zk::CreateMode::kPersistent);
}

TEST(DeleteGuard, TripsOverTheFractionUnlessAllowed) {
  EXPECT_TRUE(checkDeleteGuard(0, 0, 0.25, false).allowed);
  EXPECT_TRUE(checkDeleteGuard(25, 100, 0.25, false).allowed);
  auto v = checkDeleteGuard(26, 100, 0.25, false);
  EXPECT_FALSE(v.allowed);
  EXPECT_NE(v.reason.find("26 of 100"), std::string::npos);
  EXPECT_TRUE(checkDeleteGuard(100, 100, 0.25, true).allowed);
}

}  // namespace
}  // namespace zks::plan
