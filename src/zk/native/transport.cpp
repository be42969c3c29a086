#include "zk/native/transport.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "zk/native/frame_reader.h"

namespace zks::zk::native {
namespace {

using std::chrono::milliseconds;

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(int fd) : fd_(fd) {}
  ~TcpTransport() override { ::close(fd_); }
  int fd() const override { return fd_; }

  IoResult read(char* data, size_t size) override {
    for (;;) {
      const ssize_t n = ::recv(fd_, data, size, 0);
      if (n > 0) return {IoResult::kOk, static_cast<size_t>(n), {}};
      if (n == 0) return {IoResult::kClosed, 0, "the server closed the connection"};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoResult::kWouldBlock, 0, {}};
      return {IoResult::kError, 0, std::string("read: ") + std::strerror(errno)};
    }
  }

  IoResult write(const char* data, size_t size) override {
    for (;;) {
      // MSG_NOSIGNAL: a peer that went away is an error here, not SIGPIPE.
      const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
      if (n >= 0) return {IoResult::kOk, static_cast<size_t>(n), {}};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoResult::kWouldBlock, 0, {}};
      return {IoResult::kError, 0, std::string("write: ") + std::strerror(errno)};
    }
  }

 private:
  int fd_;
};

// getaddrinfo() cannot be interrupted, so a name is resolved on a helper
// thread of its own. A session that stops or times out meanwhile abandons
// it; the helper then cleans up when the lookup returns.
struct Resolution {
  std::mutex mutex;
  bool done = false;
  bool abandoned = false;
  int rc = 0;
  std::vector<sockaddr_storage> addresses;
  int wake_fd = -1;  // eventfd written when done, so that waitFd() sees it
};

Result<std::vector<sockaddr_storage>> resolve(const HostPort& server, Clock::time_point deadline, Waker& waker) {
  // A literal address needs no lookup.
  sockaddr_storage literal{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&literal);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&literal);
  if (::inet_pton(AF_INET, server.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(server.port);
    return std::vector<sockaddr_storage>{literal};
  }
  if (::inet_pton(AF_INET6, server.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(server.port);
    return std::vector<sockaddr_storage>{literal};
  }

  auto state = std::make_shared<Resolution>();
  state->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (state->wake_fd < 0) return fail(ErrorCode::kIo, std::string("eventfd: ") + std::strerror(errno));
  std::thread([state, host = server.host, port = server.port] {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const std::string service = std::to_string(port);
    const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
    std::vector<sockaddr_storage> addresses;
    for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
      sockaddr_storage s{};
      std::memcpy(&s, a->ai_addr, std::min<size_t>(a->ai_addrlen, sizeof(s)));
      addresses.push_back(s);
    }
    if (list != nullptr) ::freeaddrinfo(list);
    std::lock_guard lock(state->mutex);
    state->rc = rc;
    state->addresses = std::move(addresses);
    state->done = true;
    if (state->abandoned) {
      ::close(state->wake_fd);
      return;
    }
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = ::write(state->wake_fd, &one, sizeof(one));
  }).detach();

  const auto waited = waitFd(state->wake_fd, POLLIN, deadline, waker);
  std::lock_guard lock(state->mutex);
  if (!state->done) {
    state->abandoned = true;
    if (waited == WaitResult::kStopped) return fail(ErrorCode::kInternal, "stopped");
    return fail(ErrorCode::kTimeout, "cannot resolve " + server.host + ": no answer within the connect timeout");
  }
  ::close(state->wake_fd);
  if (state->rc != 0) {
    return fail(ErrorCode::kIo, "cannot resolve " + server.host + ": " + ::gai_strerror(state->rc));
  }
  if (state->addresses.empty()) return fail(ErrorCode::kIo, "cannot resolve " + server.host + ": no address");
  return std::move(state->addresses);
}

socklen_t lengthOf(const sockaddr_storage& address) {
  return address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace

Waker::Waker() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Waker::~Waker() {
  if (fd_ >= 0) ::close(fd_);
}

void Waker::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = ::write(fd_, &one, sizeof(one));
}

void Waker::drain() {
  uint64_t value = 0;
  [[maybe_unused]] ssize_t ignored = ::read(fd_, &value, sizeof(value));
}

WaitResult waitFd(int fd, short events, Clock::time_point deadline, Waker& waker) {
  for (;;) {
    if (waker.stopping()) return WaitResult::kStopped;
    const auto now = Clock::now();
    if (now >= deadline) return WaitResult::kTimeout;
    const auto left = std::chrono::ceil<milliseconds>(deadline - now).count();
    pollfd fds[2] = {{fd, events, 0}, {waker.fd(), POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (n < 0 && errno != EINTR) return WaitResult::kTimeout;
    if (n <= 0) continue;
    if (fds[1].revents != 0) waker.drain();
    if (fds[0].revents != 0) return WaitResult::kReady;
  }
}

Result<std::unique_ptr<Transport>> connectTcp(const HostPort& server, Clock::time_point deadline, Waker& waker) {
  auto addresses = resolve(server, deadline, waker);
  if (!addresses) return std::unexpected(addresses.error());
  std::string last_error;
  for (const auto& address : *addresses) {
    const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
    auto transport = std::make_unique<TcpTransport>(fd);
    // Requests are small and pipelined: send each at once.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), lengthOf(address)) != 0) {
      if (errno != EINPROGRESS) {
        last_error = std::strerror(errno);
        continue;
      }
      const auto waited = waitFd(fd, POLLOUT, deadline, waker);
      if (waited == WaitResult::kStopped) return fail(ErrorCode::kInternal, "stopped");
      if (waited == WaitResult::kTimeout) {
        last_error = "no answer within the connect timeout";
        break;
      }
      int error = 0;
      socklen_t len = sizeof(error);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0) {
        last_error = std::strerror(error);
        continue;
      }
    }
    return std::unique_ptr<Transport>(std::move(transport));
  }
  return fail(ErrorCode::kIo, "cannot connect to " + server.describe() + ": " + last_error);
}

Status writeAll(Transport& transport, std::string_view bytes, Clock::time_point deadline, Waker& waker) {
  while (!bytes.empty()) {
    auto r = transport.write(bytes.data(), bytes.size());
    if (r.status == IoResult::kOk) {
      bytes.remove_prefix(r.bytes);
      continue;
    }
    if (r.status != IoResult::kWouldBlock) return fail(ErrorCode::kIo, r.error);
    const auto waited = waitFd(transport.fd(), transport.writeWaitsFor(), deadline, waker);
    if (waited == WaitResult::kStopped) return fail(ErrorCode::kInternal, "stopped");
    if (waited == WaitResult::kTimeout) return fail(ErrorCode::kTimeout, "the server took no data within the connect timeout");
  }
  return {};
}

Result<std::string> readFrame(Transport& transport, FrameReader& frames, Clock::time_point deadline, Waker& waker) {
  for (;;) {
    std::string_view frame;
    const auto status = frames.next(frame);
    if (status == FrameReader::Status::kFrame) return std::string(frame);
    if (status == FrameReader::Status::kBadLength) {
      return fail(ErrorCode::kInvalidArgument, "a frame of length " + std::to_string(frames.badLength()));
    }
    auto space = frames.writable(4096);
    auto r = transport.read(space.data(), space.size());
    if (r.status == IoResult::kOk) {
      frames.commit(r.bytes);
      continue;
    }
    if (r.status != IoResult::kWouldBlock) return fail(ErrorCode::kIo, r.error);
    const auto waited = waitFd(transport.fd(), transport.readWaitsFor(), deadline, waker);
    if (waited == WaitResult::kStopped) return fail(ErrorCode::kInternal, "stopped");
    if (waited == WaitResult::kTimeout) return fail(ErrorCode::kTimeout, "no answer");
  }
}

}  // namespace zks::zk::native
