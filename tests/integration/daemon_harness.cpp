#include "daemon_harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include <httplib.h>

#include "support/wait.h"
#include "support/zk_session.h"
#include "zk/blocking.h"

namespace zks::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int freeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

HttpAnswer httpGet(int port, const std::string& path, std::chrono::milliseconds timeout) {
  httplib::Client client("127.0.0.1", port);
  const auto sec = static_cast<time_t>(timeout.count() / 1000);
  const auto usec = static_cast<time_t>((timeout.count() % 1000) * 1000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  auto res = client.Get(path);
  if (!res) return {};
  return {res->status, res->body};
}

namespace {

// Parses `k="v",k2="v2"` (Prometheus label syntax, with \" \\ \n escapes).
std::map<std::string, std::string> parseLabels(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ')) ++i;
    const size_t eq = text.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = text.substr(i, eq - i);
    i = eq + 1;
    if (i >= text.size() || text[i] != '"') break;
    ++i;
    std::string value;
    while (i < text.size() && text[i] != '"') {
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
        value.push_back(text[i] == 'n' ? '\n' : text[i]);
      } else {
        value.push_back(text[i]);
      }
      ++i;
    }
    ++i;  // closing quote
    out[key] = value;
  }
  return out;
}

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::optional<double> metricValue(const std::string& text, const std::string& name,
                                  const std::map<std::string, std::string>& labels) {
  std::optional<double> sum;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string::npos || line.compare(0, name_end, name) != 0 || name_end != name.size()) continue;
    std::map<std::string, std::string> have;
    size_t value_at = name_end;
    if (line[name_end] == '{') {
      const size_t close = line.rfind('}');
      if (close == std::string::npos) continue;
      have = parseLabels(line.substr(name_end + 1, close - name_end - 1));
      value_at = close + 1;
    }
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = have.find(k);
      if (it == have.end() || it->second != v) match = false;
    }
    if (!match) continue;
    std::istringstream value_in(line.substr(value_at));
    std::string value_text;
    value_in >> value_text;
    sum = sum.value_or(0) + std::strtod(value_text.c_str(), nullptr);
  }
  return sum;
}

std::string daemonModeName(DaemonMode mode) {
  switch (mode) {
    case DaemonMode::kRecursive: return "recursive";
    case DaemonMode::kPerNode: return "per_node";
    case DaemonMode::kLibzookeeper: return "libzookeeper";
  }
  return "?";
}

std::string daemonModeParamName(const ::testing::TestParamInfo<DaemonMode>& info) {
  return daemonModeName(info.param);
}

bool allModesRequested() {
  const char* v = std::getenv("ZKS_TEST_ALL_MODES");
  return v && std::string(v) == "1";
}

std::string daemonConfigYaml(const DaemonConfig& c) {
  auto auth = [](const std::string& file) {
    return file.empty() ? std::string() : "  auth:\n    - scheme: digest\n      credentials_file: " + file + "\n";
  };
  const std::string client = c.mode == DaemonMode::kLibzookeeper ? "  client: libzookeeper\n" : "";
  const std::string watches = c.mode == DaemonMode::kPerNode ? "  persistent_watches: false\n" : "";
  std::ostringstream y;
  y << "primary:\n  connect: \"" << c.primary_connect << "\"\n  session_timeout_ms: " << c.session_timeout_ms
    << "\n  connect_timeout_ms: " << c.connect_timeout_ms << "\n" << auth(c.primary_auth_file) << client << watches
    << "backup:\n  connect: \"" << c.backup_connect << "\"\n  session_timeout_ms: " << c.session_timeout_ms
    << "\n  connect_timeout_ms: " << c.connect_timeout_ms << "\n" << auth(c.backup_auth_file) << client
    << "sync:\n  roots:\n    - source: /zms\n  exclude:\n    - /zms/topic/*/*\n    - /zms/consumergroup/*/*\n"
    << "  max_delete_fraction: " << c.max_delete_fraction << "\n  audit_interval_s: " << c.audit_interval_s << "\n"
    << (c.acls.empty() ? "" : "  acls: " + c.acls + "\n")
    << (c.max_write_ops_per_s > 0 ? "  max_write_ops_per_s: " + std::to_string(c.max_write_ops_per_s) + "\n" : "")
    << "mapping:\n  files: [ mapping.yaml ]\n"
    << "state_path: " << c.state_path << "\n"
    << "http:\n  listen: \"127.0.0.1:" << c.http_port << "\"\n"
    << "log:\n  level: " << c.log_level << "\n";
  return y.str();
}

// ---- DaemonProcess ----

DaemonProcess::DaemonProcess(std::string name, std::filesystem::path config_file, int http_port,
                             std::filesystem::path log_file)
    : name_(std::move(name)), config_file_(std::move(config_file)), http_port_(http_port), log_file_(std::move(log_file)) {}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) kill9();
}

bool DaemonProcess::start() {
  if (running()) return false;
  // Everything the child needs is built before fork(): after it, only
  // async-signal-safe calls (the test process has client threads).
  const char* other = std::getenv("ZKS_TEST_ZKSTANDBY_BIN");
  const std::string bin = other && *other ? other : ZKSTANDBY_BIN;
  std::vector<std::string> args{bin, "run", "-c", config_file_.string()};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = log_file_.string();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  last_exit_.reset();
  return true;
}

void DaemonProcess::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

void DaemonProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  last_exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  pid_ = -1;
}

std::optional<int> DaemonProcess::waitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return last_exit_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      last_exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      pid_ = -1;
      return last_exit_;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

bool DaemonProcess::running() {
  if (pid_ <= 0) return false;
  return !waitExit(0ms).has_value();
}

bool DaemonProcess::waitReady(std::chrono::milliseconds timeout) {
  return waitFor([&] { return running() && get("/readyz").status == 200; }, timeout, 100ms);
}

std::optional<double> DaemonProcess::metric(const std::string& name,
                                            const std::map<std::string, std::string>& labels) const {
  auto answer = get("/metrics");
  if (answer.status != 200) return std::nullopt;
  return metricValue(answer.body, name, labels);
}

std::optional<bool> DaemonProcess::isLeader() const {
  auto v = metric("zkstandby_leader");
  if (!v) return std::nullopt;
  return *v >= 1;
}

std::string DaemonProcess::logTail(size_t lines) const {
  const std::string text = readFile(log_file_);
  size_t at = text.size();
  for (size_t n = 0; n <= lines && at > 0; ++n) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) {
      at = 0;
      break;
    }
  }
  return text.substr(at);
}

// ---- the oracle ----

std::string expectedPath(std::string path) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"kafka_bj_", "kafka_sh_"}, {"rmq_bj_", "rmq_sh_"}}) {
    for (auto at = path.find(from); at != std::string::npos; at = path.find(from)) path.replace(at, from.size(), to);
  }
  return path;
}

std::string expectedData(const std::string& path, std::string data) {
  const bool mapped = path.starts_with("/zms/cluster/") || path.starts_with("/zms/topic/") ||
                      path.starts_with("/zms/consumergroup/");
  if (!mapped) return data;
  data = expectedPath(std::move(data));
  for (auto at = data.find("10.10."); at != std::string::npos; at = data.find("10.10.", at)) data.replace(at, 6, "10.50.");
  return data;
}

bool excludedPath(const std::string& path) {
  for (const std::string prefix : {"/zms/topic/", "/zms/consumergroup/"}) {
    if (!path.starts_with(prefix)) continue;
    // Excluded from the second segment below the prefix on: /zms/topic/*/*.
    if (path.find('/', prefix.size()) != std::string::npos) return true;
  }
  return false;
}

Tree expectedBackup(const Tree& primary) {
  Tree out;
  for (const auto& [path, node] : primary) {
    if (node.ephemeral_owner != 0 || excludedPath(path)) continue;
    DumpedNode want = node;
    want.path = expectedPath(path);
    want.data = expectedData(path, node.data);
    out[want.path] = want;
  }
  return out;
}

namespace {
std::string preview(const std::string& data) {
  std::string out;
  for (char c : data.substr(0, 60)) out.push_back(c >= 32 && c < 127 ? c : '.');
  return "\"" + out + (data.size() > 60 ? "...\"" : "\"") + " (" + std::to_string(data.size()) + " bytes)";
}
}  // namespace

std::vector<std::string> treeDifferences(const Tree& want, const Tree& have, const std::set<std::string>& allowed_extra) {
  std::vector<std::string> out;
  for (const auto& [path, node] : want) {
    auto it = have.find(path);
    if (it == have.end()) {
      out.push_back("missing on the backup: " + path);
      continue;
    }
    if (it->second.data != node.data) {
      out.push_back("data differs: " + path + ": backup " + preview(it->second.data) + ", want " + preview(node.data));
    }
    if (it->second.acl != node.acl) out.push_back("acl differs: " + path);
  }
  for (const auto& [path, node] : have) {
    if (node.ephemeral_owner != 0 || excludedPath(path) || allowed_extra.count(path) || want.count(path)) continue;
    out.push_back("extra on the backup: " + path);
  }
  return out;
}

std::string describe(const std::vector<std::string>& differences, size_t max) {
  std::string out = std::to_string(differences.size()) + " difference(s)";
  for (size_t i = 0; i < differences.size() && i < max; ++i) out += "\n  " + differences[i];
  if (differences.size() > max) out += "\n  ...";
  return out;
}

std::set<int64_t> serverSessions(const ZkServer& server) {
  std::set<int64_t> out;
  auto cons = server.fourLetterWord("cons");
  if (!cons) return out;
  static const std::regex sid(R"(sid=0x([0-9a-fA-F]+))");
  for (auto it = std::sregex_iterator(cons->begin(), cons->end(), sid); it != std::sregex_iterator(); ++it) {
    out.insert(static_cast<int64_t>(std::stoull((*it)[1].str(), nullptr, 16)));
  }
  return out;
}

std::optional<long long> watchedPaths(const ZkServer& server) {
  auto wchs = server.fourLetterWord("wchs");
  if (!wchs) return std::nullopt;
  static const std::regex paths(R"(watching (\d+) paths)");
  std::smatch m;
  if (!std::regex_search(*wchs, m, paths)) return std::nullopt;
  return std::stoll(m[1].str());
}

// ---- Storm ----

Storm::Storm(zk::Client& client, uint64_t seed, std::string base, const bench::ZmsShape& shape, size_t max_nodes)
    : client_(client),
      rng_(seed),
      base_(std::move(base)),
      clusters_(bench::zmsClusterNames(shape)),
      hosts_(bench::zmsHosts(shape)),
      max_nodes_(max_nodes) {
  topics_ = shape.topics;
  groups_ = shape.groups;
}

void Storm::prepare() {
  zk::createRecursiveSync(client_, base_);
  nodes_.insert(base_);
}

std::string Storm::pick() {
  auto it = nodes_.begin();
  std::advance(it, static_cast<long>(rng_() % nodes_.size()));
  return *it;
}

bool Storm::isLeaf(const std::string& path) const {
  auto it = nodes_.lower_bound(path + "/");
  return it == nodes_.end() || !it->starts_with(path + "/");
}

std::string Storm::pickLeaf() {
  std::string p = pick();
  // Walk down to a leaf: the first descendant in order, until none.
  while (!isLeaf(p)) p = *nodes_.lower_bound(p + "/");
  return p;
}

void Storm::forget(const std::string& path) {
  nodes_.erase(path);
  auto it = nodes_.lower_bound(path + "/");
  while (it != nodes_.end() && it->starts_with(path + "/")) it = nodes_.erase(it);
}

bool Storm::create(const std::string& path, zk::CreateMode mode, std::string* created) {
  auto r = zk::createSync(client_, {.path = path, .data = randomData(), .mode = mode});
  if (r.code != zk::Code::kOk) return false;
  nodes_.insert(r.path);
  if (created) *created = r.path;
  return true;
}

bool Storm::removeSubtree(const std::string& path) {
  auto children = zk::getChildrenSync(client_, path);
  for (const auto& child : children.children) removeSubtree(path + "/" + child);
  const bool ok = zk::removeSync(client_, {.path = path}).code == zk::Code::kOk;
  if (ok) forget(path);
  return ok;
}

std::string Storm::randomData() {
  const int kind = static_cast<int>(rng_() % 10);
  if (kind == 0) return {};
  if (kind <= 2) {  // binary
    std::string b(1 + rng_() % 100, '\0');
    for (auto& c : b) c = static_cast<char>(rng_() & 0xFF);
    return b;
  }
  if (kind == 3) return std::string(2000 + rng_() % 6000, static_cast<char>('a' + rng_() % 26));
  return "v" + std::to_string(counter_++) + std::string(rng_() % 120, 'x');
}

std::string Storm::mappedPayload(bool group) {
  auto cluster = [&] { return clusters_[rng_() % clusters_.size()]; };
  const bool gated = rng_() % 3 == 0;
  const std::string gated_ips = gated ? hosts_[rng_() % hosts_.size()] + "," + hosts_[rng_() % hosts_.size()] : "";
  const std::string gated_cluster = gated ? cluster() : "";
  if (group) {
    return "clusterName=" + cluster() + "\ntype=consumergroup\nbindingTopic=topic_0000001\nbroadcast=false\n" +
           "consumeFrom=latest\nsuspend=false\ngatedIps=" + gated_ips + "\ngatedCluster=" + gated_cluster +
           "\nnote=s" + std::to_string(counter_++) + "\n";
  }
  return "#storm\nclusterName=" + cluster() + "\ntype=topic\ngatedIps=" + gated_ips + "\ngatedCluster=" +
         gated_cluster + "\nnote=s" + std::to_string(counter_++) + "\n";
}

void Storm::step() {
  ++ops_;
  if (nodes_.empty()) prepare();
  const bool full = nodes_.size() >= max_nodes_;
  const int r = static_cast<int>(rng_() % 100);
  if (r < 26) {  // a new child anywhere in the storm's subtree
    if (full) {
      std::string leaf = pickLeaf();
      if (leaf != base_ && zk::removeSync(client_, {.path = leaf}).code == zk::Code::kOk) forget(leaf);
      return;
    }
    create(pick() + "/n" + std::to_string(counter_++));
  } else if (r < 48) {  // new data
    const std::string p = pick();
    zk::setSync(client_, {.path = p, .data = randomData()});
  } else if (r < 58) {  // a leaf goes
    const std::string leaf = pickLeaf();
    if (leaf != base_ && zk::removeSync(client_, {.path = leaf}).code == zk::Code::kOk) forget(leaf);
  } else if (r < 61) {  // a whole subtree goes
    const std::string p = pick();
    if (p != base_) removeSubtree(p);
  } else if (r < 69) {  // delete and re-create one path back to back: a new czxid
    const std::string leaf = pickLeaf();
    if (leaf == base_ || leaf.find("/item-") != std::string::npos) return;
    if (zk::removeSync(client_, {.path = leaf}).code == zk::Code::kOk) {
      forget(leaf);
      create(leaf);
    }
  } else if (r < 72) {  // a deep chain
    if (full) return;
    std::string p = pick();
    const int depth = 6 + static_cast<int>(rng_() % 7);
    for (int i = 0; i < depth; ++i) {
      p += "/d" + std::to_string(counter_++);
      if (!create(p)) break;
    }
  } else if (r < 82) {  // sequential children, some of them consumed
    const std::string queue = base_ + "/queue";
    if (!nodes_.count(queue) && !create(queue)) return;
    if (rng_() % 4 == 0) {
      auto it = nodes_.lower_bound(queue + "/");
      if (it != nodes_.end() && it->starts_with(queue + "/")) {
        const std::string item = *it;
        if (zk::removeSync(client_, {.path = item}).code == zk::Code::kOk) forget(item);
      }
      return;
    }
    if (!full) create(queue + "/item-", zk::CreateMode::kPersistentSequential);
  } else if (r < 92) {  // a generated topic or group gets a new payload the mapping translates
    const bool group = rng_() % 2 == 0;
    char name[64];
    std::snprintf(name, sizeof name, group ? "/zms/consumergroup/group_%07d" : "/zms/topic/topic_%07d",
                  static_cast<int>(rng_() % static_cast<uint64_t>(std::max(1, group ? groups_ : topics_))));
    zk::setSync(client_, {.path = name, .data = mappedPayload(group)});
  } else {  // the storm's own topics and groups come and go
    if (!own_topics_.empty() && rng_() % 3 == 0) {
      const size_t i = rng_() % own_topics_.size();
      zk::removeSync(client_, {.path = own_topics_[i]});
      own_topics_.erase(own_topics_.begin() + static_cast<long>(i));
      return;
    }
    const bool group = rng_() % 2 == 0;
    const std::string tag = base_.substr(base_.rfind('/') + 1);
    const std::string path = std::string(group ? "/zms/consumergroup/storm_" : "/zms/topic/storm_") + tag + "_" +
                             std::to_string(counter_++);
    if (zk::createSync(client_, {.path = path, .data = mappedPayload(group)}).code == zk::Code::kOk) {
      own_topics_.push_back(path);
    }
  }
}

// ---- BackgroundStorm ----

BackgroundStorm::BackgroundStorm(const std::string& primary_connect, uint64_t seed, std::string base,
                                 const bench::ZmsShape& shape, int ops_per_s)
    : ops_per_s_(ops_per_s) {
  auto c = connectClient(testClientOptions(primary_connect));
  if (!c) throw std::runtime_error("storm: " + c.error().describe());
  client_ = std::move(*c);
  storm_ = std::make_unique<Storm>(*client_, seed, std::move(base), shape);
  storm_->prepare();
  thread_ = std::thread([this] {
    const auto start = Clock::now();
    const auto per_op = std::chrono::nanoseconds(1'000'000'000LL / ops_per_s_);
    while (!stop_.load()) {
      storm_->step();
      const size_t done = ops_.fetch_add(1) + 1;
      // Pacing keeps the storm's size within what kazoo can dump in a test.
      std::this_thread::sleep_until(start + per_op * static_cast<long>(done));
    }
  });
}

BackgroundStorm::~BackgroundStorm() { stop(); }

void BackgroundStorm::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

bool BackgroundStorm::waitMoreOps(size_t n, std::chrono::milliseconds timeout) const {
  const size_t target = ops() + n;
  return waitFor([&] { return ops() >= target; }, timeout, 10ms);
}

// ---- DaemonTest ----

void DaemonTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (mode() == DaemonMode::kLibzookeeper && std::string(info->test_suite_name()).starts_with("Modes/") &&
      !allModesRequested()) {
    GTEST_SKIP() << "libzookeeper mode of the general suites: set ZKS_TEST_ALL_MODES=1 (ctest -L all-modes)";
  }
  primary_ = std::make_unique<ZkServer>();
  backup_ = std::make_unique<ZkServer>();
  ASSERT_TRUE(primary_->start()) << "primary ZooKeeper did not start";
  ASSERT_TRUE(backup_->start()) << "backup ZooKeeper did not start";
  tmp_ = std::make_unique<TempDir>();
  tmp_->write("mapping.yaml", bench::zmsMappingYaml(shape_));
  p_ = connect(primary_->connectString());
  ASSERT_TRUE(p_);
}

void DaemonTest::TearDown() {
  if (HasFailure()) {
    for (const auto& d : daemons_) {
      std::cerr << "---- daemon " << d->name() << " (pid " << d->pid() << ", last exit "
                << (d->lastExit() ? std::to_string(*d->lastExit()) : "-") << "): log tail ----\n"
                << d->logTail() << "\n---- end of " << d->name() << " ----\n";
    }
  }
  // ZKS_DAEMON_LOG_DIR=<dir> keeps every daemon's whole log (the temp dir goes).
  if (const char* keep = std::getenv("ZKS_DAEMON_LOG_DIR"); keep && *keep) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::error_code ec;
    std::filesystem::create_directories(keep, ec);
    for (const auto& d : daemons_) {
      std::string test = info->name();
      std::replace(test.begin(), test.end(), '/', '.');
      std::filesystem::copy_file(tmp_->path() / (d->name() + ".log"),
                                 std::filesystem::path(keep) / (test + "." + d->name() + ".log"),
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
  }
  daemons_.clear();
  if (!primary_) return;  // skipped
  p_.reset();
  primary_.reset();
  backup_.reset();
  tmp_.reset();
}

DaemonConfig DaemonTest::baseConfig() const {
  DaemonConfig c;
  c.mode = mode();
  c.primary_connect = primary_->connectString();
  c.backup_connect = backup_->connectString();
  return c;
}

DaemonProcess& DaemonTest::addDaemon(const std::string& name, DaemonConfig config) {
  if (config.http_port == 0) config.http_port = freeLoopbackPort();
  const auto file = tmp_->write(name + ".yaml", daemonConfigYaml(config));
  daemons_.push_back(std::make_unique<DaemonProcess>(name, file, config.http_port, tmp_->path() / (name + ".log")));
  return *daemons_.back();
}

DaemonProcess& DaemonTest::startReadyDaemon(const std::string& name, DaemonConfig config,
                                            std::chrono::milliseconds timeout) {
  auto& d = addDaemon(name, std::move(config));
  EXPECT_TRUE(d.start());
  EXPECT_TRUE(d.waitReady(timeout)) << "daemon " << name << " not ready within " << timeout.count()
                                    << " ms; /readyz: " << d.get("/readyz").body
                                    << (d.lastExit() ? " exited " + std::to_string(*d.lastExit()) : "");
  return d;
}

void DaemonTest::seedZms() { ASSERT_TRUE(bench::writeZmsTree(*p_, shape_)); }

Tree DaemonTest::dumpPrimary(const std::string& root) const { return dumpTree(primary_->connectString(), root); }
Tree DaemonTest::dumpBackup(const std::string& root) const { return dumpTree(backup_->connectString(), root); }

std::vector<std::string> DaemonTest::waitBackupMatches(const Tree& primary, std::chrono::milliseconds timeout,
                                                       const std::set<std::string>& allowed_extra) const {
  const auto want = expectedBackup(primary);
  const auto deadline = Clock::now() + timeout;
  std::vector<std::string> diffs;
  for (;;) {
    try {
      diffs = treeDifferences(want, dumpBackup(), allowed_extra);
    } catch (const std::exception& e) {
      diffs = {std::string("backup not readable: ") + e.what()};
    }
    if (diffs.empty() || Clock::now() >= deadline) return diffs;
    std::this_thread::sleep_for(200ms);
  }
}

void DaemonTest::expectConverges(std::chrono::milliseconds timeout, const std::set<std::string>& allowed_extra) {
  const auto primary = dumpPrimary();
  ASSERT_FALSE(primary.empty());
  const auto diffs = waitBackupMatches(primary, timeout, allowed_extra);
  EXPECT_TRUE(diffs.empty()) << "backup != map(primary) after " << timeout.count() << " ms: " << describe(diffs);
}

long long DaemonTest::fenceMzxid(const std::string& state_path) const {
  auto t = dumpBackup(state_path + "/fence");
  auto it = t.find(state_path + "/fence");
  return it == t.end() ? 0 : it->second.mzxid;
}

std::string DaemonTest::stateRecord(const std::string& state_path) const {
  auto t = dumpBackup(state_path + "/state");
  auto it = t.find(state_path + "/state");
  return it == t.end() ? std::string() : it->second.data;
}

std::unique_ptr<zk::Client> DaemonTest::connect(const std::string& connect_string) const {
  auto c = connectClient(testClientOptions(connect_string));
  if (!c) {
    ADD_FAILURE() << "connect " << connect_string << ": " << c.error().describe();
    return nullptr;
  }
  return std::move(*c);
}

}  // namespace zks::testing
