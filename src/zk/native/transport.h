#pragma once

// The byte pipe under a session: a non-blocking TCP socket, optionally with
// TLS on top, behind one small interface. Reads and writes never block;
// the session's poll() loop waits on fd() for what the transport asks for.
//
// Connecting (name resolution, TCP, the TLS handshake) waits with poll() on
// the socket and on a Waker, so that close() can cut a pending connect short
// instead of waiting it out.

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/error.h"
#include "zk/native/paths.h"

namespace zks::zk::native {

using Clock = std::chrono::steady_clock;

// An eventfd that wakes the session's I/O thread: for new requests, and
// with stop() for good.
class Waker {
 public:
  Waker();
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  int fd() const { return fd_; }
  void wake();
  void drain();
  void stop() {
    stop_.store(true);
    wake();
  }
  bool stopping() const { return stop_.load(); }

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
};

// Waits until `fd` has one of `events`, the deadline passes or the waker is
// stopped. Wakes without stop() are drained and the wait goes on.
enum class WaitResult { kReady, kTimeout, kStopped };
WaitResult waitFd(int fd, short events, Clock::time_point deadline, Waker& waker);

struct IoResult {
  enum Status { kOk, kWouldBlock, kClosed, kError } status = kOk;
  size_t bytes = 0;
  std::string error;  // kClosed, kError: what happened, for a log line
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int fd() const = 0;
  virtual IoResult read(char* data, size_t size) = 0;
  virtual IoResult write(const char* data, size_t size) = 0;
  // The poll events a read or write that returned kWouldBlock waits for
  // (TLS may have to write to read, or read to write).
  virtual short readWaitsFor() const { return POLLIN; }
  virtual short writeWaitsFor() const { return POLLOUT; }
};

// Resolves `server` and connects to the first address that accepts, before
// `deadline`. Errors are one line naming the server.
Result<std::unique_ptr<Transport>> connectTcp(const HostPort& server, Clock::time_point deadline, Waker& waker);

class FrameReader;
// Reads until `frames` holds a whole frame and returns it (without its
// length): for the handshake. kTimeout, kIo (closed or failed; the message
// says which), kInvalidArgument (a bad frame length), kInternal (stopped).
Result<std::string> readFrame(Transport& transport, FrameReader& frames, Clock::time_point deadline, Waker& waker);

// Writes all of `bytes` (waiting as needed) or fails: for the handshake.
Status writeAll(Transport& transport, std::string_view bytes, Clock::time_point deadline, Waker& waker);

}  // namespace zks::zk::native
