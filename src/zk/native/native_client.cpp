// NativeClient: the Client interface on the native session (session.h).
// It owns the dispatcher thread for its whole life and one Session per
// generation; reopen() and close() replace or end the session.
//
// Locks: lifecycle_mutex_ serializes reopen() and close(); mutex_ guards
// the current session pointer and the state shown without one. A session
// is closed (which joins its I/O thread) with neither held... except
// lifecycle_mutex_, which no session thread ever takes.

#include "zk/native/native_client.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "zk/native/dispatcher.h"
#include "zk/native/native_testing.h"
#include "zk/native/operations.h"
#include "zk/native/paths.h"
#include "zk/native/protocol.h"
#include "zk/native/records.h"
#include "zk/native/session.h"
#include "zk/native/tls.h"

namespace zks::zk {
namespace {

using namespace native;
using std::chrono::milliseconds;

class NativeClient final : public Client, private SessionSink {
 public:
  explicit NativeClient(ConnectOptions options);
  ~NativeClient() override;

  Capabilities capabilities() const override;

  void get(const std::string& path, bool watch, GetCallback cb) override {
    submit(getCall(chroot_, path, watch, std::move(cb)));
  }
  void getChildren(const std::string& path, bool watch, ChildrenCallback cb) override {
    submit(childrenCall(chroot_, path, watch, std::move(cb)));
  }
  void exists(const std::string& path, bool watch, StatCallback cb) override {
    submit(existsCall(chroot_, path, watch, std::move(cb)));
  }
  void getAcl(const std::string& path, AclCallback cb) override { submit(getAclCall(chroot_, path, std::move(cb))); }
  void create(CreateOp op, CreateCallback cb) override { submit(createCall(chroot_, std::move(op), std::move(cb))); }
  void set(SetOp op, StatCallback cb) override { submit(setCall(chroot_, std::move(op), std::move(cb))); }
  void remove(DeleteOp op, VoidCallback cb) override { submit(deleteCall(chroot_, std::move(op), std::move(cb))); }
  void setAcl(const std::string& path, AclList acl, int32_t version, VoidCallback cb) override {
    submit(setAclCall(chroot_, path, acl, version, std::move(cb)));
  }
  void multi(std::vector<Op> ops, MultiCallback cb) override {
    submit(multiCall(chroot_, std::move(ops), std::move(cb)));
  }
  void multiRead(std::vector<ReadOp> ops, MultiReadCallback cb) override;
  void addWatch(const std::string& path, AddWatchMode mode, VoidCallback cb) override;
  void removeWatches(const std::string& path, VoidCallback cb) override;
  void sync(const std::string& path, VoidCallback cb) override { submit(syncCall(chroot_, path, std::move(cb))); }

  void setWatchListener(WatchListener listener) override;
  void setSessionListener(SessionListener listener) override;

  Status reopen(milliseconds timeout) override;
  void close() override;

  SessionState state() const override;
  uint64_t generation() const override { return generation_.load(); }
  int64_t sessionId() const override;
  size_t pending() const override;

  std::shared_ptr<Session> session() const {
    std::lock_guard lock(mutex_);
    return session_;
  }
  const ConnectOptions& options() const { return options_; }
  const std::optional<ConnectString>& connectString() const { return parsed_; }
  std::shared_ptr<const TlsContext> tls() const {
    std::lock_guard lock(mutex_);
    return tls_;
  }

 private:
  // SessionSink: everything a session produces runs on our dispatcher.
  void post(std::vector<std::unique_ptr<Task>> tasks) override { dispatcher_.post(std::move(tasks)); }
  std::unique_ptr<Task> watchTask(WatchEvent event) override;
  std::unique_ptr<Task> sessionTask(SessionEvent event) override;

  void submit(std::unique_ptr<Call> call);
  void refuse(std::unique_ptr<Call> call, Code code);
  // Ends the current session, if any; its pending requests get kClosing.
  void closeSession();
  Status giveUp(ErrorCode code, std::string message, SessionState final_state);

  template <typename Event, typename Listener>
  void deliverEvent(const Event& event, const std::shared_ptr<const Listener>& listener);

  const ConnectOptions options_;
  std::optional<ConnectString> parsed_;
  std::string parse_error_;
  std::string chroot_;
  Dispatcher dispatcher_;

  std::mutex lifecycle_mutex_;
  mutable std::mutex mutex_;
  std::shared_ptr<Session> session_;
  std::shared_ptr<const TlsContext> tls_;
  SessionState state_without_session_ = SessionState::kClosed;

  // Set while close() waits for lifecycle_mutex_: a reopen() in progress
  // gives up its new session.
  std::atomic<bool> close_requested_{false};
  std::atomic<uint64_t> generation_{0};
  // Events of any other generation are dropped at delivery; 0 when closed.
  std::atomic<uint64_t> live_generation_{0};
  // Cleared when the server answers kUnimplemented.
  std::atomic<bool> server_multi_read_{true};
  std::atomic<bool> server_persistent_watches_{true};

  std::mutex listener_mutex_;
  std::shared_ptr<const WatchListener> watch_listener_;
  std::shared_ptr<const SessionListener> session_listener_;
};

class EventTask final : public Task {
 public:
  explicit EventTask(std::function<void()> run) : run_(std::move(run)) {}
  void run() override { run_(); }

 private:
  std::function<void()> run_;
};

NativeClient::NativeClient(ConnectOptions options) : options_(std::move(options)), dispatcher_(options_.name) {
  parsed_ = parseConnectString(options_.connect, parse_error_);
  if (parsed_) chroot_ = parsed_->chroot;
}

NativeClient::~NativeClient() {
  close();
  // Runs every callback still owed before the members go.
  dispatcher_.stop();
}

Capabilities NativeClient::capabilities() const {
  Capabilities c;
  c.multi_read = options_.multi_read && server_multi_read_.load();
  c.persistent_watches = options_.persistent_watches && server_persistent_watches_.load();
  c.special_creates_in_multi = true;
  return c;
}

void NativeClient::multiRead(std::vector<ReadOp> ops, MultiReadCallback cb) {
  // A multiRead is not a transaction: an op with a bad path is answered
  // kBadArguments on its own and the others are still read.
  std::vector<size_t> good;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!pathError(ops[i].path)) good.push_back(i);
  }
  if (good.size() != ops.size()) {
    std::vector<ReadOp> sent;
    for (size_t i : good) sent.push_back(ops[i]);
    auto merge = [n = ops.size(), good, cb = std::move(cb)](MultiReadResult r) {
      if (r.code != Code::kOk) return cb(std::move(r));
      MultiReadResult all;
      all.results.resize(n);
      for (auto& slot : all.results) slot.code = Code::kBadArguments;
      for (size_t k = 0; k < good.size(); ++k) all.results[good[k]] = std::move(r.results[k]);
      cb(std::move(all));
    };
    // Nothing left to send: the base class still answers on the completion thread.
    if (sent.empty()) Client::multiRead({}, std::move(merge));
    else multiRead(std::move(sent), std::move(merge));
    return;
  }
  if (!capabilities().multi_read) {
    Client::multiRead(std::move(ops), std::move(cb));
    return;
  }
  submit(multiReadCall(chroot_, std::move(ops), std::move(cb), &server_multi_read_,
                       [this](std::vector<ReadOp> again, MultiReadCallback done) {
                         Client::multiRead(std::move(again), std::move(done));
                       }));
}

void NativeClient::addWatch(const std::string& path, AddWatchMode mode, VoidCallback cb) {
  if (!capabilities().persistent_watches) {
    Client::addWatch(path, mode, std::move(cb));
    return;
  }
  submit(addWatchCall(chroot_, path, mode, std::move(cb), &server_persistent_watches_));
}

void NativeClient::removeWatches(const std::string& path, VoidCallback cb) {
  if (!capabilities().persistent_watches) {
    Client::removeWatches(path, std::move(cb));
    return;
  }
  submit(removeWatchesCall(chroot_, path, std::move(cb)));
}

void NativeClient::submit(std::unique_ptr<Call> call) {
  if (call->refused != Code::kOk) {
    const Code code = call->refused;
    refuse(std::move(call), code);
    return;
  }
  auto session = this->session();
  if (!session) {
    refuse(std::move(call), Code::kClosing);
    return;
  }
  session->submit(std::move(call));
}

void NativeClient::refuse(std::unique_ptr<Call> call, Code code) {
  call->onFailure(code);
  std::vector<std::unique_ptr<Task>> tasks;
  tasks.push_back(std::move(call));
  dispatcher_.post(std::move(tasks));
}

// ---- listeners and events ----

void NativeClient::setWatchListener(WatchListener listener) {
  std::lock_guard lock(listener_mutex_);
  watch_listener_ = std::make_shared<const WatchListener>(std::move(listener));
}

void NativeClient::setSessionListener(SessionListener listener) {
  std::lock_guard lock(listener_mutex_);
  session_listener_ = std::make_shared<const SessionListener>(std::move(listener));
}

std::unique_ptr<Task> NativeClient::watchTask(WatchEvent event) {
  return std::make_unique<EventTask>([this, event = std::move(event)] {
    std::shared_ptr<const WatchListener> listener;
    {
      std::lock_guard lock(listener_mutex_);
      listener = watch_listener_;
    }
    deliverEvent(event, listener);
  });
}

std::unique_ptr<Task> NativeClient::sessionTask(SessionEvent event) {
  return std::make_unique<EventTask>([this, event] {
    std::shared_ptr<const SessionListener> listener;
    {
      std::lock_guard lock(listener_mutex_);
      listener = session_listener_;
    }
    deliverEvent(event, listener);
  });
}

template <typename Event, typename Listener>
void NativeClient::deliverEvent(const Event& event, const std::shared_ptr<const Listener>& listener) {
  // An event of a session that reopen() or close() has ended since.
  if (event.generation != live_generation_.load()) return;
  if (listener && *listener) (*listener)(event);
}

// ---- sessions ----

Status NativeClient::giveUp(ErrorCode code, std::string message, SessionState final_state) {
  closeSession();
  std::lock_guard lock(mutex_);
  state_without_session_ = final_state;
  return fail(code, std::move(message));
}

Status NativeClient::reopen(milliseconds timeout) {
  std::lock_guard lifecycle(lifecycle_mutex_);
  const auto deadline = Clock::now() + timeout;
  const std::string where = "ZooKeeper at '" + options_.connect + "'";
  // The generation moves even when the new session never comes up, as
  // with the libzookeeper client.
  const uint64_t generation = generation_.load() + 1;
  if (!parsed_) {
    generation_.store(generation);
    return giveUp(ErrorCode::kZooKeeper, "invalid ZooKeeper connect string '" + options_.connect + "': " + parse_error_,
                  SessionState::kClosed);
  }
  std::shared_ptr<const TlsContext> tls;
  if (options_.tls.enabled()) {
    auto loaded = TlsContext::load(options_.tls);
    if (!loaded) {
      generation_.store(generation);
      closeSession();
      std::lock_guard lock(mutex_);
      state_without_session_ = SessionState::kClosed;
      return std::unexpected(loaded.error());
    }
    tls = std::move(*loaded);
  }

  SessionConfig config;
  config.hosts = parsed_->hosts;
  config.chroot = parsed_->chroot;
  config.connect = options_.connect;
  config.name = options_.name;
  config.session_timeout = options_.session_timeout;
  config.auth = options_.auth;
  config.window = std::max<size_t>(options_.max_in_flight, 1);
  config.max_packet_bytes = options_.max_packet_bytes;
  config.tls = tls;
  config.generation = generation;
  auto fresh = std::make_shared<Session>(std::move(config), static_cast<SessionSink&>(*this));

  // The new session takes requests from now on (they wait for its first
  // connection); the old one's pending requests complete with kClosing.
  std::shared_ptr<Session> old;
  {
    std::lock_guard lock(mutex_);
    old = std::move(session_);
    session_ = fresh;
    tls_ = tls;
    generation_.store(generation);
    live_generation_.store(generation);
  }
  if (old) old->close();
  spdlog::debug("zookeeper {}: opening session {} to {}", options_.name, generation, options_.connect);
  fresh->start();
  // A close() that came before the swap could not reach this session.
  if (close_requested_.load()) fresh->requestStop();

  switch (fresh->waitReady(deadline)) {
    case Session::Ready::kReady:
      spdlog::info("zookeeper {}: session {} connected to {} (id {:#x})", options_.name, generation,
                   options_.connect, fresh->sessionId());
      return {};
    case Session::Ready::kAuthFailed:
      return giveUp(ErrorCode::kZooKeeper, "authentication to " + where + " failed: " + fresh->lastError(),
                    SessionState::kAuthFailed);
    case Session::Ready::kExpired:
      return giveUp(ErrorCode::kZooKeeper, "the new session to " + where + " expired while connecting",
                    SessionState::kClosed);
    case Session::Ready::kRefused:
      return giveUp(ErrorCode::kZooKeeper, "cannot connect to " + where + ": " + fresh->lastError(),
                    SessionState::kClosed);
    case Session::Ready::kClosed:
      return giveUp(ErrorCode::kZooKeeper, "the client was closed while connecting to " + where,
                    SessionState::kClosed);
    case Session::Ready::kTimeout:
      break;
  }
  const bool connected = fresh->state() == SessionState::kConnected;
  const std::string why = fresh->lastError();
  return giveUp(ErrorCode::kTimeout,
                (connected ? "connected to " + where + " but authentication got no answer"
                           : "could not connect to " + where) +
                    " within " + std::to_string(timeout.count()) + " ms" +
                    (!connected && !why.empty() ? ": " + why : std::string()),
                SessionState::kClosed);
}

void NativeClient::closeSession() {
  std::shared_ptr<Session> old;
  {
    std::lock_guard lock(mutex_);
    old = std::move(session_);
    live_generation_.store(0);
  }
  if (old) old->close();
}

void NativeClient::close() {
  // A reopen() in progress holds lifecycle_mutex_ until its session is
  // connected: stop that session first, so that close() never waits out
  // a pending connect.
  close_requested_.store(true);
  if (auto current = session()) current->requestStop();
  std::lock_guard lifecycle(lifecycle_mutex_);
  closeSession();
  close_requested_.store(false);
  std::lock_guard lock(mutex_);
  state_without_session_ = SessionState::kClosed;
}

SessionState NativeClient::state() const {
  std::lock_guard lock(mutex_);
  return session_ ? session_->state() : state_without_session_;
}

int64_t NativeClient::sessionId() const {
  auto session = this->session();
  return session ? session->sessionId() : 0;
}

size_t NativeClient::pending() const {
  auto session = this->session();
  return session ? session->pending() : 0;
}

// ---- testing ----

// Attaches to the session as a second client and closes it: the server
// then ends the session and drops the client's connection; the client
// hears "expired" when it reconnects.
Status closeSessionFrom(const HostPort& host, const TlsContext* tls, int64_t id, const std::string& password,
                        milliseconds session_timeout, Clock::time_point deadline) {
  Waker waker;
  auto transport = connectTcp(host, deadline, waker);
  if (!transport) return std::unexpected(transport.error());
  if (tls != nullptr) {
    transport = tls->handshake(std::move(*transport), host, deadline, waker);
    if (!transport) return std::unexpected(transport.error());
  }
  ConnectRequest request;
  request.timeout_ms = static_cast<int32_t>(session_timeout.count());
  request.session_id = id;
  request.password = password;
  // The handshake and the close go out together: the client under test
  // reconnects within a millisecond of losing its session to this
  // connection and would take it back before a close sent after the
  // handshake's answer arrived.
  std::string packets = encodeConnectRequest(request);
  appendRequestFrame(packets, 1, op::kCloseSession, {});
  if (auto st = writeAll(**transport, packets, deadline, waker); !st) return st;
  FrameReader frames(1 << 20);
  auto answer = readFrame(**transport, frames, deadline, waker);
  if (!answer) return std::unexpected(answer.error());
  ConnectResponse response;
  if (!decodeConnectResponse(*answer, response)) return fail(ErrorCode::kIo, "a malformed handshake answer");
  if (response.timeout_ms <= 0) return {};  // already gone
  // The close's answer, or the server closing the connection: either way it is done.
  (void)readFrame(**transport, frames, deadline, waker);
  return {};
}

}  // namespace

std::unique_ptr<Client> makeNativeClient(ConnectOptions options) {
  return std::make_unique<NativeClient>(std::move(options));
}

bool isNativeClient(const Client& client) { return dynamic_cast<const NativeClient*>(&client) != nullptr; }

Status expireNativeSessionForTesting(Client& client, milliseconds timeout) {
  auto* native = dynamic_cast<NativeClient*>(&client);
  if (native == nullptr) return fail(ErrorCode::kInvalidArgument, "not a native client");
  const auto deadline = Clock::now() + timeout;
  auto session = native->session();
  if (!session || session->state() != SessionState::kConnected) {
    return fail(ErrorCode::kInvalidArgument, "the client has no connected session to expire");
  }
  auto expired = [&] { return session->state() == SessionState::kExpired; };
  const auto& hosts = native->connectString()->hosts;
  auto tls = native->tls();
  size_t index = 0;
  while (Clock::now() < deadline && !expired()) {
    const auto settle = std::min(deadline, Clock::now() + milliseconds(2000));
    // The server hands the session to the second connection and closes the
    // client's; held, the client cannot take it back before the close is
    // processed (the server revalidates a session asynchronously, so even a
    // close sent with the handshake can lose that race).
    session->holdReconnectsForTesting(true);
    auto st = closeSessionFrom(hosts[index++ % hosts.size()], tls.get(), session->sessionId(), session->password(),
                               native->options().session_timeout, settle);
    session->holdReconnectsForTesting(false);
    if (!st) spdlog::debug("expire: {}", st.error().message);
    while (Clock::now() < settle && !expired()) std::this_thread::sleep_for(milliseconds(5));
  }
  if (expired()) return {};
  return fail(ErrorCode::kTimeout, "the session did not expire within " + std::to_string(timeout.count()) + " ms");
}

uint64_t setWatchesPacketsForTesting(const Client& client) {
  const auto* native = dynamic_cast<const NativeClient*>(&client);
  if (native == nullptr) return 0;
  auto session = native->session();
  return session ? session->setWatchesPacketsSent() : 0;
}

}  // namespace zks::zk
