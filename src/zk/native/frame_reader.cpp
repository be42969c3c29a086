#include "zk/native/frame_reader.h"

#include <algorithm>
#include <cstring>

#include "zk/native/jute.h"
#include "zk/native/records.h"

namespace zks::zk::native {
namespace {
// A buffer grown for one long frame goes back to this size once drained.
constexpr size_t kIdleBytes = 256 * 1024;
}  // namespace

bool FrameReader::peekLength(int64_t& length) const {
  if (end_ - begin_ < kFrameHeaderBytes) return false;
  JuteReader in(std::string_view(buffer_.data() + begin_, kFrameHeaderBytes));
  length = in.int32();
  return true;
}

std::span<char> FrameReader::writable(size_t min_bytes) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (buffer_.size() > kIdleBytes) {
      buffer_.resize(kIdleBytes);
      buffer_.shrink_to_fit();
    }
  } else if (begin_ > 0) {
    // Keep the partial frame at the front, so that the buffer only ever has
    // to hold one frame.
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  size_t want = min_bytes;
  int64_t length = 0;
  if (peekLength(length) && length >= 0 && static_cast<size_t>(length) <= max_frame_bytes_) {
    const size_t frame_end = kFrameHeaderBytes + static_cast<size_t>(length);
    if (frame_end > end_) want = std::max(want, frame_end - end_);
  }
  if (buffer_.size() < end_ + want) buffer_.resize(end_ + want);
  return {buffer_.data() + end_, buffer_.size() - end_};
}

FrameReader::Status FrameReader::next(std::string_view& frame) {
  int64_t length = 0;
  if (!peekLength(length)) return Status::kNeedMore;
  if (length < 0 || static_cast<uint64_t>(length) > max_frame_bytes_) {
    bad_length_ = length;
    return Status::kBadLength;
  }
  const size_t total = kFrameHeaderBytes + static_cast<size_t>(length);
  if (end_ - begin_ < total) return Status::kNeedMore;
  frame = std::string_view(buffer_.data() + begin_ + kFrameHeaderBytes, static_cast<size_t>(length));
  begin_ += total;
  return Status::kFrame;
}

}  // namespace zks::zk::native
