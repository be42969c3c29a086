#pragma once

// Znode paths as the client checks and rewrites them: ZooKeeper's path rules
// (PathUtils.validatePath), the connect string with its optional chroot, and
// the chroot added to request paths and stripped from answers and events.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zks::zk::native {

// Why `path` is not a valid znode path, or nothing. A sequential create's
// path may end in '/' (the server appends the counter).
std::optional<std::string> pathError(std::string_view path, bool sequential = false);

struct HostPort {
  std::string host;  // a name, an IPv4 address or an IPv6 address (without brackets)
  uint16_t port = 2181;
  std::string describe() const;  // "host:port", "[v6]:port"
};

struct ConnectString {
  std::vector<HostPort> hosts;
  std::string chroot;  // "" when none; never "/"
};
// "host[:port][,host[:port]...][/chroot]"; IPv6 addresses in brackets.
// Returns why the string is not valid in the error.
std::optional<ConnectString> parseConnectString(std::string_view text, std::string& error);

// The server's path for a client path.
std::string addChroot(std::string_view chroot, std::string_view path);
// The client's path for a server path; nothing when it lies outside the chroot.
std::optional<std::string> stripChroot(std::string_view chroot, std::string_view server_path);

}  // namespace zks::zk::native
