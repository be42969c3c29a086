#pragma once

// A real standalone ZooKeeper server (Debian's package) for integration tests.
//
// Each ZkServer owns a fresh temporary directory (config, data, server log)
// and a free loopback port chosen on the first start(); restart() keeps both,
// so a restarted server has the same data and the same connect string. The
// destructor kills the server (SIGKILL) and removes the directory.
//
// The JVM dies with the thread that started it (PR_SET_PDEATHSIG), so a
// crashed test leaves no server behind. Start servers from a long-lived
// thread — the test's own thread — not from a short-lived helper thread.
//
// Not thread-safe: drive one ZkServer from one thread.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace zks::testing {

struct ZkServerOptions {
  // A short tick makes session expiry fast: the server accepts session
  // timeouts between min_session_timeout and max_session_timeout.
  int tick_time_ms = 200;
  int min_session_timeout_ms = 400;
  int max_session_timeout_ms = 60000;
  // Server-side jute.maxbuffer (bytes); unset: ZooKeeper's default (1 MiB).
  std::optional<size_t> jute_maxbuffer;
  // How often the server deletes empty containers and expired TTL nodes;
  // unset: ZooKeeper's default (60 s).
  std::optional<int> container_check_interval_ms;
  // "user:password" of a digest superuser (may read and write any node);
  // empty: none.
  std::string super_user;
  // TLS on a secureClientPort next to the plain client port (which stays
  // for readiness checks and four-letter words). ZooKeeper 3.8 serves TLS
  // only with the Netty connection factory, and Debian's server needs
  // netty-codec.jar added to its classpath for that; both are set here.
  struct Tls {
    std::string key_store;    // PEM: the server's private key followed by its certificate
    std::string trust_store;  // PEM: the CA(s) client certificates must chain to
    bool need_client_auth = true;
  };
  std::optional<Tls> tls;
  // Fixed ports and a server id, for members of an ensemble (ZkEnsemble);
  // 0 / unset: a free client port is picked and the server runs standalone.
  int client_port = 0;
  std::optional<int> server_id;
  // Extra zoo.cfg lines and JVM flags, appended as given.
  std::vector<std::string> extra_config;
  std::vector<std::string> extra_jvm_flags;
  // How long start() waits for the server to serve requests.
  std::chrono::milliseconds start_timeout{20000};
};

// A loopback port nobody listens on right now (another process may take it
// before it is used).
Result<int> pickFreePort();

class ZkServer {
 public:
  explicit ZkServer(ZkServerOptions options = {});
  ~ZkServer();
  ZkServer(const ZkServer&) = delete;
  ZkServer& operator=(const ZkServer&) = delete;

  // Starts the server and returns once it serves requests ("srvr" names its
  // mode), or fails with the tail of the server's log. The first start picks
  // the port.
  Status start();
  // start() in two halves, for ensembles whose members serve only once a
  // quorum is up: launch() spawns the JVM, waitServing() waits for it.
  Status launch();
  Status waitServing(std::chrono::steady_clock::time_point deadline);
  // SIGTERM, then wait for the process to exit (SIGKILL after 10 s).
  Status stop();
  // SIGKILL and reap: a crash, no clean shutdown.
  void kill9();
  // stop() if running, then start() on the same port and data directory.
  Status restart();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string connectString() const;
  // With options.tls: the secureClientPort and "127.0.0.1:<securePort>".
  int securePort() const { return secure_port_; }
  std::string secureConnectString() const;
  // The JVM's pid (for kill -9 from outside), -1 when not running.
  pid_t pid() const { return pid_; }
  const std::string& directory() const { return dir_; }
  const std::string& dataDir() const { return data_dir_; }
  const std::string& logFile() const { return log_file_; }

  // Sends a four-letter word ("ruok", "mntr", "wchs", "cons", ...) and
  // returns the whole answer.
  Result<std::string> fourLetterWord(const std::string& word,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

  // The digest ACL id ("user:base64(sha1(user:password))") for credentials
  // "user:password", as ZooKeeper computes it; for building digest ACLs.
  static std::string digestId(const std::string& credentials);

 private:
  Status writeConfig() const;
  Status spawn();
  std::string logTail() const;

  ZkServerOptions options_;
  std::string dir_;
  std::string data_dir_;
  std::string config_file_;
  std::string log_file_;
  int port_ = 0;
  int secure_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace zks::testing
