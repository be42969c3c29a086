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

TEST(PlanNode, AclPolicies) {
  DesiredNode want = desired("x");
  want.acl = {zk::Acl{zk::perm::kRead, "digest", "u:abc"}};
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
  want.acl = {zk::Acl{1, "world", "anyone"}, zk::Acl{31, "digest", "u:abc"}};
  have.acl = zk::AclList{zk::Acl{31, "digest", "u:abc"}, zk::Acl{1, "world", "anyone"}};
  EXPECT_TRUE(planNode(want, have, copy).empty());
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
