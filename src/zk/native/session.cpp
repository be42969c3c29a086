#include "zk/native/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include "zk/native/protocol.h"
#include "zk/native/tls.h"

namespace zks::zk::native {
namespace {

using std::chrono::milliseconds;

// The closeSession answer is worth waiting for (the server then deletes the
// session's ephemeral nodes at once), but not for long.
constexpr milliseconds kCloseWait{2000};
// A connect attempt gets at least this long, however many hosts share the
// session timeout.
constexpr milliseconds kMinAttempt{250};
// Reads per loop pass before the loop looks at its other work.
constexpr int kReadsPerPass = 64;

std::mt19937& random() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return generator;
}

std::string hex(int64_t id) {
  char buffer[24];
  std::snprintf(buffer, sizeof(buffer), "0x%llx", static_cast<unsigned long long>(id));
  return buffer;
}

}  // namespace

Session::Session(SessionConfig config, SessionSink& sink)
    : config_(std::move(config)), sink_(sink), frames_(config_.max_packet_bytes) {
  hosts_ = config_.hosts;
  // Spread clients over the ensemble, as the Java client's host provider does.
  std::shuffle(hosts_.begin(), hosts_.end(), random());
}

Session::~Session() { close(); }

void Session::start() { thread_ = std::thread([this] { run(); }); }

void Session::close() {
  std::call_once(close_once_, [this] {
    waker_.stop();
    if (thread_.joinable()) {
      thread_.join();
    } else {
      finish(SessionState::kClosed, Code::kClosing);  // never started
    }
  });
}

// ---- any thread ----

void Session::submit(std::unique_ptr<Call> call) {
  Code refused = Code::kOk;
  {
    std::lock_guard lock(mutex_);
    // A session being closed still takes requests: they fail in order
    // when it ends (see startClosing()).
    switch (state_) {
      case SessionState::kConnected: break;
      case SessionState::kConnecting:
        // Before the first connection requests wait for it; while
        // reconnecting they fail at once, like those the loss cut off.
        if (ever_connected_) refused = Code::kConnectionLoss;
        break;
      case SessionState::kExpired: refused = Code::kSessionExpired; break;
      case SessionState::kAuthFailed: refused = Code::kAuthFailed; break;
      case SessionState::kClosed: refused = Code::kClosing; break;
    }
    if (refused == Code::kOk) {
      // One wake per batch: the I/O thread drains the whole queue.
      const bool wake = waiting_.empty();
      waiting_.push_back(std::move(call));
      pending_.fetch_add(1);
      if (wake) waker_.wake();
      return;
    }
  }
  call->onFailure(refused);
  std::vector<std::unique_ptr<Task>> tasks;
  tasks.push_back(std::move(call));
  sink_.post(std::move(tasks));
}

Session::Ready Session::waitReady(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  auto terminal = [&] {
    return state_ == SessionState::kExpired || state_ == SessionState::kAuthFailed || state_ == SessionState::kClosed;
  };
  ready_cv_.wait_until(lock, deadline, [&] { return ready_ || terminal(); });
  if (ready_) return Ready::kReady;
  if (refused_) return Ready::kRefused;
  switch (state_) {
    case SessionState::kExpired: return Ready::kExpired;
    case SessionState::kAuthFailed: return Ready::kAuthFailed;
    case SessionState::kClosed: return Ready::kClosed;
    default: return Ready::kTimeout;
  }
}

bool Session::everConnected() const {
  std::lock_guard lock(mutex_);
  return ever_connected_;
}

std::string Session::lastError() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

SessionState Session::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::string Session::password() const {
  std::lock_guard lock(mutex_);
  return password_;
}

void Session::setLastError(std::string error) {
  std::lock_guard lock(mutex_);
  last_error_ = std::move(error);
}

std::chrono::milliseconds Session::timeout() const {
  return negotiated_timeout_ms_ > 0 ? milliseconds(negotiated_timeout_ms_) : config_.session_timeout;
}

// ---- the I/O thread ----

void Session::run() {
  size_t index = 0;
  size_t failed_in_cycle = 0;
  size_t refused_in_cycle = 0;
  int cycles = 0;
  while (!waker_.stopping()) {
    if (hold_reconnects_.load()) {
      waitFd(-1, 0, Clock::now() + milliseconds(5), waker_);
      continue;
    }
    const HostPort host = hosts_[index];
    index = (index + 1) % hosts_.size();
    const Attempt attempt = connectTo(host);
    if (attempt == Attempt::kStopped) break;
    if (attempt == Attempt::kExpired) {
      finish(SessionState::kExpired, Code::kSessionExpired);
      return;
    }
    if (attempt == Attempt::kFailed || attempt == Attempt::kRefused) {
      spdlog::debug("zookeeper {}: {}", config_.name, lastError());
      refused_in_cycle += attempt == Attempt::kRefused;
      if (++failed_in_cycle >= hosts_.size()) {
        // Every host refused this client's TLS setup (an untrusted
        // certificate either way): waiting will not help a first connect.
        // A session that was up keeps trying: certificates may be renewed.
        if (refused_in_cycle == hosts_.size() && !everConnected()) {
          {
            std::lock_guard lock(mutex_);
            refused_ = true;
          }
          finish(SessionState::kClosed, Code::kClosing);
          return;
        }
        failed_in_cycle = 0;
        refused_in_cycle = 0;
        backOff(++cycles);
      }
      continue;
    }
    failed_in_cycle = 0;
    refused_in_cycle = 0;
    cycles = 0;
    const End end = serve(host);
    if (end == End::kAuthFailed) {
      finish(SessionState::kAuthFailed, Code::kAuthFailed);
      return;
    }
    if (end == End::kStopped) break;
  }
  finish(SessionState::kClosed, Code::kClosing);
}

void Session::backOff(int cycles) {
  const int64_t base = std::min<int64_t>(1000, int64_t{25} << std::min(cycles - 1, 6));
  std::uniform_int_distribution<int64_t> jitter(base / 2, base);
  waitFd(-1, 0, Clock::now() + milliseconds(jitter(random())), waker_);
}

Session::Attempt Session::connectTo(const HostPort& host) {
  // A third of the session timeout, shared by the hosts: a server that
  // takes the connection and never answers the handshake (a JVM restarting:
  // its port is bound before it serves) must leave time for another attempt
  // before the server expires the session. With the whole timeout for one
  // attempt, a restarted standalone server expired a session it had kept.
  const auto attempt_timeout =
      std::max(kMinAttempt, milliseconds(timeout().count() / (3 * static_cast<int64_t>(hosts_.size()))));
  const auto deadline = Clock::now() + attempt_timeout;
  auto failed = [&](std::string error, bool refused = false) {
    if (waker_.stopping()) return Attempt::kStopped;
    setLastError(std::move(error));
    return refused ? Attempt::kRefused : Attempt::kFailed;
  };

  auto tcp = connectTcp(host, deadline, waker_);
  if (!tcp) return failed(tcp.error().message);
  std::unique_ptr<Transport> transport = std::move(*tcp);
  if (config_.tls) {
    auto tls = config_.tls->handshake(std::move(transport), host, deadline, waker_);
    if (!tls) return failed(tls.error().message, tls.error().code == ErrorCode::kInvalidArgument);
    transport = std::move(*tls);
  }

  ConnectRequest request;
  request.last_zxid_seen = last_zxid_;
  request.timeout_ms = static_cast<int32_t>(config_.session_timeout.count());
  request.session_id = session_id_.load();
  request.password = password();
  if (auto st = writeAll(*transport, encodeConnectRequest(request), deadline, waker_); !st) {
    return failed("session handshake with " + host.describe() + " failed: " + st.error().message);
  }

  frames_.reset();
  auto frame = readFrame(*transport, frames_, deadline, waker_);
  if (!frame) {
    switch (frame.error().code) {
      case ErrorCode::kInternal: return Attempt::kStopped;
      case ErrorCode::kTimeout:
        return failed(host.describe() + " did not answer the session handshake within " +
                      std::to_string(attempt_timeout.count()) + " ms");
      case ErrorCode::kInvalidArgument:
        return failed(host.describe() + " answered the session handshake with " + frame.error().message +
                      " (is it a ZooKeeper client port?)");
      default:
        // A server behind this client's last zxid closes the connection
        // here (ZooKeeperServer.processConnectRequest), and so does a TLS
        // port spoken to in plain text.
        return failed(host.describe() + " closed the connection during the session handshake (" +
                      frame.error().message +
                      (config_.tls ? ")"
                                   : "; a server behind this client's last seen zxid does that, and so does a "
                                     "TLS port spoken to without tls)"));
    }
  }
  ConnectResponse response;
  if (!decodeConnectResponse(*frame, response)) {
    return failed(host.describe() + " sent a malformed answer to the session handshake");
  }
  if (response.timeout_ms <= 0) {
    setLastError("the session expired");
    return Attempt::kExpired;
  }
  negotiated_timeout_ms_ = response.timeout_ms;
  session_id_.store(response.session_id);
  {
    std::lock_guard lock(mutex_);
    password_ = std::move(response.password);
  }
  transport_ = std::move(transport);
  return Attempt::kConnected;
}

Session::End Session::serve(const HostPort& host) {
  // Auth and watches go first on the wire, before anything a listener of
  // the kConnected event might send.
  sendSessionSetup();
  bool reconnect = false;
  {
    std::lock_guard lock(mutex_);
    reconnect = ever_connected_;
    ever_connected_ = true;
    if (config_.auth.empty()) ready_ = true;
    announceLocked(SessionState::kConnected);
  }
  ready_cv_.notify_all();
  if (reconnect) {
    spdlog::info("zookeeper {}: session {} ({}) reconnected to {}", config_.name, config_.generation,
                 hex(session_id_.load()), host.describe());
  } else {
    spdlog::debug("zookeeper {}: session {} ({}) connected to {}, timeout {} ms", config_.name, config_.generation,
                  hex(session_id_.load()), host.describe(), negotiated_timeout_ms_);
  }
  last_send_ = last_receive_ = Clock::now();

  const milliseconds ping_interval(std::max<int64_t>(timeout().count() / 3, 1));
  const milliseconds read_timeout(std::max<int64_t>(timeout().count() * 2 / 3, 1));
  std::string error;
  auto lost = [&] {
    if (closing_) return End::kStopped;
    connectionLost(host, error);
    return End::kLost;
  };
  for (;;) {
    if (waker_.stopping() && !closing_) startClosing();
    pump();
    if (!flush(error)) return lost();
    deliver();
    if (closing_ && (close_answered_ || Clock::now() >= close_deadline_)) return End::kStopped;

    auto wake_at = std::min(last_send_ + ping_interval, last_receive_ + read_timeout);
    if (closing_) wake_at = std::min(wake_at, close_deadline_);
    short events = static_cast<short>(POLLIN | transport_->readWaitsFor());
    if (out_sent_ < out_.size()) events = static_cast<short>(events | transport_->writeWaitsFor());
    pollfd fds[2] = {{transport_->fd(), events, 0}, {waker_.fd(), POLLIN, 0}};
    const auto wait_ms = std::chrono::ceil<milliseconds>(wake_at - Clock::now()).count();
    const int n = ::poll(fds, 2, static_cast<int>(std::clamp<int64_t>(wait_ms, 0, 1 << 30)));
    if (n < 0 && errno != EINTR) {
      error = std::string("poll: ") + std::strerror(errno);
      return lost();
    }
    if (n > 0 && fds[1].revents != 0) waker_.drain();
    if (n > 0 && fds[0].revents != 0) {
      bool ok = true;
      for (int reads = 0; ok && reads < kReadsPerPass; ++reads) {
        auto space = frames_.writable();
        auto r = transport_->read(space.data(), space.size());
        if (r.status == IoResult::kWouldBlock) break;
        if (r.status != IoResult::kOk) {
          error = r.error;
          ok = false;
          break;
        }
        frames_.commit(r.bytes);
        last_receive_ = Clock::now();
        std::string_view frame;
        for (;;) {
          const auto status = frames_.next(frame);
          if (status == FrameReader::Status::kNeedMore) break;
          if (status == FrameReader::Status::kBadLength) {
            error = "a frame of " + std::to_string(frames_.badLength()) + " bytes exceeds max_packet_bytes (" +
                    std::to_string(config_.max_packet_bytes) + ")";
            spdlog::warn("zookeeper {}: {}", config_.name, error);
            ok = false;
            break;
          }
          if (!handleFrame(frame, error)) {
            spdlog::warn("zookeeper {}: protocol error from {}: {}", config_.name, host.describe(), error);
            ok = false;
            break;
          }
        }
      }
      if (auth_failed_) {
        deliver();
        return End::kAuthFailed;
      }
      if (!ok) return lost();
    }
    const auto now = Clock::now();
    if (now - last_receive_ >= read_timeout) {
      error = "no answer from " + host.describe() + " for " + std::to_string(read_timeout.count()) + " ms";
      return lost();
    }
    if (!closing_ && now - last_send_ >= ping_interval) {
      appendRequestFrame(out_, xid::kPing, op::kPing, {});
    }
  }
}

void Session::sendSessionSetup() {
  // Auth first: the server applies it on receipt, before anything after it.
  auth_outstanding_ = static_cast<int>(config_.auth.size());
  for (const auto& auth : config_.auth) {
    appendRequestFrame(out_, xid::kAuth, op::kAuth, authRequest(auth.scheme, auth.credentials));
  }
  if (!registry_.empty()) {
    const auto packets = registry_.setWatchesPackets(last_zxid_, config_.set_watches_bytes);
    for (const auto& packet : packets) {
      appendRequestFrame(out_, xid::kSetWatches, setWatchesOpcode(packet), setWatchesRequest(packet));
    }
    set_watches_sent_.fetch_add(packets.size());
    spdlog::info("zookeeper {}: re-registering {} watches in {} packets", config_.name, registry_.size(),
                 packets.size());
  }
}

void Session::pump() {
  if (closing_) return;
  std::vector<std::unique_ptr<Call>> batch;
  {
    std::lock_guard lock(mutex_);
    while (!waiting_.empty() && in_flight_.size() + batch.size() < config_.window) {
      batch.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
  }
  for (auto& call : batch) {
    const int32_t xid = next_xid_;
    next_xid_ = next_xid_ == INT32_MAX ? 1 : next_xid_ + 1;
    appendRequestFrame(out_, xid, call->opcode, call->body);
    std::string().swap(call->body);
    in_flight_.push_back(InFlight{xid, std::move(call)});
  }
}

bool Session::flush(std::string& error) {
  while (out_sent_ < out_.size()) {
    auto r = transport_->write(out_.data() + out_sent_, out_.size() - out_sent_);
    if (r.status == IoResult::kWouldBlock) break;
    if (r.status != IoResult::kOk) {
      error = r.error;
      return false;
    }
    out_sent_ += r.bytes;
    last_send_ = Clock::now();
  }
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
    if (out_.capacity() > (4u << 20)) std::string().swap(out_);
  } else if (out_sent_ > (1u << 20)) {
    out_.erase(0, out_sent_);
    out_sent_ = 0;
  }
  return true;
}

bool Session::handleFrame(std::string_view frame, std::string& error) {
  JuteReader in(frame);
  const ReplyHeader header = readReplyHeader(in);
  if (!in.ok()) {
    error = "a reply shorter than its header";
    return false;
  }
  switch (header.xid) {
    case xid::kPing:
      return true;
    case xid::kAuth:
      if (header.err != err::kOk) {
        // The server closes the connection after this answer.
        auth_failed_ = true;
        setLastError("the server refused the authentication (" + std::string(codeName(codeOf(header.err))) + ")");
        spdlog::warn("zookeeper {}: session {} {}", config_.name, config_.generation, lastError());
        return true;
      }
      if (auth_outstanding_ > 0 && --auth_outstanding_ == 0) {
        {
          std::lock_guard lock(mutex_);
          ready_ = true;
        }
        ready_cv_.notify_all();
      }
      return true;
    case xid::kSetWatches:
      if (header.err != err::kOk) {
        spdlog::warn("zookeeper {}: the server refused to re-register watches: {}", config_.name,
                     codeName(codeOf(header.err)));
      }
      return true;
    case xid::kNotification: {
      const WatcherEventRecord event = readWatcherEvent(in);
      if (!in.ok()) {
        error = "a malformed watch event";
        return false;
      }
      const auto type = eventTypeOf(event.type);
      if (!type) return true;
      const uint8_t origins = registry_.route(*type, event.path);
      if (origins == 0) return true;  // no registration: see watch_registry.h (ZOOKEEPER-4475)
      auto path = stripChroot(config_.chroot, event.path);
      if (!path) return true;
      deliveries_.push_back(sink_.watchTask(WatchEvent{*type, std::move(*path), config_.generation, origins}));
      return true;
    }
    default:
      break;
  }
  if (in_flight_.empty() || in_flight_.front().xid != header.xid) {
    error = "a reply with xid " + std::to_string(header.xid) + " when " +
            (in_flight_.empty() ? std::string("none was due") : "xid " + std::to_string(in_flight_.front().xid) + " was");
    return false;
  }
  InFlight entry = std::move(in_flight_.front());
  in_flight_.pop_front();
  if (header.zxid > 0) last_zxid_ = header.zxid;
  if (!entry.call) {
    close_answered_ = true;
    return true;
  }
  if (!entry.call->onReply(codeOf(header.err), in)) {
    error = "a malformed reply to a request of type " + std::to_string(entry.call->opcode);
    entry.call->onFailure(Code::kMarshallingError);
    complete(std::move(entry.call));
    return false;
  }
  registerWatch(*entry.call);
  complete(std::move(entry.call));
  return true;
}

void Session::registerWatch(const Call& call) {
  const Code code = call.code();
  const std::string& path = call.watch.path;
  switch (call.watch.kind) {
    case WatchIntent::kNone: break;
    case WatchIntent::kData:
      if (code == Code::kOk) registry_.addOneShot(OneShotWatch::kData, path);
      break;
    case WatchIntent::kExists:
      if (code == Code::kOk) registry_.addOneShot(OneShotWatch::kData, path);
      if (code == Code::kNoNode) registry_.addOneShot(OneShotWatch::kExist, path);
      break;
    case WatchIntent::kChild:
      if (code == Code::kOk) registry_.addOneShot(OneShotWatch::kChild, path);
      break;
    case WatchIntent::kPersistent:
      if (code == Code::kOk) registry_.addPersistent(path, AddWatchMode::kPersistent);
      break;
    case WatchIntent::kRecursive:
      if (code == Code::kOk) registry_.addPersistent(path, AddWatchMode::kPersistentRecursive);
      break;
    case WatchIntent::kRemove:
      if (code == Code::kOk || code == Code::kNoNode) registry_.removeAll(path);
      break;
  }
}

void Session::complete(std::unique_ptr<Call> call) {
  pending_.fetch_sub(1);
  deliveries_.push_back(std::move(call));
}

void Session::deliver() {
  if (deliveries_.empty()) return;
  sink_.post(std::move(deliveries_));
  deliveries_.clear();
}

void Session::startClosing() {
  // Requests still waiting stay where they are (pump() sends no more) and
  // fail with kClosing in finish(), after the answers to those on the wire:
  // completions keep their order.
  closing_ = true;
  const int32_t xid = next_xid_;
  next_xid_ = next_xid_ == INT32_MAX ? 1 : next_xid_ + 1;
  appendRequestFrame(out_, xid, op::kCloseSession, {});
  in_flight_.push_back(InFlight{xid, nullptr});
  close_deadline_ = Clock::now() + std::min(kCloseWait, milliseconds(timeout().count() * 2 / 3));
}

void Session::connectionLost(const HostPort& host, const std::string& reason) {
  spdlog::info("zookeeper {}: session {} ({}) lost its connection to {} ({}); reconnecting", config_.name,
               config_.generation, hex(session_id_.load()), host.describe(), reason);
  setLastError(host.describe() + ": " + reason);
  transport_.reset();
  out_.clear();
  out_sent_ = 0;
  frames_.reset();
  deliver();  // what was answered before the loss goes first
  // Under mutex_: a request made from now on is answered kConnectionLoss at
  // once, so it must find every request the loss cut off already posted.
  std::lock_guard lock(mutex_);
  announceLocked(SessionState::kConnecting);
  failAll(Code::kConnectionLoss, std::exchange(waiting_, {}));
  deliver();
}

void Session::finish(SessionState final_state, Code code) {
  transport_.reset();
  const bool announce = final_state == SessionState::kExpired || final_state == SessionState::kAuthFailed;
  if (announce) {
    spdlog::warn("zookeeper {}: session {} ({}) {}", config_.name, config_.generation, hex(session_id_.load()),
                 sessionStateName(final_state));
  }
  deliver();
  {
    // Under mutex_, as in connectionLost().
    std::lock_guard lock(mutex_);
    if (announce) {
      announceLocked(final_state);
    } else {
      state_ = final_state;
    }
    failAll(code, std::exchange(waiting_, {}));
    deliver();
  }
  ready_cv_.notify_all();
}

void Session::announceLocked(SessionState state) {
  // Under mutex_: once state() tells the new state, its event is already
  // queued behind everything that happened before it.
  state_ = state;
  std::vector<std::unique_ptr<Task>> tasks;
  tasks.push_back(sink_.sessionTask(SessionEvent{state, config_.generation}));
  sink_.post(std::move(tasks));
}

void Session::failAll(Code code, std::deque<std::unique_ptr<Call>> waiting) {
  auto in_flight = std::move(in_flight_);
  in_flight_.clear();
  for (auto& entry : in_flight) {
    if (!entry.call) continue;
    entry.call->onFailure(code);
    complete(std::move(entry.call));
  }
  for (auto& call : waiting) {
    call->onFailure(code);
    complete(std::move(call));
  }
}

}  // namespace zks::zk::native
