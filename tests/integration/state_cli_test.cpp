// The operator-facing side of failover day, through the real `zkstandby`
// binary against real ZooKeeper servers: reverse-mode interlock, resume on
// the rebuilt primary, sequence counters nobody saved, who may write the
// replicator's records, what status shows, config and credentials checks,
// and what diff prints of secrets.
//
// ZKS_TEST_BINARY overrides the binary under test (to show that a test fails
// on an older build).

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_harness.h"
#include "state/counters.h"
#include "state/store.h"
#include "support/zk_server.h"
#include "support/zk_session.h"
#include "zk/blocking.h"

namespace zks::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSuper = "super:super-secret";
const std::string kReplicator = "zks:replicator-secret";
const std::string kOther = "otheruser:other-secret";
constexpr const char* kStatePath = "/zkstandby";

CommandResult run(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const char* override_bin = std::getenv("ZKS_TEST_BINARY");
  args.insert(args.begin(), override_bin != nullptr && *override_bin != '\0' ? override_bin : ZKSTANDBY_BIN);
  return runCommand(args, timeout);
}

size_t lines(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n + (!text.empty() && text.back() != '\n');
}

class StateCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ZkServerOptions o;
    o.super_user = kSuper;
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
    for (auto* server : {primary_, backup_}) {
      auto c = client(server->connectString(), kSuper);
      for (const char* root : {"/app", kStatePath}) removeRecursive(*c, root);
    }
    tmp_ = std::make_unique<TempDir>();
    secret("backup.digest", kReplicator);
    secret("primary.digest", kReplicator);
  }

  static std::unique_ptr<zk::Client> client(const std::string& connect, const std::string& auth = "") {
    auto options = testClientOptions(connect);
    if (!auth.empty()) options.auth = {{"digest", auth}};
    auto c = connectClient(options);
    EXPECT_TRUE(c) << (c ? "" : c.error().describe());
    return std::move(*c);
  }

  static void removeRecursive(zk::Client& c, const std::string& path) {
    for (const auto& child : zk::getChildrenSync(c, path).children) removeRecursive(c, path + "/" + child);
    zk::removeSync(c, zk::DeleteOp{.path = path});
  }

  fs::path secret(const std::string& name, const std::string& text) {
    auto path = tmp_->write(name, text + "\n");
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    return path;
  }

  struct ConfigOptions {
    bool backup_auth = true;
    bool primary_auth = false;
    std::string primary_connect;  // default: the primary server
    std::string sync_extra;
  };
  std::string config(const ConfigOptions& o) {
    std::string y = "primary:\n  connect: \"" + (o.primary_connect.empty() ? primary_->connectString() : o.primary_connect) +
                    "\"\n  connect_timeout_ms: 4000\n";
    if (o.primary_auth) y += "  auth:\n    - credentials_file: primary.digest\n";
    y += "backup:\n  connect: \"" + backup_->connectString() + "\"\n  connect_timeout_ms: 4000\n";
    if (o.backup_auth) y += "  auth:\n    - credentials_file: backup.digest\n";
    // log: warn keeps the client library's connection lines out of stderr,
    // so the tests can see that an error is one line.
    y += "sync:\n  roots:\n    - source: /app\n" + o.sync_extra + "state_path: " + kStatePath +
         "\nhttp:\n  listen: \"\"\nlog:\n  level: warn\n";
    return tmp_->write("zkstandby.yaml", y).string();
  }
  std::string config() { return config(ConfigOptions{}); }

  state::SiteState backupState() {
    auto c = client(backup_->connectString());
    auto stored = state::readState(*c, kStatePath);
    EXPECT_TRUE(stored.has_value());
    return stored ? stored->state : state::SiteState{};
  }

  static ZkServer* primary_;
  static ZkServer* backup_;
  std::unique_ptr<TempDir> tmp_;
};

ZkServer* StateCliTest::primary_ = nullptr;
ZkServer* StateCliTest::backup_ = nullptr;

// A reverse run by mistake while the backup is still a standby would
// overwrite and delete on the live primary.
TEST_F(StateCliTest, ReverseSyncAndDiffAreRefusedWhileTheBackupIsAStandby) {
  auto p = client(primary_->connectString());
  auto b = client(backup_->connectString(), kReplicator);
  ASSERT_EQ(zk::createRecursiveSync(*p, "/app/live/only-on-the-primary", "data"), zk::Code::kOk);
  ASSERT_EQ(zk::createRecursiveSync(*p, "/app/shared", "primary"), zk::Code::kOk);
  ASSERT_EQ(zk::createRecursiveSync(*b, "/app/shared", "backup"), zk::Code::kOk);
  const auto cfg = config();
  for (const char* command : {"sync", "diff"}) {
    auto r = run({command, "--reverse", "-c", cfg});
    EXPECT_EQ(r.exit_code, 2) << command << ": " << r.out << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("forward (primary -> backup) is still the direction"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("standby"), std::string::npos) << r.err;
  }
  EXPECT_EQ(zk::existsSync(*p, "/app/live/only-on-the-primary").code, zk::Code::kOk) << "the primary was written";
  EXPECT_EQ(zk::getSync(*p, "/app/shared").data, "primary") << "the primary was written";

  // Once the backup is active (failed over), failback may run.
  ASSERT_EQ(run({"failover", "-c", cfg, "--yes"}).exit_code, 0);
  auto preview = run({"diff", "--reverse", "-c", cfg});
  EXPECT_EQ(preview.exit_code, 1) << preview.err;
  auto reverse = run({"sync", "--reverse", "--allow-mass-delete", "-c", cfg});
  EXPECT_EQ(reverse.exit_code, 0) << reverse.out << reverse.err;
  EXPECT_EQ(zk::getSync(*p, "/app/shared").data, "backup");
  EXPECT_EQ(zk::existsSync(*p, "/app/live/only-on-the-primary").code, zk::Code::kNoNode);
}

// `resume` returns the roles to normal and so must stop two-way replication:
// a reverse writer still running gets its next batch refused.
TEST_F(StateCliTest, ResumeFencesAReverseWriterOnTheRebuiltPrimaryAndRaisesItsCounters) {
  const auto cfg = config();
  ASSERT_EQ(run({"failover", "-c", cfg, "--yes"}).exit_code, 0);
  auto b = client(backup_->connectString(), kReplicator);
  auto p = client(primary_->connectString(), kReplicator);
  // The active site handed out sequential names; failback copied what is left.
  ASSERT_EQ(zk::createRecursiveSync(*b, "/app/queue"), zk::Code::kOk);
  for (int i = 0; i < 30; ++i) {
    auto r = zk::createSync(*b, zk::CreateOp{.path = "/app/queue/item-", .mode = zk::CreateMode::kPersistentSequential});
    ASSERT_EQ(r.code, zk::Code::kOk);
    if (i < 29) {
      ASSERT_EQ(zk::removeSync(*b, zk::DeleteOp{r.path}).code, zk::Code::kOk);
    }
  }
  ASSERT_EQ(run({"sync", "--reverse", "-c", cfg}).exit_code, 0);
  ASSERT_EQ(zk::existsSync(*p, "/app/queue/item-0000000029").code, zk::Code::kOk);

  // A reverse writer (as `run --reverse` does) holds the primary's fence.
  auto writer = state::acquireFence(*p, kStatePath, "reverse:1", state::FenceMode::kUnchecked);
  ASSERT_TRUE(writer.has_value()) << writer.error().describe();
  ASSERT_EQ(zk::multiSync(*p, {state::fenceCheckOp(*writer), zk::CreateOp{.path = "/app/before"}}).code, zk::Code::kOk);

  auto resume = run({"resume", "-c", cfg, "--yes", "--reason", "dc1 rebuilt"});
  ASSERT_EQ(resume.exit_code, 0) << resume.out << resume.err;
  EXPECT_EQ(backupState().role, state::Role::kStandby);
  EXPECT_NE(resume.out.find("reverse writers"), std::string::npos) << resume.out;

  auto late = zk::multiSync(*p, {state::fenceCheckOp(*writer), zk::CreateOp{.path = "/app/after"}});
  EXPECT_EQ(late.code, zk::Code::kBadVersion);
  EXPECT_EQ(zk::existsSync(*p, "/app/after").code, zk::Code::kNoNode);
  // Sequential nodes created on the primary now stay above the active site's.
  auto next = zk::createSync(*p, zk::CreateOp{.path = "/app/queue/item-", .mode = zk::CreateMode::kPersistentSequential});
  ASSERT_EQ(next.code, zk::Code::kOk);
  EXPECT_GE(state::sequenceSuffix(next.path), 30);

  // Without a reverse writer, and run again: fine, nothing more changes.
  auto again = run({"resume", "-c", cfg, "--yes"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(backupState().epoch, 2);
}

TEST_F(StateCliTest, ResumeNeedsTheRebuiltPrimaryAndChangesNothingWithoutIt) {
  ASSERT_EQ(run({"failover", "-c", config(), "--yes"}).exit_code, 0);
  ConfigOptions o;
  o.primary_connect = "127.0.0.1:1";
  auto r = run({"resume", "-c", config(o), "--yes"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("primary"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing changed"), std::string::npos) << r.err;
  EXPECT_EQ(backupState().role, state::Role::kActive);
}

// The issue's case: a failover shortly after the first full pass, with no
// counters saved, raised nothing; a sequential create then hit NodeExists.
TEST_F(StateCliTest, FailoverRaisesCountersNobodySavedFromTheReplicatedNames) {
  auto b = client(backup_->connectString(), kReplicator);
  // Replicated by name: the backup's counter for /app/q is 1, and names go to 0000000001.
  ASSERT_EQ(zk::createRecursiveSync(*b, "/app/q/item-0000000001"), zk::Code::kOk);
  ASSERT_EQ(zk::createRecursiveSync(*b, "/app/deep/locks/lock-0000000250"), zk::Code::kOk);
  auto r = run({"failover", "-c", config(), "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("parents found by their children's names"), std::string::npos) << r.out;
  auto q = zk::createSync(*b, zk::CreateOp{.path = "/app/q/item-", .mode = zk::CreateMode::kPersistentSequential});
  ASSERT_EQ(q.code, zk::Code::kOk) << "a replicated name was handed out again";
  EXPECT_GT(state::sequenceSuffix(q.path), 1);
  auto lock = zk::createSync(*b, zk::CreateOp{.path = "/app/deep/locks/lock-", .mode = zk::CreateMode::kEphemeralSequential});
  ASSERT_EQ(lock.code, zk::Code::kOk);
  EXPECT_GT(state::sequenceSuffix(lock.path), 250);
}

// Any client of the standby ensemble could fake a failover (daemons exit 3
// and stay down), bump the fence or edit the counters.
TEST_F(StateCliTest, OnlyTheReplicatorsIdentityMayWriteItsRecords) {
  // An older version (or an unauthenticated run) left the layout world-open.
  {
    auto anyone = client(backup_->connectString());
    ASSERT_TRUE(state::ensureLayout(*anyone, kStatePath).has_value());
  }
  auto sync = run({"sync", "-c", config()});
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;

  auto anyone = client(backup_->connectString());
  const state::StatePaths paths(kStatePath);
  EXPECT_EQ(zk::setSync(*anyone, zk::SetOp{paths.state, R"({"role":"active","epoch":7})"}).code, zk::Code::kNoAuth);
  EXPECT_EQ(zk::setSync(*anyone, zk::SetOp{paths.fence, "mine"}).code, zk::Code::kNoAuth);
  EXPECT_EQ(zk::setSync(*anyone, zk::SetOp{paths.counters, "{}"}).code, zk::Code::kNoAuth);
  EXPECT_EQ(zk::createSync(*anyone, zk::CreateOp{.path = paths.history + "/failover-"}).code, zk::Code::kNoAuth);
  EXPECT_EQ(zk::createSync(*anyone, zk::CreateOp{.path = paths.leader + "/n_fake_", .mode = zk::CreateMode::kEphemeralSequential}).code,
            zk::Code::kNoAuth);
  auto replicator = client(backup_->connectString(), kReplicator);
  auto acl = zk::getAclSync(*replicator, paths.state);
  ASSERT_EQ(acl.code, zk::Code::kOk);
  EXPECT_EQ(acl.acl, (zk::AclList{{zk::perm::kAll, "digest", ZkServer::digestId(kReplicator)},
                                  {zk::perm::kRead, "world", "anyone"}}));

  // A failover run without the replicator's identity is refused; with it, it works.
  ConfigOptions no_auth;
  no_auth.backup_auth = false;
  auto refused = run({"failover", "-c", config(no_auth), "--yes"});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("not authorized"), std::string::npos) << refused.err;
  EXPECT_EQ(backupState().role, state::Role::kStandby);
  // Everyone may still read: status works without credentials.
  auto status = run({"status", "-c", config(no_auth)});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("writable only by"), std::string::npos) << status.out;
  EXPECT_EQ(run({"failover", "-c", config(), "--yes"}).exit_code, 0);
}

TEST_F(StateCliTest, StatusShowsWhoWroteTheStateWhenAndTheLastFullReconcile) {
  auto p = client(primary_->connectString());
  ASSERT_EQ(zk::createRecursiveSync(*p, "/app/a", "x"), zk::Code::kOk);
  ASSERT_EQ(run({"sync", "-c", config()}).exit_code, 0);
  auto js = run({"status", "-c", config(), "--format", "json"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  auto j = nlohmann::json::parse(js.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << js.out;
  EXPECT_NE(j["state_written_by"].get<std::string>().find("sync@"), std::string::npos) << js.out;
  EXPECT_GT(j["state_updated_ms"].get<int64_t>(), 0) << js.out;
  for (const char* key : {"last_full_reconcile_ms", "last_full_reconcile_result", "reported_nodes"}) {
    EXPECT_TRUE(j.contains(key)) << key << " missing: " << js.out;
  }
  auto text = run({"status", "-c", config()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("state written:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" ago) by sync@"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("last full reconcile:"), std::string::npos) << text.out;
}

// As ssh does with a private key.
TEST_F(StateCliTest, ACredentialsFileOthersMayReadIsRefused) {
  const auto cfg = config();
  fs::permissions(tmp_->path() / "backup.digest", fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  for (const auto& args : std::vector<std::vector<std::string>>{{"status", "-c", cfg}, {"failover", "-c", cfg, "--yes"}}) {
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.out << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("permissions 0604"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find((tmp_->path() / "backup.digest").string()), std::string::npos) << r.err;
  }
  EXPECT_EQ(backupState().role, state::Role::kStandby);
}

TEST_F(StateCliTest, ValidateRefusesRequestsOverOneMebibyteAndWarnsAboutOpenRecords) {
  ConfigOptions big;
  big.sync_extra = "  max_request_bytes: 4194304\n";
  const auto cfg = config(big);
  auto refused = run({"validate", "-c", cfg});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find(cfg + ":"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find(": sync.max_request_bytes must be at most 1048576"), std::string::npos) << refused.err;

  ConfigOptions open;
  open.backup_auth = false;
  auto warned = run({"validate", "-c", config(open)});
  EXPECT_EQ(warned.exit_code, 0) << warned.err;
  EXPECT_NE(warned.err.find("warning: backup.auth"), std::string::npos) << warned.err;
  EXPECT_NE(warned.err.find("fake a failover"), std::string::npos) << warned.err;

  auto quiet = run({"validate", "-c", config()});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("warning: backup.auth"), std::string::npos) << quiet.err;
  // acls: copy (the default) needs more than read access.
  EXPECT_NE(quiet.err.find("ADMIN"), std::string::npos) << quiet.err;
}

// Digest ids are unsalted SHA-1 of user:password, and Kafka-style trees keep
// SCRAM material under /config/users: diff shows neither unless asked.
TEST_F(StateCliTest, DiffRedactsDigestIdsAndSecretPayloadsUnlessAskedToShowThem) {
  auto p = client(primary_->connectString(), kReplicator);
  const std::string other_hash = ZkServer::digestId(kOther);
  const zk::AclList acl{{zk::perm::kAll, "digest", ZkServer::digestId(kReplicator)},
                        {zk::perm::kRead, "digest", other_hash}};
  ASSERT_EQ(zk::createRecursiveSync(*p, "/app"), zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*p, zk::CreateOp{.path = "/app/guarded", .data = "plain", .acl = acl}).code, zk::Code::kOk);
  // On the backup the same node with an open ACL: diff plans an ACL change.
  auto b = client(backup_->connectString(), kReplicator);
  ASSERT_EQ(zk::createRecursiveSync(*b, "/app/guarded", "plain"), zk::Code::kOk);
  ASSERT_EQ(zk::createRecursiveSync(*p, "/app/config/users"), zk::Code::kOk);
  const std::string scram = R"({"version":1,"config":{"SCRAM-SHA-512":"salt=c2FsdA==,stored_key=U1RPUkVE,server_key=U0VSVkVS,iterations=4096"}})";
  ASSERT_EQ(zk::createSync(*p, zk::CreateOp{.path = "/app/config/users/alice", .data = scram}).code, zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*p, zk::CreateOp{.path = "/app/service", .data = "host=a\npassword=hunter2\n"}).code,
            zk::Code::kOk);
  ConfigOptions o;
  o.primary_auth = true;
  const auto cfg = config(o);
  const std::string hash = other_hash.substr(other_hash.find(':') + 1);

  for (const char* format : {"text", "json"}) {
    SCOPED_TRACE(format);
    auto hidden = run({"diff", "-c", cfg, "--format", format});
    ASSERT_EQ(hidden.exit_code, 1) << hidden.err;
    EXPECT_EQ(hidden.out.find(hash), std::string::npos) << hidden.out;
    EXPECT_NE(hidden.out.find("digest:otheruser:<redacted>"), std::string::npos) << hidden.out;
    EXPECT_EQ(hidden.out.find("stored_key"), std::string::npos) << hidden.out;
    EXPECT_EQ(hidden.out.find("hunter2"), std::string::npos) << hidden.out;
    EXPECT_NE(hidden.out.find("host=a"), std::string::npos) << "other fields stay visible: " << hidden.out;

    auto shown = run({"diff", "-c", cfg, "--format", format, "--show-secrets"});
    ASSERT_EQ(shown.exit_code, 1) << shown.err;
    EXPECT_NE(shown.out.find(hash), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("stored_key"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("hunter2"), std::string::npos) << shown.out;
  }
}

}  // namespace
}  // namespace zks::testing
