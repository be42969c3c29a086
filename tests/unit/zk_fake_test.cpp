// FakeServer / FakeClient: the semantics a ZooKeeper 3.8 server and C client
// show. Expected values in the tables were observed on a real 3.8.0 server
// (Debian package) with kazoo, or read from the 3.8.0 sources.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "zk/blocking.h"
#include "testdoubles/fake_client.h"

namespace zks::zk {
namespace {

using std::chrono::milliseconds;

// Watch and session events as the completion thread delivers them.
class Recorder {
 public:
  void attach(Client& c) {
    c.setWatchListener([this](const WatchEvent& e) {
      std::lock_guard lk(mu_);
      watches_.push_back(e);
    });
    c.setSessionListener([this](const SessionEvent& e) {
      std::lock_guard lk(mu_);
      sessions_.push_back(e);
    });
  }
  std::vector<WatchEvent> watches() {
    std::lock_guard lk(mu_);
    return watches_;
  }
  std::vector<SessionEvent> sessions() {
    std::lock_guard lk(mu_);
    return sessions_;
  }
  std::vector<std::pair<EventType, std::string>> takeWatches() {
    std::lock_guard lk(mu_);
    std::vector<std::pair<EventType, std::string>> out;
    for (const auto& e : watches_) out.emplace_back(e.type, e.path);
    watches_.clear();
    return out;
  }
  std::vector<SessionState> takeSessionStates() {
    std::lock_guard lk(mu_);
    std::vector<SessionState> out;
    for (const auto& e : sessions_) out.push_back(e.state);
    sessions_.clear();
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<WatchEvent> watches_;
  std::vector<SessionEvent> sessions_;
};

using Events = std::vector<std::pair<EventType, std::string>>;

class FakeTest : public ::testing::Test {
 protected:
  FakeTest() {
    FakeServerOptions o;
    o.child_order = ChildOrder::kSorted;
    o.clock = [this] { return now_.load(); };
    server_ = std::make_shared<FakeServer>(std::move(o));
  }

  std::shared_ptr<FakeClient> connect(FakeClientOptions options = {}) {
    return std::make_shared<FakeClient>(server_, std::move(options));
  }

  std::atomic<int64_t> now_{1'700'000'000'000};
  std::shared_ptr<FakeServer> server_;
};

CreateOp createOp(std::string path, CreateMode mode = CreateMode::kPersistent, std::string data = {}) {
  CreateOp op;
  op.path = std::move(path);
  op.data = std::move(data);
  op.mode = mode;
  return op;
}

// ---------------------------------------------------------------------------
// cversion, sequential names, zxids, stats

struct SeqCase {
  const char* name;
  std::vector<std::pair<char, std::string>> ops;  // 'c' create, 'd' delete, 's' create sequential
  std::vector<std::string> seq_names;
  int32_t cversion;
  int32_t num_children;
  std::string next_seq;  // name of a sequential "x" created afterwards
};

const SeqCase kSeqCases[] = {
    {"empty", {}, {}, 0, 0, "x0000000000"},
    {"two creates", {{'c', "a"}, {'c', "b"}}, {}, 2, 2, "x0000000002"},
    {"create a, b, delete a", {{'c', "a"}, {'c', "b"}, {'d', "a"}}, {}, 3, 1, "x0000000002"},
    {"create and delete twice", {{'c', "a"}, {'d', "a"}, {'c', "a"}, {'d', "a"}}, {}, 4, 0, "x0000000002"},
    {"three sequential", {{'s', "s"}, {'s', "s"}, {'s', "s"}}, {"s0000000000", "s0000000001", "s0000000002"},
     3, 3, "x0000000003"},
    {"all deleted", {{'c', "a"}, {'c', "b"}, {'d', "a"}, {'d', "b"}}, {}, 4, 0, "x0000000002"},
};

TEST_F(FakeTest, CversionAndSequentialNamesAsZooKeeper) {
  auto c = connect();
  int i = 0;
  for (const auto& tc : kSeqCases) {
    SCOPED_TRACE(tc.name);
    const std::string base = "/seq" + std::to_string(i++);
    ASSERT_EQ(createSync(*c, createOp(base)).code, Code::kOk);
    std::vector<std::string> names;
    for (const auto& [kind, name] : tc.ops) {
      if (kind == 'c') {
        ASSERT_EQ(createSync(*c, createOp(base + "/" + name)).code, Code::kOk);
      }
      if (kind == 'd') {
        ASSERT_EQ(removeSync(*c, DeleteOp{base + "/" + name}).code, Code::kOk);
      }
      if (kind == 's') {
        auto r = createSync(*c, createOp(base + "/" + name, CreateMode::kPersistentSequential));
        ASSERT_EQ(r.code, Code::kOk);
        names.push_back(r.path.substr(base.size() + 1));
      }
    }
    EXPECT_EQ(names, tc.seq_names);
    auto st = existsSync(*c, base);
    EXPECT_EQ(st.stat.cversion, tc.cversion);
    EXPECT_EQ(st.stat.num_children, tc.num_children);
    auto next = createSync(*c, createOp(base + "/x", CreateMode::kPersistentSequential));
    EXPECT_EQ(next.path, base + "/" + tc.next_seq);
  }
}

TEST_F(FakeTest, SequentialNamesWithTrailingSlashAndUnderRoot) {
  auto c = connect();
  ASSERT_EQ(createSync(*c, createOp("/q")).code, Code::kOk);
  EXPECT_EQ(createSync(*c, createOp("/q/", CreateMode::kPersistentSequential)).path, "/q/0000000000");
  // The root's counter already counts /q: one create.
  EXPECT_EQ(createSync(*c, createOp("/", CreateMode::kPersistentSequential)).path, "/0000000001");
  // A trailing slash is a bad path unless sequential (C client check).
  EXPECT_EQ(createSync(*c, createOp("/q/")).code, Code::kBadArguments);
}

TEST_F(FakeTest, EveryWriteTransactionTakesOneZxidAndReadsNone) {
  EXPECT_EQ(server_->zxid(), 0);
  auto c = connect();
  EXPECT_EQ(server_->zxid(), 1) << "createSession is a transaction";

  ASSERT_EQ(createSync(*c, createOp("/a")).code, Code::kOk);
  EXPECT_EQ(server_->zxid(), 2);
  EXPECT_EQ(existsSync(*c, "/a").stat.czxid, 2);

  EXPECT_EQ(createSync(*c, createOp("/a")).code, Code::kNodeExists);
  EXPECT_EQ(server_->zxid(), 3) << "a refused write is logged as an error txn";

  (void)getSync(*c, "/a");
  (void)getChildrenSync(*c, "/");
  (void)existsSync(*c, "/nope");
  EXPECT_EQ(server_->zxid(), 3);

  auto failed = multiSync(*c, {createOp("/b"), createOp("/b")});
  EXPECT_EQ(failed.code, Code::kNodeExists);
  EXPECT_EQ(server_->zxid(), 4);

  auto ok = multiSync(*c, {createOp("/b"), createOp("/c")});
  ASSERT_EQ(ok.code, Code::kOk);
  EXPECT_EQ(server_->zxid(), 5);
  EXPECT_EQ(existsSync(*c, "/b").stat.czxid, 5);
  EXPECT_EQ(existsSync(*c, "/c").stat.czxid, 5);

  EXPECT_EQ(createSync(*c, createOp("no-slash")).code, Code::kBadArguments);
  EXPECT_EQ(server_->zxid(), 5) << "the C client refuses a bad path before sending";
  EXPECT_EQ(c->lastZxid(), 5);

  c->close();
  EXPECT_EQ(server_->zxid(), 6) << "closeSession is a transaction";
}

TEST_F(FakeTest, StatFieldsFollowEachKindOfWrite) {
  auto c = connect();
  now_ = 1000;
  auto created = createSync(*c, createOp("/n", CreateMode::kPersistent, "abc"));
  ASSERT_EQ(created.code, Code::kOk);
  const Stat s0 = existsSync(*c, "/n").stat;
  EXPECT_EQ(s0.czxid, s0.mzxid);
  EXPECT_EQ(s0.pzxid, s0.czxid) << "a new node's pzxid is its czxid";
  EXPECT_EQ(s0.ctime, 1000);
  EXPECT_EQ(s0.mtime, 1000);
  EXPECT_EQ(s0.version, 0);
  EXPECT_EQ(s0.cversion, 0);
  EXPECT_EQ(s0.aversion, 0);
  EXPECT_EQ(s0.ephemeral_owner, 0);
  EXPECT_EQ(s0.data_length, 3);
  EXPECT_EQ(s0.num_children, 0);

  now_ = 2000;
  auto set = setSync(*c, SetOp{"/n", "hello", 0});
  ASSERT_EQ(set.code, Code::kOk);
  EXPECT_EQ(set.stat.version, 1);
  EXPECT_EQ(set.stat.mzxid, server_->zxid());
  EXPECT_EQ(set.stat.mtime, 2000);
  EXPECT_EQ(set.stat.ctime, 1000);
  EXPECT_EQ(set.stat.data_length, 5);
  EXPECT_EQ(set.stat.pzxid, s0.pzxid) << "a data change is not a child change";

  ASSERT_EQ(createSync(*c, createOp("/n/child")).code, Code::kOk);
  const int64_t child_zxid = server_->zxid();
  Stat s1 = existsSync(*c, "/n").stat;
  EXPECT_EQ(s1.pzxid, child_zxid);
  EXPECT_EQ(s1.mzxid, set.stat.mzxid) << "a child create leaves the parent's mzxid";
  EXPECT_EQ(s1.cversion, 1);
  EXPECT_EQ(s1.num_children, 1);

  ASSERT_EQ(setSync(*c, SetOp{"/n/child", "x"}).code, Code::kOk);
  EXPECT_EQ(existsSync(*c, "/n").stat.pzxid, child_zxid) << "a child's data change is not a child change";

  ASSERT_EQ(setAclSync(*c, "/n", openAcl(), 0).code, Code::kOk);
  Stat s2 = existsSync(*c, "/n").stat;
  EXPECT_EQ(s2.aversion, 1);
  EXPECT_EQ(s2.mzxid, s1.mzxid) << "setAcl leaves mzxid";
  EXPECT_EQ(s2.pzxid, s1.pzxid);
  EXPECT_EQ(setAclSync(*c, "/n", openAcl(), 0).code, Code::kBadVersion);

  ASSERT_EQ(removeSync(*c, DeleteOp{"/n/child"}).code, Code::kOk);
  Stat s3 = existsSync(*c, "/n").stat;
  EXPECT_EQ(s3.pzxid, server_->zxid());
  EXPECT_EQ(s3.cversion, 2);
  EXPECT_EQ(s3.num_children, 0);
}

TEST_F(FakeTest, RootAndSystemNodesAsOnAFreshServer) {
  auto c = connect();
  auto root = getChildrenSync(*c, "/");
  EXPECT_EQ(root.children, std::vector<std::string>{"zookeeper"});
  EXPECT_EQ(root.stat.cversion, -1);
  EXPECT_EQ(root.stat.num_children, 1);
  auto zk = getChildrenSync(*c, "/zookeeper");
  EXPECT_EQ(zk.children, (std::vector<std::string>{"config", "quota"}));
  EXPECT_EQ(zk.stat.cversion, -2);
  auto config = getAclSync(*c, "/zookeeper/config");
  EXPECT_EQ(config.acl, (AclList{Acl{perm::kRead, "world", "anyone"}}));
  EXPECT_EQ(config.stat.aversion, -1);
  EXPECT_EQ(setSync(*c, SetOp{"/zookeeper/config", "x"}).code, Code::kNoAuth);
  EXPECT_EQ(removeSync(*c, DeleteOp{"/zookeeper/quota"}).code, Code::kBadArguments);
  EXPECT_EQ(removeSync(*c, DeleteOp{"/"}).code, Code::kBadArguments);
  EXPECT_EQ(createSync(*c, createOp("/")).code, Code::kNodeExists);

  FakeServerOptions bare;
  bare.system_nodes = false;
  auto empty = std::make_shared<FakeServer>(bare);
  FakeClient e(empty);
  EXPECT_TRUE(getChildrenSync(e, "/").children.empty());
}

TEST_F(FakeTest, PathsTheCClientRefuses) {
  auto c = connect();
  struct PathCase {
    std::string path;
    Code create;  // what creating it answers
  };
  const PathCase cases[] = {
      {"", Code::kBadArguments},       {"a", Code::kBadArguments},
      {"/a/", Code::kBadArguments},    {"/a//b", Code::kBadArguments},
      {"/a/.", Code::kBadArguments},   {"/a/..", Code::kBadArguments},
      {"/a/./b", Code::kBadArguments}, {"/a/../b", Code::kBadArguments},
      {"/a\x01", Code::kBadArguments}, {std::string("/a\0b", 4), Code::kBadArguments},
      {"/a.b", Code::kOk},             {"/...", Code::kOk},
      {"/\x7f", Code::kOk},            {"/a/.b", Code::kNoNode},
      {"/a/b.", Code::kNoNode},
  };
  for (const auto& pc : cases) {
    SCOPED_TRACE(pc.path);
    const int64_t before = server_->zxid();
    EXPECT_EQ(createSync(*c, createOp(pc.path)).code, pc.create);
    const bool refused = pc.create == Code::kBadArguments;
    EXPECT_EQ(getSync(*c, pc.path).code == Code::kBadArguments, refused);
    if (refused) {
      EXPECT_EQ(server_->zxid(), before) << "never sent";
    }
  }
}

TEST_F(FakeTest, WriteRulesAndTheirOrder) {
  auto c = connect();
  ASSERT_EQ(server_->createRecursiveDirect("/p/q"), Code::kOk);
  ASSERT_EQ(createSync(*c, createOp("/e", CreateMode::kEphemeral)).code, Code::kOk);

  EXPECT_EQ(createSync(*c, createOp("/missing/x")).code, Code::kNoNode);
  EXPECT_EQ(createSync(*c, createOp("/p")).code, Code::kNodeExists);
  EXPECT_EQ(createSync(*c, createOp("/e/x")).code, Code::kNoChildrenForEphemerals);
  EXPECT_EQ(createSync(*c, createOp("/e")).code, Code::kNodeExists) << "exists is checked before ephemeral parent";
  EXPECT_EQ(removeSync(*c, DeleteOp{"/p"}).code, Code::kNotEmpty);
  EXPECT_EQ(removeSync(*c, DeleteOp{"/p/q", 3}).code, Code::kBadVersion) << "version before emptiness";
  EXPECT_EQ(removeSync(*c, DeleteOp{"/p/none"}).code, Code::kNoNode);
  EXPECT_EQ(setSync(*c, SetOp{"/p", "x", 7}).code, Code::kBadVersion);
  EXPECT_EQ(setSync(*c, SetOp{"/none", "x"}).code, Code::kNoNode);
  EXPECT_EQ(setAclSync(*c, "/none", openAcl()).code, Code::kNoNode);
  EXPECT_EQ(setAclSync(*c, "/none", AclList{}).code, Code::kInvalidAcl) << "ACL is checked before the node";
  EXPECT_EQ(multiSync(*c, {CheckOp{"/p", 1}}).code, Code::kBadVersion);
  EXPECT_EQ(multiSync(*c, {CheckOp{"/p", 0}}).code, Code::kOk);
  EXPECT_EQ(multiSync(*c, {CheckOp{"/none", -1}}).code, Code::kNoNode);

  const auto e = server_->node("/e");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->stat.ephemeral_owner, c->sessionId());
  EXPECT_EQ(e->kind, NodeKind::kEphemeral);
  EXPECT_EQ(kindOf(e->stat), NodeKind::kEphemeral);
}

// ---------------------------------------------------------------------------
// multi

struct MultiCase {
  const char* name;
  std::vector<Op> ops;
  Code code;
  std::vector<Code> results;
};

TEST_F(FakeTest, MultiIsAtomicAndReportsCodesAsZooKeeper) {
  const MultiCase cases[] = {
      {"check fails in the middle",
       {createOp("/m/a"), CheckOp{"/m", 5}, createOp("/m/b")},
       Code::kBadVersion,
       {Code::kOk, Code::kBadVersion, Code::kRuntimeInconsistency}},
      {"second create collides with the first",
       {createOp("/m/a"), createOp("/m/a")},
       Code::kNodeExists,
       {Code::kOk, Code::kNodeExists}},
      {"first op fails", {DeleteOp{"/m/none"}, createOp("/m/a")}, Code::kNoNode,
       {Code::kNoNode, Code::kRuntimeInconsistency}},
      {"delete of a node made non-empty earlier in the multi",
       {createOp("/m/x"), createOp("/m/x/y"), DeleteOp{"/m/x"}},
       Code::kNotEmpty,
       {Code::kOk, Code::kOk, Code::kNotEmpty}},
      {"set with the version an earlier set produced",
       {SetOp{"/m", "1", 0}, SetOp{"/m", "2", 0}},
       Code::kBadVersion,
       {Code::kOk, Code::kBadVersion}},
  };
  auto c = connect();
  ASSERT_EQ(createSync(*c, createOp("/m")).code, Code::kOk);
  for (const auto& mc : cases) {
    SCOPED_TRACE(mc.name);
    const auto before = server_->nodes("/m");
    const int64_t zxid = server_->zxid();
    auto r = multiSync(*c, mc.ops);
    EXPECT_EQ(r.code, mc.code);
    std::vector<Code> codes;
    for (const auto& op : r.results) codes.push_back(op.code);
    EXPECT_EQ(codes, mc.results);
    EXPECT_EQ(server_->zxid(), zxid + 1);
    const auto after = server_->nodes("/m");
    ASSERT_EQ(after.size(), before.size()) << "nothing applied";
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_EQ(after[i].path, before[i].path);
      EXPECT_EQ(after[i].stat, before[i].stat);
      EXPECT_EQ(after[i].data, before[i].data);
    }
  }
}

TEST_F(FakeTest, MultiOpsSeeEarlierOpsAndShareOneZxid) {
  auto c = connect();
  auto r = multiSync(*c, {createOp("/p"), createOp("/p/s", CreateMode::kPersistentSequential),
                          SetOp{"/p", "v", 0}, createOp("/p/t"), DeleteOp{"/p/t", 0}, CheckOp{"/p", 1}});
  ASSERT_EQ(r.code, Code::kOk);
  ASSERT_EQ(r.results.size(), 6u);
  EXPECT_EQ(r.results[0].path, "/p");
  EXPECT_EQ(r.results[1].path, "/p/s0000000000");
  EXPECT_EQ(r.results[2].stat.version, 1);
  EXPECT_EQ(r.results[2].stat.mzxid, server_->zxid());
  const auto p = server_->node("/p");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->stat.czxid, server_->zxid());
  EXPECT_EQ(p->stat.cversion, 3) << "two creates and one delete";
  EXPECT_EQ(p->stat.num_children, 1);
  EXPECT_EQ(c->counters().creates, 3u);
  EXPECT_EQ(c->counters().deletes, 1u);
  EXPECT_EQ(c->counters().sets, 1u);
  EXPECT_EQ(c->counters().multis, 1u);
}

TEST_F(FakeTest, MultiRefusedByTheCClient) {
  auto c = connect(FakeClientOptions{.capabilities = Capabilities{}});
  const int64_t zxid = server_->zxid();
  CreateOp ttl = createOp("/t", CreateMode::kPersistentWithTtl);
  ttl.ttl_ms = 1000;
  // zoo_amulti() has no TTL create op, even after an op with a bad path;
  // the C client backend refuses containers too.
  EXPECT_EQ(multiSync(*c, {createOp("bad"), ttl}).code, Code::kUnimplemented);
  EXPECT_EQ(multiSync(*c, {createOp("/box", CreateMode::kContainer)}).code, Code::kUnimplemented);
  auto bad = multiSync(*c, {createOp("/ok"), DeleteOp{"/x/"}});
  EXPECT_EQ(bad.code, Code::kBadArguments);
  EXPECT_TRUE(bad.results.empty()) << "the server never answered";
  EXPECT_EQ(server_->zxid(), zxid);
  EXPECT_FALSE(server_->node("/ok"));
  EXPECT_FALSE(server_->node("/box"));
}

TEST_F(FakeTest, MultiCarriesContainerAndTtlCreatesWithTheirCapability) {
  auto c = connect();
  ASSERT_TRUE(c->capabilities().special_creates_in_multi);
  CreateOp ttl = createOp("/t", CreateMode::kPersistentWithTtl);
  ttl.ttl_ms = 1000;
  auto r = multiSync(*c, {createOp("/box", CreateMode::kContainer), ttl});
  ASSERT_EQ(r.code, Code::kOk);
  EXPECT_EQ(server_->node("/box")->kind, NodeKind::kContainer);
  EXPECT_EQ(server_->node("/t")->kind, NodeKind::kTtl);
  EXPECT_EQ(server_->node("/t")->ttl_ms, 1000);
  // A bad TTL is the server's per-op answer here, not a refusal unsent.
  ttl.path = "/t2";
  ttl.ttl_ms = 0;
  auto bad = multiSync(*c, {createOp("/before"), ttl});
  EXPECT_EQ(bad.code, Code::kBadArguments);
  ASSERT_EQ(bad.results.size(), 2u);
  EXPECT_EQ(bad.results[0].code, Code::kOk);
  EXPECT_EQ(bad.results[1].code, Code::kBadArguments);
  EXPECT_FALSE(server_->node("/before"));
}

// ---------------------------------------------------------------------------
// watches

enum class Arm { kGet, kExists, kChildren, kGetAndChildren };

struct WatchCase {
  const char* name;
  Arm arm;
  std::string path;
  std::function<void(FakeServer&)> change;
  Events expected;
};

TEST_F(FakeTest, WatchesFireAsZooKeeperFiresThem) {
  const WatchCase cases[] = {
      {"get, set", Arm::kGet, "/w", [](FakeServer& s) { s.setDirect("/w", "x"); },
       {{EventType::kDataChanged, "/w"}}},
      {"get, delete", Arm::kGet, "/w", [](FakeServer& s) { s.removeRecursiveDirect("/w"); },
       {{EventType::kDeleted, "/w"}}},
      {"get, child created", Arm::kGet, "/w", [](FakeServer& s) { s.createDirect(createOp("/w/new")); }, {}},
      {"get, setAcl", Arm::kGet, "/w", [](FakeServer& s) { s.setAclDirect("/w", openAcl()); }, {}},
      {"exists, set", Arm::kExists, "/w", [](FakeServer& s) { s.setDirect("/w", "x"); },
       {{EventType::kDataChanged, "/w"}}},
      {"exists on a missing node, created", Arm::kExists, "/later",
       [](FakeServer& s) { s.createDirect(createOp("/later")); }, {{EventType::kCreated, "/later"}}},
      {"children, child created", Arm::kChildren, "/w", [](FakeServer& s) { s.createDirect(createOp("/w/new")); },
       {{EventType::kChildrenChanged, "/w"}}},
      {"children, child deleted", Arm::kChildren, "/w", [](FakeServer& s) { s.removeDirect("/w/c"); },
       {{EventType::kChildrenChanged, "/w"}}},
      {"children, own data set", Arm::kChildren, "/w", [](FakeServer& s) { s.setDirect("/w", "x"); }, {}},
      {"children, child's data set", Arm::kChildren, "/w", [](FakeServer& s) { s.setDirect("/w/c", "x"); }, {}},
      {"children, node deleted", Arm::kChildren, "/w/c", [](FakeServer& s) { s.removeDirect("/w/c"); },
       {{EventType::kDeleted, "/w/c"}}},
      {"data and child watch, node deleted: one event", Arm::kGetAndChildren, "/w/c",
       [](FakeServer& s) { s.removeDirect("/w/c"); }, {{EventType::kDeleted, "/w/c"}}},
      {"children, subtree removed: the child's delete comes first", Arm::kGetAndChildren, "/w",
       [](FakeServer& s) { s.removeRecursiveDirect("/w"); },
       {{EventType::kChildrenChanged, "/w"}, {EventType::kDeleted, "/w"}}},
  };
  for (const auto& wc : cases) {
    SCOPED_TRACE(wc.name);
    server_->removeRecursiveDirect("/w");
    ASSERT_EQ(server_->createRecursiveDirect("/w/c"), Code::kOk);
    Recorder rec;
    auto c = connect();
    rec.attach(*c);
    if (wc.arm == Arm::kGet || wc.arm == Arm::kGetAndChildren) (void)getSync(*c, wc.path, true);
    if (wc.arm == Arm::kExists) (void)existsSync(*c, wc.path, true);
    if (wc.arm == Arm::kChildren || wc.arm == Arm::kGetAndChildren) (void)getChildrenSync(*c, wc.path, true);
    wc.change(*server_);
    ASSERT_TRUE(c->waitIdle());
    EXPECT_EQ(rec.takeWatches(), wc.expected);
    // One-shot: the same change again fires nothing more.
    if (wc.path == "/w" && server_->node("/w")) {
      server_->setDirect("/w", "again");
      server_->createDirect(createOp("/w/again"));
      ASSERT_TRUE(c->waitIdle());
      auto more = rec.takeWatches();
      if (wc.expected.empty()) {
        // The watch is still armed: exactly one event of the armed kind.
        EXPECT_EQ(more.size(), 1u);
      } else {
        EXPECT_TRUE(more.empty());
      }
    }
    server_->removeRecursiveDirect("/later");
  }
}

TEST_F(FakeTest, ReadsOfMissingOrForbiddenNodesSetNoWatch) {
  Recorder rec;
  auto c = connect();
  rec.attach(*c);
  EXPECT_EQ(getSync(*c, "/g", true).code, Code::kNoNode);
  EXPECT_EQ(getChildrenSync(*c, "/g", true).code, Code::kNoNode);
  ASSERT_EQ(server_->createDirect(createOp("/g")).code, Code::kOk);
  CreateOp secret = createOp("/secret");
  secret.acl = {Acl{perm::kAll, "digest", digestAclId("alice:secret")}};
  ASSERT_EQ(server_->createDirect(secret).code, Code::kOk);
  EXPECT_EQ(getSync(*c, "/secret", true).code, Code::kNoAuth);
  server_->setDirect("/secret", "x");
  server_->setDirect("/g", "x");
  ASSERT_TRUE(c->waitIdle());
  EXPECT_TRUE(rec.takeWatches().empty());
  EXPECT_EQ(c->watchCount(), 0u);
  EXPECT_EQ(server_->watchCount(), 0u);
}

TEST_F(FakeTest, OwnWriteFiresOwnWatchBeforeItsAnswer) {
  auto c = connect();
  std::mutex mu;
  std::vector<std::string> order;
  c->setWatchListener([&](const WatchEvent& e) {
    std::lock_guard lk(mu);
    order.push_back("event " + e.path);
  });
  ASSERT_EQ(createSync(*c, createOp("/o")).code, Code::kOk);
  (void)getSync(*c, "/o", true);
  c->set(SetOp{"/o", "x"}, [&](StatResult r) {
    std::lock_guard lk(mu);
    order.push_back("answer " + std::string(codeName(r.code)));
  });
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(order, (std::vector<std::string>{"event /o", "answer ok"}));
}

TEST_F(FakeTest, WatchEventsCarryTheGenerationAndDieWithTheirSession) {
  Recorder rec;
  auto c = connect();
  rec.attach(*c);
  ASSERT_EQ(server_->createDirect(createOp("/g")).code, Code::kOk);
  (void)existsSync(*c, "/g", true);
  server_->setDirect("/g", "1");
  ASSERT_TRUE(c->waitIdle());
  auto events = rec.watches();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].generation, 1u);

  // Hold the completion thread inside a callback while a gen-1 event is
  // queued, then reopen: the queued event must never be delivered.
  std::promise<void> entered, release;
  (void)existsSync(*c, "/g", true);
  c->exists("/g", false, [&](StatResult) {
    entered.set_value();
    release.get_future().wait();
  });
  entered.get_future().wait();
  server_->setDirect("/g", "2");
  ASSERT_TRUE(c->reopen(milliseconds(100)));
  release.set_value();
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(rec.watches().size(), 1u) << "the event of generation 1 was dropped";
  EXPECT_EQ(c->generation(), 2u);
}

// ---------------------------------------------------------------------------
// persistent and recursive watches (their contract is in the conformance
// suite; these are the fake's own views of them)

VoidResult addWatchSync(Client& c, const std::string& path, AddWatchMode mode) {
  return await<VoidResult>([&](auto cb) { c.addWatch(path, mode, std::move(cb)); });
}

TEST_F(FakeTest, PersistentWatchesLiveInBothManagersRecursiveOnesInTheDataManager) {
  auto c = connect();
  ASSERT_EQ(server_->createRecursiveDirect("/p"), Code::kOk);
  ASSERT_EQ(addWatchSync(*c, "/p", AddWatchMode::kPersistent).code, Code::kOk);
  EXPECT_EQ(server_->watchCount(), 2u);
  ASSERT_EQ(addWatchSync(*c, "/r", AddWatchMode::kPersistentRecursive).code, Code::kOk);
  EXPECT_EQ(server_->watchCount(), 3u);
  EXPECT_EQ(c->watchCount(), 2u);
  const int64_t zxid = server_->zxid();
  ASSERT_EQ(addWatchSync(*c, "/q", AddWatchMode::kPersistent).code, Code::kOk);
  EXPECT_EQ(server_->zxid(), zxid) << "addWatch is no transaction";
  c->close();
  EXPECT_EQ(server_->watchCount(), 0u);
  EXPECT_EQ(c->watchCount(), 0u);
}

TEST_F(FakeTest, ReconnectReaddsPersistentWatchesWithoutCatchUpEvents) {
  Recorder rec;
  auto c = connect();
  rec.attach(*c);
  ASSERT_EQ(server_->createRecursiveDirect("/r/x"), Code::kOk);
  ASSERT_EQ(server_->createRecursiveDirect("/d"), Code::kOk);
  ASSERT_EQ(addWatchSync(*c, "/r", AddWatchMode::kPersistentRecursive).code, Code::kOk);
  (void)getSync(*c, "/d", true);
  c->disconnect();
  EXPECT_EQ(server_->watchCount(), 0u);
  server_->setDirect("/r/x", "while away");
  server_->setDirect("/d", "while away");
  ASSERT_EQ(c->reconnect(), SessionState::kConnected);
  ASSERT_TRUE(c->waitIdle());
  // The one-shot watch catches up (SetWatches compares zxids); the
  // recursive one is re-added and the server replays nothing.
  EXPECT_EQ(rec.takeWatches(), (Events{{EventType::kDataChanged, "/d"}}));
  EXPECT_EQ(server_->watchCount(), 1u);
  server_->setDirect("/r/x", "back");
  ASSERT_TRUE(c->waitIdle());
  auto events = rec.watches();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].path, "/r/x");
  EXPECT_EQ(events[0].origins, watch_origin::kRecursive);
}

TEST_F(FakeTest, PersistentPathsCountInTheSetWatchesSize) {
  auto c = connect();
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(addWatchSync(*c, "/some-long-watched-path-" + std::to_string(i), AddWatchMode::kPersistentRecursive)
                  .code,
              Code::kOk);
  }
  server_->setMaxRequestBytes(1000);
  c->disconnect();
  EXPECT_EQ(c->reconnect(), SessionState::kConnecting) << "SetWatches2 over jute.maxbuffer";
  server_->setMaxRequestBytes(0xfffff);
  EXPECT_EQ(c->reconnect(), SessionState::kConnected);
}

TEST_F(FakeTest, AServerWithZookeeper4466FixedKeepsTheRecursiveWatch) {
  FakeServerOptions o;
  o.one_shot_replaces_persistent = false;
  auto fixed = std::make_shared<FakeServer>(o);
  FakeClient c(fixed);
  Recorder rec;
  rec.attach(c);
  ASSERT_EQ(fixed->createRecursiveDirect("/w"), Code::kOk);
  ASSERT_EQ(addWatchSync(c, "/w", AddWatchMode::kPersistentRecursive).code, Code::kOk);
  (void)getSync(c, "/w", true);
  fixed->setDirect("/w", "1");
  fixed->createDirect(createOp("/w/a"));
  ASSERT_TRUE(c.waitIdle());
  const auto events = rec.watches();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].origins, watch_origin::kOneShot | watch_origin::kRecursive);
  EXPECT_EQ(events[1].path, "/w/a");
  EXPECT_EQ(events[1].origins, watch_origin::kRecursive);
}

TEST_F(FakeTest, MultiReadCountsEachOpAndTakesNoZxid) {
  auto c = connect();
  ASSERT_EQ(server_->createRecursiveDirect("/x/y"), Code::kOk);
  const int64_t zxid = server_->zxid();
  auto r = await<MultiReadResult>([&](auto cb) {
    c->multiRead({ReadOp{ReadKind::kGetData, "/x"}, ReadOp{ReadKind::kGetChildren, "/x"},
                  ReadOp{ReadKind::kGetData, "/none"}},
                 std::move(cb));
  });
  ASSERT_EQ(r.code, Code::kOk);
  EXPECT_EQ(c->counters().reads, 3u);
  EXPECT_EQ(c->counters().multi_reads, 1u);
  EXPECT_EQ(await<VoidResult>([&](auto cb) { c->sync("/x", std::move(cb)); }).code, Code::kOk);
  EXPECT_EQ(server_->zxid(), zxid);
  EXPECT_EQ(c->watchCount(), 0u) << "multiRead sets no watch";

  // Without the capability, the base class reads op by op.
  auto plain = connect(FakeClientOptions{.capabilities = Capabilities{}});
  auto emulated = await<MultiReadResult>(
      [&](auto cb) { plain->multiRead({ReadOp{ReadKind::kGetChildren, "/x"}}, std::move(cb)); });
  ASSERT_EQ(emulated.code, Code::kOk);
  EXPECT_EQ(emulated.results[0].stat.num_children, 1) << "getChildren keeps its stat there";
  EXPECT_EQ(plain->counters().reads, 1u);
  EXPECT_EQ(plain->counters().multi_reads, 0u);
}

// ---------------------------------------------------------------------------
// sessions

TEST_F(FakeTest, ExpiryDeletesEphemeralsAndFailsRequestsUntilReopen) {
  Recorder ra, rb;
  auto a = connect();
  auto b = connect();
  ra.attach(*a);
  rb.attach(*b);
  ASSERT_EQ(createSync(*a, createOp("/eph", CreateMode::kEphemeral)).code, Code::kOk);
  ASSERT_EQ(createSync(*a, createOp("/keep")).code, Code::kOk);
  EXPECT_EQ(existsSync(*b, "/eph", true).stat.ephemeral_owner, a->sessionId());
  const int64_t old_session = a->sessionId();
  ra.takeSessionStates();

  a->expireSession();
  EXPECT_EQ(a->state(), SessionState::kExpired);
  EXPECT_FALSE(server_->node("/eph"));
  EXPECT_TRUE(server_->node("/keep"));
  ASSERT_TRUE(b->waitIdle());
  EXPECT_EQ(rb.takeWatches(), (Events{{EventType::kDeleted, "/eph"}}));
  EXPECT_EQ(getSync(*a, "/keep").code, Code::kSessionExpired);
  EXPECT_EQ(createSync(*a, createOp("/x")).code, Code::kSessionExpired);
  EXPECT_FALSE(server_->node("/x"));
  ASSERT_TRUE(a->waitIdle());
  auto expired = ra.sessions();
  ASSERT_EQ(expired.size(), 1u) << "the constructor's open is silent";
  EXPECT_EQ(expired[0].state, SessionState::kExpired);
  EXPECT_EQ(expired[0].generation, 1u);

  ASSERT_TRUE(a->reopen(milliseconds(100)));
  EXPECT_EQ(a->generation(), 2u);
  EXPECT_NE(a->sessionId(), old_session);
  EXPECT_EQ(getSync(*a, "/keep").code, Code::kOk);
  ASSERT_TRUE(a->waitIdle());
  auto reopened = ra.sessions();
  ASSERT_EQ(reopened.size(), 2u);
  EXPECT_EQ(reopened[1].state, SessionState::kConnected);
  EXPECT_EQ(reopened[1].generation, 2u);
}

TEST_F(FakeTest, RequestsInFlightWhenTheSessionEndsFailUnapplied) {
  auto c = connect();
  c->pauseRequests();
  std::promise<Code> created, read;
  c->create(createOp("/late"), [&](CreateResult r) { created.set_value(r.code); });
  c->get("/", false, [&](GetResult r) { read.set_value(r.code); });
  EXPECT_EQ(c->pending(), 2u);
  c->expireSession();
  c->resumeRequests();
  EXPECT_EQ(created.get_future().get(), Code::kSessionExpired);
  EXPECT_EQ(read.get_future().get(), Code::kSessionExpired);
  EXPECT_FALSE(server_->node("/late"));
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(c->pending(), 0u);
}

TEST_F(FakeTest, DisconnectKeepsTheSessionAndRecoversWatchesOnReconnect) {
  Recorder rec;
  auto c = connect();
  rec.attach(*c);
  ASSERT_EQ(server_->createRecursiveDirect("/d/changed"), Code::kOk);
  ASSERT_EQ(server_->createRecursiveDirect("/d/same"), Code::kOk);
  ASSERT_EQ(createSync(*c, createOp("/d/eph", CreateMode::kEphemeral)).code, Code::kOk);
  (void)getSync(*c, "/d/changed", true);
  (void)getSync(*c, "/d/same", true);
  (void)getChildrenSync(*c, "/d", true);
  (void)existsSync(*c, "/d/born", true);
  ASSERT_TRUE(c->waitIdle());
  rec.takeSessionStates();
  const int64_t session = c->sessionId();

  c->pauseRequests();
  std::promise<Code> in_flight;
  c->get("/d", false, [&](GetResult r) { in_flight.set_value(r.code); });
  c->disconnect();
  c->resumeRequests();
  EXPECT_EQ(in_flight.get_future().get(), Code::kConnectionLoss);
  EXPECT_EQ(c->state(), SessionState::kConnecting);
  EXPECT_EQ(getSync(*c, "/d").code, Code::kConnectionLoss);
  EXPECT_EQ(server_->watchCount(), 0u) << "the server forgets a closed connection's watches";
  EXPECT_EQ(c->watchCount(), 4u) << "the client keeps them";

  server_->setDirect("/d/changed", "x");
  server_->createDirect(createOp("/d/born"));
  ASSERT_TRUE(c->waitIdle());
  EXPECT_TRUE(rec.takeWatches().empty()) << "nothing arrives while disconnected";
  EXPECT_TRUE(server_->node("/d/eph")) << "ephemerals live on with the session";

  EXPECT_EQ(c->reconnect(), SessionState::kConnected);
  EXPECT_EQ(c->sessionId(), session);
  EXPECT_EQ(c->generation(), 1u);
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(rec.takeSessionStates(), (std::vector<SessionState>{SessionState::kConnecting, SessionState::kConnected}));
  auto recovered = rec.takeWatches();
  std::sort(recovered.begin(), recovered.end());
  Events expected{{EventType::kCreated, "/d/born"},
                  {EventType::kDataChanged, "/d/changed"},
                  {EventType::kChildrenChanged, "/d"}};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(recovered, expected);

  server_->setDirect("/d/same", "x");
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(rec.takeWatches(), (Events{{EventType::kDataChanged, "/d/same"}})) << "re-armed by SetWatches";
}

TEST_F(FakeTest, NodeDeletedWhileDisconnectedIsReportedOnceOnReconnect) {
  Recorder rec;
  auto c = connect();
  rec.attach(*c);
  ASSERT_EQ(server_->createRecursiveDirect("/gone"), Code::kOk);
  (void)getSync(*c, "/gone", true);
  (void)getChildrenSync(*c, "/gone", true);
  c->disconnect();
  ASSERT_EQ(server_->removeDirect("/gone").code, Code::kOk);
  // SetWatches answers kDeleted for the data and for the child watch; the C
  // client hands the event to its watchers once.
  EXPECT_EQ(c->reconnect(), SessionState::kConnected);
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(rec.takeWatches(), (Events{{EventType::kDeleted, "/gone"}}));
  EXPECT_EQ(c->watchCount(), 0u);
  EXPECT_EQ(server_->watchCount(), 0u);
}

TEST_F(FakeTest, ExpiryWhileDisconnectedIsLearntOnReconnect) {
  Recorder rec;
  auto c = connect();
  rec.attach(*c);
  ASSERT_EQ(createSync(*c, createOp("/eph", CreateMode::kEphemeral)).code, Code::kOk);
  c->disconnect();
  c->expireSession();
  EXPECT_FALSE(server_->node("/eph")) << "the server deleted it at expiry";
  EXPECT_EQ(c->state(), SessionState::kConnecting) << "the client does not know yet";
  EXPECT_EQ(getSync(*c, "/").code, Code::kConnectionLoss);
  EXPECT_EQ(c->reconnect(), SessionState::kExpired);
  EXPECT_EQ(getSync(*c, "/").code, Code::kSessionExpired);
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(rec.takeSessionStates(), (std::vector<SessionState>{SessionState::kConnecting, SessionState::kExpired}));
}

TEST_F(FakeTest, ReopenAndCloseEndTheLiveSession) {
  Recorder rec;
  auto c = connect();
  rec.attach(*c);
  ASSERT_EQ(createSync(*c, createOp("/e1", CreateMode::kEphemeral)).code, Code::kOk);
  c->pauseRequests();
  std::promise<Code> pending;
  c->get("/", false, [&](GetResult r) { pending.set_value(r.code); });
  ASSERT_TRUE(c->reopen(milliseconds(100)));
  c->resumeRequests();
  EXPECT_EQ(pending.get_future().get(), Code::kClosing);
  EXPECT_FALSE(server_->node("/e1"));
  EXPECT_EQ(c->generation(), 2u);
  EXPECT_EQ(server_->sessionCount(), 1u);

  ASSERT_EQ(createSync(*c, createOp("/e2", CreateMode::kEphemeral)).code, Code::kOk);
  c->close();
  EXPECT_EQ(c->state(), SessionState::kClosed);
  EXPECT_EQ(c->sessionId(), 0);
  EXPECT_FALSE(server_->node("/e2"));
  EXPECT_EQ(getSync(*c, "/").code, Code::kClosing);
  EXPECT_EQ(server_->sessionCount(), 0u);

  server_->setAcceptingConnections(false);
  auto refused = c->reopen(milliseconds(100));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kTimeout);
  server_->setAcceptingConnections(true);
  ASSERT_TRUE(c->reopen(milliseconds(100)));
  EXPECT_EQ(c->generation(), 3u);
}

TEST_F(FakeTest, AClientMayWaitForReopenLikeTheRealOne) {
  FakeClientOptions o;
  o.connect = false;
  Recorder rec;
  auto c = connect(o);
  rec.attach(*c);
  EXPECT_EQ(c->state(), SessionState::kClosed);
  EXPECT_EQ(c->generation(), 0u);
  EXPECT_EQ(getSync(*c, "/").code, Code::kClosing);
  ASSERT_TRUE(c->reopen(milliseconds(100)));
  EXPECT_EQ(c->generation(), 1u);
  EXPECT_EQ(getSync(*c, "/").code, Code::kOk);
  const auto sessions = rec.sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].state, SessionState::kConnected);
  EXPECT_EQ(sessions[0].generation, 1u);
}

// ---------------------------------------------------------------------------
// request size

TEST_F(FakeTest, RequestOverJuteMaxBufferDropsTheConnection) {
  Recorder rec;
  auto c = connect();
  rec.attach(*c);
  ASSERT_EQ(createSync(*c, createOp("/big")).code, Code::kOk);
  (void)getSync(*c, "/big", true);
  ASSERT_TRUE(c->waitIdle());
  rec.takeSessionStates();
  const int64_t session = c->sessionId();
  // A setData request is 24 bytes plus the data for a 4-character path;
  // a 3.8 server accepted 1048551 bytes and dropped the connection at 1048552.
  EXPECT_EQ(setSync(*c, SetOp{"/big", std::string(1048551, 'x')}).code, Code::kOk);
  ASSERT_TRUE(c->waitIdle());
  rec.takeWatches();
  (void)getSync(*c, "/big", true);

  c->pauseRequests();
  std::promise<Code> big, after;
  c->set(SetOp{"/big", std::string(1048552, 'y')}, [&](StatResult r) { big.set_value(r.code); });
  c->get("/big", false, [&](GetResult r) { after.set_value(r.code); });
  c->resumeRequests();
  EXPECT_EQ(big.get_future().get(), Code::kConnectionLoss);
  EXPECT_EQ(after.get_future().get(), Code::kConnectionLoss) << "everything in flight is lost with the connection";
  EXPECT_EQ(server_->node("/big")->stat.data_length, 1048551);
  EXPECT_EQ(c->state(), SessionState::kConnected) << "the client reconnected to the same session";
  EXPECT_EQ(c->sessionId(), session);
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(rec.takeSessionStates(), (std::vector<SessionState>{SessionState::kConnecting, SessionState::kConnected}));

  server_->setDirect("/big", "small");
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(rec.takeWatches(), (Events{{EventType::kDataChanged, "/big"}})) << "watch re-armed";

  // A multi counts as one request.
  std::vector<Op> ops;
  for (int i = 0; i < 3; ++i) ops.push_back(createOp("/m" + std::to_string(i), CreateMode::kPersistent, std::string(400000, 'z')));
  EXPECT_EQ(multiSync(*c, ops).code, Code::kConnectionLoss);
  EXPECT_FALSE(server_->node("/m0"));
}

TEST_F(FakeTest, SetWatchesOverJuteMaxBufferKeepsTheClientDisconnected) {
  auto c = connect();
  ASSERT_EQ(server_->createDirect(createOp("/w")).code, Code::kOk);
  for (int i = 0; i < 50; ++i) (void)existsSync(*c, "/w/some-long-child-name-" + std::to_string(i), true);
  server_->setMaxRequestBytes(1000);
  c->disconnect();
  EXPECT_EQ(c->reconnect(), SessionState::kConnecting) << "ZOOKEEPER-706";
  EXPECT_EQ(getSync(*c, "/").code, Code::kConnectionLoss);
  server_->setMaxRequestBytes(0xfffff);
  EXPECT_EQ(c->reconnect(), SessionState::kConnected);
}

// ---------------------------------------------------------------------------
// containers and TTL nodes

TEST_F(FakeTest, ContainerAndTtlNodesLookPersistentToClients) {
  auto c = connect();
  ASSERT_EQ(createSync(*c, createOp("/box", CreateMode::kContainer)).code, Code::kOk);
  CreateOp ttl = createOp("/ttl", CreateMode::kPersistentWithTtl);
  ttl.ttl_ms = 5000;
  ASSERT_EQ(createSync(*c, ttl).code, Code::kOk);
  CreateOp seq_ttl = createOp("/ttls-", CreateMode::kPersistentSequentialWithTtl);
  seq_ttl.ttl_ms = 7000;
  auto seq = createSync(*c, seq_ttl);
  ASSERT_EQ(seq.code, Code::kOk);

  // ZooKeeper 3.5.4+ reports ephemeralOwner 0 for both (DataNode.copyStat).
  EXPECT_EQ(existsSync(*c, "/box").stat.ephemeral_owner, 0);
  EXPECT_EQ(existsSync(*c, "/ttl").stat.ephemeral_owner, 0);
  EXPECT_EQ(server_->node("/box")->kind, NodeKind::kContainer);
  EXPECT_EQ(server_->node("/ttl")->kind, NodeKind::kTtl);
  EXPECT_EQ(server_->node("/ttl")->ttl_ms, 5000);
  EXPECT_EQ(server_->node(seq.path)->ttl_ms, 7000);

  FakeServerOptions o;
  o.expose_extended_owner = true;
  auto exposing = std::make_shared<FakeServer>(o);
  FakeClient e(exposing);
  ASSERT_EQ(createSync(e, createOp("/box", CreateMode::kContainer)).code, Code::kOk);
  ASSERT_EQ(createSync(e, ttl).code, Code::kOk);
  const Stat box = existsSync(e, "/box").stat;
  const Stat t = existsSync(e, "/ttl").stat;
  EXPECT_EQ(static_cast<uint64_t>(box.ephemeral_owner), 0x8000000000000000ULL);
  EXPECT_EQ(static_cast<uint64_t>(t.ephemeral_owner), 0xFF00000000000000ULL | 5000);
  EXPECT_EQ(kindOf(box), NodeKind::kContainer);
  EXPECT_EQ(kindOf(t), NodeKind::kTtl);
}

TEST_F(FakeTest, TtlArgumentsAndExtendedTypes) {
  auto c = connect();
  const int64_t zxid = server_->zxid();
  for (int64_t bad : {int64_t{0}, int64_t{-1}, int64_t{0xFFFFFFFFFFLL} + 1}) {
    CreateOp op = createOp("/t", CreateMode::kPersistentWithTtl);
    op.ttl_ms = bad;
    EXPECT_EQ(createSync(*c, op).code, Code::kBadArguments) << bad;
  }
  EXPECT_EQ(server_->zxid(), zxid) << "refused by the C client";

  FakeServerOptions o;
  o.extended_types_enabled = false;
  auto plain = std::make_shared<FakeServer>(o);
  FakeClient p(plain);
  CreateOp op = createOp("/t", CreateMode::kPersistentWithTtl);
  op.ttl_ms = 1000;
  EXPECT_EQ(createSync(p, op).code, Code::kUnimplemented);
}

TEST_F(FakeTest, ReapingContainersAndExpiredTtlNodes) {
  Recorder rec;
  auto c = connect();
  rec.attach(*c);
  ASSERT_EQ(createSync(*c, createOp("/used", CreateMode::kContainer)).code, Code::kOk);
  ASSERT_EQ(createSync(*c, createOp("/unused", CreateMode::kContainer)).code, Code::kOk);
  ASSERT_EQ(createSync(*c, createOp("/full", CreateMode::kContainer)).code, Code::kOk);
  ASSERT_EQ(createSync(*c, createOp("/used/x")).code, Code::kOk);
  ASSERT_EQ(removeSync(*c, DeleteOp{"/used/x"}).code, Code::kOk);
  ASSERT_EQ(createSync(*c, createOp("/full/x")).code, Code::kOk);
  (void)existsSync(*c, "/used", true);

  const int64_t zxid = server_->zxid();
  EXPECT_EQ(server_->reapContainers(), 1u);
  EXPECT_FALSE(server_->node("/used"));
  EXPECT_TRUE(server_->node("/unused")) << "never had a child";
  EXPECT_TRUE(server_->node("/full"));
  EXPECT_EQ(server_->zxid(), zxid + 1);
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(rec.takeWatches(), (Events{{EventType::kDeleted, "/used"}}));

  now_ = 10'000;
  CreateOp t = createOp("/ttl", CreateMode::kPersistentWithTtl);
  t.ttl_ms = 500;
  ASSERT_EQ(createSync(*c, t).code, Code::kOk);
  CreateOp busy = createOp("/ttlbusy", CreateMode::kPersistentWithTtl);
  busy.ttl_ms = 500;
  ASSERT_EQ(createSync(*c, busy).code, Code::kOk);
  ASSERT_EQ(createSync(*c, createOp("/ttlbusy/x")).code, Code::kOk);
  EXPECT_EQ(server_->reapExpiredTtl(10'500), 0u) << "not older than the TTL yet";
  EXPECT_EQ(server_->reapExpiredTtl(10'501), 1u);
  EXPECT_FALSE(server_->node("/ttl"));
  EXPECT_TRUE(server_->node("/ttlbusy")) << "has a child";
}

// ---------------------------------------------------------------------------
// ACLs

TEST_F(FakeTest, DigestIdsAreZooKeepers) {
  // Computed with Python's hashlib, as DigestAuthenticationProvider does.
  EXPECT_EQ(digestAclId("user:password"), "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=");
  EXPECT_EQ(digestAclId("alice:secret"), "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");
  EXPECT_EQ(digestAclId("super:superpw"), "super:g9oN2HttPfn8MMWJZ2r45Np/LIA=");
}

TEST_F(FakeTest, AclsAreEnforcedPerOperation) {
  FakeClientOptions alice_options;
  alice_options.auth = {AuthEntry{"digest", "alice:secret"}};
  auto alice = connect(alice_options);
  auto anon = connect();
  const std::string alice_id = digestAclId("alice:secret");

  auto make = [&](const std::string& path, AclList acl) {
    CreateOp op = createOp(path);
    op.acl = std::move(acl);
    ASSERT_EQ(server_->createDirect(op).code, Code::kOk) << path;
  };
  make("/ro", {Acl{perm::kRead, "world", "anyone"}});
  make("/private", {Acl{perm::kAll, "digest", alice_id}});
  make("/nodelete", {Acl{perm::kAll & ~perm::kDelete, "world", "anyone"}});
  ASSERT_EQ(server_->createDirect(createOp("/nodelete/child")).code, Code::kOk);
  make("/nocreate", {Acl{perm::kAll & ~perm::kCreate, "world", "anyone"}});
  ASSERT_EQ(server_->createDirect(createOp("/nocreate/child")).code, Code::kOk);
  make("/shown", {Acl{perm::kRead | perm::kAdmin, "digest", alice_id}, Acl{perm::kRead, "world", "anyone"}});

  struct AclCase {
    const char* name;
    std::function<Code(Client&)> op;
    Code anon;
    Code alice;
  };
  const AclCase cases[] = {
      {"get read-only", [](Client& c) { return getSync(c, "/ro").code; }, Code::kOk, Code::kOk},
      {"set read-only", [](Client& c) { return setSync(c, SetOp{"/ro", "x"}).code; }, Code::kNoAuth, Code::kNoAuth},
      {"create under read-only", [](Client& c) { return createSync(c, createOp("/ro/x")).code; }, Code::kNoAuth,
       Code::kNoAuth},
      {"setAcl read-only", [](Client& c) { return setAclSync(c, "/ro", openAcl()).code; }, Code::kNoAuth,
       Code::kNoAuth},
      {"get private", [](Client& c) { return getSync(c, "/private").code; }, Code::kNoAuth, Code::kOk},
      {"children private", [](Client& c) { return getChildrenSync(c, "/private").code; }, Code::kNoAuth,
       Code::kOk},
      {"exists private (no check)", [](Client& c) { return existsSync(c, "/private").code; }, Code::kOk,
       Code::kOk},
      {"getAcl private", [](Client& c) { return getAclSync(c, "/private").code; }, Code::kNoAuth, Code::kOk},
      {"check private", [](Client& c) { return multiSync(c, {CheckOp{"/private"}}).code; }, Code::kNoAuth,
       Code::kOk},
      {"delete missing child without DELETE", [](Client& c) { return removeSync(c, DeleteOp{"/nodelete/none"}).code; },
       Code::kNoAuth, Code::kNoAuth},
      {"delete child without DELETE", [](Client& c) { return removeSync(c, DeleteOp{"/nodelete/child"}).code; },
       Code::kNoAuth, Code::kNoAuth},
      {"create existing without CREATE", [](Client& c) { return createSync(c, createOp("/nocreate/child")).code; },
       Code::kNoAuth, Code::kNoAuth},
      {"set private", [](Client& c) { return setSync(c, SetOp{"/private", "x"}).code; }, Code::kNoAuth, Code::kOk},
  };
  for (const auto& ac : cases) {
    SCOPED_TRACE(ac.name);
    EXPECT_EQ(ac.op(*anon), ac.anon);
    EXPECT_EQ(ac.op(*alice), ac.alice);
  }

  // Without ADMIN, getAcl hides digest hashes.
  EXPECT_EQ(getAclSync(*anon, "/shown").acl[0].id, "alice:x");
  EXPECT_EQ(getAclSync(*alice, "/shown").acl[0].id, alice_id);
}

TEST_F(FakeTest, AclListsAreValidatedAndExpanded) {
  FakeClientOptions alice_options;
  alice_options.auth = {AuthEntry{"digest", "alice:secret"}};
  auto alice = connect(alice_options);
  auto anon = connect();
  auto withAcl = [](std::string path, AclList acl) {
    CreateOp op = createOp(std::move(path));
    op.acl = std::move(acl);
    return op;
  };
  ASSERT_EQ(createSync(*alice, withAcl("/mine", {Acl{perm::kRead | perm::kAdmin, "auth", ""}})).code, Code::kOk);
  EXPECT_EQ(getAclSync(*alice, "/mine").acl,
            (AclList{Acl{perm::kRead | perm::kAdmin, "digest", digestAclId("alice:secret")}}));

  struct Invalid {
    const char* name;
    AclList acl;
  };
  const Invalid invalid[] = {
      {"empty", {}},
      {"auth without credentials", {Acl{perm::kAll, "auth", ""}}},
      {"world other than anyone", {Acl{perm::kAll, "world", "foo"}}},
      {"digest without colon", {Acl{perm::kAll, "digest", "nocolon"}}},
      {"bad ip", {Acl{perm::kAll, "ip", "10.0.0.300"}}},
      {"unknown scheme", {Acl{perm::kAll, "sasl", "bob"}}},
  };
  for (const auto& inv : invalid) {
    SCOPED_TRACE(inv.name);
    EXPECT_EQ(createSync(*anon, withAcl("/inv", inv.acl)).code, Code::kInvalidAcl);
  }

  ASSERT_EQ(createSync(*anon, withAcl("/local", {Acl{perm::kAll, "ip", "127.0.0.1"}})).code, Code::kOk);
  ASSERT_EQ(createSync(*anon, withAcl("/subnet", {Acl{perm::kAll, "ip", "127.0.0.0/8"}})).code, Code::kOk);
  ASSERT_EQ(createSync(*anon, withAcl("/remote", {Acl{perm::kAll, "ip", "10.0.0.0/8"}})).code, Code::kOk);
  EXPECT_EQ(getSync(*anon, "/local").code, Code::kOk);
  EXPECT_EQ(getSync(*anon, "/subnet").code, Code::kOk);
  EXPECT_EQ(getSync(*anon, "/remote").code, Code::kNoAuth);
  // Duplicates are dropped.
  ASSERT_EQ(createSync(*anon, withAcl("/dup", {openAcl()[0], openAcl()[0]})).code, Code::kOk);
  EXPECT_EQ(getAclSync(*anon, "/dup").acl, openAcl());
}

TEST_F(FakeTest, AddAuthSuperDigestAndAuthFailure) {
  FakeServerOptions o;
  o.super_digest = digestAclId("super:superpw");
  auto server = std::make_shared<FakeServer>(o);
  CreateOp op = createOp("/private");
  op.acl = {Acl{perm::kAll, "digest", digestAclId("alice:secret")}};
  ASSERT_EQ(server->createDirect(op).code, Code::kOk);

  FakeClient c(server);
  EXPECT_EQ(getSync(c, "/private").code, Code::kNoAuth);
  c.addAuth("digest", "alice:secret");
  EXPECT_EQ(getSync(c, "/private").code, Code::kOk);

  FakeClient root(server);
  root.addAuth("digest", "super:superpw");
  EXPECT_EQ(setSync(root, SetOp{"/private", "x"}).code, Code::kOk);

  Recorder rec;
  FakeClient bad(server);
  rec.attach(bad);
  bad.addAuth("kerberos", "whatever");
  EXPECT_EQ(bad.state(), SessionState::kAuthFailed);
  EXPECT_EQ(getSync(bad, "/").code, Code::kAuthFailed);
  ASSERT_TRUE(bad.waitIdle());
  EXPECT_EQ(rec.takeSessionStates(), (std::vector<SessionState>{SessionState::kAuthFailed}));
}

// ---------------------------------------------------------------------------
// threads, counters, helpers

TEST_F(FakeTest, CallbacksRunOnOneCompletionThreadInRequestOrder) {
  auto c = connect();
  ASSERT_EQ(server_->createDirect(createOp("/o")).code, Code::kOk);
  std::mutex mu;
  std::vector<int> order;
  std::set<std::thread::id> threads;
  auto record = [&](int i) {
    std::lock_guard lk(mu);
    order.push_back(i);
    threads.insert(std::this_thread::get_id());
  };
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) {
    switch (i % 4) {
      case 0: c->get("/o", false, [&, i](GetResult) { record(i); }); break;
      case 1: c->set(SetOp{"/o", std::to_string(i)}, [&, i](StatResult) { record(i); }); break;
      case 2: c->exists("/missing", true, [&, i](StatResult) { record(i); }); break;
      default: c->multi({CheckOp{"/o"}}, [&, i](MultiResult) { record(i); }); break;
    }
  }
  ASSERT_TRUE(c->waitIdle());
  std::vector<int> expected(kRequests);
  for (int i = 0; i < kRequests; ++i) expected[i] = i;
  EXPECT_EQ(order, expected);
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
}

TEST_F(FakeTest, CallbacksMayIssueRequestsAndWaitIdleCoversThem) {
  auto c = connect();
  std::atomic<int> done{0};
  std::function<void(int)> chain = [&](int n) {
    c->create(createOp("/chain" + std::to_string(n)), [&, n](CreateResult) {
      if (n < 20) chain(n + 1);
      ++done;
    });
  };
  chain(0);
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(done.load(), 21);
  EXPECT_TRUE(server_->node("/chain20"));
  EXPECT_EQ(c->pending(), 0u);
}

TEST_F(FakeTest, ServerWaitIdleCoversClientsTriggeringEachOther) {
  auto a = connect();
  auto b = connect();
  ASSERT_EQ(server_->createDirect(createOp("/ping")).code, Code::kOk);
  a->setWatchListener([&](const WatchEvent&) { b->create(createOp("/pong"), [](CreateResult) {}); });
  (void)getSync(*a, "/ping", true);
  server_->setDirect("/ping", "x");
  ASSERT_TRUE(server_->waitIdle());
  EXPECT_TRUE(server_->node("/pong"));
}

TEST_F(FakeTest, CountersSeparateReadsFromWrites) {
  auto c = connect();
  ASSERT_EQ(server_->createRecursiveDirect("/x/y"), Code::kOk);
  (void)getSync(*c, "/x");
  (void)getChildrenSync(*c, "/x");
  (void)existsSync(*c, "/x/y");
  (void)getAclSync(*c, "/x");
  EXPECT_EQ(c->counters().reads, 4u);
  EXPECT_EQ(c->counters().writes(), 0u) << "reads only: zero writes";
  EXPECT_EQ(c->counters().write_requests, 0u);

  EXPECT_EQ(createSync(*c, createOp("/x")).code, Code::kNodeExists);
  EXPECT_EQ(c->counters().write_requests, 1u);
  EXPECT_EQ(c->counters().writes(), 0u) << "refused writes are not applied";

  ASSERT_EQ(setSync(*c, SetOp{"/x", "d"}).code, Code::kOk);
  ASSERT_EQ(setAclSync(*c, "/x", openAcl()).code, Code::kOk);
  ASSERT_EQ(removeSync(*c, DeleteOp{"/x/y"}).code, Code::kOk);
  const auto counters = c->counters();
  EXPECT_EQ(counters.sets, 1u);
  EXPECT_EQ(counters.set_acls, 1u);
  EXPECT_EQ(counters.deletes, 1u);
  EXPECT_EQ(counters.writes(), 3u);
  EXPECT_EQ(server_->counters().writes(), 3u) << "direct helpers are not counted";
  c->resetCounters();
  EXPECT_EQ(c->counters().reads, 0u);
}

TEST_F(FakeTest, DirectHelpersSeedInspectAndFireWatches) {
  Recorder rec;
  auto c = connect();
  rec.attach(*c);
  ASSERT_EQ(server_->createRecursiveDirect("/a/b/c", "leaf"), Code::kOk);
  ASSERT_EQ(server_->createDirect(createOp("/a-b")).code, Code::kOk);
  std::vector<std::string> paths;
  for (const auto& n : server_->nodes("/a")) paths.push_back(n.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/a", "/a/b", "/a/b/c"})) << "/a-b is not under /a";
  EXPECT_EQ(server_->node("/a/b/c")->data, "leaf");

  (void)getSync(*c, "/a/b/c", true);
  const int64_t zxid = server_->zxid();
  EXPECT_EQ(server_->setDirect("/a/b/c", "new", 0).code, Code::kOk);
  EXPECT_EQ(server_->setDirect("/a/b/c", "newer", 0).code, Code::kBadVersion);
  EXPECT_EQ(server_->zxid(), zxid + 2);
  ASSERT_TRUE(c->waitIdle());
  EXPECT_EQ(rec.takeWatches(), (Events{{EventType::kDataChanged, "/a/b/c"}}));

  auto other = connect();
  CreateOp eph = createOp("/theirs", CreateMode::kEphemeral);
  EXPECT_EQ(server_->createDirect(eph).code, Code::kBadArguments) << "an ephemeral needs an owner";
  ASSERT_EQ(server_->createDirect(eph, other->sessionId()).code, Code::kOk);
  other->expireSession();
  EXPECT_FALSE(server_->node("/theirs"));

  EXPECT_EQ(server_->removeRecursiveDirect("/a"), Code::kOk);
  EXPECT_FALSE(server_->node("/a"));
  EXPECT_EQ(server_->multiDirect({createOp("/m1"), createOp("/m1")}).code, Code::kNodeExists);
  EXPECT_FALSE(server_->node("/m1"));
}

TEST_F(FakeTest, HashedChildOrderIsAPermutation) {
  auto hashed = std::make_shared<FakeServer>();
  FakeClient c(hashed);
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) {
    // Appended, not `"n" + std::to_string(i)`: GCC 12 at -O3 reports a
    // false -Wrestrict overlap in operator+(const char*, string&&).
    std::string name = "n";
    name += std::to_string(i);
    names.push_back(std::move(name));
    ASSERT_EQ(createSync(c, createOp("/" + names.back())).code, Code::kOk);
  }
  names.push_back("zookeeper");
  auto children = getChildrenSync(c, "/").children;
  EXPECT_NE(children, [&] { auto s = children; std::sort(s.begin(), s.end()); return s; }())
      << "hashed order is not sorted order for these names";
  std::sort(children.begin(), children.end());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(children, names);
}

}  // namespace
}  // namespace zks::zk
