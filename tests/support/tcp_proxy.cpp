#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <vector>

namespace zks::testing {
namespace {

constexpr size_t kChunk = 64 * 1024;

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// Closing with SO_LINGER {on, 0} sends RST instead of FIN: what a client
// sees when a middlebox or a crashed host drops the connection.
void closeWithReset(int fd) {
  if (fd < 0) return;
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  ::close(fd);
}

int connectUpstream(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  auto addr = loopback(port);
  // A blocking connect to loopback answers at once (accepted or refused).
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

struct Pair {
  int client = -1;
  int upstream = -1;  // -1 while blackholed before ever reaching the target
  std::string to_upstream;
  std::string to_client;
  bool dead = false;
};

// Moves bytes from `from` into `buffer`; false on EOF or error.
bool readInto(int from, std::string& buffer) {
  char buf[kChunk];
  ssize_t n = ::recv(from, buf, sizeof(buf), MSG_DONTWAIT);
  if (n > 0) {
    buffer.append(buf, static_cast<size_t>(n));
    return true;
  }
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

// Writes what it can of `buffer` to `to`; false on error.
bool writeFrom(int to, std::string& buffer) {
  ssize_t n = ::send(to, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n >= 0) {
    buffer.erase(0, static_cast<size_t>(n));
    return true;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

}  // namespace

Result<std::unique_ptr<TcpProxy>> TcpProxy::start(int target_port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  auto addr = loopback(0);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    return fail(ErrorCode::kIo, std::string("proxy listen: ") + std::strerror(err));
  }
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int err = errno;
    ::close(fd);
    return fail(ErrorCode::kIo, std::string("eventfd: ") + std::strerror(err));
  }
  return std::unique_ptr<TcpProxy>(new TcpProxy(fd, ntohs(addr.sin_port), wake, target_port));
}

TcpProxy::TcpProxy(int listen_fd, int listen_port, int wake_fd, int target_port)
    : listen_fd_(listen_fd), listen_port_(listen_port), wake_fd_(wake_fd), target_port_(target_port) {
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

std::string TcpProxy::connectString() const { return "127.0.0.1:" + std::to_string(listen_port_); }

void TcpProxy::setMode(Mode mode) {
  std::unique_lock lock(mutex_);
  requested_mode_ = mode;
  const uint64_t ticket = ++requested_;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
  applied_cv_.wait(lock, [&] { return applied_ >= ticket || stop_; });
}

TcpProxy::Mode TcpProxy::mode() const {
  std::lock_guard lock(mutex_);
  return requested_mode_;
}

void TcpProxy::run() {
  std::list<Pair> pairs;
  Mode mode = Mode::kPass;

  auto kill_pair = [](Pair& p, bool reset) {
    if (reset) {
      closeWithReset(p.client);
      closeWithReset(p.upstream);
    } else {
      ::close(p.client);
      if (p.upstream >= 0) ::close(p.upstream);
    }
    p.client = p.upstream = -1;
    p.dead = true;
  };

  for (;;) {
    // Apply a requested mode change first, so setMode() callers see it done.
    {
      std::lock_guard lock(mutex_);
      if (stop_) break;
      if (applied_ != requested_) {
        mode = requested_mode_;
        if (mode == Mode::kReset) {
          for (auto& p : pairs) kill_pair(p, true);
        } else if (mode == Mode::kPass) {
          for (auto& p : pairs) {
            if (p.upstream < 0) {
              p.upstream = connectUpstream(target_port_);
              if (p.upstream < 0) kill_pair(p, true);
            }
          }
        }
        applied_ = requested_;
        applied_cv_.notify_all();
      }
    }
    pairs.remove_if([](const Pair& p) { return p.dead; });
    connections_ = pairs.size();

    std::vector<pollfd> fds;
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& p : pairs) {
      short client_events = 0, upstream_events = 0;
      // Blackholed sockets are still polled (with no events) so that a peer's
      // RST is noticed and the pair dropped.
      if (mode == Mode::kPass) {
        if (p.to_upstream.size() < kChunk) client_events |= POLLIN;
        if (!p.to_client.empty()) client_events |= POLLOUT;
        if (p.to_client.size() < kChunk) upstream_events |= POLLIN;
        if (!p.to_upstream.empty()) upstream_events |= POLLOUT;
      }
      fds.push_back({p.client, client_events, 0});
      fds.push_back({p.upstream, upstream_events, 0});  // fd -1 is ignored by poll()
    }

    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t drained;
      [[maybe_unused]] auto n = ::read(wake_fd_, &drained, sizeof(drained));
    }

    size_t i = 2;
    for (auto& p : pairs) {
      const short cr = fds[i++].revents;
      const short ur = fds[i++].revents;
      if (p.dead) continue;
      if ((cr | ur) & (POLLERR | POLLNVAL)) {
        kill_pair(p, true);
        continue;
      }
      if (mode != Mode::kPass) {
        // Nothing is read in a blackhole; a hang-up on either side ends the pair.
        if ((cr | ur) & POLLHUP) kill_pair(p, false);
        continue;
      }
      bool ok = true;
      if (ok && (cr & (POLLIN | POLLHUP))) ok = readInto(p.client, p.to_upstream);
      if (ok && (ur & (POLLIN | POLLHUP))) ok = readInto(p.upstream, p.to_client);
      if (ok && !p.to_upstream.empty()) ok = writeFrom(p.upstream, p.to_upstream);
      if (ok && !p.to_client.empty()) ok = writeFrom(p.client, p.to_client);
      // EOF from either side: ZooKeeper never half-closes, so end both.
      if (!ok) kill_pair(p, false);
    }

    if (fds[1].revents & POLLIN) {
      for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) break;
        ++accepted_;
        if (mode == Mode::kReset) {
          closeWithReset(fd);
          continue;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        Pair p;
        p.client = fd;
        if (mode == Mode::kPass) {
          p.upstream = connectUpstream(target_port_);
          if (p.upstream < 0) {
            // The target is down: the client sees what it would see without
            // the proxy, a refused (reset) connection.
            closeWithReset(fd);
            continue;
          }
        }
        pairs.push_back(std::move(p));
      }
    }
  }

  for (auto& p : pairs) kill_pair(p, true);
  connections_ = 0;
  std::lock_guard lock(mutex_);
  applied_ = requested_;
  applied_cv_.notify_all();
}

}  // namespace zks::testing
