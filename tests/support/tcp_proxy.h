#pragma once

// A loopback TCP proxy for simulating network faults between a client and a
// ZooKeeper server. It runs in-process on its own thread (poll()-based):
//
//   kPass       forwards bytes both ways; new connections are connected to
//               the target.
//   kBlackhole  a partition: connections are accepted and kept open, but
//               nothing is read or forwarded in either direction (no FIN, no
//               RST). Back in kPass, held connections resume — ones accepted
//               during the blackhole are connected to the target then.
//   kReset      every current connection is closed with RST, and new ones
//               are accepted and reset at once, until the mode changes.
//
// setMode() returns once the proxy thread has applied the mode. All methods
// are thread-safe.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/error.h"

namespace zks::testing {

class TcpProxy {
 public:
  enum class Mode { kPass, kBlackhole, kReset };

  // Listens on 127.0.0.1 on a free port and forwards to 127.0.0.1:target_port.
  static Result<std::unique_ptr<TcpProxy>> start(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  void setMode(Mode mode);
  Mode mode() const;

  int listenPort() const { return listen_port_; }
  // "127.0.0.1:<listenPort>"
  std::string connectString() const;
  // Client connections currently held (forwarded or blackholed).
  size_t connections() const { return connections_.load(); }
  // Connections accepted since start.
  uint64_t accepted() const { return accepted_.load(); }

 private:
  TcpProxy(int listen_fd, int listen_port, int wake_fd, int target_port);
  void run();

  const int listen_fd_;
  const int listen_port_;
  const int wake_fd_;  // eventfd: wakes the proxy thread for a mode change or stop
  const int target_port_;

  mutable std::mutex mutex_;
  std::condition_variable applied_cv_;
  Mode requested_mode_ = Mode::kPass;
  uint64_t requested_ = 0;  // mode change requests made
  uint64_t applied_ = 0;    // mode change requests the proxy thread applied
  bool stop_ = false;

  std::atomic<size_t> connections_{0};
  std::atomic<uint64_t> accepted_{0};
  std::thread thread_;
};

}  // namespace zks::testing
