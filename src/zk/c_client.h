#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "zk/client.h"

namespace zks::zk {

struct AuthEntry {
  std::string scheme;       // "digest"
  std::string credentials;  // "user:password", already read from file or env; never logged
};

struct ConnectOptions {
  std::string connect;  // "host:port,host:port[/chroot]"
  std::chrono::milliseconds session_timeout{30000};
  std::chrono::milliseconds connect_timeout{15000};
  std::vector<AuthEntry> auth;
  size_t max_in_flight = 2048;           // requests on the wire at once
  std::string name = "zk";               // for log lines: "primary", "backup"
};

// The Client on libzookeeper-mt. Construct, then reopen() to connect.
std::unique_ptr<Client> makeCClient(ConnectOptions options);

}  // namespace zks::zk
