#pragma once

// Splits a byte stream into length-prefixed frames. Pure: the caller reads
// the socket into writable() and takes complete frames from next().
//
// Bounded: a frame longer than the limit (or with a negative length) is a
// protocol error reported by next(); nothing is allocated for it. The
// buffer grows to hold one frame at most and shrinks back when idle.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace zks::zk::native {

class FrameReader {
 public:
  explicit FrameReader(size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  // Room for at least `min_bytes` (more when a long frame is under way, so
  // that it arrives in few reads). Invalidates frames returned before.
  std::span<char> writable(size_t min_bytes = 64 * 1024);
  void commit(size_t bytes) { end_ += bytes; }

  enum class Status { kFrame, kNeedMore, kBadLength };
  // The next complete frame without its length prefix; valid until the next
  // call of writable(). kBadLength: the stream cannot be trusted any more.
  Status next(std::string_view& frame);

  // Drops everything buffered (a new connection).
  void reset() { begin_ = end_ = 0; }

  // The length that next() refused (for the error message).
  int64_t badLength() const { return bad_length_; }
  size_t buffered() const { return end_ - begin_; }

 private:
  // The announced length of the frame at begin_, if its prefix is in.
  bool peekLength(int64_t& length) const;

  const size_t max_frame_bytes_;
  std::string buffer_;
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // one past the last byte read
  int64_t bad_length_ = 0;
};

}  // namespace zks::zk::native
