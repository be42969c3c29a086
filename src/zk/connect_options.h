#pragma once

// How to reach one ZooKeeper site, whichever backend speaks to it, and the
// factory that builds the configured backend.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "zk/client.h"

namespace zks::zk {

struct AuthEntry {
  std::string scheme;       // "digest"
  std::string credentials;  // "user:password", already read from file or env; never logged
};

// Client certificates and the CA for ZooKeeper's secureClientPort (native
// backend only). Empty ca_file: TLS is off.
struct TlsOptions {
  std::string ca_file;    // PEM: the CA(s) the server certificate must chain to
  std::string cert_file;  // PEM: this client's certificate (ZooKeeper asks for one by default)
  std::string key_file;   // PEM: its private key
  bool verify_hostname = true;  // the server certificate must name the host connected to
  bool enabled() const { return !ca_file.empty(); }
};

enum class Backend : uint8_t { kNative, kLibzookeeper };

struct ConnectOptions {
  std::string connect;  // "host:port,host:port[/chroot]"
  std::chrono::milliseconds session_timeout{30000};
  std::chrono::milliseconds connect_timeout{15000};
  std::vector<AuthEntry> auth;
  size_t max_in_flight = 2048;           // requests on the wire at once
  std::string name = "zk";               // for log lines: "primary", "backup"
  Backend backend = Backend::kNative;
  TlsOptions tls;                        // native only
  // Largest reply frame the native client accepts: a getChildren of a
  // directory with 500,000 children is ~20 MB.
  size_t max_packet_bytes = 256u << 20;
  // Native only: off for servers older than 3.6, which know neither
  // multiRead nor addWatch (the client then pipelines reads and callers
  // fall back to per-node watches).
  bool multi_read = true;
  bool persistent_watches = true;
};

// The client `options.backend` names, not yet connected: reopen() connects.
std::unique_ptr<Client> makeClient(ConnectOptions options);

}  // namespace zks::zk
