// One conformance suite for the zk::Client contract (src/zk/client.h), run
// against every backend:
//  - zk_conformance_fake_test (label unit): the in-memory fake, once with all
//    capabilities and once with none (then multiRead is the base class's
//    emulation and addWatch answers kUnimplemented, as with libzookeeper);
//  - zk_conformance_test (label integration): libzookeeper and native
//    against one real ZooKeeper 3.8 server per backend run. Until the native
//    client lands, makeClient(kNative) builds the C client, so "native" runs
//    the libzookeeper backend; it tests the native one as soon as the
//    factory builds it.
// A case that needs a capability the backend lacks is skipped and names it.
//
// Events of one session arrive in order, so a barrier (a watch the test
// sets and fires itself) proves that nothing else was coming before it.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/digest.h"
#include "support/wait.h"
#include "zk/blocking.h"
#include "zk/client.h"
#include "zk/connect_options.h"

#if ZKS_CONFORMANCE_REAL
#include "support/zk_server.h"
#include "support/zk_session.h"
#else
#include "testdoubles/fake_client.h"
#endif

namespace zks::zk {

// Readable failures for the types the cases compare.
void PrintTo(Code code, std::ostream* os) { *os << codeName(code); }
void PrintTo(EventType type, std::ostream* os) { *os << eventTypeName(type); }

namespace {

using namespace std::chrono_literals;
using testing::waitFor;

constexpr const char* kSuperUser = "super:secret";

// ---------------------------------------------------------------------------
// Backends

// One ZooKeeper to test against, reached through one backend.
class Site {
 public:
  virtual ~Site() = default;
  // A client of this backend, not yet connected: reopen() connects it.
  virtual std::unique_ptr<Client> newClient(std::vector<AuthEntry> auth) = 0;
  // Makes the server expire `client`'s session, as a partition longer than
  // the session timeout would; returns once the client has seen it.
  virtual Status expire(Client& client) = 0;
};

struct BackendSpec {
  std::string name;
  std::function<std::unique_ptr<Site>()> site;
  // ZOOKEEPER-4466 as a 3.8.0 server shows it through this backend: a
  // one-shot data watch set on the path of the session's recursive watch
  // replaces the recursive watch. false: the backend works around it.
  bool one_shot_replaces_recursive = true;
};

void PrintTo(const BackendSpec& spec, std::ostream* os) { *os << spec.name; }

#if ZKS_CONFORMANCE_REAL

// One server for the whole binary; ctest runs the binary once per backend.
testing::ZkServer* g_server = nullptr;

class RealSite final : public Site {
 public:
  explicit RealSite(Backend backend) : backend_(backend) {}
  std::unique_ptr<Client> newClient(std::vector<AuthEntry> auth) override {
    ConnectOptions options = testing::testClientOptions(g_server->connectString());
    options.backend = backend_;
    options.auth = std::move(auth);
    return makeClient(std::move(options));
  }
  // support/zk_session.h; it must learn the native client's session id and
  // password when that client lands.
  Status expire(Client& client) override { return testing::expireSession(client); }

 private:
  Backend backend_;
};

std::vector<BackendSpec> backends() {
  return {
      {"libzookeeper", [] { return std::make_unique<RealSite>(Backend::kLibzookeeper); }},
      // The native client: makeClient(kNative). 3.8.0's ZOOKEEPER-4466 shows
      // through unless the client works around it (then set this false).
      {"native", [] { return std::make_unique<RealSite>(Backend::kNative); }, true},
  };
}

#else

class FakeSite final : public Site {
 public:
  explicit FakeSite(Capabilities capabilities) : capabilities_(capabilities) {
    FakeServerOptions options;
    options.super_digest = testing::digestAclId(kSuperUser);
    server_ = std::make_shared<FakeServer>(std::move(options));
  }
  std::unique_ptr<Client> newClient(std::vector<AuthEntry> auth) override {
    FakeClientOptions options;
    options.auth = std::move(auth);
    options.connect = false;
    options.capabilities = capabilities_;
    return std::make_unique<FakeClient>(server_, std::move(options));
  }
  Status expire(Client& client) override {
    auto* fake = dynamic_cast<FakeClient*>(&client);
    if (fake == nullptr) return fail(ErrorCode::kInternal, "not a FakeClient");
    fake->expireSession();
    return {};
  }

 private:
  Capabilities capabilities_;
  std::shared_ptr<FakeServer> server_;
};

std::vector<BackendSpec> backends() {
  return {
      {"fake", [] { return std::make_unique<FakeSite>(kAllCapabilities); }},
      {"fake_without_capabilities", [] { return std::make_unique<FakeSite>(Capabilities{}); }},
  };
}

#endif

// ---------------------------------------------------------------------------
// What a client's listeners and callbacks see, in delivery order.

struct Seen {
  EventType type;
  std::string path;
  uint8_t origins = 0;
  bool operator==(const Seen&) const = default;
};

void PrintTo(const Seen& s, std::ostream* os) {
  *os << eventTypeName(s.type) << " " << s.path << " origins=" << int{s.origins};
}

std::string entryOf(EventType type, const std::string& path) { return std::string(eventTypeName(type)) + " " + path; }

class Log {
 public:
  void attach(Client& c) {
    c.setWatchListener([this](const WatchEvent& e) {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
      entries_.push_back(entryOf(e.type, e.path));
    });
    c.setSessionListener([this](const SessionEvent& e) {
      std::lock_guard lock(mutex_);
      sessions_.push_back(e);
    });
  }
  // For callbacks: records a reply among the events.
  void note(std::string entry) {
    std::lock_guard lock(mutex_);
    entries_.push_back(std::move(entry));
  }
  // Watch events on `root` or below it, barriers left out.
  std::vector<Seen> events(const std::string& root) {
    std::lock_guard lock(mutex_);
    std::vector<Seen> out;
    for (const auto& e : events_) {
      const bool under = e.path == root || e.path.starts_with(root + "/");
      if (under && e.path.find("/barrier-") == std::string::npos) out.push_back({e.type, e.path, e.origins});
    }
    return out;
  }
  std::vector<WatchEvent> all() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<std::string> entries() {
    std::lock_guard lock(mutex_);
    return entries_;
  }
  bool waitEvent(EventType type, const std::string& path, std::chrono::milliseconds timeout = 10s) {
    return waitFor(
        [&] {
          std::lock_guard lock(mutex_);
          return std::any_of(events_.begin(), events_.end(),
                             [&](const WatchEvent& e) { return e.type == type && e.path == path; });
        },
        timeout);
  }
  bool waitSession(SessionState state, uint64_t generation, std::chrono::milliseconds timeout = 10s) {
    return waitFor(
        [&] {
          std::lock_guard lock(mutex_);
          return std::any_of(sessions_.begin(), sessions_.end(),
                             [&](const SessionEvent& e) { return e.state == state && e.generation == generation; });
        },
        timeout);
  }
  std::vector<SessionEvent> sessions() {
    std::lock_guard lock(mutex_);
    return sessions_;
  }

 private:
  std::mutex mutex_;
  std::vector<WatchEvent> events_;
  std::vector<SessionEvent> sessions_;
  std::vector<std::string> entries_;
};

// Counts the callbacks of many requests and the threads they ran on.
class Tally {
 public:
  template <typename R>
  std::function<void(R)> callback(size_t index) {
    return [this, index](R r) { record(index, r.code); };
  }
  void record(size_t index, Code code) {
    std::lock_guard lock(mutex_);
    calls_[index]++;
    codes_[index] = code;
    order_.push_back(index);
    threads_.insert(std::this_thread::get_id());
  }
  bool waitCalls(size_t n, std::chrono::milliseconds timeout = 20s) {
    return waitFor(
        [&] {
          std::lock_guard lock(mutex_);
          return order_.size() >= n;
        },
        timeout);
  }
  size_t calls() {
    std::lock_guard lock(mutex_);
    return order_.size();
  }
  std::map<size_t, int> callsPerRequest() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::map<size_t, Code> codes() {
    std::lock_guard lock(mutex_);
    return codes_;
  }
  std::vector<size_t> order() {
    std::lock_guard lock(mutex_);
    return order_;
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  std::mutex mutex_;
  std::map<size_t, int> calls_;
  std::map<size_t, Code> codes_;
  std::vector<size_t> order_;
  std::set<std::thread::id> threads_;
};

// Blocking forms of the calls blocking.h does not cover.
MultiReadResult multiReadSync(Client& c, std::vector<ReadOp> ops) {
  return await<MultiReadResult>([&](auto cb) { c.multiRead(std::move(ops), std::move(cb)); });
}
VoidResult addWatchSync(Client& c, const std::string& path, AddWatchMode mode) {
  return await<VoidResult>([&](auto cb) { c.addWatch(path, mode, std::move(cb)); });
}
VoidResult removeWatchesSync(Client& c, const std::string& path) {
  return await<VoidResult>([&](auto cb) { c.removeWatches(path, std::move(cb)); });
}
VoidResult syncSync(Client& c, const std::string& path) {
  return await<VoidResult>([&](auto cb) { c.sync(path, std::move(cb)); });
}

// prefix + i. Appended, not `"o" + std::to_string(i)`: GCC 12 at -O3 reports
// a false -Wrestrict overlap in operator+(const char*, string&&).
std::string numbered(std::string prefix, int i) {
  prefix += std::to_string(i);
  return prefix;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

constexpr uint8_t kOneShot = watch_origin::kOneShot;
constexpr uint8_t kPersistent = watch_origin::kPersistent;
constexpr uint8_t kRecursive = watch_origin::kRecursive;

// ---------------------------------------------------------------------------
// The fixture: a site per test, a root per test (the real server is shared
// by both backends' runs and all cases), and an `admin` client that changes
// things behind the client under test.

class ZkConformance : public ::testing::TestWithParam<BackendSpec> {
 protected:
  static void SetUpTestSuite() {
#if ZKS_CONFORMANCE_REAL
    testing::ZkServerOptions options;
    options.super_user = kSuperUser;
    g_server = new testing::ZkServer(options);
    auto st = g_server->start();
    ASSERT_TRUE(st) << st.error().describe();
#endif
  }
  static void TearDownTestSuite() {
#if ZKS_CONFORMANCE_REAL
    delete g_server;
    g_server = nullptr;
#endif
  }

  void SetUp() override {
#if ZKS_CONFORMANCE_REAL
    ASSERT_NE(g_server, nullptr);
    ASSERT_TRUE(g_server->running());
#endif
    site_ = GetParam().site();
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    root_ = "/" + name;
    admin_ = connect();
    ASSERT_TRUE(admin_);
    ASSERT_EQ(createSync(*admin_, CreateOp{.path = root_}).code, Code::kOk);
  }

  std::unique_ptr<Client> connect(std::vector<AuthEntry> auth = {}) {
    auto client = site_->newClient(std::move(auth));
    auto st = client->reopen(10s);
    EXPECT_TRUE(st) << st.error().describe();
    return st ? std::move(client) : nullptr;
  }

  std::string at(const std::string& relative) const { return root_ + "/" + relative; }

  // Once this returns, every event that changes made before it cause on
  // `c` has been delivered to `log`.
  void barrier(Client& c, Log& log) {
    const std::string path = at(numbered("barrier-", barriers_++));
    ASSERT_EQ(existsSync(c, path, /*watch=*/true).code, Code::kNoNode);
    ASSERT_EQ(createSync(c, CreateOp{.path = path}).code, Code::kOk);
    ASSERT_TRUE(log.waitEvent(EventType::kCreated, path)) << "barrier " << path;
  }

  bool persistentWatches(Client& c) const { return c.capabilities().persistent_watches; }

  std::unique_ptr<Site> site_;
  std::string root_;
  std::unique_ptr<Client> admin_;
  int barriers_ = 0;
};

#define SKIP_WITHOUT_PERSISTENT_WATCHES(client)                        \
  if (!(client).capabilities().persistent_watches) {                   \
    GTEST_SKIP() << "backend lacks capabilities().persistent_watches"; \
  }

// ---------------------------------------------------------------------------
// Operations and their answers

TEST_P(ZkConformance, CreateGetSetDeleteAndTheirAnswers) {
  auto c = connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state(), SessionState::kConnected);
  EXPECT_EQ(c->generation(), 1u);
  EXPECT_NE(c->sessionId(), 0);
  const std::string n = at("n");

  auto created = createSync(*c, CreateOp{.path = n, .data = "v1"});
  ASSERT_EQ(created.code, Code::kOk);
  EXPECT_EQ(created.path, n);
  auto got = getSync(*c, n);
  ASSERT_EQ(got.code, Code::kOk);
  EXPECT_EQ(got.data, "v1");
  EXPECT_EQ(got.stat.version, 0);
  EXPECT_EQ(got.stat.data_length, 2);
  EXPECT_EQ(got.stat.czxid, got.stat.mzxid);
  EXPECT_EQ(got.stat.pzxid, got.stat.czxid) << "a new node's pzxid is its czxid";
  EXPECT_EQ(kindOf(got.stat), NodeKind::kPersistent);

  auto set = setSync(*c, SetOp{.path = n, .data = "v2", .version = 0});
  ASSERT_EQ(set.code, Code::kOk);
  EXPECT_EQ(set.stat.version, 1);
  EXPECT_GT(set.stat.mzxid, got.stat.mzxid);
  EXPECT_EQ(set.stat.czxid, got.stat.czxid);
  EXPECT_EQ(setSync(*c, SetOp{.path = n, .data = "v3", .version = 0}).code, Code::kBadVersion);
  EXPECT_EQ(getSync(*c, n).data, "v2");

  // Binary data survives, NUL bytes included; empty data is empty.
  const std::string binary("a\0b\xff", 4);
  ASSERT_EQ(setSync(*c, SetOp{.path = n, .data = binary}).code, Code::kOk);
  EXPECT_EQ(getSync(*c, n).data, binary);
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("empty")}).code, Code::kOk);
  EXPECT_EQ(getSync(*c, at("empty")).data, "");

  EXPECT_EQ(createSync(*c, CreateOp{.path = n}).code, Code::kNodeExists);
  EXPECT_EQ(createSync(*c, CreateOp{.path = at("missing/child")}).code, Code::kNoNode);
  EXPECT_EQ(getSync(*c, at("missing")).code, Code::kNoNode);
  EXPECT_EQ(getChildrenSync(*c, at("missing")).code, Code::kNoNode);
  EXPECT_EQ(existsSync(*c, at("missing")).code, Code::kNoNode);
  EXPECT_EQ(setSync(*c, SetOp{.path = at("missing"), .data = "x"}).code, Code::kNoNode);
  EXPECT_EQ(getAclSync(*c, at("missing")).code, Code::kNoNode);
  EXPECT_EQ(setAclSync(*c, at("missing"), openAcl()).code, Code::kNoNode);

  ASSERT_EQ(createSync(*c, CreateOp{.path = n + "/a"}).code, Code::kOk);
  ASSERT_EQ(createSync(*c, CreateOp{.path = n + "/b", .data = "x"}).code, Code::kOk);
  auto children = getChildrenSync(*c, n);
  ASSERT_EQ(children.code, Code::kOk);
  EXPECT_EQ(sorted(children.children), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(children.stat.num_children, 2);
  EXPECT_EQ(children.stat.cversion, 2);
  auto exists = existsSync(*c, n + "/b");
  ASSERT_EQ(exists.code, Code::kOk);
  EXPECT_EQ(exists.stat.data_length, 1);

  EXPECT_EQ(removeSync(*c, DeleteOp{.path = n}).code, Code::kNotEmpty);
  EXPECT_EQ(removeSync(*c, DeleteOp{.path = n + "/a", .version = 5}).code, Code::kBadVersion);
  EXPECT_EQ(removeSync(*c, DeleteOp{.path = n + "/a", .version = 0}).code, Code::kOk);
  EXPECT_EQ(removeSync(*c, DeleteOp{.path = n + "/a"}).code, Code::kNoNode);
  auto after = existsSync(*c, n);
  EXPECT_EQ(after.stat.num_children, 1);
  EXPECT_EQ(after.stat.cversion, 3) << "a delete raises the reported cversion too";
  EXPECT_GT(after.stat.pzxid, children.stat.pzxid);
}

TEST_P(ZkConformance, InvalidPathsAreRefusedOnTheCompletionThread) {
  auto c = connect();
  ASSERT_TRUE(c);
  std::mutex mutex;
  std::thread::id thread;
  int calls = 0;
  c->get("no-leading-slash", false, [&](GetResult r) {
    std::lock_guard lock(mutex);
    EXPECT_EQ(r.code, Code::kBadArguments);
    thread = std::this_thread::get_id();
    ++calls;
  });
  ASSERT_TRUE(waitFor(
      [&] {
        std::lock_guard lock(mutex);
        return calls > 0;
      },
      10s));
  {
    std::lock_guard lock(mutex);
    EXPECT_NE(thread, std::this_thread::get_id());
    EXPECT_EQ(calls, 1);
  }
  EXPECT_EQ(createSync(*c, CreateOp{.path = at("trailing/")}).code, Code::kBadArguments);
  EXPECT_EQ(createSync(*c, CreateOp{.path = at("a//b")}).code, Code::kBadArguments);
  EXPECT_EQ(setSync(*c, SetOp{.path = at("a/../b"), .data = "x"}).code, Code::kBadArguments);
  EXPECT_EQ(removeSync(*c, DeleteOp{.path = ""}).code, Code::kBadArguments);
  EXPECT_EQ(syncSync(*c, "relative").code, Code::kBadArguments);

  // A multi is refused whole; a multiRead answers the bad op alone.
  auto multi = multiSync(*c, {CreateOp{.path = at("ok")}, DeleteOp{.path = at("bad/")}});
  EXPECT_EQ(multi.code, Code::kBadArguments);
  EXPECT_TRUE(multi.results.empty());
  EXPECT_EQ(existsSync(*c, at("ok")).code, Code::kNoNode);
  auto reads = multiReadSync(*c, {ReadOp{ReadKind::kGetData, root_}, ReadOp{ReadKind::kGetData, "bad"}});
  ASSERT_EQ(reads.code, Code::kOk);
  ASSERT_EQ(reads.results.size(), 2u);
  EXPECT_EQ(reads.results[0].code, Code::kOk);
  EXPECT_EQ(reads.results[1].code, Code::kBadArguments);
  EXPECT_TRUE(waitFor([&] { return c->pending() == 0; }, 10s));
}

TEST_P(ZkConformance, SequentialNamesFollowTheParentsChildCreates) {
  auto c = connect();
  ASSERT_TRUE(c);
  auto seq = [&](const std::string& prefix, CreateMode mode = CreateMode::kPersistentSequential) {
    auto r = createSync(*c, CreateOp{.path = prefix, .mode = mode});
    EXPECT_EQ(r.code, Code::kOk) << prefix;
    return r.path;
  };
  EXPECT_EQ(seq(at("s-")), at("s-0000000000"));
  EXPECT_EQ(seq(at("s-")), at("s-0000000001"));
  // Creates count, deletes do not: create a, delete it, and the next suffix
  // is 3; the reported cversion is 2 * creates - children.
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("a")}).code, Code::kOk);
  ASSERT_EQ(removeSync(*c, DeleteOp{.path = at("a")}).code, Code::kOk);
  EXPECT_EQ(seq(at("x"), CreateMode::kEphemeralSequential), at("x0000000003"));
  auto stat = existsSync(*c, root_).stat;
  EXPECT_EQ(stat.num_children, 3);
  EXPECT_EQ(stat.cversion, 5);
  // A trailing slash names the node by its number alone.
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("dir")}).code, Code::kOk);
  EXPECT_EQ(seq(at("dir/")), at("dir/0000000000"));
  // In a multi too.
  auto m = multiSync(*c, {CreateOp{.path = at("dir/q-"), .mode = CreateMode::kPersistentSequential}});
  ASSERT_EQ(m.code, Code::kOk);
  EXPECT_EQ(m.results[0].path, at("dir/q-0000000001"));
}

TEST_P(ZkConformance, EphemeralNodesBelongToTheirSession) {
  auto c = connect();
  auto other = connect();
  ASSERT_TRUE(c && other);
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("e"), .mode = CreateMode::kEphemeral}).code, Code::kOk);
  auto stat = existsSync(*other, at("e")).stat;
  EXPECT_EQ(stat.ephemeral_owner, c->sessionId());
  EXPECT_EQ(kindOf(stat), NodeKind::kEphemeral);
  EXPECT_EQ(createSync(*c, CreateOp{.path = at("e/child")}).code, Code::kNoChildrenForEphemerals);
  EXPECT_EQ(existsSync(*c, root_).stat.ephemeral_owner, 0);
  c->close();
  EXPECT_TRUE(waitFor([&] { return existsSync(*other, at("e")).code == Code::kNoNode; }, 10s))
      << "a closed session's ephemerals go with it";
}

TEST_P(ZkConformance, ContainerAndTtlNodesLookPersistentToClients) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("ttl"), .mode = CreateMode::kPersistentWithTtl, .ttl_ms = 60000}).code,
            Code::kOk);
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("box"), .mode = CreateMode::kContainer}).code, Code::kOk);
  // 3.8 reports ephemeralOwner 0 for both (DataNode.copyStat).
  EXPECT_EQ(existsSync(*c, at("ttl")).stat.ephemeral_owner, 0);
  EXPECT_EQ(existsSync(*c, at("box")).stat.ephemeral_owner, 0);
  auto seq =
      createSync(*c, CreateOp{.path = at("ttls-"), .mode = CreateMode::kPersistentSequentialWithTtl, .ttl_ms = 60000});
  ASSERT_EQ(seq.code, Code::kOk);
  EXPECT_EQ(seq.path, at("ttls-0000000002"));
  EXPECT_EQ(createSync(*c, CreateOp{.path = at("ttl0"), .mode = CreateMode::kPersistentWithTtl, .ttl_ms = 0}).code,
            Code::kBadArguments);

  // Inside a multi only with the capability; refused unsent otherwise.
  auto box = multiSync(*c, {CreateOp{.path = at("box2"), .mode = CreateMode::kContainer}});
  auto ttl = multiSync(*c, {CreateOp{.path = at("ttl2"), .mode = CreateMode::kPersistentWithTtl, .ttl_ms = 60000}});
  if (c->capabilities().special_creates_in_multi) {
    EXPECT_EQ(box.code, Code::kOk);
    EXPECT_EQ(ttl.code, Code::kOk);
    EXPECT_EQ(existsSync(*c, at("box2")).code, Code::kOk);
    EXPECT_EQ(existsSync(*c, at("ttl2")).code, Code::kOk);
  } else {
    EXPECT_EQ(box.code, Code::kUnimplemented);
    EXPECT_EQ(ttl.code, Code::kUnimplemented);
    EXPECT_EQ(existsSync(*c, at("box2")).code, Code::kNoNode);
    EXPECT_EQ(existsSync(*c, at("ttl2")).code, Code::kNoNode);
  }
}

TEST_P(ZkConformance, AclsAreReadWrittenAndEnforced) {
  auto c = connect();
  ASSERT_TRUE(c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*c, CreateOp{.path = n}).code, Code::kOk);
  auto acl = getAclSync(*c, n);
  ASSERT_EQ(acl.code, Code::kOk);
  EXPECT_EQ(acl.acl, openAcl());
  EXPECT_EQ(acl.stat.aversion, 0);

  const AclList read_only = {Acl{perm::kRead, "world", "anyone"}};
  EXPECT_EQ(setAclSync(*c, n, read_only, /*version=*/3).code, Code::kBadVersion);
  ASSERT_EQ(setAclSync(*c, n, read_only, 0).code, Code::kOk);
  acl = getAclSync(*c, n);
  EXPECT_EQ(acl.acl, read_only);
  EXPECT_EQ(acl.stat.aversion, 1);
  EXPECT_EQ(getSync(*c, n).code, Code::kOk);
  EXPECT_EQ(setSync(*c, SetOp{.path = n, .data = "x"}).code, Code::kNoAuth);
  EXPECT_EQ(createSync(*c, CreateOp{.path = n + "/kid"}).code, Code::kNoAuth);
  EXPECT_EQ(setAclSync(*c, n, openAcl()).code, Code::kNoAuth);

  const AclList no_delete = {Acl{perm::kAll & ~perm::kDelete, "world", "anyone"}};
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("keep"), .acl = no_delete}).code, Code::kOk);
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("keep/kid")}).code, Code::kOk);
  EXPECT_EQ(removeSync(*c, DeleteOp{.path = at("keep/kid")}).code, Code::kNoAuth) << "DELETE on the parent";

  EXPECT_EQ(createSync(*c, CreateOp{.path = at("bogus"), .acl = {Acl{perm::kAll, "bogus", "x"}}}).code,
            Code::kInvalidAcl);
  EXPECT_EQ(createSync(*c, CreateOp{.path = at("none"), .acl = {}}).code, Code::kInvalidAcl);
  EXPECT_EQ(createSync(*c, CreateOp{.path = at("auth"), .acl = {Acl{perm::kAll, "auth", ""}}}).code, Code::kInvalidAcl)
      << "scheme auth needs an authenticated session";
  EXPECT_EQ(setAclSync(*c, at("missing"), {}).code, Code::kInvalidAcl) << "the ACL is checked before the node";
}

TEST_P(ZkConformance, DigestAuthOpensWhatItsAclGrants) {
  auto alice = connect({AuthEntry{"digest", "alice:wonderland"}});
  ASSERT_TRUE(alice);
  const std::string alice_id = testing::digestAclId("alice:wonderland");
  const AclList alice_only = {Acl{perm::kAll, "digest", alice_id}};
  const std::string secret = at("secret");
  ASSERT_EQ(createSync(*alice, CreateOp{.path = secret, .data = "s", .acl = alice_only}).code, Code::kOk);
  EXPECT_EQ(getSync(*alice, secret).data, "s");
  EXPECT_EQ(getAclSync(*alice, secret).acl, alice_only);
  // "auth" stands for the session's own digest identity.
  ASSERT_EQ(createSync(*alice, CreateOp{.path = at("mine"), .acl = {Acl{perm::kRead | perm::kAdmin, "auth", ""}}}).code,
            Code::kOk);
  EXPECT_EQ(getAclSync(*alice, at("mine")).acl, (AclList{Acl{perm::kRead | perm::kAdmin, "digest", alice_id}}));

  auto anonymous = connect();
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(getSync(*anonymous, secret).code, Code::kNoAuth);
  EXPECT_EQ(getChildrenSync(*anonymous, secret).code, Code::kNoAuth);
  EXPECT_EQ(existsSync(*anonymous, secret).code, Code::kOk) << "exists checks no ACL";
  EXPECT_EQ(setSync(*anonymous, SetOp{.path = secret, .data = "x"}).code, Code::kNoAuth);
  EXPECT_EQ(getAclSync(*anonymous, secret).code, Code::kNoAuth);
  EXPECT_EQ(multiSync(*anonymous, {CheckOp{.path = secret}}).code, Code::kNoAuth);

  // Readable without ADMIN: digest ids are shown without their hash.
  const AclList shown = {Acl{perm::kRead | perm::kAdmin, "digest", alice_id}, Acl{perm::kRead, "world", "anyone"}};
  ASSERT_EQ(createSync(*alice, CreateOp{.path = at("shown"), .acl = shown}).code, Code::kOk);
  EXPECT_EQ(getAclSync(*anonymous, at("shown")).acl[0].id, "alice:x");
  EXPECT_EQ(getAclSync(*alice, at("shown")).acl[0].id, alice_id);

  auto impostor = connect({AuthEntry{"digest", "alice:wrong"}});
  ASSERT_TRUE(impostor);
  EXPECT_EQ(getSync(*impostor, secret).code, Code::kNoAuth);

  // Several entries; the superuser reads and writes everything.
  auto super = connect({AuthEntry{"digest", "bob:builder"}, AuthEntry{"digest", kSuperUser}});
  ASSERT_TRUE(super);
  EXPECT_EQ(getSync(*super, secret).data, "s");
  EXPECT_EQ(setSync(*super, SetOp{.path = secret, .data = "t"}).code, Code::kOk);
}

TEST_P(ZkConformance, AnUnknownAuthSchemeFailsTheSession) {
  auto c = site_->newClient({AuthEntry{"nosuchscheme", "sekrit-credential"}});
  auto st = c->reopen(10s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message.find("sekrit-credential"), std::string::npos) << "credentials never in messages";
  EXPECT_EQ(c->state(), SessionState::kAuthFailed);
}

TEST_P(ZkConformance, MultiAppliesAllOrNothingAndNamesTheFailingOp) {
  auto c = connect();
  ASSERT_TRUE(c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*c, CreateOp{.path = n, .data = "base"}).code, Code::kOk);

  auto ok = multiSync(*c, {CreateOp{.path = n + "/m", .data = "m"}, SetOp{.path = n, .data = "changed", .version = 0},
                           CheckOp{.path = n, .version = 1}, DeleteOp{.path = n + "/m", .version = 0},
                           CreateOp{.path = n + "/q-", .mode = CreateMode::kPersistentSequential}});
  ASSERT_EQ(ok.code, Code::kOk);
  ASSERT_EQ(ok.results.size(), 5u);
  for (const auto& r : ok.results) EXPECT_EQ(r.code, Code::kOk);
  EXPECT_EQ(ok.results[0].path, n + "/m");
  EXPECT_EQ(ok.results[1].stat.version, 1);
  EXPECT_EQ(ok.results[4].path, n + "/q-0000000001");
  auto stat = existsSync(*c, n).stat;
  EXPECT_EQ(getSync(*c, n).data, "changed");
  EXPECT_EQ(ok.results[1].stat.mzxid, stat.mzxid);
  EXPECT_EQ(stat.pzxid, stat.mzxid) << "one multi, one zxid";
  EXPECT_EQ(existsSync(*c, n + "/m").code, Code::kNoNode) << "later ops see earlier ones";

  struct Failure {
    const char* name;
    std::vector<Op> ops;
    Code code;
    std::vector<Code> per_op;
  };
  const Failure failures[] = {
      {"bad version in the middle",
       {CreateOp{.path = n + "/x"}, SetOp{.path = n, .data = "no", .version = 0},
        DeleteOp{.path = n + "/q-0000000001"}},
       Code::kBadVersion,
       {Code::kOk, Code::kBadVersion, Code::kRuntimeInconsistency}},
      {"second create collides with the first",
       {CreateOp{.path = n + "/y"}, CreateOp{.path = n + "/y"}},
       Code::kNodeExists,
       {Code::kOk, Code::kNodeExists}},
      {"first op fails",
       {CheckOp{.path = n + "/none"}, CreateOp{.path = n + "/z"}},
       Code::kNoNode,
       {Code::kNoNode, Code::kRuntimeInconsistency}},
      {"delete of a node made non-empty earlier in the multi",
       {CreateOp{.path = n + "/d"}, CreateOp{.path = n + "/d/e"}, DeleteOp{.path = n + "/d"}},
       Code::kNotEmpty,
       {Code::kOk, Code::kOk, Code::kNotEmpty}},
      {"child of an ephemeral",
       {CreateOp{.path = n + "/eph", .mode = CreateMode::kEphemeral}, CreateOp{.path = n + "/eph/kid"}},
       Code::kNoChildrenForEphemerals,
       {Code::kOk, Code::kNoChildrenForEphemerals}},
  };
  for (const auto& f : failures) {
    SCOPED_TRACE(f.name);
    const auto before = getChildrenSync(*c, n);
    const auto before_data = getSync(*c, n);
    auto r = multiSync(*c, f.ops);
    EXPECT_EQ(r.code, f.code);
    std::vector<Code> codes;
    for (const auto& op : r.results) codes.push_back(op.code);
    EXPECT_EQ(codes, f.per_op);
    const auto after = getChildrenSync(*c, n);
    EXPECT_EQ(sorted(after.children), sorted(before.children)) << "nothing applied";
    EXPECT_EQ(after.stat.cversion, before.stat.cversion);
    EXPECT_EQ(getSync(*c, n).stat, before_data.stat);
  }

  auto empty = multiSync(*c, {});
  EXPECT_EQ(empty.code, Code::kOk);
  EXPECT_TRUE(empty.results.empty());
}

TEST_P(ZkConformance, MultiReadAnswersEachOpOnItsOwn) {
  auto c = connect();
  auto alice = connect({AuthEntry{"digest", "alice:wonderland"}});
  ASSERT_TRUE(c && alice);
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("d"), .data = "hello"}).code, Code::kOk);
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("d/c1")}).code, Code::kOk);
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("d/c2"), .data = "two"}).code, Code::kOk);
  const AclList alice_only = {Acl{perm::kAll, "digest", testing::digestAclId("alice:wonderland")}};
  ASSERT_EQ(createSync(*alice, CreateOp{.path = at("secret"), .data = "s", .acl = alice_only}).code, Code::kOk);

  auto r = multiReadSync(*c, {ReadOp{ReadKind::kGetData, at("d")}, ReadOp{ReadKind::kGetChildren, at("d")},
                              ReadOp{ReadKind::kGetData, at("missing")}, ReadOp{ReadKind::kGetChildren, at("missing")},
                              ReadOp{ReadKind::kGetData, at("secret")}, ReadOp{ReadKind::kGetChildren, at("secret")},
                              ReadOp{ReadKind::kGetData, at("d/c2")}});
  ASSERT_EQ(r.code, Code::kOk);
  ASSERT_EQ(r.results.size(), 7u);
  const auto d = getSync(*c, at("d"));
  EXPECT_EQ(r.results[0].code, Code::kOk);
  EXPECT_EQ(r.results[0].data, "hello");
  EXPECT_EQ(r.results[0].stat, d.stat);
  EXPECT_EQ(r.results[1].code, Code::kOk);
  EXPECT_EQ(sorted(r.results[1].children), (std::vector<std::string>{"c1", "c2"}));
  if (c->capabilities().multi_read) {
    EXPECT_EQ(r.results[1].stat, Stat{}) << "the server sends no stat with multiRead's getChildren";
  }
  EXPECT_EQ(r.results[2].code, Code::kNoNode);
  EXPECT_EQ(r.results[3].code, Code::kNoNode);
  EXPECT_EQ(r.results[4].code, Code::kNoAuth);
  EXPECT_EQ(r.results[5].code, Code::kNoAuth);
  EXPECT_EQ(r.results[6].code, Code::kOk);
  EXPECT_EQ(r.results[6].data, "two");

  auto mine = multiReadSync(*alice, {ReadOp{ReadKind::kGetData, at("secret")}});
  ASSERT_EQ(mine.code, Code::kOk);
  EXPECT_EQ(mine.results[0].data, "s");

  auto empty = multiReadSync(*c, {});
  EXPECT_EQ(empty.code, Code::kOk);
  EXPECT_TRUE(empty.results.empty());

  // A multiRead sets no watch.
  Log log;
  log.attach(*c);
  ASSERT_EQ(multiReadSync(*c, {ReadOp{ReadKind::kGetData, at("d")}, ReadOp{ReadKind::kGetChildren, at("d")}}).code,
            Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = at("d"), .data = "changed"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = at("d/c3")}).code, Code::kOk);
  barrier(*c, log);
  EXPECT_TRUE(log.events(at("d")).empty());
}

TEST_P(ZkConformance, SyncAnswersForAnyValidPathAndPrecedesFreshReads) {
  auto c = connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(syncSync(*c, root_).code, Code::kOk);
  EXPECT_EQ(syncSync(*c, at("does/not/exist")).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = at("n"), .data = "fresh"}).code, Code::kOk);
  ASSERT_EQ(syncSync(*c, at("n")).code, Code::kOk);
  EXPECT_EQ(getSync(*c, at("n")).data, "fresh");
}

// ---------------------------------------------------------------------------
// One-shot watches

TEST_P(ZkConformance, OneShotWatchesFireOnceWithTheirGeneration) {
  auto c = connect();
  ASSERT_TRUE(c);
  Log log;
  log.attach(*c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = n}).code, Code::kOk);

  ASSERT_EQ(getSync(*c, n, /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = n, .data = "1"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = n, .data = "2"}).code, Code::kOk);  // not watched any more
  ASSERT_EQ(getChildrenSync(*c, n, /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = n + "/kid"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = n + "/kid", .data = "x"}).code, Code::kOk);  // a child's data: nothing
  ASSERT_EQ(existsSync(*c, at("later"), /*watch=*/true).code, Code::kNoNode);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = at("later")}).code, Code::kOk);
  ASSERT_EQ(existsSync(*c, at("later"), /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(setAclSync(*admin_, at("later"), openAcl()).code, Code::kOk);  // setAcl fires nothing
  ASSERT_EQ(removeSync(*admin_, DeleteOp{.path = at("later")}).code, Code::kOk);
  barrier(*c, log);

  EXPECT_EQ(log.events(root_), (std::vector<Seen>{{EventType::kDataChanged, n, kOneShot},
                                                  {EventType::kChildrenChanged, n, kOneShot},
                                                  {EventType::kCreated, at("later"), kOneShot},
                                                  {EventType::kDeleted, at("later"), kOneShot}}));
  for (const auto& e : log.all()) EXPECT_EQ(e.generation, 1u);
}

TEST_P(ZkConformance, ADeleteFiresDataAndChildWatchesAsOneEvent) {
  auto c = connect();
  ASSERT_TRUE(c);
  Log log;
  log.attach(*c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = n}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = n + "/kid"}).code, Code::kOk);
  ASSERT_EQ(getSync(*c, n, true).code, Code::kOk);
  ASSERT_EQ(getChildrenSync(*c, n, true).code, Code::kOk);
  ASSERT_EQ(existsSync(*c, n, true).code, Code::kOk);
  // The child goes first: a child event; then the node: one deleted event.
  ASSERT_EQ(removeSync(*admin_, DeleteOp{.path = n + "/kid"}).code, Code::kOk);
  ASSERT_EQ(getChildrenSync(*c, n, true).code, Code::kOk);
  ASSERT_EQ(removeSync(*admin_, DeleteOp{.path = n}).code, Code::kOk);
  barrier(*c, log);
  EXPECT_EQ(log.events(n),
            (std::vector<Seen>{{EventType::kChildrenChanged, n, kOneShot}, {EventType::kDeleted, n, kOneShot}}));
}

TEST_P(ZkConformance, ReadsOfMissingOrForbiddenNodesSetNoWatch) {
  auto c = connect();
  auto alice = connect({AuthEntry{"digest", "alice:wonderland"}});
  ASSERT_TRUE(c && alice);
  Log log;
  log.attach(*c);
  EXPECT_EQ(getSync(*c, at("g"), true).code, Code::kNoNode);
  EXPECT_EQ(getChildrenSync(*c, at("g"), true).code, Code::kNoNode);
  const AclList alice_only = {Acl{perm::kAll, "digest", testing::digestAclId("alice:wonderland")}};
  ASSERT_EQ(createSync(*alice, CreateOp{.path = at("secret"), .acl = alice_only}).code, Code::kOk);
  EXPECT_EQ(getSync(*c, at("secret"), true).code, Code::kNoAuth);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = at("g")}).code, Code::kOk);
  ASSERT_EQ(setSync(*alice, SetOp{.path = at("secret"), .data = "x"}).code, Code::kOk);
  barrier(*c, log);
  EXPECT_TRUE(log.events(at("g")).empty());
  EXPECT_TRUE(log.events(at("secret")).empty());
}

// ---------------------------------------------------------------------------
// Persistent and recursive watches (addWatch, servers 3.6+)

TEST_P(ZkConformance, PersistentWatchFiresForEveryChangeOfItsPath) {
  auto c = connect();
  ASSERT_TRUE(c);
  SKIP_WITHOUT_PERSISTENT_WATCHES(*c);
  Log log;
  log.attach(*c);
  const std::string w = at("w");
  ASSERT_EQ(addWatchSync(*c, w, AddWatchMode::kPersistent).code, Code::kOk) << "a missing path may be watched";
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w, .data = "1"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w, .data = "2"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/c"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w + "/c", .data = "x"}).code, Code::kOk);  // not its path
  ASSERT_EQ(removeSync(*admin_, DeleteOp{.path = w + "/c"}).code, Code::kOk);
  ASSERT_EQ(removeSync(*admin_, DeleteOp{.path = w}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w}).code, Code::kOk);  // still watched after its delete
  barrier(*c, log);
  EXPECT_EQ(log.events(w), (std::vector<Seen>{{EventType::kCreated, w, kPersistent},
                                              {EventType::kDataChanged, w, kPersistent},
                                              {EventType::kDataChanged, w, kPersistent},
                                              {EventType::kChildrenChanged, w, kPersistent},
                                              {EventType::kChildrenChanged, w, kPersistent},
                                              {EventType::kDeleted, w, kPersistent},
                                              {EventType::kCreated, w, kPersistent}}));
}

TEST_P(ZkConformance, RecursiveWatchFiresForDeepDescendantsButNeverChildrenChanged) {
  auto c = connect();
  ASSERT_TRUE(c);
  SKIP_WITHOUT_PERSISTENT_WATCHES(*c);
  Log log;
  log.attach(*c);
  const std::string w = at("w");
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w}).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c, w, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/a"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/a/b"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/a/b/c"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w + "/a/b/c", .data = "x"}).code, Code::kOk);
  ASSERT_EQ(removeSync(*admin_, DeleteOp{.path = w + "/a/b/c"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w, .data = "top"}).code, Code::kOk);
  ASSERT_EQ(multiSync(*admin_, {SetOp{.path = w + "/a", .data = "m"}, DeleteOp{.path = w + "/a/b"}}).code, Code::kOk);
  ASSERT_EQ(setAclSync(*admin_, w + "/a", openAcl()).code, Code::kOk);             // setAcl fires nothing
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = at("beside")}).code, Code::kOk);  // outside: nothing
  barrier(*c, log);
  EXPECT_EQ(log.events(root_), (std::vector<Seen>{{EventType::kCreated, w + "/a", kRecursive},
                                                  {EventType::kCreated, w + "/a/b", kRecursive},
                                                  {EventType::kCreated, w + "/a/b/c", kRecursive},
                                                  {EventType::kDataChanged, w + "/a/b/c", kRecursive},
                                                  {EventType::kDeleted, w + "/a/b/c", kRecursive},
                                                  {EventType::kDataChanged, w, kRecursive},
                                                  {EventType::kDataChanged, w + "/a", kRecursive},
                                                  {EventType::kDeleted, w + "/a/b", kRecursive}}));
}

TEST_P(ZkConformance, AnEventMatchingSeveralRegistrationsIsDeliveredOnce) {
  auto c = connect();
  ASSERT_TRUE(c);
  SKIP_WITHOUT_PERSISTENT_WATCHES(*c);
  Log log;
  log.attach(*c);
  const std::string w = at("w");
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/a"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/a/b"}).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c, w, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c, w + "/a", AddWatchMode::kPersistent).code, Code::kOk);
  ASSERT_EQ(getSync(*c, w + "/a/b", /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w + "/a", .data = "1"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w + "/a/b", .data = "1"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w + "/a/b", .data = "2"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/a/c"}).code, Code::kOk);
  barrier(*c, log);
  EXPECT_EQ(log.events(w), (std::vector<Seen>{{EventType::kDataChanged, w + "/a", kPersistent | kRecursive},
                                              {EventType::kDataChanged, w + "/a/b", kOneShot | kRecursive},
                                              {EventType::kDataChanged, w + "/a/b", kRecursive},
                                              {EventType::kCreated, w + "/a/c", kRecursive},
                                              {EventType::kChildrenChanged, w + "/a", kPersistent}}));
}

TEST_P(ZkConformance, RemoveWatchesStopsEveryWatchOnItsPath) {
  auto c = connect();
  ASSERT_TRUE(c);
  SKIP_WITHOUT_PERSISTENT_WATCHES(*c);
  Log log;
  log.attach(*c);
  const std::string w = at("w"), p = at("p"), q = at("q");
  for (const auto& n : {w, p, q}) ASSERT_EQ(createSync(*admin_, CreateOp{.path = n}).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c, w, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c, p, AddWatchMode::kPersistent).code, Code::kOk);
  ASSERT_EQ(getSync(*c, q, /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(getChildrenSync(*c, q, /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/before"}).code, Code::kOk);
  ASSERT_TRUE(log.waitEvent(EventType::kCreated, w + "/before"));

  EXPECT_EQ(removeWatchesSync(*c, w).code, Code::kOk);
  EXPECT_EQ(removeWatchesSync(*c, p).code, Code::kOk);
  EXPECT_EQ(removeWatchesSync(*c, q).code, Code::kOk);
  // Nothing to remove is fine too (the 3.8 server says NoWatcher).
  EXPECT_EQ(removeWatchesSync(*c, at("unwatched")).code, Code::kOk);
  EXPECT_EQ(removeWatchesSync(*c, w).code, Code::kOk);

  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/after"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w, .data = "x"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = p, .data = "x"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = p + "/kid"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = q, .data = "x"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = q + "/kid"}).code, Code::kOk);
  barrier(*c, log);
  // A backend may tell the listener that a watch was removed (kNotWatching);
  // no change after the removal may reach it.
  std::vector<Seen> changes;
  for (const auto& e : log.events(root_)) {
    if (e.type != EventType::kNotWatching) changes.push_back(e);
  }
  EXPECT_EQ(changes, (std::vector<Seen>{{EventType::kCreated, w + "/before", kRecursive}}));
}

TEST_P(ZkConformance, Zookeeper4466OneShotDataWatchOnARecursiveWatchPath) {
  auto c = connect();
  ASSERT_TRUE(c);
  SKIP_WITHOUT_PERSISTENT_WATCHES(*c);
  Log log;
  log.attach(*c);
  const std::string w = at("w");
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w}).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c, w, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  ASSERT_EQ(getSync(*c, w, /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w, .data = "1"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/a"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w, .data = "2"}).code, Code::kOk);
  barrier(*c, log);
  if (GetParam().one_shot_replaces_recursive) {
    // 3.8.0: the server keeps one mode per (session, path) in its data watch
    // manager, and the one-shot watch took the recursive one's place.
    EXPECT_EQ(log.events(w), (std::vector<Seen>{{EventType::kDataChanged, w, kOneShot | kRecursive}}));
  } else {
    EXPECT_EQ(log.events(w), (std::vector<Seen>{{EventType::kDataChanged, w, kOneShot | kRecursive},
                                                {EventType::kCreated, w + "/a", kRecursive},
                                                {EventType::kDataChanged, w, kRecursive}}));
  }
}

TEST_P(ZkConformance, ChildWatchOnARecursiveWatchPathLeavesItInPlace) {
  auto c = connect();
  ASSERT_TRUE(c);
  SKIP_WITHOUT_PERSISTENT_WATCHES(*c);
  Log log;
  log.attach(*c);
  const std::string w = at("w");
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w}).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c, w, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  ASSERT_EQ(getChildrenSync(*c, w, /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/a"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/b"}).code, Code::kOk);
  ASSERT_EQ(setSync(*admin_, SetOp{.path = w + "/a", .data = "x"}).code, Code::kOk);
  barrier(*c, log);
  EXPECT_EQ(log.events(w), (std::vector<Seen>{{EventType::kCreated, w + "/a", kRecursive},
                                              {EventType::kChildrenChanged, w, kOneShot},
                                              {EventType::kCreated, w + "/b", kRecursive},
                                              {EventType::kDataChanged, w + "/a", kRecursive}}));
}

TEST_P(ZkConformance, WithoutTheCapabilityAddWatchIsUnimplemented) {
  auto c = connect();
  ASSERT_TRUE(c);
  if (c->capabilities().persistent_watches) GTEST_SKIP() << "backend has capabilities().persistent_watches";
  EXPECT_EQ(addWatchSync(*c, root_, AddWatchMode::kPersistentRecursive).code, Code::kUnimplemented);
  EXPECT_EQ(addWatchSync(*c, root_, AddWatchMode::kPersistent).code, Code::kUnimplemented);
  EXPECT_EQ(removeWatchesSync(*c, root_).code, Code::kUnimplemented);
}

// ---------------------------------------------------------------------------
// Ordering of replies and events on one session

TEST_P(ZkConformance, RepliesComeInRequestOrderOnOneCompletionThread) {
  auto c = connect();
  ASSERT_TRUE(c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*c, CreateOp{.path = n}).code, Code::kOk);
  constexpr size_t kRequests = 300;
  Tally tally;
  for (size_t i = 0; i < kRequests; ++i) {
    switch (i % 10) {
      case 0: c->get(n, false, tally.callback<GetResult>(i)); break;
      case 1: c->exists(n + "/missing", true, tally.callback<StatResult>(i)); break;
      case 2: c->getChildren(n, false, tally.callback<ChildrenResult>(i)); break;
      case 3: c->getAcl(n, tally.callback<AclResult>(i)); break;
      case 4: c->set(SetOp{.path = n, .data = std::to_string(i)}, tally.callback<StatResult>(i)); break;
      case 5:
        c->create(CreateOp{.path = n + "/s-", .mode = CreateMode::kPersistentSequential},
                  tally.callback<CreateResult>(i));
        break;
      case 6: c->multi({CheckOp{.path = n}}, tally.callback<MultiResult>(i)); break;
      case 7:
        c->multiRead({ReadOp{ReadKind::kGetData, n}, ReadOp{ReadKind::kGetChildren, n}},
                     tally.callback<MultiReadResult>(i));
        break;
      case 8: c->sync(n, tally.callback<VoidResult>(i)); break;
      default: c->remove(DeleteOp{.path = n + "/missing"}, tally.callback<VoidResult>(i)); break;
    }
  }
  ASSERT_TRUE(tally.waitCalls(kRequests));
  std::vector<size_t> expected(kRequests);
  for (size_t i = 0; i < kRequests; ++i) expected[i] = i;
  EXPECT_EQ(tally.order(), expected);
  const auto threads = tally.threads();
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
  for (const auto& [i, code] : tally.codes()) {
    EXPECT_EQ(code, i % 10 == 1 || i % 10 == 9 ? Code::kNoNode : Code::kOk) << "request " << i;
  }
  EXPECT_TRUE(waitFor([&] { return c->pending() == 0; }, 10s));
}

TEST_P(ZkConformance, OwnWritesFireTheirWatchesBeforeTheirReply) {
  auto c = connect();
  ASSERT_TRUE(c);
  Log log;
  log.attach(*c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*c, CreateOp{.path = n}).code, Code::kOk);
  ASSERT_EQ(getSync(*c, n, true).code, Code::kOk);
  c->set(SetOp{.path = n, .data = "x"}, [&](StatResult r) { log.note("reply set " + std::string(codeName(r.code))); });
  ASSERT_EQ(getSync(*c, n, true).code, Code::kOk);
  ASSERT_EQ(getChildrenSync(*c, n, true).code, Code::kOk);
  c->multi({SetOp{.path = n, .data = "y"}, CreateOp{.path = n + "/kid"}},
           [&](MultiResult r) { log.note("reply multi " + std::string(codeName(r.code))); });
  ASSERT_EQ(existsSync(*c, n + "/kid", true).code, Code::kOk);
  c->remove(DeleteOp{.path = n + "/kid"},
            [&](VoidResult r) { log.note("reply remove " + std::string(codeName(r.code))); });
  barrier(*c, log);
  auto entries = log.entries();
  entries.pop_back();  // the barrier
  EXPECT_EQ(entries,
            (std::vector<std::string>{entryOf(EventType::kDataChanged, n), "reply set ok",
                                      entryOf(EventType::kDataChanged, n), entryOf(EventType::kChildrenChanged, n),
                                      "reply multi ok", entryOf(EventType::kDeleted, n + "/kid"), "reply remove ok"}));
}

TEST_P(ZkConformance, AnEventComesBeforeTheReplyOfAReadIssuedAfterItsChange) {
  auto c = connect();
  ASSERT_TRUE(c);
  Log log;
  log.attach(*c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = n, .data = "old"}).code, Code::kOk);
  ASSERT_EQ(getSync(*c, n, /*watch=*/true).code, Code::kOk);
  // Another session changes the node; its reply is in before c reads.
  ASSERT_EQ(setSync(*admin_, SetOp{.path = n, .data = "new"}).code, Code::kOk);
  std::atomic<bool> read{false};
  c->get(n, false, [&](GetResult r) {
    log.note("reply get " + r.data);
    read = true;
  });
  ASSERT_TRUE(waitFor([&] { return read.load(); }, 10s));
  std::vector<std::string> expected{entryOf(EventType::kDataChanged, n), "reply get new"};

  if (persistentWatches(*c)) {
    const std::string w = at("w");
    ASSERT_EQ(createSync(*admin_, CreateOp{.path = w}).code, Code::kOk);
    ASSERT_EQ(addWatchSync(*c, w, AddWatchMode::kPersistentRecursive).code, Code::kOk);
    ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/a"}).code, Code::kOk);
    ASSERT_EQ(createSync(*admin_, CreateOp{.path = w + "/a/b", .data = "deep"}).code, Code::kOk);
    std::atomic<bool> deep{false};
    c->multiRead({ReadOp{ReadKind::kGetData, w + "/a/b"}}, [&](MultiReadResult r) {
      log.note("reply multiRead " + (r.results.empty() ? std::string("?") : r.results[0].data));
      deep = true;
    });
    ASSERT_TRUE(waitFor([&] { return deep.load(); }, 10s));
    expected.push_back(entryOf(EventType::kCreated, w + "/a"));
    expected.push_back(entryOf(EventType::kCreated, w + "/a/b"));
    expected.push_back("reply multiRead deep");
  }
  EXPECT_EQ(log.entries(), expected);
}

TEST_P(ZkConformance, EventsComeInTheOrderOfTheChanges) {
  auto c = connect();
  ASSERT_TRUE(c);
  Log log;
  log.attach(*c);
  std::vector<Seen> expected;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(existsSync(*c, at(numbered("o", i)), true).code, Code::kNoNode);
  for (int i = 9; i >= 0; --i) {
    const std::string p = at(numbered("o", i));
    ASSERT_EQ(createSync(*admin_, CreateOp{.path = p}).code, Code::kOk);
    expected.push_back({EventType::kCreated, p, kOneShot});
  }
  if (persistentWatches(*c)) {
    const std::string w = at("w");
    ASSERT_EQ(createSync(*admin_, CreateOp{.path = w}).code, Code::kOk);
    ASSERT_EQ(addWatchSync(*c, w, AddWatchMode::kPersistentRecursive).code, Code::kOk);
    for (int i = 0; i < 5; ++i) {
      const std::string p = w + "/" + std::to_string(i);
      ASSERT_EQ(createSync(*admin_, CreateOp{.path = p}).code, Code::kOk);
      ASSERT_EQ(setSync(*admin_, SetOp{.path = w, .data = std::to_string(i)}).code, Code::kOk);
      expected.push_back({EventType::kCreated, p, kRecursive});
      expected.push_back({EventType::kDataChanged, w, kRecursive});
    }
    for (int i = 4; i >= 0; --i) {
      const std::string p = w + "/" + std::to_string(i);
      ASSERT_EQ(removeSync(*admin_, DeleteOp{.path = p}).code, Code::kOk);
      expected.push_back({EventType::kDeleted, p, kRecursive});
    }
  }
  barrier(*c, log);
  EXPECT_EQ(log.events(root_), expected);
}

// ---------------------------------------------------------------------------
// Callbacks, close and sessions

TEST_P(ZkConformance, CallbacksMayIssueRequestsAndReopen) {
  auto c = connect();
  ASSERT_TRUE(c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*c, CreateOp{.path = n}).code, Code::kOk);
  // A chain: each callback issues the next request from the completion thread.
  std::atomic<int> links{0};
  std::function<void(StatResult)> next = [&](StatResult r) {
    if (r.code != Code::kOk) return;
    if (++links < 100) c->set(SetOp{.path = n, .data = std::to_string(links.load())}, next);
  };
  c->set(SetOp{.path = n, .data = "0"}, next);
  ASSERT_TRUE(waitFor([&] { return links.load() == 100; }, 20s));

  // A session can be replaced from a callback too.
  std::mutex mutex;
  std::optional<Status> reopened;
  c->get(n, false, [&](GetResult) {
    auto st = c->reopen(10s);
    std::lock_guard lock(mutex);
    reopened = st;
  });
  ASSERT_TRUE(waitFor(
      [&] {
        std::lock_guard lock(mutex);
        return reopened.has_value();
      },
      20s));
  ASSERT_TRUE(*reopened) << reopened->error().describe();
  EXPECT_EQ(c->generation(), 2u);
  EXPECT_EQ(getSync(*c, n).data, "99");
}

TEST_P(ZkConformance, CloseAnswersEveryPendingRequestExactlyOnce) {
  auto c = connect();
  ASSERT_TRUE(c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*c, CreateOp{.path = n}).code, Code::kOk);
  constexpr size_t kRequests = 300;
  Tally tally;
  for (size_t i = 0; i < kRequests; ++i) {
    switch (i % 4) {
      case 0: c->get(n, true, tally.callback<GetResult>(i)); break;
      case 1:
        c->create(CreateOp{.path = n + "/c-", .mode = CreateMode::kEphemeralSequential},
                  tally.callback<CreateResult>(i));
        break;
      case 2: c->multiRead({ReadOp{ReadKind::kGetChildren, n}}, tally.callback<MultiReadResult>(i)); break;
      default: c->sync(n, tally.callback<VoidResult>(i)); break;
    }
  }
  c->close();
  ASSERT_TRUE(tally.waitCalls(kRequests));
  EXPECT_EQ(tally.calls(), kRequests);
  for (const auto& [i, calls] : tally.callsPerRequest()) EXPECT_EQ(calls, 1) << "request " << i;
  for (const auto& [i, code] : tally.codes()) {
    EXPECT_TRUE(code == Code::kOk || isRetryable(code)) << "request " << i << ": " << codeName(code);
  }
  EXPECT_EQ(c->state(), SessionState::kClosed);
  EXPECT_EQ(getSync(*c, n).code, Code::kClosing);
  c->close();  // idempotent
  // A request stops counting once its callback has returned.
  EXPECT_TRUE(waitFor([&] { return c->pending() == 0; }, 10s));
  EXPECT_TRUE(waitFor([&] { return getChildrenSync(*admin_, n).children.empty(); }, 10s))
      << "the closed session's ephemerals are gone";
}

TEST_P(ZkConformance, DestructorRunsEveryOwedCallbackBeforeItReturns) {
  auto c = connect();
  ASSERT_TRUE(c);
  std::atomic<int> calls{0};
  for (int i = 0; i < 100; ++i) {
    if (i % 2 == 0) {
      c->exists(root_, false, [&](StatResult) { calls++; });
    } else {
      c->multiRead({ReadOp{ReadKind::kGetData, root_}}, [&](MultiReadResult) { calls++; });
    }
  }
  c.reset();
  EXPECT_EQ(calls.load(), 100);
}

TEST_P(ZkConformance, AClientWithoutSessionAnswersClosing) {
  auto c = site_->newClient({});
  EXPECT_EQ(c->state(), SessionState::kClosed);
  EXPECT_EQ(c->generation(), 0u);
  EXPECT_EQ(c->sessionId(), 0);
  std::mutex mutex;
  std::optional<std::pair<Code, std::thread::id>> answer;
  c->get("/", false, [&](GetResult r) {
    std::lock_guard lock(mutex);
    answer.emplace(r.code, std::this_thread::get_id());
  });
  ASSERT_TRUE(waitFor(
      [&] {
        std::lock_guard lock(mutex);
        return answer.has_value();
      },
      10s));
  EXPECT_EQ(answer->first, Code::kClosing);
  EXPECT_NE(answer->second, std::this_thread::get_id());
  ASSERT_TRUE(c->reopen(10s));
  EXPECT_EQ(c->generation(), 1u);
  EXPECT_EQ(getSync(*c, "/").code, Code::kOk);
}

TEST_P(ZkConformance, AnExpiredSessionIsSeenAsExpiredAndReplacedByANewGeneration) {
  auto c = connect();
  ASSERT_TRUE(c);
  Log log;
  log.attach(*c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*c, CreateOp{.path = n}).code, Code::kOk);
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("eph"), .mode = CreateMode::kEphemeral}).code, Code::kOk);
  ASSERT_EQ(getSync(*c, n, /*watch=*/true).code, Code::kOk);
  const int64_t first_id = c->sessionId();

  auto st = site_->expire(*c);
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_EQ(c->state(), SessionState::kExpired);
  ASSERT_TRUE(log.waitSession(SessionState::kExpired, 1));
  EXPECT_TRUE(waitFor([&] { return existsSync(*admin_, at("eph")).code == Code::kNoNode; }, 10s));
  EXPECT_EQ(getSync(*c, n).code, Code::kSessionExpired);
  EXPECT_EQ(createSync(*c, CreateOp{.path = at("x")}).code, Code::kSessionExpired);

  ASSERT_TRUE(c->reopen(10s));
  EXPECT_EQ(c->generation(), 2u);
  EXPECT_EQ(c->state(), SessionState::kConnected);
  EXPECT_NE(c->sessionId(), first_id);
  ASSERT_TRUE(log.waitSession(SessionState::kConnected, 2));
  // The generation-1 watch died with its session.
  ASSERT_EQ(setSync(*admin_, SetOp{.path = n, .data = "after"}).code, Code::kOk);
  barrier(*c, log);
  EXPECT_TRUE(log.events(n).empty());
  for (const auto& e : log.all()) EXPECT_EQ(e.generation, 2u);
  for (const auto& s : log.sessions()) EXPECT_TRUE(s.generation == 1 || s.generation == 2);
}

TEST_P(ZkConformance, ReopenReplacesAHealthySessionWithItsWatchesAndEphemerals) {
  auto c = connect();
  ASSERT_TRUE(c);
  Log log;
  log.attach(*c);
  const std::string n = at("n");
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = n}).code, Code::kOk);
  ASSERT_EQ(createSync(*c, CreateOp{.path = at("eph"), .mode = CreateMode::kEphemeral}).code, Code::kOk);
  ASSERT_EQ(getSync(*c, n, /*watch=*/true).code, Code::kOk);
  if (persistentWatches(*c)) {
    ASSERT_EQ(addWatchSync(*c, n, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  }
  const int64_t first_id = c->sessionId();
  ASSERT_TRUE(c->reopen(10s));
  EXPECT_EQ(c->generation(), 2u);
  EXPECT_NE(c->sessionId(), first_id);
  ASSERT_TRUE(log.waitSession(SessionState::kConnected, 2));
  EXPECT_TRUE(waitFor([&] { return existsSync(*admin_, at("eph")).code == Code::kNoNode; }, 10s));
  ASSERT_EQ(setSync(*admin_, SetOp{.path = n, .data = "x"}).code, Code::kOk);
  ASSERT_EQ(createSync(*admin_, CreateOp{.path = n + "/kid"}).code, Code::kOk);
  barrier(*c, log);
  EXPECT_TRUE(log.events(n).empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, ZkConformance, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<BackendSpec>& info) { return info.param.name; });

}  // namespace
}  // namespace zks::zk
