#include "bench/bench_lag_daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include <httplib.h>

namespace zks::bench {

namespace {

std::string readWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// `a="x",b="y"` (no escapes in the daemon's label values that matter here,
// but \" and \\ are honoured).
std::map<std::string, std::string> parseLabels(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ')) ++i;
    const size_t eq = text.find('=', i);
    if (eq == std::string::npos || eq + 1 >= text.size() || text[eq + 1] != '"') break;
    std::string key = text.substr(i, eq - i), value;
    for (i = eq + 2; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;
      value.push_back(text[i]);
    }
    ++i;
    out[key] = value;
  }
  return out;
}

double parseNumber(const std::string& s) {
  if (s == "+Inf") return std::numeric_limits<double>::infinity();
  return std::strtod(s.c_str(), nullptr);
}

}  // namespace

int freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

HttpReply httpGet(int port, const std::string& path, std::chrono::milliseconds timeout) {
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

// ---- MetricsPage ----

MetricsPage MetricsPage::parse(const std::string& text) {
  MetricsPage page;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    const size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string::npos) continue;
    s.name = line.substr(0, name_end);
    size_t value_at = name_end;
    if (line[name_end] == '{') {
      const size_t close = line.rfind('}');
      if (close == std::string::npos) continue;
      s.labels = parseLabels(line.substr(name_end + 1, close - name_end - 1));
      value_at = close + 1;
    }
    std::istringstream value_in(line.substr(value_at));
    std::string v;
    value_in >> v;
    s.value = parseNumber(v);
    page.samples_.push_back(std::move(s));
  }
  return page;
}

std::optional<double> MetricsPage::value(const std::string& name, const std::string& label,
                                         const std::string& label_value) const {
  std::optional<double> sum;
  for (const auto& s : samples_) {
    if (s.name != name) continue;
    if (!label.empty()) {
      auto it = s.labels.find(label);
      if (it == s.labels.end() || it->second != label_value) continue;
    }
    sum = sum.value_or(0) + s.value;
  }
  return sum;
}

std::vector<std::pair<double, double>> MetricsPage::buckets(const std::string& name) const {
  std::vector<std::pair<double, double>> out;
  for (const auto& s : samples_) {
    if (s.name != name + "_bucket") continue;
    auto it = s.labels.find("le");
    if (it != s.labels.end()) out.emplace_back(parseNumber(it->second), s.value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<double> histogramQuantile(const std::vector<std::pair<double, double>>& before,
                                        const std::vector<std::pair<double, double>>& after, double q) {
  if (after.empty()) return std::nullopt;
  std::vector<double> delta(after.size());
  for (size_t i = 0; i < after.size(); ++i) delta[i] = after[i].second - (i < before.size() ? before[i].second : 0);
  const double total = delta.back();
  if (total <= 0) return std::nullopt;
  const double rank = q * total;
  for (size_t i = 0; i < delta.size(); ++i) {
    if (delta[i] < rank) continue;
    const double upper = after[i].first;
    if (std::isinf(upper)) return i > 0 ? after[i - 1].first : 0.0;
    const double lower = i > 0 ? after[i - 1].first : 0.0;
    const double below = i > 0 ? delta[i - 1] : 0.0;
    const double in_bucket = delta[i] - below;
    return in_bucket > 0 ? lower + (upper - lower) * (rank - below) / in_bucket : upper;
  }
  return after.back().first;
}

// ---- /proc ----

ProcSample procSample(pid_t pid) {
  ProcSample out;
  const std::string stat = readWhole("/proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) may hold spaces; fields count from after ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string w; in >> w;) f.push_back(w);
  // f[0] is field 3 (state): utime is field 14, stime 15, num_threads 20.
  if (f.size() < 18) return out;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  out.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
  out.threads = std::stoi(f[17]);
  std::istringstream status(readWhole("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) out.rss_kb = std::atol(line.c_str() + 6);
    if (line.starts_with("VmHWM:")) out.hwm_kb = std::atol(line.c_str() + 6);
  }
  out.ok = true;
  return out;
}

MachineCpu machineCpu() {
  std::istringstream in(readWhole("/proc/stat"));
  std::string cpu;
  in >> cpu;
  MachineCpu out;
  // user nice system idle iowait irq softirq steal
  double v[8] = {};
  for (double& x : v) in >> x;
  for (double x : v) out.total += x;
  out.busy = out.total - v[3] - v[4];
  return out;
}

pid_t findProcess(const std::string& needle) {
  DIR* dir = opendir("/proc");
  if (!dir) return -1;
  pid_t found = -1;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string cmd = readWhole(std::string("/proc/") + e->d_name + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(needle) != std::string::npos) {
      found = std::atoi(e->d_name);
      break;
    }
  }
  closedir(dir);
  return found;
}

// ---- DaemonChild ----

DaemonChild::DaemonChild(std::string binary, std::string config_file, std::string log_file, int http_port)
    : binary_(std::move(binary)), config_file_(std::move(config_file)), log_file_(std::move(log_file)),
      http_port_(http_port) {}

DaemonChild::~DaemonChild() {
  if (pid_ > 0) stop(std::chrono::seconds(5));
}

bool DaemonChild::start() {
  if (running()) return false;
  // Built before fork(): the bench has client threads, so the child may only
  // make async-signal-safe calls.
  std::vector<std::string> args{binary_, "run", "-c", config_file_};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  return true;
}

bool DaemonChild::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int DaemonChild::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return 0;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  for (;;) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

bool DaemonChild::waitReady(std::chrono::steady_clock::time_point deadline) {
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return false;
    // /readyz also answers 200 for a follower, and a daemon that has joined
    // the election but not yet won it reports itself a follower. Leader
    // first, then ready: a leader is ready only once its first full
    // reconcile is done.
    auto m = metrics();
    if (m && m->value("zkstandby_leader").value_or(0) >= 1 &&
        httpGet(http_port_, "/readyz", std::chrono::milliseconds(1000)).status == 200) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::optional<MetricsPage> DaemonChild::metrics() const {
  auto r = httpGet(http_port_, "/metrics");
  if (r.status != 200) return std::nullopt;
  return MetricsPage::parse(r.body);
}

std::string DaemonChild::logTail(size_t bytes) const {
  const std::string text = readWhole(log_file_);
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

size_t DaemonChild::logSize() const {
  std::error_code ec;
  const auto size = std::filesystem::file_size(log_file_, ec);
  return ec ? 0 : static_cast<size_t>(size);
}

std::string DaemonChild::logSince(size_t offset) const {
  const std::string text = readWhole(log_file_);
  return offset < text.size() ? text.substr(offset) : "";
}

}  // namespace zks::bench
