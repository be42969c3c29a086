// The Client on libzookeeper-mt. The only file that includes <zookeeper.h>.
//
// Threads and locks:
//   - The C library runs an IO thread and a completion thread per handle. Our
//     completion trampolines and the global watcher run on its completion
//     thread; digest-auth completions run on its IO thread or inside
//     zookeeper_close(), sometimes with the library's own lock held.
//   - Our own dispatcher thread (one per CClient, for its whole life) runs
//     every user callback and listener, so callbacks are serialized across
//     session generations and never run on a caller's thread.
//   - mutex_ guards the window (queue_, in_flight_), the current session and
//     its state. zoo_a* calls are made with mutex_ held, so requests reach
//     the wire in submission order. zookeeper_close() is never called with
//     mutex_ held: it joins the completion thread, which may be waiting for
//     mutex_.
//   - Session::wait_mutex is a leaf lock for reopen()'s wait; the auth
//     completion takes only that one, because the C library may call it while
//     holding a lock our trampolines wait for inside zoo_a*.
//
// Exactly-once completion: with libzookeeper-mt, zookeeper_close() drops the
// completions of requests still on the wire (it queues them with ZCLOSING but
// stops the completion thread first). So every issued request stays in
// in_flight_ until its trampoline runs; whatever is left when
// zookeeper_close() returns is completed here with kClosing.

#include "zk/c_client.h"

#include <zookeeper/zookeeper.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "zk/c_client_testing.h"

namespace zks::zk {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- translation between the C client's types and ours ----

Code translate(int rc) {
  switch (rc) {
    case ZOK: return Code::kOk;
    case ZNONODE: return Code::kNoNode;
    case ZNODEEXISTS: return Code::kNodeExists;
    case ZBADVERSION: return Code::kBadVersion;
    case ZNOTEMPTY: return Code::kNotEmpty;
    case ZNOCHILDRENFOREPHEMERALS: return Code::kNoChildrenForEphemerals;
    case ZNOAUTH: return Code::kNoAuth;
    case ZINVALIDACL: return Code::kInvalidAcl;
    case ZBADARGUMENTS: return Code::kBadArguments;
    case ZINVALIDCALLBACK: return Code::kBadArguments;
    case ZUNIMPLEMENTED: return Code::kUnimplemented;
    case ZCONNECTIONLOSS: return Code::kConnectionLoss;
    case ZOPERATIONTIMEOUT: return Code::kOperationTimeout;
    case ZSESSIONEXPIRED: return Code::kSessionExpired;
    // The handle is expired or failed authentication: a new session is needed.
    case ZINVALIDSTATE: return Code::kSessionExpired;
    case ZSESSIONMOVED: return Code::kSessionMoved;
    case ZCLOSING: return Code::kClosing;
    case ZTHROTTLEDOP: return Code::kThrottled;
    case ZAUTHFAILED: return Code::kAuthFailed;
    case ZSESSIONCLOSEDREQUIRESASLAUTH: return Code::kAuthFailed;
    case ZMARSHALLINGERROR: return Code::kMarshallingError;
    case ZSYSTEMERROR: return Code::kSystemError;
    case ZRUNTIMEINCONSISTENCY: return Code::kRuntimeInconsistency;
    case ZDATAINCONSISTENCY: return Code::kRuntimeInconsistency;
    default: return Code::kUnknown;
  }
}

Stat copyStat(const ::Stat& s) {
  Stat out;
  out.czxid = s.czxid;
  out.mzxid = s.mzxid;
  out.ctime = s.ctime;
  out.mtime = s.mtime;
  out.version = s.version;
  out.cversion = s.cversion;
  out.aversion = s.aversion;
  out.ephemeral_owner = s.ephemeralOwner;
  out.data_length = s.dataLength;
  out.num_children = s.numChildren;
  out.pzxid = s.pzxid;
  return out;
}

AclList copyAcl(const ::ACL_vector* v) {
  AclList out;
  if (v == nullptr) return out;
  out.reserve(static_cast<size_t>(std::max(v->count, 0)));
  for (int32_t i = 0; i < v->count; ++i) {
    const ::ACL& a = v->data[i];
    out.push_back(Acl{a.perms, a.id.scheme ? a.id.scheme : "", a.id.id ? a.id.id : ""});
  }
  return out;
}

// A C view of an AclList. It points into `acl`'s strings: keep both alive
// (and `acl` unmoved) while the C client may read it.
struct CAcl {
  std::vector<::ACL> entries;
  ::ACL_vector vector{0, nullptr};

  void build(const AclList& acl) {
    entries.clear();
    for (const auto& a : acl) {
      entries.push_back(::ACL{a.perms, ::Id{const_cast<char*>(a.scheme.c_str()), const_cast<char*>(a.id.c_str())}});
    }
    vector.count = static_cast<int32_t>(entries.size());
    vector.data = entries.data();
  }
};

int cMode(CreateMode mode) {
  switch (mode) {
    case CreateMode::kPersistent: return ZOO_PERSISTENT;
    case CreateMode::kPersistentSequential: return ZOO_PERSISTENT_SEQUENTIAL;
    case CreateMode::kEphemeral: return ZOO_EPHEMERAL;
    case CreateMode::kEphemeralSequential: return ZOO_EPHEMERAL_SEQUENTIAL;
    case CreateMode::kContainer: return ZOO_CONTAINER;
    case CreateMode::kPersistentWithTtl: return ZOO_PERSISTENT_WITH_TTL;
    case CreateMode::kPersistentSequentialWithTtl: return ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL;
  }
  return ZOO_PERSISTENT;
}

bool isTtl(CreateMode mode) {
  return mode == CreateMode::kPersistentWithTtl || mode == CreateMode::kPersistentSequentialWithTtl;
}

// Room for the created path: the requested one plus a 10-digit sequence
// suffix (the C client strips a chroot, so the answer is never longer).
constexpr size_t kPathSlack = 16;

// ---- the C client's own log, routed into spdlog ----

void logLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (!line.empty()) spdlog::debug("zookeeper-c: {}", line);
}

void logCallback(const char* message) {
  try {
    if (message != nullptr) logLine(message);
  } catch (...) {
    // Logging must never take the C client down.
  }
}

// For the few messages the C client logs without a handle (and so without
// its per-handle callback): a stdio stream whose writes become log lines.
ssize_t logStreamWrite(void*, const char* buf, size_t size) {
  try {
    std::string_view all(buf, size);
    while (!all.empty()) {
      auto nl = all.find('\n');
      logLine(all.substr(0, nl));
      if (nl == std::string_view::npos) break;
      all.remove_prefix(nl + 1);
    }
  } catch (...) {
  }
  return static_cast<ssize_t>(size);
}

void setupCLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    cookie_io_functions_t io{nullptr, &logStreamWrite, nullptr, nullptr};
    if (FILE* stream = ::fopencookie(nullptr, "w", io)) {
      std::setvbuf(stream, nullptr, _IOLBF, 0);
      zoo_set_log_stream(stream);  // lives as long as the process
    }
  });
}

SessionState sessionStateOf(int state) {
  if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE) return SessionState::kConnected;
  if (state == ZOO_EXPIRED_SESSION_STATE) return SessionState::kExpired;
  if (state == ZOO_AUTH_FAILED_STATE) return SessionState::kAuthFailed;
  return SessionState::kConnecting;
}

EventType eventTypeOf(int type) {
  if (type == ZOO_CREATED_EVENT) return EventType::kCreated;
  if (type == ZOO_DELETED_EVENT) return EventType::kDeleted;
  if (type == ZOO_CHANGED_EVENT) return EventType::kDataChanged;
  if (type == ZOO_CHILD_EVENT) return EventType::kChildrenChanged;
  return EventType::kNotWatching;
}

class CClient;

// ---- requests ----

// One request from submit() until its callback has been handed to the
// dispatcher. The C client gets `this` as its completion data.
struct Request {
  virtual ~Request() = default;
  // Hands the request to the C client; the synchronous rc.
  virtual int issue(zhandle_t* zh) = 0;
  // A completion without an answer (closing, synchronous failure).
  virtual void setFailure(Code code) = 0;
  // Runs the caller's callback with the result; on the dispatcher thread.
  virtual void deliver() = 0;

  CClient* client = nullptr;
  uint64_t id = 0;
  uint64_t generation = 0;  // the session it was issued on
};

template <typename R, typename Cb>
struct TypedRequest : Request {
  void setFailure(Code code) override {
    result = R{};
    result.code = code;
  }
  void deliver() override { cb(std::move(result)); }

  R result;
  Cb cb;
};

template <typename Req>
Req* requestOf(const void* data) {
  return static_cast<Req*>(const_cast<void*>(data));
}

// Fills `req`'s result from a C completion (copy() runs only on ZOK) and
// hands it back to the client. Never throws: the C client calls this.
template <typename Req, typename Copy>
void completeFromC(Req* req, int rc, Copy&& copy) noexcept;

struct GetRequest final : TypedRequest<GetResult, GetCallback> {
  int issue(zhandle_t* zh) override { return zoo_aget(zh, path.c_str(), watch ? 1 : 0, &done, this); }
  static void done(int rc, const char* value, int len, const ::Stat* stat, const void* data) noexcept {
    completeFromC(requestOf<GetRequest>(data), rc, [&](GetResult& r) {
      if (value != nullptr && len > 0) r.data.assign(value, static_cast<size_t>(len));
      if (stat != nullptr) r.stat = copyStat(*stat);
    });
  }
  std::string path;
  bool watch = false;
};

struct ChildrenRequest final : TypedRequest<ChildrenResult, ChildrenCallback> {
  int issue(zhandle_t* zh) override {
    return zoo_aget_children2(zh, path.c_str(), watch ? 1 : 0, &done, this);
  }
  static void done(int rc, const ::String_vector* strings, const ::Stat* stat, const void* data) noexcept {
    completeFromC(requestOf<ChildrenRequest>(data), rc, [&](ChildrenResult& r) {
      if (strings != nullptr) {
        r.children.reserve(static_cast<size_t>(std::max(strings->count, 0)));
        for (int32_t i = 0; i < strings->count; ++i) r.children.emplace_back(strings->data[i]);
      }
      if (stat != nullptr) r.stat = copyStat(*stat);
    });
  }
  std::string path;
  bool watch = false;
};

struct ExistsRequest final : TypedRequest<StatResult, StatCallback> {
  int issue(zhandle_t* zh) override { return zoo_aexists(zh, path.c_str(), watch ? 1 : 0, &done, this); }
  static void done(int rc, const ::Stat* stat, const void* data) noexcept {
    completeFromC(requestOf<ExistsRequest>(data), rc, [&](StatResult& r) {
      if (stat != nullptr) r.stat = copyStat(*stat);
    });
  }
  std::string path;
  bool watch = false;
};

struct GetAclRequest final : TypedRequest<AclResult, AclCallback> {
  int issue(zhandle_t* zh) override { return zoo_aget_acl(zh, path.c_str(), &done, this); }
  static void done(int rc, ::ACL_vector* acl, ::Stat* stat, const void* data) noexcept {
    completeFromC(requestOf<GetAclRequest>(data), rc, [&](AclResult& r) {
      r.acl = copyAcl(acl);
      if (stat != nullptr) r.stat = copyStat(*stat);
    });
  }
  std::string path;
};

struct CreateRequest final : TypedRequest<CreateResult, CreateCallback> {
  int issue(zhandle_t* zh) override {
    acl.build(op.acl);
    // -1 tells the C client "no TTL"; it rejects a TTL on other modes.
    const int64_t ttl = isTtl(op.mode) ? op.ttl_ms : -1;
    return zoo_acreate_ttl(zh, op.path.c_str(), op.data.data(), static_cast<int>(op.data.size()), &acl.vector,
                           cMode(op.mode), ttl, &done, this);
  }
  static void done(int rc, const char* value, const void* data) noexcept {
    completeFromC(requestOf<CreateRequest>(data), rc, [&](CreateResult& r) {
      if (value != nullptr) r.path = value;
    });
  }
  CreateOp op;
  CAcl acl;
};

struct SetRequest final : TypedRequest<StatResult, StatCallback> {
  int issue(zhandle_t* zh) override {
    return zoo_aset(zh, op.path.c_str(), op.data.data(), static_cast<int>(op.data.size()), op.version, &done,
                    this);
  }
  static void done(int rc, const ::Stat* stat, const void* data) noexcept {
    completeFromC(requestOf<SetRequest>(data), rc, [&](StatResult& r) {
      if (stat != nullptr) r.stat = copyStat(*stat);
    });
  }
  SetOp op;
};

struct DeleteRequest final : TypedRequest<VoidResult, VoidCallback> {
  int issue(zhandle_t* zh) override { return zoo_adelete(zh, op.path.c_str(), op.version, &done, this); }
  static void done(int rc, const void* data) noexcept {
    completeFromC(requestOf<DeleteRequest>(data), rc, [](VoidResult&) {});
  }
  DeleteOp op;
};

struct SetAclRequest final : TypedRequest<VoidResult, VoidCallback> {
  int issue(zhandle_t* zh) override {
    c_acl.build(acl);
    return zoo_aset_acl(zh, path.c_str(), version, &c_acl.vector, &done, this);
  }
  static void done(int rc, const void* data) noexcept {
    completeFromC(requestOf<SetAclRequest>(data), rc, [](VoidResult&) {});
  }
  std::string path;
  AclList acl;
  int32_t version = -1;
  CAcl c_acl;
};

struct MultiRequest final : TypedRequest<MultiResult, MultiCallback> {
  int issue(zhandle_t* zh) override {
    const size_t n = ops.size();
    // The packaged C client (3.8) cannot put a TTL or container create in a
    // multi: zoo_amulti() has no case for ZOO_CREATE_TTL_OP (it returns
    // ZUNIMPLEMENTED, leaking what it built), and for a container it expects
    // a CreateResponse where the server sends a Create2Response, misreads the
    // rest of the reply and aborts on an assertion. Refuse both here.
    for (const auto& op : ops) {
      if (const auto* c = std::get_if<CreateOp>(&op);
          c != nullptr && (isTtl(c->mode) || c->mode == CreateMode::kContainer)) {
        return ZUNIMPLEMENTED;
      }
    }
    c_ops.assign(n, zoo_op_t{});
    c_results.assign(n, zoo_op_result_t{});
    acls.assign(n, CAcl{});
    path_buffers.assign(n, std::string{});
    stats.assign(n, ::Stat{});
    for (size_t i = 0; i < n; ++i) {
      std::visit(
          [&](const auto& op) {
            using T = std::decay_t<decltype(op)>;
            if constexpr (std::is_same_v<T, CreateOp>) {
              acls[i].build(op.acl);
              path_buffers[i].assign(op.path.size() + kPathSlack, '\0');
              zoo_create_op_init(&c_ops[i], op.path.c_str(), op.data.data(), static_cast<int>(op.data.size()),
                                 &acls[i].vector, cMode(op.mode), path_buffers[i].data(),
                                 static_cast<int>(path_buffers[i].size()));
            } else if constexpr (std::is_same_v<T, SetOp>) {
              zoo_set_op_init(&c_ops[i], op.path.c_str(), op.data.data(), static_cast<int>(op.data.size()),
                              op.version, &stats[i]);
            } else if constexpr (std::is_same_v<T, DeleteOp>) {
              zoo_delete_op_init(&c_ops[i], op.path.c_str(), op.version);
            } else {
              zoo_check_op_init(&c_ops[i], op.path.c_str(), op.version);
            }
          },
          ops[i]);
    }
    int rc = zoo_amulti(zh, static_cast<int>(n), c_ops.data(), c_results.data(), &done, this);
    // zoo_amulti() folds a bad path into ZMARSHALLINGERROR (the handle's
    // state was checked before issuing).
    return rc == ZMARSHALLINGERROR ? ZBADARGUMENTS : rc;
  }

  static void done(int rc, const void* data) noexcept {
    auto* self = requestOf<MultiRequest>(data);
    try {
      MultiResult r;
      r.code = translate(rc);
      r.results.resize(self->ops.size());
      const bool answered = rc == ZOK || classify(translate(rc)) == ErrorClass::kAnswer;
      for (size_t i = 0; i < self->ops.size(); ++i) {
        OpResult& op = r.results[i];
        if (!answered) {
          // No per-op answers came back: every op's outcome is unknown.
          op.code = r.code;
          continue;
        }
        op.code = translate(self->c_results[i].err);
        if (op.code != Code::kOk) continue;
        if (std::holds_alternative<CreateOp>(self->ops[i])) {
          op.path = self->path_buffers[i].c_str();
        } else if (std::holds_alternative<SetOp>(self->ops[i])) {
          op.stat = copyStat(self->stats[i]);
        }
      }
      if (answered && rc != ZOK) {
        // The first op that failed for its own reason, not as a consequence.
        for (const auto& op : r.results) {
          if (op.code != Code::kOk && op.code != Code::kRuntimeInconsistency) {
            r.code = op.code;
            break;
          }
        }
      }
      self->result = std::move(r);
    } catch (const std::exception& e) {
      self->setFailure(Code::kSystemError);
      spdlog::error("zookeeper: cannot copy a multi result: {}", e.what());
    }
    completeFromC(self, ZOK, nullptr);
  }

  std::vector<Op> ops;
  std::vector<zoo_op_t> c_ops;
  std::vector<zoo_op_result_t> c_results;
  std::vector<CAcl> acls;
  std::vector<std::string> path_buffers;
  std::vector<::Stat> stats;
};

struct SyncRequest final : TypedRequest<VoidResult, VoidCallback> {
  int issue(zhandle_t* zh) override { return zoo_async(zh, path.c_str(), &done, this); }
  static void done(int rc, const char* /*path*/, const void* data) noexcept {
    completeFromC(requestOf<SyncRequest>(data), rc, [](VoidResult&) {});
  }
  std::string path;
};

// ---- the client ----

class CClient final : public Client {
 public:
  explicit CClient(ConnectOptions options);
  ~CClient() override;

  void get(const std::string& path, bool watch, GetCallback cb) override;
  void getChildren(const std::string& path, bool watch, ChildrenCallback cb) override;
  void exists(const std::string& path, bool watch, StatCallback cb) override;
  void getAcl(const std::string& path, AclCallback cb) override;
  void create(CreateOp op, CreateCallback cb) override;
  void set(SetOp op, StatCallback cb) override;
  void remove(DeleteOp op, VoidCallback cb) override;
  void setAcl(const std::string& path, AclList acl, int32_t version, VoidCallback cb) override;
  void multi(std::vector<Op> ops, MultiCallback cb) override;
  // The packaged C client has neither multiRead nor addWatch: multiRead is
  // the base class's pipelined emulation, addWatch/removeWatches answer
  // kUnimplemented, and multi() refuses container and TTL creates.
  Capabilities capabilities() const override { return {}; }
  void sync(const std::string& path, VoidCallback cb) override;

  void setWatchListener(WatchListener listener) override;
  void setSessionListener(SessionListener listener) override;

  Status reopen(milliseconds timeout) override;
  void close() override;

  SessionState state() const override;
  uint64_t generation() const override { return generation_.load(); }
  int64_t sessionId() const override;
  size_t pending() const override;

  // Called from the C client's threads.
  void onCompleted(Request* request) noexcept;
  void onWatcher(int type, int state, const char* path, uint64_t generation) noexcept;

  Status expireForTesting(milliseconds timeout);

 private:
  // One zhandle_t and what reopen() waits for. Lives until zookeeper_close()
  // has returned: the C client holds a pointer to it as its context.
  struct Session {
    CClient* client = nullptr;
    uint64_t generation = 0;
    zhandle_t* zh = nullptr;  // set under mutex_

    std::mutex wait_mutex;  // leaf lock; see the top of the file
    std::condition_variable wait_cv;
    int c_state = 0;  // the last ZOO_*_STATE the watcher saw
    int auth_outstanding = 0;
    int auth_failure = ZOK;  // the first definite auth failure
    bool cut = false;        // close() was called: reopen() stops waiting
  };

  static void globalWatcher(zhandle_t* zh, int type, int state, const char* path, void* ctx) noexcept;
  static void authCompletion(int rc, const void* data) noexcept;

  template <typename Req>
  void submit(std::unique_ptr<Req> request);
  void issueLocked(std::unique_ptr<Request> request, std::vector<std::unique_ptr<Request>>& failed);
  void pumpLocked(std::vector<std::unique_ptr<Request>>& failed);
  void postDeliveryLocked(std::unique_ptr<Request> request);
  // Ends the current session; everything pending completes with kClosing.
  // With `reopening`, requests made from now on wait for the next session.
  // Called with lifecycle_mutex_ held and mutex_ not held.
  void closeSession(bool reopening);

  void post(std::function<void()> task);
  void dispatchLoop();

  const ConnectOptions options_;
  const size_t window_;

  std::mutex lifecycle_mutex_;  // serializes reopen() and close()
  // Set while close() waits for lifecycle_mutex_: a reopen() in progress
  // (waiting for a site that does not answer) gives up at once instead of
  // holding close() for up to connect_timeout.
  std::atomic<bool> close_requested_{false};

  mutable std::mutex mutex_;
  std::unique_ptr<Session> session_;  // null when closed or between sessions
  bool reopening_ = false;            // requests wait in queue_ for the new session
  bool reconnect_quiet_ = false;      // the first connect of a session is reopen()'s to report
  SessionState state_ = SessionState::kClosed;
  uint64_t next_id_ = 0;
  std::map<uint64_t, std::unique_ptr<Request>> in_flight_;  // by id, i.e. issue order
  std::deque<std::unique_ptr<Request>> queue_;

  std::atomic<uint64_t> generation_{0};
  // Events of any other generation are dropped at delivery; 0 when closed.
  std::atomic<uint64_t> live_generation_{0};

  std::mutex listener_mutex_;
  std::shared_ptr<const WatchListener> watch_listener_;
  std::shared_ptr<const SessionListener> session_listener_;

  std::mutex dispatch_mutex_;
  std::condition_variable dispatch_cv_;
  std::deque<std::function<void()>> dispatch_queue_;
  bool dispatch_stop_ = false;
  std::thread dispatcher_;
};

template <typename Req, typename Copy>
void completeFromC(Req* req, int rc, Copy&& copy) noexcept {
  if constexpr (!std::is_same_v<std::decay_t<Copy>, std::nullptr_t>) {
    try {
      req->result = {};
      req->result.code = translate(rc);
      if (rc == ZOK) copy(req->result);
    } catch (const std::exception& e) {
      req->setFailure(Code::kSystemError);
      spdlog::error("zookeeper: cannot copy a result: {}", e.what());
    }
  }
  req->client->onCompleted(req);
}

CClient::CClient(ConnectOptions options)
    : options_(std::move(options)), window_(std::max<size_t>(options_.max_in_flight, 1)) {
  setupCLibrary();
  dispatcher_ = std::thread([this] { dispatchLoop(); });
}

CClient::~CClient() {
  close();
  {
    std::lock_guard lock(dispatch_mutex_);
    dispatch_stop_ = true;
  }
  dispatch_cv_.notify_all();
  // The dispatcher delivers everything already posted before it stops.
  dispatcher_.join();
}

// ---- dispatcher ----

void CClient::post(std::function<void()> task) {
  {
    std::lock_guard lock(dispatch_mutex_);
    dispatch_queue_.push_back(std::move(task));
  }
  dispatch_cv_.notify_one();
}

void CClient::dispatchLoop() {
  for (;;) {
    std::deque<std::function<void()>> batch;
    {
      std::unique_lock lock(dispatch_mutex_);
      dispatch_cv_.wait(lock, [&] { return dispatch_stop_ || !dispatch_queue_.empty(); });
      if (dispatch_queue_.empty()) return;
      batch.swap(dispatch_queue_);
    }
    for (auto& task : batch) {
      try {
        task();
      } catch (const std::exception& e) {
        spdlog::error("zookeeper {}: a callback threw: {}", options_.name, e.what());
      } catch (...) {
        spdlog::error("zookeeper {}: a callback threw", options_.name);
      }
    }
  }
}

// ---- the window ----

template <typename Req>
void CClient::submit(std::unique_ptr<Req> request) {
  std::vector<std::unique_ptr<Request>> failed;
  std::lock_guard lock(mutex_);
  request->client = this;
  request->id = ++next_id_;
  if (!session_ && !reopening_) {
    request->setFailure(Code::kClosing);
    postDeliveryLocked(std::move(request));
    return;
  }
  if (session_ && session_->zh && queue_.empty() && in_flight_.size() < window_) {
    issueLocked(std::move(request), failed);
  } else {
    queue_.push_back(std::move(request));
  }
  for (auto& f : failed) postDeliveryLocked(std::move(f));
}

void CClient::issueLocked(std::unique_ptr<Request> request, std::vector<std::unique_ptr<Request>>& failed) {
  Request* raw = request.get();
  raw->generation = session_->generation;
  // An expired or auth-failed handle takes no requests; checking here also
  // keeps zoo_amulti() from queueing one that would never complete.
  int rc = zoo_state(session_->zh) < 0 ? ZINVALIDSTATE : ZOK;
  if (rc == ZOK) {
    // Registered before the C client sees it: its completion may run before
    // issue() returns (it then waits for mutex_).
    auto [it, inserted] = in_flight_.emplace(raw->id, std::move(request));
    rc = raw->issue(session_->zh);
    if (rc == ZOK) return;
    request = std::move(it->second);
    in_flight_.erase(it);
  }
  // No completion will come for it.
  request->setFailure(translate(rc));
  failed.push_back(std::move(request));
}

void CClient::pumpLocked(std::vector<std::unique_ptr<Request>>& failed) {
  while (!queue_.empty() && session_ && session_->zh && in_flight_.size() < window_) {
    auto next = std::move(queue_.front());
    queue_.pop_front();
    issueLocked(std::move(next), failed);
  }
}

void CClient::postDeliveryLocked(std::unique_ptr<Request> request) {
  // std::function needs a copyable callable; the shared_ptr only carries it.
  post([r = std::shared_ptr<Request>(std::move(request))] { r->deliver(); });
}

void CClient::onCompleted(Request* request) noexcept {
  try {
    std::vector<std::unique_ptr<Request>> failed;
    std::lock_guard lock(mutex_);
    auto it = in_flight_.find(request->id);
    if (it == in_flight_.end()) {
      spdlog::error("zookeeper {}: completion for unknown request {}", options_.name, request->id);
      return;
    }
    auto owned = std::move(it->second);
    in_flight_.erase(it);
    pumpLocked(failed);
    postDeliveryLocked(std::move(owned));
    for (auto& f : failed) postDeliveryLocked(std::move(f));
  } catch (const std::exception& e) {
    spdlog::error("zookeeper {}: dropping a completion: {}", options_.name, e.what());
  }
}

// ---- requests ----

void CClient::get(const std::string& path, bool watch, GetCallback cb) {
  auto r = std::make_unique<GetRequest>();
  r->path = path;
  r->watch = watch;
  r->cb = std::move(cb);
  submit(std::move(r));
}

void CClient::getChildren(const std::string& path, bool watch, ChildrenCallback cb) {
  auto r = std::make_unique<ChildrenRequest>();
  r->path = path;
  r->watch = watch;
  r->cb = std::move(cb);
  submit(std::move(r));
}

void CClient::exists(const std::string& path, bool watch, StatCallback cb) {
  auto r = std::make_unique<ExistsRequest>();
  r->path = path;
  r->watch = watch;
  r->cb = std::move(cb);
  submit(std::move(r));
}

void CClient::getAcl(const std::string& path, AclCallback cb) {
  auto r = std::make_unique<GetAclRequest>();
  r->path = path;
  r->cb = std::move(cb);
  submit(std::move(r));
}

void CClient::create(CreateOp op, CreateCallback cb) {
  auto r = std::make_unique<CreateRequest>();
  r->op = std::move(op);
  r->cb = std::move(cb);
  submit(std::move(r));
}

void CClient::set(SetOp op, StatCallback cb) {
  auto r = std::make_unique<SetRequest>();
  r->op = std::move(op);
  r->cb = std::move(cb);
  submit(std::move(r));
}

void CClient::remove(DeleteOp op, VoidCallback cb) {
  auto r = std::make_unique<DeleteRequest>();
  r->op = std::move(op);
  r->cb = std::move(cb);
  submit(std::move(r));
}

void CClient::setAcl(const std::string& path, AclList acl, int32_t version, VoidCallback cb) {
  auto r = std::make_unique<SetAclRequest>();
  r->path = path;
  r->acl = std::move(acl);
  r->version = version;
  r->cb = std::move(cb);
  submit(std::move(r));
}

void CClient::multi(std::vector<Op> ops, MultiCallback cb) {
  auto r = std::make_unique<MultiRequest>();
  r->ops = std::move(ops);
  r->cb = std::move(cb);
  submit(std::move(r));
}

void CClient::sync(const std::string& path, VoidCallback cb) {
  auto r = std::make_unique<SyncRequest>();
  r->path = path;
  r->cb = std::move(cb);
  submit(std::move(r));
}

// ---- listeners and events ----

void CClient::setWatchListener(WatchListener listener) {
  std::lock_guard lock(listener_mutex_);
  watch_listener_ = std::make_shared<const WatchListener>(std::move(listener));
}

void CClient::setSessionListener(SessionListener listener) {
  std::lock_guard lock(listener_mutex_);
  session_listener_ = std::make_shared<const SessionListener>(std::move(listener));
}

void CClient::globalWatcher(zhandle_t*, int type, int state, const char* path, void* ctx) noexcept {
  auto* session = static_cast<Session*>(ctx);
  if (session == nullptr) return;
  // state_ first, so that when reopen() wakes up state() already agrees.
  session->client->onWatcher(type, state, path, session->generation);
  if (type == ZOO_SESSION_EVENT) {
    {
      std::lock_guard lock(session->wait_mutex);
      session->c_state = state;
    }
    session->wait_cv.notify_all();
  }
}

void CClient::onWatcher(int type, int state, const char* path, uint64_t generation) noexcept {
  try {
    if (type == ZOO_SESSION_EVENT) {
      const SessionState s = sessionStateOf(state);
      std::lock_guard lock(mutex_);
      if (!session_ || session_->generation != generation) return;  // an old session's news
      if (state_ == SessionState::kConnected && s == SessionState::kConnecting) {
        spdlog::info("zookeeper {}: session {} lost its connection; reconnecting", options_.name, generation);
      } else if (state_ == SessionState::kConnecting && s == SessionState::kConnected && !reconnect_quiet_) {
        spdlog::info("zookeeper {}: session {} reconnected", options_.name, generation);
      } else if (s == SessionState::kExpired || s == SessionState::kAuthFailed) {
        spdlog::warn("zookeeper {}: session {} {}", options_.name, generation, sessionStateName(s));
      }
      if (s == SessionState::kConnected) reconnect_quiet_ = false;
      state_ = s;
      // Posted under mutex_, so that once state() says kExpired the event is
      // already on its way.
      post([this, event = SessionEvent{s, generation}] {
        if (event.generation != live_generation_.load()) return;
        std::shared_ptr<const SessionListener> listener;
        {
          std::lock_guard l(listener_mutex_);
          listener = session_listener_;
        }
        if (listener && *listener) (*listener)(event);
      });
      return;
    }
    WatchEvent event{eventTypeOf(type), path != nullptr ? path : "", generation};
    post([this, event = std::move(event)] {
      if (event.generation != live_generation_.load()) return;
      std::shared_ptr<const WatchListener> listener;
      {
        std::lock_guard l(listener_mutex_);
        listener = watch_listener_;
      }
      if (listener && *listener) (*listener)(event);
    });
  } catch (const std::exception& e) {
    spdlog::error("zookeeper {}: dropping a watch event: {}", options_.name, e.what());
  }
}

void CClient::authCompletion(int rc, const void* data) noexcept {
  auto* session = static_cast<Session*>(const_cast<void*>(data));
  {
    std::lock_guard lock(session->wait_mutex);
    --session->auth_outstanding;
    // A lost connection is no verdict: the C client re-sends every auth
    // entry, ahead of any request, each time it connects.
    if (rc != ZOK && rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT && session->auth_failure == ZOK) {
      session->auth_failure = rc;
    }
  }
  session->wait_cv.notify_all();
}

// ---- sessions ----

Status CClient::reopen(milliseconds timeout) {
  std::lock_guard lifecycle(lifecycle_mutex_);
  const auto deadline = Clock::now() + timeout;
  closeSession(/*reopening=*/true);

  auto owned = std::make_unique<Session>();
  Session* session = owned.get();
  session->client = this;
  {
    std::lock_guard lock(mutex_);
    session->generation = generation_.fetch_add(1) + 1;
    live_generation_ = session->generation;
    session_ = std::move(owned);
    state_ = SessionState::kConnecting;
    reconnect_quiet_ = true;
    // A close() that came before this session existed could not cut it.
    if (close_requested_.load()) {
      std::lock_guard wait(session->wait_mutex);
      session->cut = true;
    }
  }
  spdlog::debug("zookeeper {}: opening session {} to {}", options_.name, session->generation, options_.connect);

  auto give_up = [&](ErrorCode code, std::string message, SessionState final_state) -> Status {
    closeSession(/*reopening=*/false);
    std::lock_guard lock(mutex_);
    state_ = final_state;
    return fail(code, std::move(message));
  };

  errno = 0;
  zhandle_t* zh = zookeeper_init2(options_.connect.c_str(), &CClient::globalWatcher,
                                  static_cast<int>(options_.session_timeout.count()), nullptr, session,
                                  ZOO_NO_LOG_CLIENTENV, &logCallback);
  if (zh == nullptr) {
    const int err = errno;
    return give_up(ErrorCode::kZooKeeper,
                   "cannot start a ZooKeeper client for '" + options_.connect + "': " +
                       (err != 0 ? std::strerror(err) : "invalid connect string"),
                   SessionState::kClosed);
  }

  // The C client's default (0) resolves the connect string with getaddrinfo
  // on every pass of its I/O loop, a netlink round trip per request that
  // cost a fifth of the daemon's CPU under load. -1 resolves only while not
  // connected, i.e. on every (re)connection, as the Java client does.
  zoo_set_servers_resolution_delay(zh, -1);

  // Auth is registered before any request can use the handle: the C client
  // sends it first on every (re)connection.
  int auth_rc = ZOK;
  for (const auto& auth : options_.auth) {
    {
      std::lock_guard lock(session->wait_mutex);
      ++session->auth_outstanding;
    }
    int rc = zoo_add_auth(zh, auth.scheme.c_str(), auth.credentials.data(),
                          static_cast<int>(auth.credentials.size()), &CClient::authCompletion, session);
    if (rc != ZOK) {
      std::lock_guard lock(session->wait_mutex);
      --session->auth_outstanding;
      auth_rc = rc;
    }
  }
  {
    std::vector<std::unique_ptr<Request>> failed;
    std::lock_guard lock(mutex_);
    session->zh = zh;
    reopening_ = false;
    pumpLocked(failed);
    for (auto& f : failed) postDeliveryLocked(std::move(f));
  }
  if (auth_rc != ZOK) {
    return give_up(ErrorCode::kZooKeeper,
                   "cannot add authentication for '" + options_.connect + "': " + zerror(auth_rc),
                   SessionState::kAuthFailed);
  }

  int c_state = 0;
  int auth_failure = ZOK;
  int auth_outstanding = 0;
  {
    std::unique_lock lock(session->wait_mutex);
    session->wait_cv.wait_until(lock, deadline, [&] {
      return (sessionStateOf(session->c_state) == SessionState::kConnected && session->auth_outstanding == 0) ||
             session->auth_failure != ZOK || session->c_state == ZOO_EXPIRED_SESSION_STATE ||
             session->c_state == ZOO_AUTH_FAILED_STATE || session->cut;
    });
    if (session->cut) {
      lock.unlock();
      return give_up(ErrorCode::kZooKeeper, "the client was closed while connecting to '" + options_.connect + "'",
                     SessionState::kClosed);
    }
    c_state = session->c_state;
    auth_failure = session->auth_failure;
    auth_outstanding = session->auth_outstanding;
  }
  if (auth_failure != ZOK || c_state == ZOO_AUTH_FAILED_STATE) {
    return give_up(ErrorCode::kZooKeeper,
                   "authentication to ZooKeeper at '" + options_.connect + "' failed" +
                       (auth_failure != ZOK ? std::string(": ") + zerror(auth_failure) : std::string()),
                   SessionState::kAuthFailed);
  }
  if (c_state == ZOO_EXPIRED_SESSION_STATE) {
    return give_up(ErrorCode::kZooKeeper,
                   "the new session to ZooKeeper at '" + options_.connect + "' expired while connecting",
                   SessionState::kClosed);
  }
  if (sessionStateOf(c_state) != SessionState::kConnected || auth_outstanding != 0) {
    const bool connected = sessionStateOf(c_state) == SessionState::kConnected;
    return give_up(ErrorCode::kTimeout,
                   std::string(connected ? "connected to ZooKeeper at '" + options_.connect +
                                               "' but authentication got no answer"
                                         : "could not connect to ZooKeeper at '" + options_.connect + "'") +
                       " within " + std::to_string(timeout.count()) + " ms",
                   SessionState::kClosed);
  }
  spdlog::info("zookeeper {}: session {} connected to {} (id {:#x})", options_.name, session->generation,
               options_.connect, sessionId());
  return {};
}

void CClient::closeSession(bool reopening) {
  std::unique_ptr<Session> old;
  {
    std::lock_guard lock(mutex_);
    old = std::move(session_);
    live_generation_ = 0;
    reopening_ = reopening;
    // Requests that never reached the wire belong to the ending session too.
    std::deque<std::unique_ptr<Request>> queued;
    queued.swap(queue_);
    for (auto& r : queued) {
      r->setFailure(Code::kClosing);
      postDeliveryLocked(std::move(r));
    }
  }
  if (!old) return;
  if (old->zh != nullptr) {
    spdlog::debug("zookeeper {}: closing session {}", options_.name, old->generation);
    // Joins the C client's threads; completions that are already queued may
    // run meanwhile (they find session_ empty and issue nothing).
    zookeeper_close(old->zh);
  }
  std::lock_guard lock(mutex_);
  auto leftovers = std::move(in_flight_);
  in_flight_.clear();
  for (auto& [id, r] : leftovers) {
    r->setFailure(Code::kClosing);
    postDeliveryLocked(std::move(r));
  }
}

void CClient::close() {
  // A reopen() in progress holds lifecycle_mutex_ until it is connected or
  // its timeout passed: cut its wait first. The notify happens under mutex_
  // so that the session cannot be destroyed meanwhile (that needs mutex_).
  close_requested_.store(true);
  {
    std::lock_guard lock(mutex_);
    if (session_) {
      {
        std::lock_guard wait(session_->wait_mutex);
        session_->cut = true;
      }
      session_->wait_cv.notify_all();
    }
  }
  std::lock_guard lifecycle(lifecycle_mutex_);
  closeSession(/*reopening=*/false);
  {
    std::lock_guard lock(mutex_);
    state_ = SessionState::kClosed;
  }
  close_requested_.store(false);
}

SessionState CClient::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

int64_t CClient::sessionId() const {
  std::lock_guard lock(mutex_);
  if (!session_ || session_->zh == nullptr) return 0;
  return zoo_client_id(session_->zh)->client_id;
}

size_t CClient::pending() const {
  std::lock_guard lock(mutex_);
  return in_flight_.size() + queue_.size();
}

// ---- testing ----

struct ProbeState {
  std::mutex mutex;
  std::condition_variable cv;
  int state = 0;
};

void probeWatcher(zhandle_t*, int type, int state, const char*, void* ctx) noexcept {
  if (type != ZOO_SESSION_EVENT) return;
  auto* probe = static_cast<ProbeState*>(ctx);
  {
    std::lock_guard lock(probe->mutex);
    probe->state = state;
  }
  probe->cv.notify_all();
}

Status CClient::expireForTesting(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  clientid_t id{};
  uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    if (!session_ || session_->zh == nullptr || state_ != SessionState::kConnected) {
      return fail(ErrorCode::kInvalidArgument, "the client has no connected session to expire");
    }
    id = *zoo_client_id(session_->zh);
    generation = session_->generation;
  }
  auto expired = [&] {
    std::lock_guard lock(mutex_);
    return !session_ || session_->generation != generation || state_ == SessionState::kExpired;
  };
  // Attaching a second handle moves the session to it (the server drops the
  // first connection); closing that handle ends the session. Our client then
  // reconnects and hears "expired". If it raced back first, the close was
  // refused as "session moved": try again.
  while (Clock::now() < deadline && !expired()) {
    ProbeState probe;
    zhandle_t* zh = zookeeper_init2(options_.connect.c_str(), &probeWatcher,
                                    static_cast<int>(options_.session_timeout.count()), &id, &probe,
                                    ZOO_NO_LOG_CLIENTENV, &logCallback);
    if (zh == nullptr) return fail(ErrorCode::kZooKeeper, "cannot start a probe client");
    {
      std::unique_lock lock(probe.mutex);
      probe.cv.wait_until(lock, deadline, [&] { return probe.state == ZOO_CONNECTED_STATE || probe.state < 0; });
    }
    zookeeper_close(zh);
    const auto settle = std::min({deadline, Clock::now() + options_.session_timeout, Clock::now() + milliseconds(2000)});
    while (Clock::now() < settle && !expired()) std::this_thread::sleep_for(milliseconds(5));
  }
  if (expired()) return {};
  return fail(ErrorCode::kTimeout, "the session did not expire within " + std::to_string(timeout.count()) + " ms");
}

}  // namespace

std::unique_ptr<Client> makeCClient(ConnectOptions options) { return std::make_unique<CClient>(std::move(options)); }

Status expireSessionForTesting(Client& client, milliseconds timeout) {
  auto* c = dynamic_cast<CClient*>(&client);
  if (c == nullptr) return fail(ErrorCode::kInvalidArgument, "expireSessionForTesting needs a client from makeCClient()");
  return c->expireForTesting(timeout);
}

}  // namespace zks::zk
