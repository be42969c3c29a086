#include "zk/fake_client.h"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <variant>

namespace zks::zk {
namespace {

// ---------------------------------------------------------------------------
// SHA-1 (FIPS 180-4) and base64, for digest ACL ids. A test fake must not
// pull in a crypto library; this is the textbook algorithm.

std::array<uint8_t, 20> sha1(std::string_view input) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string msg(input);
  const uint64_t bit_len = static_cast<uint64_t>(input.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>((bit_len >> (i * 8)) & 0xff));
  auto rotl = [](uint32_t v, int s) { return (v << s) | (v >> (32 - s)); };
  for (size_t chunk = 0; chunk < msg.size(); chunk += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data() + chunk + i * 4);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    }
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f = 0, k = 0;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      const uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::array<uint8_t, 20> out{};
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 4; ++j) out[i * 4 + j] = static_cast<uint8_t>(h[i] >> (24 - j * 8));
  }
  return out;
}

std::string base64(const uint8_t* data, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (i + 1 < n ? uint32_t{data[i + 1]} << 8 : 0) |
                       (i + 2 < n ? uint32_t{data[i + 2]} : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kAlphabet[v & 63] : '=');
  }
  return out;
}

// ---------------------------------------------------------------------------
// Constants and small rules, each as the 3.8 server or C client has it.

constexpr uint64_t kContainerOwner = 0x8000000000000000ULL;
constexpr uint64_t kExtendedMask = 0xFF00000000000000ULL;
constexpr int64_t kMaxTtl = 0xFFFFFFFFFFLL;  // ZOO_MAX_TTL
// Session ids of a real server carry its server id in the top byte; 1 keeps
// them clear of the container and TTL encodings.
constexpr int64_t kSessionIdBase = int64_t{1} << 56;

bool isSequential(CreateMode m) {
  return m == CreateMode::kPersistentSequential || m == CreateMode::kEphemeralSequential ||
         m == CreateMode::kPersistentSequentialWithTtl;
}
bool isEphemeralMode(CreateMode m) {
  return m == CreateMode::kEphemeral || m == CreateMode::kEphemeralSequential;
}
bool isTtlMode(CreateMode m) {
  return m == CreateMode::kPersistentWithTtl || m == CreateMode::kPersistentSequentialWithTtl;
}

// A session id, as opposed to the container/TTL encodings (EphemeralType.NORMAL).
bool isSessionOwner(int64_t owner) {
  const auto u = static_cast<uint64_t>(owner);
  return owner != 0 && u != kContainerOwner && (u & kExtendedMask) != kExtendedMask;
}

// The C client's isValidPath(), checked before a request is sent.
bool validPath(std::string_view path, bool sequential) {
  if (path.empty() || path[0] != '/') return false;
  const size_t len = path.size();
  if (len == 1) return true;
  if (path[len - 1] == '/' && !sequential) return false;
  char lastc = '/';
  for (size_t i = 1; i < len; lastc = path[i], ++i) {
    const char c = path[i];
    const bool next_is_slash = i + 1 < len && path[i + 1] == '/';
    const bool at_end = i + 1 == len && !sequential;
    if (c == 0) return false;
    if (c == '/' && lastc == '/') return false;
    if (c == '.' && lastc == '.') {
      if (path[i - 2] == '/' && (at_end || next_is_slash)) return false;
    } else if (c == '.') {
      if (path[i - 1] == '/' && (at_end || next_is_slash)) return false;
    } else if (c > 0x00 && c < 0x1f) {
      return false;
    }
  }
  return true;
}

// The server refuses to delete these (ZKDatabase.isSpecialPath).
bool isSpecialPath(const std::string& path) {
  return path == "/" || path == "/zookeeper" || path == "/zookeeper/quota" || path == "/zookeeper/config";
}

// Parent of a requested path: everything before the last '/', "" being the root.
std::string parentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}
std::string nameOf(const std::string& path) { return path.substr(path.rfind('/') + 1); }

bool isUnder(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

// Java's String.split(":") drops trailing empty parts; a digest id is valid
// when exactly two parts remain.
bool validDigestId(const std::string& id) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t colon = id.find(':', start);
    parts.push_back(id.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  while (!parts.empty() && parts.back().empty()) parts.pop_back();
  return parts.size() == 2;
}

std::optional<std::array<uint8_t, 4>> parseIpv4(const std::string& s) {
  std::array<uint8_t, 4> out{};
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    size_t end = pos;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    if (end == pos || end - pos > 3) return std::nullopt;
    const int v = std::stoi(s.substr(pos, end - pos));
    if (v > 255) return std::nullopt;
    out[i] = static_cast<uint8_t>(v);
    if (i < 3) {
      if (end >= s.size() || s[end] != '.') return std::nullopt;
      pos = end + 1;
    } else if (end != s.size()) {
      return std::nullopt;
    }
  }
  return out;
}

// IPAuthenticationProvider: "a.b.c.d" or "a.b.c.d/bits" (IPv4 only here).
std::optional<std::pair<std::array<uint8_t, 4>, int>> parseIpAcl(const std::string& expr) {
  const size_t slash = expr.find('/');
  auto addr = parseIpv4(expr.substr(0, slash));
  if (!addr) return std::nullopt;
  int bits = 32;
  if (slash != std::string::npos) {
    const std::string b = expr.substr(slash + 1);
    if (b.empty() || b.size() > 2 || !std::all_of(b.begin(), b.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    bits = std::stoi(b);
    if (bits > 32) return std::nullopt;
  }
  return std::make_pair(*addr, bits);
}

bool ipMatches(const std::string& client, const std::string& expr) {
  auto acl = parseIpAcl(expr);
  auto addr = parseIpv4(client);
  if (!acl || !addr) return false;
  for (int i = 0; i < 4; ++i) {
    const int bits = std::clamp(acl->second - i * 8, 0, 8);
    const auto mask = static_cast<uint8_t>(0xff00 >> bits);
    if ((acl->first[i] & mask) != ((*addr)[i] & mask)) return false;
  }
  return true;
}

// ---- jute sizes: what the request occupies on the wire, without the
// 4-byte length prefix the server compares with jute.maxbuffer ----
constexpr size_t kRequestHeader = 8;  // xid, type
constexpr size_t kMultiHeader = 9;    // type, done, err
size_t juteString(const std::string& s) { return 4 + s.size(); }
size_t juteAcl(const AclList& acl) {
  size_t n = 4;
  for (const auto& a : acl) n += 4 + juteString(a.scheme) + juteString(a.id);
  return n;
}
size_t opBodySize(const Op& op) {
  struct Visitor {
    size_t operator()(const CreateOp& o) const {
      return juteString(o.path) + juteString(o.data) + juteAcl(o.acl) + 4 + (isTtlMode(o.mode) ? 8 : 0);
    }
    size_t operator()(const SetOp& o) const { return juteString(o.path) + juteString(o.data) + 4; }
    size_t operator()(const DeleteOp& o) const { return juteString(o.path) + 4; }
    size_t operator()(const CheckOp& o) const { return juteString(o.path) + 4; }
  };
  return std::visit(Visitor{}, op);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

int64_t systemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------
// The tree.

struct Node {
  std::string data;
  AclList acl;
  int64_t czxid = 0;
  int64_t mzxid = 0;
  int64_t pzxid = 0;
  int64_t ctime = 0;
  int64_t mtime = 0;
  int32_t version = 0;
  // What the server stores as cversion: the number of child creates. Clients
  // see 2 * stored_cversion - numChildren (DataNode.copyStat).
  int32_t stored_cversion = 0;
  int32_t aversion = 0;
  int64_t owner = 0;  // stored ephemeralOwner: session id, container or TTL encoding
  std::set<std::string> children;
};

struct Trigger {
  EventType type;
  std::string path;
};

// One write transaction: changes applied in place with an undo log, watch
// triggers held back until commit.
struct Txn {
  int64_t zxid = 0;
  int64_t time = 0;
  std::vector<std::function<void()>> undo;
  std::vector<Trigger> triggers;
  FakeCounters applied;

  void rollback() {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) (*it)();
    undo.clear();
    triggers.clear();
    applied = {};
  }
};

// An authenticated identity of a session: ("ip", addr), ("digest", "u:hash"), ("super", "").
using AuthId = std::pair<std::string, std::string>;

struct SessionRec {
  int64_t id = 0;
  uint64_t generation = 0;
  std::weak_ptr<FakeClient::Core> core;
  std::vector<AuthId> auth;
  bool connected = true;
};

// Who issues a request: a session, or nobody (the direct helpers, which act
// like a super user).
struct Caller {
  const SessionRec* session = nullptr;
};

// ---- requests as queued by a FakeClient ----
struct GetReq {
  using Result = GetResult;
  std::string path;
  bool watch;
  GetCallback cb;
};
struct ChildrenReq {
  using Result = ChildrenResult;
  std::string path;
  bool watch;
  ChildrenCallback cb;
};
struct ExistsReq {
  using Result = StatResult;
  std::string path;
  bool watch;
  StatCallback cb;
};
struct GetAclReq {
  using Result = AclResult;
  std::string path;
  AclCallback cb;
};
struct CreateReq {
  using Result = CreateResult;
  CreateOp op;
  CreateCallback cb;
};
struct SetReq {
  using Result = StatResult;
  SetOp op;
  StatCallback cb;
};
struct DeleteReq {
  using Result = VoidResult;
  DeleteOp op;
  VoidCallback cb;
};
struct SetAclReq {
  using Result = VoidResult;
  std::string path;
  AclList acl;
  int32_t version;
  VoidCallback cb;
};
struct MultiReq {
  using Result = MultiResult;
  std::vector<Op> ops;
  MultiCallback cb;
};
using Request =
    std::variant<GetReq, ChildrenReq, ExistsReq, GetAclReq, CreateReq, SetReq, DeleteReq, SetAclReq, MultiReq>;

// The callback of `req`, bound to `result`.
template <typename R>
std::function<void()> bind(R& req, typename R::Result result) {
  return [cb = std::move(req.cb), result = std::move(result)]() mutable { cb(std::move(result)); };
}

std::function<void()> failure(Request& req, Code code) {
  return std::visit(
      [code](auto& r) {
        typename std::decay_t<decltype(r)>::Result result;
        result.code = code;
        return bind(r, std::move(result));
      },
      req);
}

// What the C client refuses before sending, as its return code.
Code clientCheck(const Request& req) {
  struct Visitor {
    Code operator()(const GetReq& r) const { return validPath(r.path, false) ? Code::kOk : Code::kBadArguments; }
    Code operator()(const ChildrenReq& r) const {
      return validPath(r.path, false) ? Code::kOk : Code::kBadArguments;
    }
    Code operator()(const ExistsReq& r) const { return validPath(r.path, false) ? Code::kOk : Code::kBadArguments; }
    Code operator()(const GetAclReq& r) const { return validPath(r.path, false) ? Code::kOk : Code::kBadArguments; }
    Code operator()(const CreateReq& r) const {
      if (isTtlMode(r.op.mode) && (r.op.ttl_ms <= 0 || r.op.ttl_ms > kMaxTtl)) return Code::kBadArguments;
      return validPath(r.op.path, isSequential(r.op.mode)) ? Code::kOk : Code::kBadArguments;
    }
    Code operator()(const SetReq& r) const { return validPath(r.op.path, false) ? Code::kOk : Code::kBadArguments; }
    Code operator()(const DeleteReq& r) const {
      return validPath(r.op.path, false) ? Code::kOk : Code::kBadArguments;
    }
    Code operator()(const SetAclReq& r) const { return validPath(r.path, false) ? Code::kOk : Code::kBadArguments; }
    Code operator()(const MultiReq& r) const {
      // zoo_amulti() has no TTL create op: it returns ZUNIMPLEMENTED when it
      // meets one, even after an op with a bad path.
      bool bad_path = false;
      for (const auto& op : r.ops) {
        if (const auto* c = std::get_if<CreateOp>(&op)) {
          if (isTtlMode(c->mode)) return Code::kUnimplemented;
          bad_path |= !validPath(c->path, isSequential(c->mode));
        } else {
          bad_path |= !validPath(opPath(op), false);
        }
      }
      return bad_path ? Code::kBadArguments : Code::kOk;
    }
  };
  return std::visit(Visitor{}, req);
}

size_t requestSize(const Request& req) {
  struct Visitor {
    size_t operator()(const GetReq& r) const { return juteString(r.path) + 1; }
    size_t operator()(const ChildrenReq& r) const { return juteString(r.path) + 1; }
    size_t operator()(const ExistsReq& r) const { return juteString(r.path) + 1; }
    size_t operator()(const GetAclReq& r) const { return juteString(r.path); }
    size_t operator()(const CreateReq& r) const { return opBodySize(r.op); }
    size_t operator()(const SetReq& r) const { return opBodySize(r.op); }
    size_t operator()(const DeleteReq& r) const { return opBodySize(r.op); }
    size_t operator()(const SetAclReq& r) const { return juteString(r.path) + juteAcl(r.acl) + 4; }
    size_t operator()(const MultiReq& r) const {
      size_t n = kMultiHeader;  // the closing header
      for (const auto& op : r.ops) n += kMultiHeader + opBodySize(op);
      return n;
    }
  };
  return kRequestHeader + std::visit(Visitor{}, req);
}

struct Delivery {
  enum class Kind : uint8_t { kResponse, kWatch, kSession };
  Kind kind = Kind::kResponse;
  std::function<void()> fn;  // kResponse
  WatchEvent watch{};        // kWatch
  SessionEvent session{};    // kSession
  int64_t session_id = 0;    // kWatch: the session that set the watch
};

void addCounters(FakeCounters& to, const FakeCounters& from) {
  to.reads += from.reads;
  to.write_requests += from.write_requests;
  to.multis += from.multis;
  to.creates += from.creates;
  to.sets += from.sets;
  to.deletes += from.deletes;
  to.set_acls += from.set_acls;
}

Code pendingCode(SessionState state) {
  switch (state) {
    case SessionState::kConnected: return Code::kOk;
    case SessionState::kConnecting: return Code::kConnectionLoss;
    case SessionState::kExpired: return Code::kSessionExpired;
    case SessionState::kAuthFailed: return Code::kAuthFailed;
    case SessionState::kClosed: return Code::kClosing;
  }
  return Code::kClosing;
}

}  // namespace

std::string digestAclId(std::string_view credentials) {
  const auto digest = sha1(credentials);
  const size_t colon = credentials.find(':');
  return std::string(credentials.substr(0, colon)) + ":" + base64(digest.data(), digest.size());
}

// ---------------------------------------------------------------------------
// FakeClient::Core: one client's queues, completion thread and session view.
//
// Locking: FakeServer::Impl::mu first, then a Core::mu. Every change of the
// session view (state, generation, session_id, watch registry) happens with
// both held, so the server sees a consistent view while executing a request.

struct FakeClient::Core {
  std::shared_ptr<FakeServer> server;  // keeps `impl` alive
  FakeServer::Impl* impl = nullptr;
  FakeClientOptions options;

  mutable std::mutex mu;
  std::condition_variable cv;
  mutable std::condition_variable idle_cv;
  std::deque<Request> requests;
  std::deque<Delivery> deliveries;
  bool paused = false;
  bool stop = false;
  bool busy = false;
  size_t pending = 0;
  std::thread worker;
  std::thread::id worker_id;

  SessionState state = SessionState::kClosed;
  uint64_t generation = 0;
  int64_t session_id = 0;
  int64_t last_zxid = 0;
  // The C client's watch tables: node (data), exist and child watches.
  std::set<std::string> data_w;
  std::set<std::string> exist_w;
  std::set<std::string> child_w;
  std::vector<AuthEntry> added_auth;  // addAuth() calls, replayed on every new session
  WatchListener watch_listener;
  SessionListener session_listener;
  FakeCounters counters;

  void loop();
  void runOne(Request req);
  void issue(Request req) {
    std::lock_guard lk(mu);
    requests.push_back(std::move(req));
    ++pending;
    cv.notify_one();
  }
  bool idleLocked() const { return deliveries.empty() && !busy && (requests.empty() || paused); }

  // The rest are called with mu held.
  void pushLocked(Delivery d) {
    deliveries.push_back(std::move(d));
    cv.notify_one();
  }
  void respondLocked(std::function<void()> fn) { pushLocked(Delivery{Delivery::Kind::kResponse, std::move(fn)}); }
  void sessionEventLocked(SessionState s) {
    pushLocked(Delivery{Delivery::Kind::kSession, {}, {}, SessionEvent{s, generation}});
  }
  void failQueuedLocked(Code code) {
    while (!requests.empty()) {
      respondLocked(failure(requests.front(), code));
      requests.pop_front();
    }
  }
  void clearWatchesLocked() {
    data_w.clear();
    exist_w.clear();
    child_w.clear();
  }
  // A notification arrives: deliver it once if the C client's tables hold a
  // watch it applies to (collectWatchers), and forget those watches.
  void notifyLocked(EventType type, const std::string& path) {
    bool found = false;
    auto take = [&](std::set<std::string>& table) { found |= table.erase(path) > 0; };
    switch (type) {
      case EventType::kCreated:
      case EventType::kDataChanged:
        take(data_w);
        take(exist_w);
        break;
      case EventType::kChildrenChanged:
        take(child_w);
        break;
      case EventType::kDeleted:
        take(data_w);
        take(exist_w);
        take(child_w);
        break;
      case EventType::kNotWatching:
        break;
    }
    if (!found) return;
    Delivery d{Delivery::Kind::kWatch};
    d.watch = WatchEvent{type, path, generation};
    d.session_id = session_id;
    pushLocked(std::move(d));
  }
};

// ---------------------------------------------------------------------------
// FakeServer::Impl

struct FakeServer::Impl {
  FakeServerOptions options;
  mutable std::mutex mu;
  std::map<std::string, Node> tree;
  int64_t zxid = 0;
  int64_t sessions_created = 0;
  bool accepting = true;
  std::map<int64_t, SessionRec> sessions;
  std::map<int64_t, std::set<std::string>> ephemerals;  // session id -> paths
  std::map<std::string, std::set<int64_t>> data_watches;
  std::map<std::string, std::set<int64_t>> child_watches;
  FakeCounters counters;
  std::vector<std::weak_ptr<FakeClient::Core>> cores;

  explicit Impl(FakeServerOptions o) : options(std::move(o)) {
    if (!options.clock) options.clock = systemClockMs;
    tree["/"] = Node{};
    if (options.system_nodes) {
      // As DataTree's constructor builds them: zxid 0, time 0, stored cversion 0.
      tree["/"].children = {"zookeeper"};
      tree["/zookeeper"].children = {"quota", "config"};
      tree["/zookeeper/quota"] = Node{};
      Node config;
      config.acl = {Acl{perm::kRead, "world", "anyone"}};
      config.aversion = -1;
      tree["/zookeeper/config"] = config;
    }
    for (auto& [path, node] : tree) {
      if (node.acl.empty()) node.acl = openAcl();
    }
  }

  Stat statOf(const Node& n) const {
    Stat s;
    s.czxid = n.czxid;
    s.mzxid = n.mzxid;
    s.ctime = n.ctime;
    s.mtime = n.mtime;
    s.version = n.version;
    s.cversion = n.stored_cversion * 2 - static_cast<int32_t>(n.children.size());
    s.aversion = n.aversion;
    s.ephemeral_owner = (options.expose_extended_owner || isSessionOwner(n.owner)) ? n.owner : 0;
    s.data_length = static_cast<int32_t>(n.data.size());
    s.num_children = static_cast<int32_t>(n.children.size());
    s.pzxid = n.pzxid;
    return s;
  }

  FakeNode fakeNode(const std::string& path, const Node& n) const {
    FakeNode f;
    f.path = path;
    f.data = n.data;
    f.stat = statOf(n);
    f.acl = n.acl;
    Stat raw;
    raw.ephemeral_owner = n.owner;
    f.kind = kindOf(raw);
    if (f.kind == NodeKind::kTtl) f.ttl_ms = static_cast<int64_t>(static_cast<uint64_t>(n.owner) & ~kExtendedMask);
    return f;
  }

  std::vector<std::string> childList(const Node& n) const {
    std::vector<std::string> out(n.children.begin(), n.children.end());
    if (options.child_order == ChildOrder::kHashed) {
      std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
        const auto ha = fnv1a(a), hb = fnv1a(b);
        return ha != hb ? ha < hb : a < b;
      });
    }
    return out;
  }

  // ZooKeeperServer.checkACL.
  bool allowed(const Caller& caller, const AclList& acl, int32_t perm) const {
    if (caller.session == nullptr || acl.empty()) return true;
    const auto& ids = caller.session->auth;
    for (const auto& id : ids) {
      if (id.first == "super") return true;
    }
    for (const auto& a : acl) {
      if ((a.perms & perm) == 0) continue;
      if (a.scheme == "world" && a.id == "anyone") return true;
      for (const auto& id : ids) {
        if (id.first != a.scheme) continue;
        if (a.scheme == "digest" && id.second == a.id) return true;
        if (a.scheme == "ip" && ipMatches(id.second, a.id)) return true;
      }
    }
    return false;
  }

  // PrepRequestProcessor.fixupACL: drop duplicates, expand "auth", validate.
  std::optional<AclList> fixupAcl(const Caller& caller, const AclList& acl) const {
    AclList unique;
    for (const auto& a : acl) {
      if (std::find(unique.begin(), unique.end(), a) == unique.end()) unique.push_back(a);
    }
    if (unique.empty()) return std::nullopt;
    AclList out;
    for (const auto& a : unique) {
      if (a.scheme == "world" && a.id == "anyone") {
        out.push_back(a);
      } else if (a.scheme == "auth") {
        // Only authenticated providers count: digest (ip is not one).
        bool any = false;
        if (caller.session != nullptr) {
          for (const auto& id : caller.session->auth) {
            if (id.first == "digest") {
              out.push_back(Acl{a.perms, id.first, id.second});
              any = true;
            }
          }
        }
        if (!any) return std::nullopt;
      } else if (a.scheme == "digest") {
        if (!validDigestId(a.id)) return std::nullopt;
        out.push_back(a);
      } else if (a.scheme == "ip") {
        if (!parseIpAcl(a.id)) return std::nullopt;
        out.push_back(a);
      } else {
        return std::nullopt;  // no such authentication provider
      }
    }
    return out;
  }

  // ---- mutations with undo ----

  void insertNode(Txn& txn, const std::string& path, Node node) {
    const std::string parent_path = parentOf(path);
    Node& parent = tree.at(parent_path);
    const int32_t old_cversion = parent.stored_cversion;
    const int64_t old_pzxid = parent.pzxid;
    parent.stored_cversion += 1;
    parent.pzxid = txn.zxid;
    parent.children.insert(nameOf(path));
    const int64_t owner = node.owner;
    tree.emplace(path, std::move(node));
    if (isSessionOwner(owner)) ephemerals[owner].insert(path);
    txn.undo.push_back([this, path, parent_path, old_cversion, old_pzxid, owner] {
      tree.erase(path);
      Node& p = tree.at(parent_path);
      p.children.erase(nameOf(path));
      p.stored_cversion = old_cversion;
      p.pzxid = old_pzxid;
      if (isSessionOwner(owner)) ephemerals[owner].erase(path);
    });
    txn.triggers.push_back({EventType::kCreated, path});
    txn.triggers.push_back({EventType::kChildrenChanged, parent_path});
    ++txn.applied.creates;
  }

  void eraseNode(Txn& txn, const std::string& path) {
    const std::string parent_path = parentOf(path);
    Node& parent = tree.at(parent_path);
    const int64_t old_pzxid = parent.pzxid;
    // DataTree.deleteNode moves pzxid only forward and leaves the stored
    // cversion alone: the reported cversion still grows, as a child is gone.
    parent.pzxid = std::max(parent.pzxid, txn.zxid);
    parent.children.erase(nameOf(path));
    auto it = tree.find(path);
    Node old = std::move(it->second);
    tree.erase(it);
    const int64_t owner = old.owner;
    if (isSessionOwner(owner)) ephemerals[owner].erase(path);
    txn.undo.push_back([this, path, parent_path, old_pzxid, old = std::move(old)]() mutable {
      Node& p = tree.at(parent_path);
      p.children.insert(nameOf(path));
      p.pzxid = old_pzxid;
      if (isSessionOwner(old.owner)) ephemerals[old.owner].insert(path);
      tree.emplace(path, std::move(old));
    });
    txn.triggers.push_back({EventType::kDeleted, path});
    txn.triggers.push_back({EventType::kChildrenChanged, parent_path});
    ++txn.applied.deletes;
  }

  // ---- write ops: PrepRequestProcessor's checks in its order ----

  Code doCreate(Txn& txn, const Caller& caller, const CreateOp& op, int64_t ephemeral_owner,
                std::string& created) {
    if (isTtlMode(op.mode)) {
      if (!options.extended_types_enabled) return Code::kUnimplemented;
      if (op.ttl_ms <= 0 || op.ttl_ms > kMaxTtl) return Code::kBadArguments;
    }
    if (isEphemeralMode(op.mode) && !isSessionOwner(ephemeral_owner)) return Code::kBadArguments;
    if (op.path.find('\0') != std::string::npos) return Code::kBadArguments;
    auto acl = fixupAcl(caller, op.acl);
    if (!acl) return Code::kInvalidAcl;
    const std::string parent_path = parentOf(op.path);
    auto parent_it = tree.find(parent_path);
    if (parent_it == tree.end()) return Code::kNoNode;
    Node& parent = parent_it->second;
    if (!allowed(caller, parent.acl, perm::kCreate)) return Code::kNoAuth;
    std::string path = op.path;
    if (isSequential(op.mode)) {
      char suffix[16];
      std::snprintf(suffix, sizeof suffix, "%010d", parent.stored_cversion);
      path += suffix;
    }
    if (tree.contains(path)) return Code::kNodeExists;
    if (isSessionOwner(parent.owner)) return Code::kNoChildrenForEphemerals;

    Node node;
    node.data = op.data;
    node.acl = std::move(*acl);
    node.czxid = node.mzxid = node.pzxid = txn.zxid;
    node.ctime = node.mtime = txn.time;
    if (op.mode == CreateMode::kContainer) {
      node.owner = static_cast<int64_t>(kContainerOwner);
    } else if (isTtlMode(op.mode)) {
      node.owner = static_cast<int64_t>(kExtendedMask | static_cast<uint64_t>(op.ttl_ms));
    } else if (isEphemeralMode(op.mode)) {
      node.owner = ephemeral_owner;
    }
    insertNode(txn, path, std::move(node));
    created = path;
    return Code::kOk;
  }

  Code doSet(Txn& txn, const Caller& caller, const SetOp& op, Stat& out) {
    auto it = tree.find(op.path);
    if (it == tree.end()) return Code::kNoNode;
    Node& n = it->second;
    if (!allowed(caller, n.acl, perm::kWrite)) return Code::kNoAuth;
    if (op.version != -1 && op.version != n.version) return Code::kBadVersion;
    txn.undo.push_back([this, path = op.path, data = n.data, version = n.version, mzxid = n.mzxid,
                        mtime = n.mtime]() mutable {
      Node& m = tree.at(path);
      m.data = std::move(data);
      m.version = version;
      m.mzxid = mzxid;
      m.mtime = mtime;
    });
    n.data = op.data;
    n.version += 1;
    n.mzxid = txn.zxid;
    n.mtime = txn.time;
    out = statOf(n);
    txn.triggers.push_back({EventType::kDataChanged, op.path});
    ++txn.applied.sets;
    return Code::kOk;
  }

  Code doDelete(Txn& txn, const Caller& caller, const DeleteOp& op) {
    if (op.path.find('\0') != std::string::npos || isSpecialPath(op.path)) return Code::kBadArguments;
    auto parent_it = tree.find(parentOf(op.path));
    if (parent_it == tree.end()) return Code::kNoNode;
    if (!allowed(caller, parent_it->second.acl, perm::kDelete)) return Code::kNoAuth;
    auto it = tree.find(op.path);
    if (it == tree.end()) return Code::kNoNode;
    if (op.version != -1 && op.version != it->second.version) return Code::kBadVersion;
    if (!it->second.children.empty()) return Code::kNotEmpty;
    eraseNode(txn, op.path);
    return Code::kOk;
  }

  Code doCheck(const Caller& caller, const CheckOp& op) {
    auto it = tree.find(op.path);
    if (it == tree.end()) return Code::kNoNode;
    if (!allowed(caller, it->second.acl, perm::kRead)) return Code::kNoAuth;
    if (op.version != -1 && op.version != it->second.version) return Code::kBadVersion;
    return Code::kOk;
  }

  Code doSetAcl(Txn& txn, const Caller& caller, const std::string& path, const AclList& acl, int32_t version) {
    auto fixed = fixupAcl(caller, acl);
    if (!fixed) return Code::kInvalidAcl;
    auto it = tree.find(path);
    if (it == tree.end()) return Code::kNoNode;
    Node& n = it->second;
    if (!allowed(caller, n.acl, perm::kAdmin)) return Code::kNoAuth;
    if (version != -1 && version != n.aversion) return Code::kBadVersion;
    txn.undo.push_back([this, path, old = n.acl, aversion = n.aversion]() mutable {
      Node& m = tree.at(path);
      m.acl = std::move(old);
      m.aversion = aversion;
    });
    n.acl = std::move(*fixed);
    n.aversion += 1;
    ++txn.applied.set_acls;
    return Code::kOk;
  }

  Code doOp(Txn& txn, const Caller& caller, const Op& op, int64_t ephemeral_owner, OpResult& out) {
    if (const auto* c = std::get_if<CreateOp>(&op)) return doCreate(txn, caller, *c, ephemeral_owner, out.path);
    if (const auto* s = std::get_if<SetOp>(&op)) return doSet(txn, caller, *s, out.stat);
    if (const auto* d = std::get_if<DeleteOp>(&op)) return doDelete(txn, caller, *d);
    return doCheck(caller, std::get<CheckOp>(op));
  }

  Txn beginTxn() {
    Txn txn;
    txn.zxid = ++zxid;
    txn.time = options.clock();
    return txn;
  }

  // Fires the watches of a committed transaction, in the order of its
  // changes (DataTree triggers them as it applies each one).
  void commit(Txn& txn) {
    for (const auto& t : txn.triggers) fire(t.type, t.path);
    txn.undo.clear();
  }

  MultiResult doMulti(const Caller& caller, const std::vector<Op>& ops, int64_t ephemeral_owner, Txn& txn) {
    MultiResult res;
    res.results.resize(ops.size());
    size_t failed = ops.size();
    for (size_t i = 0; i < ops.size(); ++i) {
      const Code code = doOp(txn, caller, ops[i], ephemeral_owner, res.results[i]);
      if (code != Code::kOk) {
        failed = i;
        res.code = code;
        break;
      }
    }
    if (failed == ops.size()) return res;
    txn.rollback();
    for (size_t i = 0; i < ops.size(); ++i) {
      res.results[i] = OpResult{};
      res.results[i].code = i < failed ? Code::kOk : i == failed ? res.code : Code::kRuntimeInconsistency;
    }
    return res;
  }

  // ---- watches ----

  static void take(std::map<std::string, std::set<int64_t>>& table, const std::string& path,
                   std::set<int64_t>& into) {
    auto it = table.find(path);
    if (it == table.end()) return;
    into.insert(it->second.begin(), it->second.end());
    table.erase(it);
  }

  // WatchManager.triggerWatch; a delete notifies each session once even if
  // it held both a data and a child watch.
  void fire(EventType type, const std::string& path) {
    std::set<int64_t> targets;
    switch (type) {
      case EventType::kCreated:
      case EventType::kDataChanged:
        take(data_watches, path, targets);
        break;
      case EventType::kChildrenChanged:
        take(child_watches, path, targets);
        break;
      case EventType::kDeleted:
        take(data_watches, path, targets);
        take(child_watches, path, targets);
        break;
      case EventType::kNotWatching:
        break;
    }
    for (int64_t id : targets) notify(id, type, path);
  }

  void notify(int64_t session_id, EventType type, const std::string& path) {
    auto it = sessions.find(session_id);
    if (it == sessions.end() || !it->second.connected) return;
    if (auto core = it->second.core.lock()) {
      std::lock_guard lk(core->mu);
      if (core->session_id == session_id) core->notifyLocked(type, path);
    }
  }

  void dropWatches(int64_t session_id) {
    for (auto* table : {&data_watches, &child_watches}) {
      for (auto it = table->begin(); it != table->end();) {
        it->second.erase(session_id);
        it = it->second.empty() ? table->erase(it) : std::next(it);
      }
    }
  }

  // ---- sessions ----

  int64_t createSession(const std::shared_ptr<FakeClient::Core>& core, uint64_t generation,
                        const std::string& address) {
    ++zxid;  // createSession is a transaction
    const int64_t id = kSessionIdBase + ++sessions_created;
    SessionRec rec;
    rec.id = id;
    rec.generation = generation;
    rec.core = core;
    rec.auth.push_back({"ip", address});
    sessions.emplace(id, std::move(rec));
    return id;
  }

  // closeSession: one transaction deleting the session's ephemerals. The
  // session's own watches go first, so it is not notified of its own end.
  void closeSession(int64_t session_id) {
    auto it = sessions.find(session_id);
    if (it == sessions.end()) return;
    dropWatches(session_id);
    sessions.erase(it);
    Txn txn = beginTxn();
    auto eph = ephemerals.find(session_id);
    if (eph != ephemerals.end()) {
      const std::set<std::string> paths = eph->second;
      for (const auto& path : paths) {
        if (tree.contains(path)) eraseNode(txn, path);
      }
      ephemerals.erase(session_id);
    }
    commit(txn);
  }

  // Returns false for a scheme the server has no provider for.
  bool addAuth(SessionRec& rec, const std::string& scheme, const std::string& credentials) {
    if (scheme != "digest") return false;
    const std::string id = digestAclId(credentials);
    if (!options.super_digest.empty() && id == options.super_digest) {
      rec.auth.push_back({"super", ""});
    }
    if (std::find(rec.auth.begin(), rec.auth.end(), AuthId{"digest", id}) == rec.auth.end()) {
      rec.auth.push_back({"digest", id});
    }
    return true;
  }

  // SetWatches: size of the request the C client sends on reconnect.
  static size_t setWatchesSize(const FakeClient::Core& c) {
    size_t n = kRequestHeader + 8;
    for (const auto* table : {&c.data_w, &c.exist_w, &c.child_w}) {
      n += 4;
      for (const auto& p : *table) n += juteString(p);
    }
    return n;
  }

  // DataTree.setWatches: fire what changed since `relative_zxid`, re-arm the rest.
  void setWatches(FakeClient::Core& c, int64_t session_id, int64_t relative_zxid) {
    std::vector<Trigger> fired;
    for (const auto& p : c.data_w) {
      auto it = tree.find(p);
      if (it == tree.end()) {
        fired.push_back({EventType::kDeleted, p});
      } else if (it->second.mzxid > relative_zxid) {
        fired.push_back({EventType::kDataChanged, p});
      } else {
        data_watches[p].insert(session_id);
      }
    }
    for (const auto& p : c.exist_w) {
      if (tree.contains(p)) {
        fired.push_back({EventType::kCreated, p});
      } else {
        data_watches[p].insert(session_id);
      }
    }
    for (const auto& p : c.child_w) {
      auto it = tree.find(p);
      if (it == tree.end()) {
        fired.push_back({EventType::kDeleted, p});
      } else if (it->second.pzxid > relative_zxid) {
        fired.push_back({EventType::kChildrenChanged, p});
      } else {
        child_watches[p].insert(session_id);
      }
    }
    for (const auto& t : fired) c.notifyLocked(t.type, t.path);
  }

  // ---- FakeClient session transitions; mu held, they take the core's ----

  // `announce`: deliver kConnected. The constructor's first open stays
  // silent: no listener can be set before it.
  Status openSession(const std::shared_ptr<FakeClient::Core>& core, bool announce) {
    std::lock_guard lk(core->mu);
    if (sessions.contains(core->session_id)) {
      closeSession(core->session_id);
      core->failQueuedLocked(Code::kClosing);
    } else {
      core->failQueuedLocked(pendingCode(core->state));
    }
    core->clearWatchesLocked();
    core->session_id = 0;
    if (!accepting) {
      core->state = SessionState::kClosed;
      return fail(ErrorCode::kTimeout, "fake ZooKeeper server does not accept connections");
    }
    core->generation += 1;
    core->session_id = createSession(core, core->generation, core->options.address);
    core->state = SessionState::kConnected;
    core->last_zxid = zxid;
    if (announce) core->sessionEventLocked(SessionState::kConnected);
    SessionRec& rec = sessions.at(core->session_id);
    std::vector<AuthEntry> auth = core->options.auth;
    auth.insert(auth.end(), core->added_auth.begin(), core->added_auth.end());
    for (const auto& a : auth) {
      if (!addAuth(rec, a.scheme, a.credentials)) {
        authFailed(*core);  // ends the session: `rec` is gone
        break;
      }
    }
    return {};
  }

  void authFailed(FakeClient::Core& c) {
    if (c.state != SessionState::kConnected) return;
    closeSession(c.session_id);
    c.failQueuedLocked(Code::kAuthFailed);
    c.clearWatchesLocked();
    c.state = SessionState::kAuthFailed;
    c.sessionEventLocked(SessionState::kAuthFailed);
  }

  void disconnect(FakeClient::Core& c) {
    if (c.state != SessionState::kConnected) return;
    // The server forgets a connection's watches when it closes; the client
    // keeps its tables and re-sends them on reconnect.
    auto it = sessions.find(c.session_id);
    if (it != sessions.end()) it->second.connected = false;
    dropWatches(c.session_id);
    c.failQueuedLocked(Code::kConnectionLoss);
    c.state = SessionState::kConnecting;
    c.sessionEventLocked(SessionState::kConnecting);
  }

  SessionState reconnect(FakeClient::Core& c) {
    if (c.state != SessionState::kConnecting || !accepting) return c.state;
    auto it = sessions.find(c.session_id);
    if (it == sessions.end()) {
      c.clearWatchesLocked();
      c.state = SessionState::kExpired;
      c.sessionEventLocked(SessionState::kExpired);
      return c.state;
    }
    if (setWatchesSize(c) > options.max_request_bytes) return c.state;  // the server drops it again
    it->second.connected = true;
    c.state = SessionState::kConnected;
    c.sessionEventLocked(SessionState::kConnected);
    setWatches(c, c.session_id, c.last_zxid);
    c.last_zxid = zxid;
    return c.state;
  }

  void expire(FakeClient::Core& c) {
    if (!sessions.contains(c.session_id)) return;
    closeSession(c.session_id);
    if (c.state != SessionState::kConnected) return;  // learnt on reconnect
    c.failQueuedLocked(Code::kSessionExpired);
    c.clearWatchesLocked();
    c.state = SessionState::kExpired;
    c.sessionEventLocked(SessionState::kExpired);
  }

  // ---- request execution; mu held ----
  void execute(FakeClient::Core& core, Request& req);
  std::function<void()> executeRead(FakeClient::Core& core, const Caller& caller, Request& req);
  std::function<void()> executeWrite(FakeClient::Core& core, const Caller& caller, Request& req);
};

void FakeServer::Impl::execute(FakeClient::Core& core, Request& req) {
  std::unique_lock lk(core.mu);
  const Code state_code = pendingCode(core.state);
  auto session = sessions.find(core.session_id);
  if (state_code != Code::kOk || session == sessions.end()) {
    core.respondLocked(failure(req, state_code != Code::kOk ? state_code : Code::kSessionExpired));
    return;
  }
  if (requestSize(req) > options.max_request_bytes) {
    // The server closes the connection on a packet over jute.maxbuffer; the
    // C client fails everything in flight and reconnects to the same session.
    core.respondLocked(failure(req, Code::kConnectionLoss));
    disconnect(core);
    reconnect(core);
    return;
  }
  lk.unlock();  // executing notifies cores, this one included
  const Caller caller{&session->second};
  const bool is_read = std::holds_alternative<GetReq>(req) || std::holds_alternative<ChildrenReq>(req) ||
                       std::holds_alternative<ExistsReq>(req) || std::holds_alternative<GetAclReq>(req);
  auto done = is_read ? executeRead(core, caller, req) : executeWrite(core, caller, req);
  lk.lock();
  core.last_zxid = zxid;
  core.respondLocked(std::move(done));
}

std::function<void()> FakeServer::Impl::executeRead(FakeClient::Core& core, const Caller& caller, Request& req) {
  const int64_t sid = caller.session->id;
  ++counters.reads;
  {
    std::lock_guard lk(core.mu);
    ++core.counters.reads;
  }
  // Client-side watch registration happens when the answer arrives, i.e.
  // now, before any later notification can be pushed.
  auto registerWatch = [&](std::set<std::string>& table, const std::string& path) {
    std::lock_guard lk(core.mu);
    table.insert(path);
  };
  if (auto* r = std::get_if<GetReq>(&req)) {
    GetResult res;
    auto it = tree.find(r->path);
    if (it == tree.end()) {
      res.code = Code::kNoNode;
    } else if (!allowed(caller, it->second.acl, perm::kRead)) {
      res.code = Code::kNoAuth;
    } else {
      res.data = it->second.data;
      res.stat = statOf(it->second);
      if (r->watch) {
        data_watches[r->path].insert(sid);
        registerWatch(core.data_w, r->path);
      }
    }
    return bind(*r, std::move(res));
  }
  if (auto* r = std::get_if<ChildrenReq>(&req)) {
    ChildrenResult res;
    auto it = tree.find(r->path);
    if (it == tree.end()) {
      res.code = Code::kNoNode;
    } else if (!allowed(caller, it->second.acl, perm::kRead)) {
      res.code = Code::kNoAuth;
    } else {
      res.children = childList(it->second);
      res.stat = statOf(it->second);
      if (r->watch) {
        child_watches[r->path].insert(sid);
        registerWatch(core.child_w, r->path);
      }
    }
    return bind(*r, std::move(res));
  }
  if (auto* r = std::get_if<ExistsReq>(&req)) {
    StatResult res;
    auto it = tree.find(r->path);
    if (r->watch) data_watches[r->path].insert(sid);
    if (it == tree.end()) {
      res.code = Code::kNoNode;
      if (r->watch) registerWatch(core.exist_w, r->path);
    } else {
      res.stat = statOf(it->second);
      if (r->watch) registerWatch(core.data_w, r->path);
    }
    return bind(*r, std::move(res));
  }
  auto& r = std::get<GetAclReq>(req);
  AclResult res;
  auto it = tree.find(r.path);
  if (it == tree.end()) {
    res.code = Code::kNoNode;
  } else if (!allowed(caller, it->second.acl, perm::kRead | perm::kAdmin)) {
    res.code = Code::kNoAuth;
  } else {
    res.acl = it->second.acl;
    res.stat = statOf(it->second);
    // Without ADMIN the digest hashes are hidden (ZOOKEEPER-1392).
    if (!allowed(caller, it->second.acl, perm::kAdmin)) {
      for (auto& a : res.acl) {
        const size_t colon = a.id.find(':');
        if (a.scheme == "digest" && colon != std::string::npos) a.id = a.id.substr(0, colon) + ":x";
      }
    }
  }
  return bind(r, std::move(res));
}

std::function<void()> FakeServer::Impl::executeWrite(FakeClient::Core& core, const Caller& caller,
                                                     Request& req) {
  const int64_t sid = caller.session->id;
  Txn txn = beginTxn();
  FakeCounters requests{.write_requests = 1};
  std::function<void()> done;
  Code code = Code::kOk;
  if (auto* r = std::get_if<CreateReq>(&req)) {
    CreateResult res;
    res.code = code = doCreate(txn, caller, r->op, sid, res.path);
    if (code != Code::kOk) res.path.clear();
    done = bind(*r, std::move(res));
  } else if (auto* r = std::get_if<SetReq>(&req)) {
    StatResult res;
    res.code = code = doSet(txn, caller, r->op, res.stat);
    done = bind(*r, std::move(res));
  } else if (auto* r = std::get_if<DeleteReq>(&req)) {
    VoidResult res;
    res.code = code = doDelete(txn, caller, r->op);
    done = bind(*r, std::move(res));
  } else if (auto* r = std::get_if<SetAclReq>(&req)) {
    VoidResult res;
    res.code = code = doSetAcl(txn, caller, r->path, r->acl, r->version);
    done = bind(*r, std::move(res));
  } else {
    auto& m = std::get<MultiReq>(req);
    requests.multis = 1;
    MultiResult res = doMulti(caller, m.ops, sid, txn);
    code = res.code;
    done = bind(m, std::move(res));
  }
  if (code != Code::kOk) txn.rollback();
  addCounters(requests, txn.applied);
  addCounters(counters, requests);
  {
    std::lock_guard lk(core.mu);
    addCounters(core.counters, requests);
  }
  commit(txn);
  return done;
}

// ---------------------------------------------------------------------------
// The completion thread.

void FakeClient::Core::runOne(Request req) {
  if (const Code code = clientCheck(req); code != Code::kOk) {
    std::lock_guard lk(mu);
    respondLocked(failure(req, code));
    return;
  }
  std::lock_guard slk(impl->mu);
  impl->execute(*this, req);
}

void FakeClient::Core::loop() {
  std::unique_lock lk(mu);
  for (;;) {
    if (!deliveries.empty()) {
      Delivery d = std::move(deliveries.front());
      deliveries.pop_front();
      busy = true;
      std::function<void()> fn;
      switch (d.kind) {
        case Delivery::Kind::kResponse:
          fn = std::move(d.fn);
          break;
        case Delivery::Kind::kWatch:
          // Events of an older session, or of a closed client, are never delivered.
          if (watch_listener && d.session_id == session_id && d.watch.generation == generation &&
              state != SessionState::kClosed) {
            fn = [listener = watch_listener, ev = std::move(d.watch)] { listener(ev); };
          }
          break;
        case Delivery::Kind::kSession:
          if (session_listener && d.session.generation == generation && state != SessionState::kClosed) {
            fn = [listener = session_listener, ev = d.session] { listener(ev); };
          }
          break;
      }
      lk.unlock();
      if (fn) fn();
      fn = nullptr;  // the callback's captures die outside the lock
      lk.lock();
      if (d.kind == Delivery::Kind::kResponse) --pending;
      busy = false;
      continue;
    }
    if (!requests.empty() && !paused) {
      Request req = std::move(requests.front());
      requests.pop_front();
      busy = true;
      lk.unlock();
      runOne(std::move(req));
      lk.lock();
      busy = false;
      continue;
    }
    idle_cv.notify_all();
    if (stop) break;
    cv.wait(lk);
  }
}

// ---------------------------------------------------------------------------
// FakeServer

FakeServer::FakeServer(FakeServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
FakeServer::~FakeServer() = default;

CreateResult FakeServer::createDirect(CreateOp op, int64_t ephemeral_owner) {
  std::lock_guard lk(impl_->mu);
  CreateResult res;
  if (!validPath(op.path, isSequential(op.mode))) {
    res.code = Code::kBadArguments;
    return res;
  }
  Txn txn = impl_->beginTxn();
  res.code = impl_->doCreate(txn, Caller{}, op, ephemeral_owner, res.path);
  if (res.code != Code::kOk) {
    txn.rollback();
    res.path.clear();
  }
  impl_->commit(txn);
  return res;
}

Code FakeServer::createRecursiveDirect(const std::string& path, const std::string& data) {
  if (!validPath(path, false)) return Code::kBadArguments;
  if (path == "/") return Code::kOk;
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string prefix = path.substr(0, pos);
    if (node(prefix)) continue;
    const auto r = createDirect(CreateOp{.path = prefix});
    if (r.code != Code::kOk && r.code != Code::kNodeExists) return r.code;
  }
  return createDirect(CreateOp{.path = path, .data = data}).code;
}

StatResult FakeServer::setDirect(const std::string& path, std::string data, int32_t version) {
  std::lock_guard lk(impl_->mu);
  StatResult res;
  if (!validPath(path, false)) {
    res.code = Code::kBadArguments;
    return res;
  }
  Txn txn = impl_->beginTxn();
  res.code = impl_->doSet(txn, Caller{}, SetOp{path, std::move(data), version}, res.stat);
  impl_->commit(txn);
  return res;
}

VoidResult FakeServer::removeDirect(const std::string& path, int32_t version) {
  std::lock_guard lk(impl_->mu);
  VoidResult res;
  if (!validPath(path, false)) {
    res.code = Code::kBadArguments;
    return res;
  }
  Txn txn = impl_->beginTxn();
  res.code = impl_->doDelete(txn, Caller{}, DeleteOp{path, version});
  impl_->commit(txn);
  return res;
}

Code FakeServer::removeRecursiveDirect(const std::string& path) {
  std::vector<std::string> paths;
  for (const auto& n : nodes(path)) paths.push_back(n.path);
  if (paths.empty()) return Code::kNoNode;
  // Deepest first, so every node is a leaf when its turn comes.
  std::sort(paths.begin(), paths.end(), [](const std::string& a, const std::string& b) {
    const auto da = std::count(a.begin(), a.end(), '/'), db = std::count(b.begin(), b.end(), '/');
    return da != db ? da > db : a < b;
  });
  for (const auto& p : paths) {
    if (p == "/" || isSpecialPath(p)) continue;
    const auto r = removeDirect(p);
    if (r.code != Code::kOk && r.code != Code::kNoNode) return r.code;
  }
  return Code::kOk;
}

VoidResult FakeServer::setAclDirect(const std::string& path, AclList acl, int32_t version) {
  std::lock_guard lk(impl_->mu);
  VoidResult res;
  if (!validPath(path, false)) {
    res.code = Code::kBadArguments;
    return res;
  }
  Txn txn = impl_->beginTxn();
  res.code = impl_->doSetAcl(txn, Caller{}, path, acl, version);
  impl_->commit(txn);
  return res;
}

MultiResult FakeServer::multiDirect(std::vector<Op> ops) {
  std::lock_guard lk(impl_->mu);
  Request probe = MultiReq{ops, {}};
  if (const Code code = clientCheck(probe); code != Code::kOk) {
    MultiResult res;
    res.code = code;
    return res;
  }
  Txn txn = impl_->beginTxn();
  MultiResult res = impl_->doMulti(Caller{}, ops, 0, txn);
  impl_->commit(txn);
  return res;
}

std::optional<FakeNode> FakeServer::node(const std::string& path) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->tree.find(path);
  if (it == impl_->tree.end()) return std::nullopt;
  return impl_->fakeNode(it->first, it->second);
}

std::vector<FakeNode> FakeServer::nodes(const std::string& root) const {
  std::lock_guard lk(impl_->mu);
  std::vector<FakeNode> out;
  for (auto it = impl_->tree.lower_bound(root); it != impl_->tree.end(); ++it) {
    // Paths under root sort after it but may interleave with siblings such
    // as "/a-b" between "/a" and "/a/b": test each.
    if (it->first.compare(0, root.size(), root) != 0) break;
    if (isUnder(it->first, root)) out.push_back(impl_->fakeNode(it->first, it->second));
  }
  return out;
}

size_t FakeServer::nodeCount() const {
  std::lock_guard lk(impl_->mu);
  return impl_->tree.size();
}

int64_t FakeServer::zxid() const {
  std::lock_guard lk(impl_->mu);
  return impl_->zxid;
}

size_t FakeServer::reapContainers() {
  std::lock_guard lk(impl_->mu);
  std::vector<std::string> candidates;
  for (const auto& [path, n] : impl_->tree) {
    if (static_cast<uint64_t>(n.owner) == kContainerOwner && n.children.empty() && n.stored_cversion > 0) {
      candidates.push_back(path);
    }
  }
  for (const auto& path : candidates) {
    Txn txn = impl_->beginTxn();  // one deleteContainer transaction each
    impl_->eraseNode(txn, path);
    impl_->commit(txn);
  }
  return candidates.size();
}

size_t FakeServer::reapExpiredTtl(int64_t now_ms) {
  std::lock_guard lk(impl_->mu);
  std::vector<std::string> candidates;
  for (const auto& [path, n] : impl_->tree) {
    const auto owner = static_cast<uint64_t>(n.owner);
    if ((owner & kExtendedMask) != kExtendedMask || owner == kContainerOwner || !n.children.empty()) continue;
    const auto ttl = static_cast<int64_t>(owner & ~kExtendedMask);
    if (ttl != 0 && now_ms - n.mtime > ttl) candidates.push_back(path);
  }
  for (const auto& path : candidates) {
    Txn txn = impl_->beginTxn();
    impl_->eraseNode(txn, path);
    impl_->commit(txn);
  }
  return candidates.size();
}

void FakeServer::setAcceptingConnections(bool accepting) {
  std::lock_guard lk(impl_->mu);
  impl_->accepting = accepting;
}

void FakeServer::setClock(std::function<int64_t()> clock) {
  std::lock_guard lk(impl_->mu);
  impl_->options.clock = clock ? std::move(clock) : systemClockMs;
}

void FakeServer::setMaxRequestBytes(size_t bytes) {
  std::lock_guard lk(impl_->mu);
  impl_->options.max_request_bytes = bytes;
}

FakeCounters FakeServer::counters() const {
  std::lock_guard lk(impl_->mu);
  return impl_->counters;
}

void FakeServer::resetCounters() {
  std::lock_guard lk(impl_->mu);
  impl_->counters = {};
}

size_t FakeServer::sessionCount() const {
  std::lock_guard lk(impl_->mu);
  return impl_->sessions.size();
}

size_t FakeServer::watchCount() const {
  std::lock_guard lk(impl_->mu);
  size_t n = 0;
  for (const auto* table : {&impl_->data_watches, &impl_->child_watches}) {
    for (const auto& [path, ids] : *table) n += ids.size();
  }
  return n;
}

bool FakeServer::waitIdle(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::shared_ptr<FakeClient::Core>> cores;
  {
    std::lock_guard lk(impl_->mu);
    for (const auto& w : impl_->cores) {
      if (auto c = w.lock()) cores.push_back(std::move(c));
    }
  }
  for (const auto& c : cores) {
    if (c->worker_id == std::this_thread::get_id()) return false;
  }
  // A callback on one client may write and so wake another: repeat until a
  // sweep finds every client idle at once.
  for (;;) {
    bool all_idle = true;
    for (const auto& c : cores) {
      std::unique_lock lk(c->mu);
      if (c->idleLocked()) continue;
      all_idle = false;
      if (!c->idle_cv.wait_until(lk, deadline, [&] { return c->idleLocked(); })) return false;
    }
    if (all_idle) return true;
  }
}

// ---------------------------------------------------------------------------
// FakeClient

FakeClient::FakeClient(std::shared_ptr<FakeServer> server, FakeClientOptions options)
    : server_(std::move(server)), core_(std::make_shared<Core>()) {
  core_->server = server_;
  core_->impl = server_->impl_.get();
  core_->options = std::move(options);
  {
    std::lock_guard lk(server_->impl_->mu);
    auto& cores = server_->impl_->cores;
    std::erase_if(cores, [](const auto& w) { return w.expired(); });
    cores.push_back(core_);
  }
  {
    // The worker starts by taking the lock, so it sees worker_id set.
    std::lock_guard lk(core_->mu);
    core_->worker = std::thread([core = core_] { core->loop(); });
    core_->worker_id = core_->worker.get_id();
  }
  if (core_->options.connect) {
    std::lock_guard lk(server_->impl_->mu);
    (void)server_->impl_->openSession(core_, false);
  }
}

FakeClient::~FakeClient() {
  close();
  {
    std::lock_guard lk(core_->mu);
    core_->stop = true;
    core_->paused = false;  // every callback runs, even of paused requests
    core_->cv.notify_all();
  }
  // A callback may hold the last reference to its own client.
  if (std::this_thread::get_id() == core_->worker_id) {
    core_->worker.detach();
  } else {
    core_->worker.join();
  }
}

void FakeClient::get(const std::string& path, bool watch, GetCallback cb) {
  core_->issue(GetReq{path, watch, std::move(cb)});
}
void FakeClient::getChildren(const std::string& path, bool watch, ChildrenCallback cb) {
  core_->issue(ChildrenReq{path, watch, std::move(cb)});
}
void FakeClient::exists(const std::string& path, bool watch, StatCallback cb) {
  core_->issue(ExistsReq{path, watch, std::move(cb)});
}
void FakeClient::getAcl(const std::string& path, AclCallback cb) { core_->issue(GetAclReq{path, std::move(cb)}); }
void FakeClient::create(CreateOp op, CreateCallback cb) { core_->issue(CreateReq{std::move(op), std::move(cb)}); }
void FakeClient::set(SetOp op, StatCallback cb) { core_->issue(SetReq{std::move(op), std::move(cb)}); }
void FakeClient::remove(DeleteOp op, VoidCallback cb) { core_->issue(DeleteReq{std::move(op), std::move(cb)}); }
void FakeClient::setAcl(const std::string& path, AclList acl, int32_t version, VoidCallback cb) {
  core_->issue(SetAclReq{path, std::move(acl), version, std::move(cb)});
}
void FakeClient::multi(std::vector<Op> ops, MultiCallback cb) {
  core_->issue(MultiReq{std::move(ops), std::move(cb)});
}

void FakeClient::setWatchListener(WatchListener listener) {
  std::lock_guard lk(core_->mu);
  core_->watch_listener = std::move(listener);
}
void FakeClient::setSessionListener(SessionListener listener) {
  std::lock_guard lk(core_->mu);
  core_->session_listener = std::move(listener);
}

Status FakeClient::reopen(std::chrono::milliseconds /*timeout*/) {
  std::lock_guard lk(server_->impl_->mu);
  return server_->impl_->openSession(core_, true);
}

void FakeClient::close() {
  auto& impl = *server_->impl_;
  std::lock_guard slk(impl.mu);
  std::lock_guard lk(core_->mu);
  impl.closeSession(core_->session_id);
  core_->failQueuedLocked(Code::kClosing);
  core_->clearWatchesLocked();
  core_->state = SessionState::kClosed;
  core_->session_id = 0;
}

SessionState FakeClient::state() const {
  std::lock_guard lk(core_->mu);
  return core_->state;
}
uint64_t FakeClient::generation() const {
  std::lock_guard lk(core_->mu);
  return core_->generation;
}
int64_t FakeClient::sessionId() const {
  std::lock_guard lk(core_->mu);
  return core_->session_id;
}
size_t FakeClient::pending() const {
  std::lock_guard lk(core_->mu);
  return core_->pending;
}

void FakeClient::expireSession() {
  std::lock_guard slk(server_->impl_->mu);
  std::lock_guard lk(core_->mu);
  server_->impl_->expire(*core_);
}

void FakeClient::disconnect() {
  std::lock_guard slk(server_->impl_->mu);
  std::lock_guard lk(core_->mu);
  server_->impl_->disconnect(*core_);
}

SessionState FakeClient::reconnect() {
  std::lock_guard slk(server_->impl_->mu);
  std::lock_guard lk(core_->mu);
  return server_->impl_->reconnect(*core_);
}

void FakeClient::addAuth(const std::string& scheme, const std::string& credentials) {
  auto& impl = *server_->impl_;
  std::lock_guard slk(impl.mu);
  std::lock_guard lk(core_->mu);
  core_->added_auth.push_back(AuthEntry{scheme, credentials});
  auto it = impl.sessions.find(core_->session_id);
  if (it == impl.sessions.end()) return;
  if (!impl.addAuth(it->second, scheme, credentials)) impl.authFailed(*core_);
}

void FakeClient::pauseRequests() {
  std::lock_guard lk(core_->mu);
  core_->paused = true;
  core_->idle_cv.notify_all();
}

void FakeClient::resumeRequests() {
  std::lock_guard lk(core_->mu);
  core_->paused = false;
  core_->cv.notify_all();
}

bool FakeClient::waitIdle(std::chrono::milliseconds timeout) const {
  if (std::this_thread::get_id() == core_->worker_id) return false;
  std::unique_lock lk(core_->mu);
  return core_->idle_cv.wait_for(lk, timeout, [&] { return core_->idleLocked(); });
}

FakeCounters FakeClient::counters() const {
  std::lock_guard lk(core_->mu);
  return core_->counters;
}
void FakeClient::resetCounters() {
  std::lock_guard lk(core_->mu);
  core_->counters = {};
}
int64_t FakeClient::lastZxid() const {
  std::lock_guard lk(core_->mu);
  return core_->last_zxid;
}
size_t FakeClient::watchCount() const {
  std::lock_guard lk(core_->mu);
  return core_->data_w.size() + core_->exist_w.size() + core_->child_w.size();
}

}  // namespace zks::zk
