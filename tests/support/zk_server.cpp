#include "support/zk_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/sha1.h"
#include "support/wait.h"

namespace zks::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr const char* kJava = "/usr/bin/java";
constexpr const char* kClassPath = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";
// Debian's zookeeper.jar leaves netty-codec out of its manifest classpath;
// the Netty connection factory (needed for TLS) fails to load without it.
constexpr const char* kNettyCodec = "/usr/share/java/netty-codec.jar";

}  // namespace

// Asks the kernel for a free loopback port. Another process could take it
// before the server binds; start() retries with a new port if that happens.
Result<int> pickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    return fail(ErrorCode::kIo, std::string("bind to a free port: ") + std::strerror(err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace {

// Connects to 127.0.0.1:port, sends `word`, reads until the server closes.
Result<std::string> askServer(int port, const std::string& word, milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return fail(ErrorCode::kIo, std::string("connect: ") + std::strerror(err));
  }
  if (::send(fd, word.data(), word.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(word.size())) {
    int err = errno;
    ::close(fd);
    return fail(ErrorCode::kIo, std::string("send: ") + std::strerror(err));
  }
  std::string answer;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      answer.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    if (n < 0) return fail(ErrorCode::kIo, std::string("recv: ") + std::strerror(err));
    return answer;
  }
}

std::string base64(const uint8_t* data, size_t len) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t chunk = static_cast<uint32_t>(data[i]) << 16;
    if (i + 1 < len) chunk |= static_cast<uint32_t>(data[i + 1]) << 8;
    if (i + 2 < len) chunk |= data[i + 2];
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < len ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < len ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

}  // namespace

ZkServer::ZkServer(ZkServerOptions options) : options_(std::move(options)) {
  std::string tmpl = (fs::temp_directory_path() / "zks-zkserver-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    // Left empty: start() reports the problem.
    return;
  }
  dir_ = tmpl;
  data_dir_ = dir_ + "/data";
  config_file_ = dir_ + "/zoo.cfg";
  log_file_ = dir_ + "/server.log";
  fs::create_directories(data_dir_);
  if (options_.server_id) {
    std::ofstream(data_dir_ + "/myid") << *options_.server_id << "\n";
  }
}

ZkServer::~ZkServer() {
  kill9();
  // ZKS_KEEP_ZK_DIRS=1 keeps the server's directory (config, data, log) for
  // a post-mortem.
  const char* keep = std::getenv("ZKS_KEEP_ZK_DIRS");
  if (!dir_.empty() && (keep == nullptr || std::string(keep) != "1")) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

std::string ZkServer::connectString() const { return "127.0.0.1:" + std::to_string(port_); }

std::string ZkServer::secureConnectString() const { return "127.0.0.1:" + std::to_string(secure_port_); }

std::string ZkServer::digestId(const std::string& credentials) {
  auto colon = credentials.find(':');
  std::string user = credentials.substr(0, colon);
  auto digest = sha1(credentials);
  return user + ":" + base64(digest.data(), digest.size());
}

Status ZkServer::writeConfig() const {
  std::ofstream out(config_file_, std::ios::trunc);
  out << "tickTime=" << options_.tick_time_ms << "\n"
      << "dataDir=" << data_dir_ << "\n"
      << "clientPort=" << port_ << "\n"
      << "clientPortAddress=127.0.0.1\n"
      << "admin.enableServer=false\n"
      << "extendedTypesEnabled=true\n"
      << "4lw.commands.whitelist=*\n"
      << "minSessionTimeout=" << options_.min_session_timeout_ms << "\n"
      << "maxSessionTimeout=" << options_.max_session_timeout_ms << "\n"
      // No pauses between snapshots of a tiny test tree.
      << "preAllocSize=1024\n";
  if (options_.tls) {
    out << "secureClientPort=" << secure_port_ << "\n"
        << "secureClientPortAddress=127.0.0.1\n"
        << "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n"
        << "ssl.keyStore.location=" << options_.tls->key_store << "\n"
        << "ssl.keyStore.type=PEM\n"
        << "ssl.trustStore.location=" << options_.tls->trust_store << "\n"
        << "ssl.trustStore.type=PEM\n"
        << "ssl.clientAuth=" << (options_.tls->need_client_auth ? "need" : "none") << "\n";
  }
  for (const auto& line : options_.extra_config) out << line << "\n";
  out.close();
  if (!out) return fail(ErrorCode::kIo, "cannot write the ZooKeeper config", config_file_);
  return {};
}

Status ZkServer::spawn() {
  std::vector<std::string> args = {kJava, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                                   "-Xshare:auto", "-Dzookeeper.extendedTypesEnabled=true",
                                   // The server also sync()s its log on every write otherwise.
                                   "-Dzookeeper.forceSync=no"};
  if (options_.jute_maxbuffer) {
    args.push_back("-Djute.maxbuffer=" + std::to_string(*options_.jute_maxbuffer));
  }
  if (options_.container_check_interval_ms) {
    args.push_back("-Dznode.container.checkIntervalMs=" +
                   std::to_string(*options_.container_check_interval_ms));
  }
  if (!options_.super_user.empty()) {
    args.push_back("-Dzookeeper.DigestAuthenticationProvider.superDigest=" + digestId(options_.super_user));
  }
  for (const auto& flag : options_.extra_jvm_flags) args.push_back(flag);
  args.emplace_back("-cp");
  args.emplace_back(options_.tls ? std::string(kClassPath) + ":" + kNettyCodec : std::string(kClassPath));
  // A member of an ensemble runs the quorum peer; a lone server the standalone one.
  args.emplace_back(options_.server_id ? "org.apache.zookeeper.server.quorum.QuorumPeerMain"
                                       : "org.apache.zookeeper.server.ZooKeeperServerMain");
  args.push_back(config_file_);

  // Everything the child needs is prepared before fork(): after it only
  // async-signal-safe calls are allowed.
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return fail(ErrorCode::kIo, std::string("open: ") + std::strerror(errno), log_file_);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    return fail(ErrorCode::kIo, std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  return {};
}

std::string ZkServer::logTail() const {
  std::ifstream in(log_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  constexpr size_t kTail = 2000;
  return all.size() > kTail ? all.substr(all.size() - kTail) : all;
}

Status ZkServer::launch() {
  if (dir_.empty()) return fail(ErrorCode::kIo, "cannot create a temporary directory for ZooKeeper");
  if (running()) return {};
  if (port_ == 0) {
    if (options_.client_port != 0) {
      port_ = options_.client_port;
    } else {
      auto port = pickFreePort();
      if (!port) return std::unexpected(port.error());
      port_ = *port;
    }
  }
  if (options_.tls && secure_port_ == 0) {
    auto port = pickFreePort();
    if (!port) return std::unexpected(port.error());
    secure_port_ = *port;
  }
  if (auto st = writeConfig(); !st) return st;
  return spawn();
}

Status ZkServer::waitServing(std::chrono::steady_clock::time_point deadline) {
  bool exited = false;
  bool ready = waitFor(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          exited = true;
          pid_ = -1;
          return true;
        }
        // "ruok" says imok while the server is still loading its data;
        // "srvr" names a mode only once it serves requests.
        auto answer = askServer(port_, "srvr", milliseconds(500));
        return answer && answer->find("Mode: ") != std::string::npos;
      },
      deadline, milliseconds(20));
  if (ready && !exited) return {};
  if (!exited) {
    kill9();
    return fail(ErrorCode::kTimeout, "ZooKeeper did not start serving in time; log tail:\n" + logTail(), log_file_);
  }
  return fail(ErrorCode::kIo, "ZooKeeper exited during startup; log tail:\n" + logTail(), log_file_);
}

Status ZkServer::start() {
  if (running()) return {};
  // A freshly picked port can be taken by someone else before the JVM binds
  // it; then the server exits and we try another one.
  const bool pick_port = port_ == 0 && options_.client_port == 0;
  const int attempts = pick_port ? 3 : 1;
  Status last;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (pick_port) {
      port_ = 0;
      secure_port_ = 0;
    }
    if (auto st = launch(); !st) return st;
    last = waitServing(std::chrono::steady_clock::now() + options_.start_timeout);
    if (last || last.error().code == ErrorCode::kTimeout) return last;
  }
  return last;
}

Status ZkServer::stop() {
  if (!running()) return {};
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool exited = waitFor(
      [&] {
        int status = 0;
        return ::waitpid(pid_, &status, WNOHANG) == pid_;
      },
      deadline);
  if (!exited) {
    kill9();
    return fail(ErrorCode::kTimeout, "ZooKeeper did not stop within 10 s of SIGTERM; killed it");
  }
  pid_ = -1;
  return {};
}

void ZkServer::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

Status ZkServer::restart() {
  if (auto st = stop(); !st) return st;
  return start();
}

Result<std::string> ZkServer::fourLetterWord(const std::string& word, milliseconds timeout) const {
  if (port_ == 0) return fail(ErrorCode::kInvalidArgument, "the server was never started");
  return askServer(port_, word, timeout);
}

}  // namespace zks::testing
