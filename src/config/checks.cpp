#include "config/checks.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include "config/config.h"

namespace zks::config {
namespace {

// Splits an absolute path's text after the leading '/' into its segments.
std::vector<std::string_view> segmentsOf(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    segments.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

// The rules a path and a glob share: ZooKeeper rejects these paths outright,
// so a config that names one can only be a mistake.
std::optional<std::string> pathShapeError(std::string_view path) {
  if (path.empty()) return "is empty";
  if (path.front() != '/') return "must be absolute (start with '/')";
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) return "contains a control character";
  }
  if (path == "/") return std::nullopt;
  if (path.back() == '/') return "must not end with '/'";
  for (std::string_view segment : segmentsOf(path)) {
    if (segment.empty()) return "has an empty segment ('//')";
    if (segment == "." || segment == "..") return "has a '" + std::string(segment) + "' segment";
  }
  return std::nullopt;
}

std::optional<std::string> portError(std::string_view text, bool allow_port_zero) {
  if (text.empty()) return "has no port";
  int port = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc{} || end != text.data() + text.size()) return "has a port that is not a number";
  if (port > 65535 || port < (allow_port_zero ? 0 : 1)) {
    return allow_port_zero ? "has a port outside 0-65535" : "has a port outside 1-65535";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> znodePathError(std::string_view path) {
  if (auto error = pathShapeError(path)) return error;
  if (path.find('*') != std::string_view::npos) return "contains '*' (a glob is not allowed here)";
  return std::nullopt;
}

std::optional<std::string> globError(std::string_view glob) {
  if (auto error = pathShapeError(glob)) return error;
  if (glob == "/") return std::nullopt;
  for (std::string_view segment : segmentsOf(glob)) {
    // '**' spans segments, so inside a segment it could only mean '*'
    // written twice by mistake; saying so beats guessing.
    if (segment != "**" && segment.find("**") != std::string_view::npos) {
      return "has '**' inside the segment '" + std::string(segment) + "' ('**' must be a whole segment)";
    }
  }
  return std::nullopt;
}

std::optional<std::string> hostPortError(std::string_view text, bool allow_port_zero) {
  if (text.empty()) return "is empty";
  if (std::any_of(text.begin(), text.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
    return "contains a space or control character";
  }
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return "has '[' without ']'";
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return "has no ':port' after ']'";
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return "has no ':port'";
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return "has an IPv6 address without [brackets]";
  }
  if (host.empty()) return "has no host";
  return portError(port, allow_port_zero);
}

std::optional<std::string> connectStringError(std::string_view text) {
  if (text.empty()) return "is empty";
  size_t slash = text.find('/');
  std::string_view hosts = text.substr(0, slash);
  if (slash != std::string_view::npos) {
    if (auto error = znodePathError(text.substr(slash))) return "has a chroot that " + *error;
  }
  size_t start = 0;
  while (true) {
    size_t comma = hosts.find(',', start);
    std::string_view entry = hosts.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (entry.empty()) return "has an empty server entry";
    if (auto error = hostPortError(entry, false)) return "has a server '" + std::string(entry) + "' that " + *error;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return std::nullopt;
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace zks::config
