#include "mapping/path.h"

#include <cstdint>

namespace zks::mapping {
namespace {

// Decodes one UTF-8 code point at `text[i]`; returns its length, or 0 when
// the bytes are not well-formed UTF-8.
size_t decodeUtf8(std::string_view text, size_t i, uint32_t& cp) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  size_t len;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    cp = c & 0x1F;
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    cp = c & 0x0F;
    len = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    cp = c & 0x07;
    len = 4;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = byte(i + k);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms and out-of-range values.
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  return len;
}

// The characters ZooKeeper's PathUtils.validatePath refuses. It checks Java
// UTF-16 units, so anything beyond U+FFFF (a surrogate pair) is refused too,
// and bytes that are not UTF-8 arrive there as U+FFFD, which is refused.
std::optional<std::string> charactersError(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    size_t len = decodeUtf8(text, i, cp);
    if (len == 0) return "is not valid UTF-8";
    if (cp == 0) return "contains a NUL character";
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return "contains a control character";
    if ((cp >= 0xD800 && cp <= 0xF8FF) || cp >= 0xFFF0) {
      return "contains a character ZooKeeper does not allow in paths";
    }
    i += len;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> segmentError(std::string_view segment) {
  if (segment.empty()) return "is empty";
  if (segment == "." || segment == "..") return "is '" + std::string(segment) + "'";
  if (segment.find('/') != std::string_view::npos) return "contains '/'";
  return charactersError(segment);
}

std::optional<std::string> pathError(std::string_view path) {
  if (path.empty()) return "is empty";
  if (path.front() != '/') return "must be absolute (start with '/')";
  if (path == "/") return std::nullopt;
  if (path.back() == '/') return "must not end with '/'";
  for (SegmentIterator it(path); !it.done(); it.next()) {
    std::string_view segment = it.segment();
    if (segment.empty()) return "has an empty segment ('//')";
    if (segment == "." || segment == "..") return "has a '" + std::string(segment) + "' segment";
  }
  return charactersError(path);
}

bool isUnder(std::string_view path, std::string_view root) {
  if (root == "/") return !path.empty() && path.front() == '/';
  if (path.size() < root.size() || path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

}  // namespace zks::mapping
