#pragma once

// Jute, ZooKeeper's record encoding: big-endian integers, a bool as one
// byte, and byte buffers, strings and vectors as a 4-byte length (or count)
// followed by their contents; length -1 means null.
//
// JuteReader is bounded: every length is checked against what is left of
// the frame before anything is allocated, so garbage input fails cleanly
// instead of crashing or allocating without limit. A failed read poisons
// the reader: later reads return zero values and ok() stays false, so
// decoders check once at the end.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zks::zk::native {

class JuteWriter {
 public:
  explicit JuteWriter(std::string& out) : out_(out) {}

  void int32(int32_t value);
  void int64(int64_t value);
  void boolean(bool value) { out_.push_back(value ? '\1' : '\0'); }
  // A buffer or a ustring: length, then the bytes.
  void buffer(std::string_view bytes);
  void nullBuffer() { int32(-1); }
  // A vector's element count; the caller writes the elements.
  void count(size_t n) { int32(static_cast<int32_t>(n)); }

  size_t size() const { return out_.size(); }
  // Overwrites 4 bytes at `offset` (a frame length or an xid written early).
  void patchInt32(size_t offset, int32_t value);

 private:
  std::string& out_;
};

class JuteReader {
 public:
  explicit JuteReader(std::string_view data) : data_(data) {}

  int32_t int32();
  int64_t int64();
  bool boolean();
  // A buffer or ustring; null (-1) reads as empty. Fails when the length is
  // below -1 or more than what is left.
  std::string buffer();
  std::string_view bufferView();
  // A vector's element count; null reads as 0. Fails when the count is
  // negative or the elements could not fit in what is left, given that each
  // takes at least `min_element_bytes` (so callers may reserve `count`).
  size_t count(size_t min_element_bytes);

  bool ok() const { return ok_; }
  void fail() { ok_ = false; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  bool atEnd() const { return remaining() == 0; }

 private:
  bool take(size_t n, const char*& out);

  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace zks::zk::native
