#include "zk/native/paths.h"

#include <charconv>

namespace zks::zk::native {
namespace {

// Decodes one UTF-8 code point at `i`; false for a malformed sequence.
bool nextCodePoint(std::string_view s, size_t& i, uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  if (b0 < 0x80) {
    cp = b0;
    len = 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    cp = b0 & 0x1F;
    len = 2;
  } else if ((b0 & 0xF0) == 0xE0) {
    cp = b0 & 0x0F;
    len = 3;
  } else if ((b0 & 0xF8) == 0xF0) {
    cp = b0 & 0x07;
    len = 4;
  } else {
    return false;
  }
  if (i + len > s.size()) return false;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms would sneak '/' or NUL past the checks.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF) return false;
  i += len;
  return true;
}

// The characters PathUtils.validatePath refuses (it sees UTF-16 units; a
// code point above 0xFFFF is a surrogate pair there, which it refuses too).
bool refusedCodePoint(uint32_t cp) {
  return cp == 0 || (cp <= 0x1F) || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0xD800 && cp <= 0xF8FF) ||
         (cp >= 0xFFF0);
}

}  // namespace

std::optional<std::string> pathError(std::string_view path, bool sequential) {
  if (path.empty()) return "is empty";
  if (path[0] != '/') return "does not start with '/'";
  if (path.size() == 1) return std::nullopt;
  if (path.back() == '/' && !sequential) return "ends with '/'";
  size_t segment_start = 1;
  for (size_t i = 1; i <= path.size();) {
    if (i == path.size() || path[i] == '/') {
      const std::string_view segment = path.substr(segment_start, i - segment_start);
      const bool last = i == path.size();
      // A sequential path's last segment may be empty: the counter fills it.
      if (segment.empty() && !(last && sequential)) return "has an empty segment";
      if (segment == "." || segment == "..") return "has a relative segment '" + std::string(segment) + "'";
      ++i;
      segment_start = i;
      continue;
    }
    uint32_t cp = 0;
    if (!nextCodePoint(path, i, cp)) return "is not valid UTF-8";
    if (refusedCodePoint(cp)) return "has a character ZooKeeper refuses";
  }
  return std::nullopt;
}

std::string HostPort::describe() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<ConnectString> parseConnectString(std::string_view text, std::string& error) {
  ConnectString out;
  const size_t slash = text.find('/');
  std::string_view hosts = text.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view chroot = text.substr(slash);
    if (auto why = pathError(chroot)) {
      error = "the chroot '" + std::string(chroot) + "' " + *why;
      return std::nullopt;
    }
    if (chroot != "/") out.chroot = std::string(chroot);
  }
  size_t start = 0;
  for (;;) {
    const size_t comma = hosts.find(',', start);
    std::string_view entry = hosts.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    HostPort hp;
    std::string_view port_text;
    if (!entry.empty() && entry.front() == '[') {
      const size_t close = entry.find(']');
      if (close == std::string_view::npos) {
        error = "the server '" + std::string(entry) + "' has no closing ']'";
        return std::nullopt;
      }
      hp.host = std::string(entry.substr(1, close - 1));
      std::string_view rest = entry.substr(close + 1);
      if (!rest.empty()) {
        if (rest.front() != ':') {
          error = "the server '" + std::string(entry) + "' has text after ']'";
          return std::nullopt;
        }
        port_text = rest.substr(1);
        if (port_text.empty()) port_text = "-";
      }
    } else {
      const size_t colon = entry.rfind(':');
      hp.host = std::string(entry.substr(0, colon));
      if (colon != std::string_view::npos) {
        port_text = entry.substr(colon + 1);
        if (port_text.empty()) port_text = "-";
      }
    }
    if (hp.host.empty()) {
      error = entry.empty() ? "a server entry is empty" : "the server '" + std::string(entry) + "' has no host";
      return std::nullopt;
    }
    if (!port_text.empty()) {
      unsigned port = 0;
      auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
      if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
        error = "the server '" + std::string(entry) + "' has a bad port";
        return std::nullopt;
      }
      hp.port = static_cast<uint16_t>(port);
    }
    out.hosts.push_back(std::move(hp));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string addChroot(std::string_view chroot, std::string_view path) {
  if (chroot.empty()) return std::string(path);
  if (path == "/") return std::string(chroot);
  std::string out;
  out.reserve(chroot.size() + path.size());
  out.append(chroot);
  out.append(path);
  return out;
}

std::optional<std::string> stripChroot(std::string_view chroot, std::string_view server_path) {
  if (chroot.empty()) return std::string(server_path);
  if (server_path == chroot) return std::string("/");
  if (server_path.size() > chroot.size() && server_path.substr(0, chroot.size()) == chroot &&
      server_path[chroot.size()] == '/') {
    return std::string(server_path.substr(chroot.size()));
  }
  return std::nullopt;
}

}  // namespace zks::zk::native
