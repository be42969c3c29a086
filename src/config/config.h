#pragma once

// The configuration file (SPEC.md section 2). Defaults live here, in the
// member initializers, and nowhere else; docs/deploy.md's config reference mirrors
// them.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "zk/connect_options.h"

namespace zks::config {

enum class EphemeralPolicy { kSkip, kPersist };
enum class AclPolicy { kCopy, kOpen, kKeepBackup };
enum class DeletePolicy { kPropagate, kKeep };

struct AuthConfig {
  std::string scheme = "digest";
  std::string credentials_file;  // one of file or env is set
  std::string credentials_env;
};

// TLS to the site's secureClientPort (native client only). Paths are
// resolved against the config file's folder.
struct TlsConfig {
  std::string ca_file;    // required
  std::string cert_file;  // cert_file and key_file: both or neither
  std::string key_file;
  bool verify_hostname = true;
};

struct SiteConfig {
  std::string connect;
  int session_timeout_ms = 30000;
  int connect_timeout_ms = 15000;
  std::vector<AuthConfig> auth;
  size_t max_in_flight = 2048;  // extension: pipelining window toward this site
  zk::Backend client = zk::Backend::kNative;
  std::optional<TlsConfig> tls;
  // Native client only: off for servers older than 3.6 (no multiRead, no
  // addWatch); the largest reply frame accepted.
  bool multi_read = true;
  bool persistent_watches = true;
  size_t max_packet_bytes = 256u << 20;
  // Sessions a full reconcile opens to this site when it reads it (sync,
  // diff): the first carries everything, the others only getACL requests,
  // which multiRead cannot batch (acls: copy). Each extra session is more
  // load on the site's servers.
  int max_read_sessions = 1;
};

struct RootConfig {
  std::string source;
  std::string target;  // defaults to source
};

// The largest sync.max_request_bytes accepted: 1 MiB, the servers' default
// jute.maxbuffer, which bounds a whole request.
inline constexpr long long kMaxRequestBytesLimit = 1024 * 1024;

struct SyncConfig {
  std::vector<RootConfig> roots;
  std::vector<std::string> exclude;  // globs on primary paths
  EphemeralPolicy ephemerals = EphemeralPolicy::kSkip;
  AclPolicy acls = AclPolicy::kCopy;
  DeletePolicy deletes = DeletePolicy::kPropagate;
  double max_delete_fraction = 0.25;
  int audit_interval_s = 600;
  size_t max_request_bytes = 1024 * 1024 - 4096;  // extension: the backup's jute.maxbuffer less headroom
  int max_write_ops_per_s = 0;                    // extension: 0 = unlimited
};

struct MappingConfig {
  std::vector<std::filesystem::path> files;  // resolved against the config file's folder
};

struct DiffConfig {
  // Globs (primary or backup paths) of nodes whose whole payload `diff`
  // shows only as a size unless --show-secrets: Kafka keeps SCRAM salts and
  // keys under /config/users/<user>.
  std::vector<std::string> secret_paths = {"/**/config/users/*"};
};

struct HttpConfig {
  std::string listen = "127.0.0.1:9406";  // "" disables the endpoint
};

struct LogConfig {
  std::string level = "info";
  std::string format = "text";
};

struct Config {
  std::filesystem::path file;  // where it was loaded from
  SiteConfig primary;
  SiteConfig backup;
  SyncConfig sync;
  MappingConfig mapping;
  std::string state_path = "/zkstandby";
  DiffConfig diff;
  HttpConfig http;
  LogConfig log;
};

// One problem found in a config file, with its place.
struct Problem {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  std::string message;
  std::string describe() const;  // "file:line: message"
};

// Loads and checks a config file. Collects every problem it can find in one
// pass (unknown keys, wrong types, bad values, overlapping roots, state_path
// inside a target root) rather than stopping at the first.
std::expected<Config, std::vector<Problem>> loadConfig(const std::filesystem::path& file);

// Whether the replicator authenticates to this site, so that its records
// there can be protected (only that identity may write them): digest auth
// entries, or a TLS client certificate (ZooKeeper's x509 provider makes its
// subject an identity of the session on the secure port).
bool hasIdentity(const SiteConfig& site);

// Reads credentials from the file or environment variable an AuthConfig
// names. Errors name the file or variable, never the secret.
Result<zk::ConnectOptions> connectOptions(const SiteConfig& site, const std::string& name);

// The checks loadConfig applies to single values, for other loaders (mapping
// rules) that take the same kinds of value. Each returns why the value is
// not acceptable, or nothing when it is.
//
// A znode path: absolute, no trailing slash except "/" itself, no empty,
// "." or ".." segment, no control characters.
std::optional<std::string> znodePathError(std::string_view path);
// A path glob: a znode path whose segments may hold `*` (any characters
// within one segment) or be exactly `**` (any number of segments, even none).
std::optional<std::string> globError(std::string_view glob);

}  // namespace zks::config
