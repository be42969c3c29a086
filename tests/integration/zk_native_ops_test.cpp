// The native client against a real ZooKeeper 3.8 server: every operation
// and the answers a caller branches on, multi failure scanning, multiRead,
// container and TTL creates inside multi, chroot, digest auth.

#include <algorithm>
#include <atomic>
#include <map>

#include <gtest/gtest.h>

#include "support/tcp_proxy.h"
#include "support/zk_server.h"
#include "zk_native_harness.h"

namespace zks::testing {
namespace {

using zk::Code;
using zk::CreateMode;
using zk::CreateOp;
using zk::DeleteOp;
using zk::ReadKind;
using zk::SessionState;
using zk::SetOp;

class ZkNativeOpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ZkServerOptions options;
    options.super_user = "super:secret";
    options.container_check_interval_ms = 100;
    server_ = new ZkServer(options);
    auto st = server_->start();
    ASSERT_TRUE(st) << st.error().describe();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    root_ = std::string("/") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  std::unique_ptr<zk::Client> connect() { return connectNative(nativeOptions(server_->connectString())); }

  static ZkServer* server_;
  std::string root_;
};

ZkServer* ZkNativeOpsTest::server_ = nullptr;

TEST_F(ZkNativeOpsTest, EveryOperationAndItsAnswers) {
  auto c = connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state(), SessionState::kConnected);
  EXPECT_EQ(c->generation(), 1u);
  EXPECT_NE(c->sessionId(), 0);
  const auto caps = c->capabilities();
  EXPECT_TRUE(caps.multi_read);
  EXPECT_TRUE(caps.persistent_watches);
  EXPECT_TRUE(caps.special_creates_in_multi);

  auto created = zk::createSync(*c, CreateOp{.path = root_, .data = "v1"});
  ASSERT_EQ(created.code, Code::kOk);
  EXPECT_EQ(created.path, root_);
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kNodeExists);
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/no/parent"}).code, Code::kNoNode);

  auto got = zk::getSync(*c, root_);
  ASSERT_EQ(got.code, Code::kOk);
  EXPECT_EQ(got.data, "v1");
  EXPECT_EQ(got.stat.version, 0);
  EXPECT_EQ(got.stat.data_length, 2);
  EXPECT_GT(got.stat.czxid, 0);
  EXPECT_EQ(got.stat.czxid, got.stat.mzxid);
  EXPECT_EQ(zk::getSync(*c, root_ + "/missing").code, Code::kNoNode);

  // Empty and binary data.
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/empty"}).code, Code::kOk);
  EXPECT_EQ(zk::getSync(*c, root_ + "/empty").data, "");
  const std::string binary("a\0b\xff", 4);
  auto set = zk::setSync(*c, SetOp{.path = root_, .data = binary, .version = 0});
  ASSERT_EQ(set.code, Code::kOk);
  EXPECT_EQ(set.stat.version, 1);
  EXPECT_EQ(zk::getSync(*c, root_).data, binary);
  EXPECT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = "x", .version = 0}).code, Code::kBadVersion);
  EXPECT_EQ(zk::setSync(*c, SetOp{.path = root_ + "/missing", .data = "x"}).code, Code::kNoNode);

  auto exists = zk::existsSync(*c, root_);
  ASSERT_EQ(exists.code, Code::kOk);
  EXPECT_EQ(exists.stat.version, 1);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/missing").code, Code::kNoNode);

  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/b", .data = "x"}).code, Code::kOk);
  auto children = zk::getChildrenSync(*c, root_);
  ASSERT_EQ(children.code, Code::kOk);
  std::sort(children.children.begin(), children.children.end());
  EXPECT_EQ(children.children, (std::vector<std::string>{"b", "empty"}));
  EXPECT_EQ(children.stat.num_children, 2);
  EXPECT_EQ(zk::getChildrenSync(*c, root_ + "/missing").code, Code::kNoNode);

  auto seq1 = zk::createSync(*c, CreateOp{.path = root_ + "/s-", .mode = CreateMode::kPersistentSequential});
  auto seq2 = zk::createSync(*c, CreateOp{.path = root_ + "/s-", .mode = CreateMode::kPersistentSequential});
  ASSERT_EQ(seq1.code, Code::kOk);
  EXPECT_EQ(seq1.path.size(), (root_ + "/s-").size() + 10);
  EXPECT_LT(seq1.path, seq2.path);
  // A sequential create may end in '/': the counter is the whole name.
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/q"}).code, Code::kOk);
  auto bare = zk::createSync(*c, CreateOp{.path = root_ + "/q/", .mode = CreateMode::kPersistentSequential});
  ASSERT_EQ(bare.code, Code::kOk);
  EXPECT_EQ(bare.path.size(), (root_ + "/q/").size() + 10);

  auto eph = zk::createSync(*c, CreateOp{.path = root_ + "/e", .mode = CreateMode::kEphemeral});
  ASSERT_EQ(eph.code, Code::kOk);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/e").stat.ephemeral_owner, c->sessionId());
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/e/kid"}).code, Code::kNoChildrenForEphemerals);
  auto eseq = zk::createSync(*c, CreateOp{.path = root_ + "/es-", .mode = CreateMode::kEphemeralSequential});
  ASSERT_EQ(eseq.code, Code::kOk);
  EXPECT_EQ(zk::kindOf(zk::existsSync(*c, eseq.path).stat), zk::NodeKind::kEphemeral);

  EXPECT_EQ(zk::removeSync(*c, DeleteOp{.path = root_}).code, Code::kNotEmpty);
  EXPECT_EQ(zk::removeSync(*c, DeleteOp{.path = root_ + "/b", .version = 7}).code, Code::kBadVersion);
  EXPECT_EQ(zk::removeSync(*c, DeleteOp{.path = root_ + "/b", .version = 0}).code, Code::kOk);
  EXPECT_EQ(zk::removeSync(*c, DeleteOp{.path = root_ + "/b"}).code, Code::kNoNode);

  EXPECT_EQ(syncSync(*c, root_).code, Code::kOk);

  // Refused before sending, answered on the completion thread.
  Outcome<zk::GetResult> bad;
  c->get("relative", false, bad.callback());
  ASSERT_TRUE(bad.wait());
  EXPECT_EQ(bad.result->code, Code::kBadArguments);
  EXPECT_NE(bad.thread, std::this_thread::get_id());
  for (const std::string& path : std::vector<std::string>{"/trailing/", "/a//b", "/a/./b", "/a/../b",
                                                           std::string("/nul\0", 5), "/ctl\x01"}) {
    EXPECT_EQ(zk::createSync(*c, CreateOp{.path = path}).code, Code::kBadArguments) << path;
  }
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/ttl0", .mode = CreateMode::kPersistentWithTtl}).code,
            Code::kBadArguments);
  EXPECT_EQ(c->pending(), 0u);
}

TEST_F(ZkNativeOpsTest, AclsAndTheirAnswers) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  auto acl = zk::getAclSync(*c, root_);
  ASSERT_EQ(acl.code, Code::kOk);
  EXPECT_EQ(acl.acl, zk::openAcl());
  EXPECT_EQ(acl.stat.aversion, 0);
  const zk::AclList read_only = {zk::Acl{zk::perm::kRead, "world", "anyone"}};
  EXPECT_EQ(zk::setAclSync(*c, root_, read_only, 3).code, Code::kBadVersion);
  ASSERT_EQ(zk::setAclSync(*c, root_, read_only, 0).code, Code::kOk);
  acl = zk::getAclSync(*c, root_);
  EXPECT_EQ(acl.acl, read_only);
  EXPECT_EQ(acl.stat.aversion, 1);
  EXPECT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = "x"}).code, Code::kNoAuth);
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/kid"}).code, Code::kNoAuth);
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "2", .acl = {zk::Acl{31, "bogus", "x"}}}).code,
            Code::kInvalidAcl);
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "3", .acl = {}}).code, Code::kInvalidAcl);
  EXPECT_EQ(zk::getAclSync(*c, root_ + "/missing").code, Code::kNoNode);
  EXPECT_EQ(zk::setAclSync(*c, root_ + "/missing", read_only).code, Code::kNoNode);
}

TEST_F(ZkNativeOpsTest, MultiReportsTheFirstFailingOp) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_, .data = "base"}).code, Code::kOk);

  auto ok = zk::multiSync(*c, {CreateOp{.path = root_ + "/m", .data = "m"},
                               SetOp{.path = root_, .data = "changed", .version = 0},
                               zk::CheckOp{.path = root_, .version = 1},
                               CreateOp{.path = root_ + "/q-", .mode = CreateMode::kPersistentSequential},
                               DeleteOp{.path = root_ + "/m"}});
  ASSERT_EQ(ok.code, Code::kOk);
  ASSERT_EQ(ok.results.size(), 5u);
  for (const auto& r : ok.results) EXPECT_EQ(r.code, Code::kOk);
  EXPECT_EQ(ok.results[0].path, root_ + "/m");
  EXPECT_EQ(ok.results[1].stat.version, 1);
  EXPECT_EQ(ok.results[3].path.size(), (root_ + "/q-").size() + 10);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/m").code, Code::kNoNode);

  // The third op fails. The server answers with error 0 in the header and
  // an ErrorResult per op: ok (rolled back) before, the reason, then
  // runtime inconsistency after.
  auto failed = zk::multiSync(*c, {CreateOp{.path = root_ + "/n"}, SetOp{.path = root_, .data = "y"},
                                   zk::CheckOp{.path = root_, .version = 0}, DeleteOp{.path = root_ + "/n"}});
  EXPECT_EQ(failed.code, Code::kBadVersion);
  ASSERT_EQ(failed.results.size(), 4u);
  EXPECT_EQ(failed.results[0].code, Code::kOk);
  EXPECT_EQ(failed.results[1].code, Code::kOk);
  EXPECT_EQ(failed.results[2].code, Code::kBadVersion);
  EXPECT_EQ(failed.results[3].code, Code::kRuntimeInconsistency);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/n").code, Code::kNoNode);
  EXPECT_EQ(zk::getSync(*c, root_).data, "changed");

  EXPECT_EQ(zk::multiSync(*c, {zk::CheckOp{.path = root_ + "/nope"}}).code, Code::kNoNode);
  EXPECT_EQ(zk::multiSync(*c, {CreateOp{.path = root_}}).code, Code::kNodeExists);
  EXPECT_EQ(zk::multiSync(*c, {DeleteOp{.path = root_}, CreateOp{.path = root_ + "/x"}}).code, Code::kNotEmpty);

  auto empty = zk::multiSync(*c, {});
  EXPECT_EQ(empty.code, Code::kOk);
  EXPECT_TRUE(empty.results.empty());

  // A bad path anywhere refuses the whole request before sending.
  auto refused = zk::multiSync(*c, {CreateOp{.path = root_ + "/ok"}, CreateOp{.path = "bad"}});
  EXPECT_EQ(refused.code, Code::kBadArguments);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/ok").code, Code::kNoNode);
}

TEST_F(ZkNativeOpsTest, ContainerAndTtlCreatesWorkInsideMulti) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  auto r = zk::multiSync(*c, {CreateOp{.path = root_ + "/box", .mode = CreateMode::kContainer},
                              CreateOp{.path = root_ + "/box/kid"},
                              CreateOp{.path = root_ + "/ttl", .data = "t", .mode = CreateMode::kPersistentWithTtl,
                                       .ttl_ms = 60000},
                              CreateOp{.path = root_ + "/ttls-", .mode = CreateMode::kPersistentSequentialWithTtl,
                                       .ttl_ms = 60000}});
  ASSERT_EQ(r.code, Code::kOk);
  ASSERT_EQ(r.results.size(), 4u);
  EXPECT_EQ(r.results[0].path, root_ + "/box");
  EXPECT_EQ(r.results[2].path, root_ + "/ttl");
  EXPECT_EQ(r.results[3].path.size(), (root_ + "/ttls-").size() + 10);
  EXPECT_EQ(zk::getSync(*c, root_ + "/ttl").data, "t");
  // The kinds show in what the server does with the nodes: an emptied
  // container goes, and so does a TTL node past its TTL.
  ASSERT_EQ(zk::removeSync(*c, DeleteOp{.path = root_ + "/box/kid"}).code, Code::kOk);
  EXPECT_TRUE(waitFor([&] { return zk::existsSync(*c, root_ + "/box").code == Code::kNoNode; }, 10s));
  auto short_ttl = zk::multiSync(
      *c, {CreateOp{.path = root_ + "/short", .mode = CreateMode::kPersistentWithTtl, .ttl_ms = 100}});
  ASSERT_EQ(short_ttl.code, Code::kOk);
  EXPECT_TRUE(waitFor([&] { return zk::existsSync(*c, root_ + "/short").code == Code::kNoNode; }, 10s));
  EXPECT_EQ(zk::existsSync(*c, root_ + "/ttl").code, Code::kOk);

  // Single creates of both kinds too.
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/box2", .mode = CreateMode::kContainer}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/ttl2", .mode = CreateMode::kPersistentWithTtl,
                                        .ttl_ms = 60000})
                .code,
            Code::kOk);
  // A failing TTL create inside multi is scanned like any other op.
  auto dup = zk::multiSync(*c, {CreateOp{.path = root_ + "/ttl2", .mode = CreateMode::kPersistentWithTtl,
                                         .ttl_ms = 60000}});
  EXPECT_EQ(dup.code, Code::kNodeExists);
}

TEST_F(ZkNativeOpsTest, MultiReadAnswersEachOpOnItsOwn) {
  auto c = connect();
  ASSERT_TRUE(c);
  auto super_options = nativeOptions(server_->connectString());
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_, .data = "root"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/a", .data = "A"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/b"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/secret", .data = "s",
                                        .acl = {zk::Acl{zk::perm::kAll, "digest", ZkServer::digestId("x:y")}}})
                .code,
            Code::kOk);

  const std::vector<zk::ReadOp> ops = {{ReadKind::kGetData, root_ + "/a"},
                                       {ReadKind::kGetData, root_ + "/missing"},
                                       {ReadKind::kGetChildren, root_},
                                       {ReadKind::kGetData, root_ + "/secret"},
                                       {ReadKind::kGetChildren, root_ + "/missing"},
                                       {ReadKind::kGetData, root_}};
  auto check = [&](const zk::MultiReadResult& r, bool children_stat) {
    ASSERT_EQ(r.code, Code::kOk);
    ASSERT_EQ(r.results.size(), ops.size());
    EXPECT_EQ(r.results[0].code, Code::kOk);
    EXPECT_EQ(r.results[0].data, "A");
    EXPECT_EQ(r.results[0].stat.data_length, 1);
    EXPECT_EQ(r.results[1].code, Code::kNoNode);
    EXPECT_EQ(r.results[2].code, Code::kOk);
    auto kids = r.results[2].children;
    std::sort(kids.begin(), kids.end());
    EXPECT_EQ(kids, (std::vector<std::string>{"a", "b", "secret"}));
    if (children_stat) {
      EXPECT_EQ(r.results[2].stat.num_children, 3);
    }
    EXPECT_EQ(r.results[3].code, Code::kNoAuth);
    EXPECT_EQ(r.results[4].code, Code::kNoNode);
    EXPECT_EQ(r.results[5].data, "root");
  };
  check(multiReadSync(*c, ops), false);

  // With the switch off (servers older than 3.6) the same call is served by
  // pipelined reads.
  auto options = nativeOptions(server_->connectString());
  options.multi_read = false;
  options.persistent_watches = false;
  auto old = connectNative(options);
  ASSERT_TRUE(old);
  EXPECT_FALSE(old->capabilities().multi_read);
  EXPECT_FALSE(old->capabilities().persistent_watches);
  check(multiReadSync(*old, ops), true);
  // As with an old server, persistent watches are not there to use.
  EXPECT_EQ(addWatchSync(*old, root_, zk::AddWatchMode::kPersistentRecursive).code, Code::kUnimplemented);
  EXPECT_EQ(removeWatchesSync(*old, root_).code, Code::kUnimplemented);

  auto empty = multiReadSync(*c, {});
  EXPECT_EQ(empty.code, Code::kOk);
  EXPECT_TRUE(empty.results.empty());
  EXPECT_EQ(multiReadSync(*c, {{ReadKind::kGetData, "bad"}}).code, Code::kBadArguments);
}

TEST_F(ZkNativeOpsTest, ChrootIsAddedToRequestsAndStrippedFromAnswers) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  Events events;
  auto jailed = connectNative(nativeOptions(server_->connectString() + root_), &events);
  ASSERT_TRUE(jailed);

  EXPECT_EQ(zk::getChildrenSync(*jailed, "/").code, Code::kOk);
  auto created = zk::createSync(*jailed, CreateOp{.path = "/app", .data = "d"});
  ASSERT_EQ(created.code, Code::kOk);
  EXPECT_EQ(created.path, "/app");
  EXPECT_EQ(zk::getSync(*c, root_ + "/app").data, "d");
  auto seq = zk::createSync(*jailed, CreateOp{.path = "/app/s-", .mode = CreateMode::kPersistentSequential});
  ASSERT_EQ(seq.code, Code::kOk);
  EXPECT_EQ(seq.path.rfind("/app/s-", 0), 0u) << seq.path;

  auto multi = zk::multiSync(*jailed, {CreateOp{.path = "/app/m"}, CreateOp{.path = "/box", .mode = CreateMode::kContainer}});
  ASSERT_EQ(multi.code, Code::kOk);
  EXPECT_EQ(multi.results[0].path, "/app/m");
  EXPECT_EQ(multi.results[1].path, "/box");

  auto reads = multiReadSync(*jailed, {{ReadKind::kGetData, "/app"}, {ReadKind::kGetChildren, "/"}});
  ASSERT_EQ(reads.code, Code::kOk);
  EXPECT_EQ(reads.results[0].data, "d");

  // Watch events name the client's paths, for one-shot and recursive watches.
  ASSERT_EQ(zk::getSync(*jailed, "/app", true).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*jailed, "/", zk::AddWatchMode::kPersistentRecursive).code, Code::kOk);
  ASSERT_EQ(zk::setSync(*c, SetOp{.path = root_ + "/app", .data = "e"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(zk::EventType::kDataChanged, "/app"));
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/app/deep"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(zk::EventType::kCreated, "/app/deep"));
  auto e = events.find(zk::EventType::kDataChanged, "/app");
  EXPECT_EQ(e->origins, zk::watch_origin::kOneShot | zk::watch_origin::kRecursive);
  for (const auto& w : events.watches()) EXPECT_EQ(w.path.rfind(root_, 0), std::string::npos) << w.path;
}

TEST_F(ZkNativeOpsTest, DigestAuthIsAnsweredBeforeReopenReturnsAndResentAfterAReconnect) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  auto options = nativeOptions((*proxy)->connectString());
  options.auth = {zk::AuthEntry{"digest", "alice:wonderland"}};
  Events events;
  auto alice = connectNative(options, &events);
  ASSERT_TRUE(alice);
  const zk::AclList alice_only = {zk::Acl{zk::perm::kAll, "digest", ZkServer::digestId("alice:wonderland")}};
  // The first request after reopen() already runs with the identity.
  ASSERT_EQ(zk::createSync(*alice, CreateOp{.path = root_, .data = "secret", .acl = alice_only}).code, Code::kOk);
  EXPECT_EQ(zk::getSync(*alice, root_).data, "secret");

  auto anonymous = connect();
  EXPECT_EQ(zk::getSync(*anonymous, root_).code, Code::kNoAuth);

  // The connection drops; the session resumes and its identity comes back
  // with it (the server forgets auth with the connection).
  const int64_t id = alice->sessionId();
  (*proxy)->setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  (*proxy)->setMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(events.waitSessionCount(SessionState::kConnected, 1, 2));
  EXPECT_EQ(alice->sessionId(), id);
  EXPECT_TRUE(waitFor([&] { return zk::getSync(*alice, root_).code == Code::kOk; }, 10s));
  EXPECT_EQ(zk::getSync(*alice, root_).data, "secret");

  // Several entries: the superuser reads everything.
  options = nativeOptions(server_->connectString());
  options.auth = {zk::AuthEntry{"digest", "bob:builder"}, zk::AuthEntry{"digest", "super:secret"}};
  auto super = connectNative(options);
  ASSERT_TRUE(super);
  EXPECT_EQ(zk::getSync(*super, root_).data, "secret");

  // A scheme the server does not know: reopen() fails, without the secret.
  options.auth = {zk::AuthEntry{"nosuchscheme", "x:wonderland"}};
  auto bad = zk::makeNativeClient(options);
  auto st = bad->reopen(5s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kZooKeeper);
  EXPECT_NE(st.error().message.find("authentication"), std::string::npos) << st.error().message;
  EXPECT_EQ(st.error().message.find("wonderland"), std::string::npos);
  EXPECT_EQ(bad->state(), SessionState::kAuthFailed);
  EXPECT_EQ(zk::getSync(*bad, "/").code, Code::kClosing);
}

TEST_F(ZkNativeOpsTest, AClientWithoutASessionAnswersClosing) {
  auto c = zk::makeNativeClient(nativeOptions(server_->connectString()));
  EXPECT_EQ(c->state(), SessionState::kClosed);
  EXPECT_EQ(c->generation(), 0u);
  Outcome<zk::GetResult> out;
  c->get("/", false, out.callback());
  ASSERT_TRUE(out.wait());
  EXPECT_EQ(out.result->code, Code::kClosing);
  EXPECT_NE(out.thread, std::this_thread::get_id());
  ASSERT_TRUE(c->reopen(5s));
  EXPECT_EQ(zk::getSync(*c, "/").code, Code::kOk);
  c->close();
  c->close();
  EXPECT_EQ(c->state(), SessionState::kClosed);
  EXPECT_EQ(zk::getSync(*c, "/").code, Code::kClosing);

  auto bad = zk::makeNativeClient(nativeOptions("127.0.0.1:notaport"));
  auto st = bad->reopen(1s);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("connect string"), std::string::npos) << st.error().message;
}

TEST_F(ZkNativeOpsTest, TheWindowKeepsSubmissionOrder) {
  auto options = nativeOptions(server_->connectString());
  options.max_in_flight = 4;
  auto c = connectNative(options);
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  constexpr int kCount = 500;
  std::mutex mutex;
  std::vector<std::pair<int, std::string>> done;
  size_t max_pending = 0;
  for (int i = 0; i < kCount; ++i) {
    c->create(CreateOp{.path = root_ + "/n-", .mode = CreateMode::kPersistentSequential},
              [&, i](zk::CreateResult r) {
                std::lock_guard lock(mutex);
                done.emplace_back(i, r.code == Code::kOk ? r.path : "error");
              });
    max_pending = std::max(max_pending, c->pending());
  }
  ASSERT_TRUE(waitFor(
      [&] {
        std::lock_guard lock(mutex);
        return done.size() == kCount;
      },
      30s));
  EXPECT_GT(max_pending, 4u);
  EXPECT_EQ(c->pending(), 0u);
  std::lock_guard lock(mutex);
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(done[static_cast<size_t>(i)].first, i);
    if (i > 0) {
      EXPECT_LT(done[static_cast<size_t>(i) - 1].second, done[static_cast<size_t>(i)].second);
    }
  }
}

TEST_F(ZkNativeOpsTest, AReplyOverMaxPacketBytesCostsTheConnectionNotTheSession) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_, .data = std::string(200 * 1024, 'x')}).code, Code::kOk);
  auto options = nativeOptions(server_->connectString());
  options.max_packet_bytes = 64 * 1024;
  Events events;
  auto small = connectNative(options, &events);
  ASSERT_TRUE(small);
  const int64_t id = small->sessionId();
  // The client refuses the frame (it cannot trust the stream after it),
  // drops the connection and resumes the session.
  EXPECT_EQ(zk::getSync(*small, root_).code, Code::kConnectionLoss);
  ASSERT_TRUE(events.waitSessionCount(SessionState::kConnected, 1, 2));
  EXPECT_EQ(small->sessionId(), id);
  EXPECT_EQ(zk::existsSync(*small, root_).stat.data_length, 200 * 1024);
}

TEST_F(ZkNativeOpsTest, CallbacksMayIssueRequestsAndReopen) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  std::atomic<int> links{0};
  std::function<void(zk::StatResult)> next = [&](zk::StatResult r) {
    if (r.code != Code::kOk) return;
    if (++links < 200) c->set(SetOp{.path = root_, .data = std::to_string(links.load())}, next);
  };
  c->set(SetOp{.path = root_, .data = "0"}, next);
  ASSERT_TRUE(waitFor([&] { return links.load() == 200; }, 20s));
  Outcome<Status> reopened;
  c->get(root_, false, [&](zk::GetResult) { reopened.callback()(c->reopen(5s)); });
  ASSERT_TRUE(reopened.wait(15s));
  ASSERT_TRUE(*reopened.result);
  EXPECT_EQ(c->generation(), 2u);
  EXPECT_EQ(zk::getSync(*c, root_).data, "199");
}

}  // namespace
}  // namespace zks::testing
