#include "bench/bench_lag_siblings.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "zk/blocking.h"
#include "zk/connect_options.h"

namespace zks::bench {

namespace {

using Clock = std::chrono::steady_clock;

std::string run(const std::string& command) {
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

// Waits for the next watch event of `type` on `path` seen by a listener.
class EventWaiter {
 public:
  void onEvent(const zk::WatchEvent& e) {
    std::lock_guard lock(mu_);
    events_.push_back({e.type, e.path, Clock::now()});
    cv_.notify_all();
  }
  std::optional<Clock::time_point> wait(zk::EventType type, const std::string& path, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    std::optional<Clock::time_point> at;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& e : events_) {
        if (e.type == type && e.path == path) at = e.at;
      }
      return at.has_value();
    });
    events_.clear();
    return at;
  }

 private:
  struct Seen {
    zk::EventType type;
    std::string path;
    Clock::time_point at;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Seen> events_;
};

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

SiblingLag measureSiblingLag(zk::Client& primary, const std::string& backup_connect, const std::string& dir,
                             size_t count, const std::string& payload) {
  SiblingLag out;
  auto observer = zk::makeClient({.connect = backup_connect, .name = "bench-siblings"});
  EventWaiter waiter;
  observer->setWatchListener([&](const zk::WatchEvent& e) { waiter.onEvent(e); });
  if (!observer->reopen(std::chrono::seconds(15))) return out;
  for (size_t i = 0; i < count; ++i) {
    const std::string path = dir + "/bench_sibling_" + std::to_string(i);
    // Created: an exists watch on the missing node.
    zk::existsSync(*observer, path, true);
    if (zk::createSync(primary, {.path = path, .data = payload}).code != zk::Code::kOk) continue;
    auto acked = Clock::now();
    if (auto seen = waiter.wait(zk::EventType::kCreated, path, std::chrono::seconds(10))) {
      out.create_ms.push_back(msBetween(acked, *seen));
    } else {
      ++out.lost;
    }
    // Deleted: a data watch on the node.
    zk::existsSync(*observer, path, true);
    if (zk::removeSync(primary, {.path = path}).code != zk::Code::kOk) continue;
    acked = Clock::now();
    if (auto seen = waiter.wait(zk::EventType::kDeleted, path, std::chrono::seconds(10))) {
      out.delete_ms.push_back(msBetween(acked, *seen));
    } else {
      ++out.lost;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  observer->close();
  return out;
}

std::optional<double> jvmLiveHeapMb(pid_t pid) {
  const std::string id = std::to_string(pid);
  run("jcmd " + id + " GC.run 2>&1");
  const std::string info = run("jcmd " + id + " GC.heap_info 2>&1");
  // One line per generation (serial, parallel) or one for the whole heap
  // (G1): "... total 174784K, used 5678K [...". Metaspace is not heap.
  static const std::regex used(R"(total \d+K, used (\d+)K)");
  std::istringstream in(info);
  double kb = 0;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.find("Metaspace") != std::string::npos || line.find("class space") != std::string::npos) continue;
    if (std::regex_search(line, m, used)) {
      kb += std::stod(m[1].str());
      found = true;
    }
  }
  if (!found) return std::nullopt;
  return kb / 1024.0;
}

WatchCount parseWchs(const std::string& wchs) {
  WatchCount c;
  static const std::regex paths(R"(watching (\d+) paths)"), total(R"(Total watches:(\d+))");
  std::smatch m;
  if (std::regex_search(wchs, m, paths)) c.paths = std::stoll(m[1].str());
  if (std::regex_search(wchs, m, total)) c.watches = std::stoll(m[1].str());
  return c;
}

}  // namespace zks::bench
