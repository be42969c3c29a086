#include "zk/native/jute.h"

#include <cstring>

namespace zks::zk::native {

void JuteWriter::int32(int32_t value) {
  const auto v = static_cast<uint32_t>(value);
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
  out_.append(bytes, 4);
}

void JuteWriter::int64(int64_t value) {
  const auto v = static_cast<uint64_t>(value);
  int32(static_cast<int32_t>(static_cast<uint32_t>(v >> 32)));
  int32(static_cast<int32_t>(static_cast<uint32_t>(v)));
}

void JuteWriter::buffer(std::string_view bytes) {
  int32(static_cast<int32_t>(bytes.size()));
  out_.append(bytes);
}

void JuteWriter::patchInt32(size_t offset, int32_t value) {
  const auto v = static_cast<uint32_t>(value);
  out_[offset] = static_cast<char>(v >> 24);
  out_[offset + 1] = static_cast<char>(v >> 16);
  out_[offset + 2] = static_cast<char>(v >> 8);
  out_[offset + 3] = static_cast<char>(v);
}

bool JuteReader::take(size_t n, const char*& out) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  out = data_.data() + pos_;
  pos_ += n;
  return true;
}

int32_t JuteReader::int32() {
  const char* p = nullptr;
  if (!take(4, p)) return 0;
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<int32_t>((uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) |
                              uint32_t{u[3]});
}

int64_t JuteReader::int64() {
  const auto high = static_cast<uint32_t>(int32());
  const auto low = static_cast<uint32_t>(int32());
  return static_cast<int64_t>((uint64_t{high} << 32) | low);
}

bool JuteReader::boolean() {
  const char* p = nullptr;
  if (!take(1, p)) return false;
  return *p != 0;
}

std::string_view JuteReader::bufferView() {
  const int32_t length = int32();
  if (!ok_) return {};
  if (length == -1) return {};
  if (length < 0) {
    ok_ = false;
    return {};
  }
  const char* p = nullptr;
  if (!take(static_cast<size_t>(length), p)) return {};
  return {p, static_cast<size_t>(length)};
}

std::string JuteReader::buffer() { return std::string(bufferView()); }

size_t JuteReader::count(size_t min_element_bytes) {
  const int32_t n = int32();
  if (!ok_ || n == -1) return 0;
  if (n < 0) {
    ok_ = false;
    return 0;
  }
  const size_t elements = static_cast<size_t>(n);
  if (min_element_bytes > 0 && elements > remaining() / min_element_bytes) {
    ok_ = false;
    return 0;
  }
  return elements;
}

}  // namespace zks::zk::native
