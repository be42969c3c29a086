#include "bench/bench_floor.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "zk/multi_batcher.h"

namespace zks::bench {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string join(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

// One scan's state. Completions arrive on the client's dispatcher thread;
// the mutex only matters for the first pump from the caller's thread, and
// requests are issued outside it so a client that completes a request on the
// issuing thread could not deadlock us.
class Scanner {
 public:
  Scanner(zk::Client& client, const ScanOptions& options) : client_(client), options_(options) {}

  Result<TreeScan> run(const std::string& root) {
    const auto start = Clock::now();
    {
      std::lock_guard lock(mu_);
      to_get_.push_back(root);
    }
    pump();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return outstanding_ == 0 && (error_ || (to_get_.empty() && to_list_.empty())); });
    scan_.seconds = secondsSince(start);
    if (error_) return std::unexpected(*error_);
    return std::move(scan_);
  }

 private:
  enum class Kind { kGet, kList, kAcl };
  struct Work {
    Kind kind;
    std::string path;
  };

  void pump() {
    std::vector<Work> batch;
    {
      std::lock_guard lock(mu_);
      while (!error_ && outstanding_ < options_.window) {
        if (!to_list_.empty()) {
          batch.push_back({Kind::kList, std::move(to_list_.back())});
          to_list_.pop_back();
        } else if (!to_get_.empty()) {
          if (options_.read_acl) batch.push_back({Kind::kAcl, to_get_.back()});
          batch.push_back({Kind::kGet, std::move(to_get_.back())});
          to_get_.pop_back();
        } else {
          break;
        }
        outstanding_ += batch.back().kind == Kind::kGet && options_.read_acl ? 2 : 1;
      }
      scan_.requests += batch.size();
    }
    for (auto& w : batch) issue(std::move(w));
  }

  void issue(Work w) {
    switch (w.kind) {
      case Kind::kGet:
        client_.get(w.path, false, [this, path = w.path](zk::GetResult r) { onGet(path, std::move(r)); });
        return;
      case Kind::kList:
        client_.getChildren(w.path, false, [this, path = w.path](zk::ChildrenResult r) { onList(path, std::move(r)); });
        return;
      case Kind::kAcl:
        client_.getAcl(w.path, [this, path = w.path](zk::AclResult r) { onAnswer(r.code, path); });
        return;
    }
  }

  void onGet(const std::string& path, zk::GetResult r) {
    {
      std::lock_guard lock(mu_);
      if (r.code == zk::Code::kOk) {
        if (r.stat.num_children > 0) to_list_.push_back(path);
        scan_.payload_bytes += r.data.size();
        scan_.nodes.push_back({path, options_.keep_data ? std::move(r.data) : std::string(), r.stat});
      } else if (r.code != zk::Code::kNoNode) {
        fail(r.code, path);
      }
    }
    done();
  }

  void onList(const std::string& path, zk::ChildrenResult r) {
    {
      std::lock_guard lock(mu_);
      if (r.code == zk::Code::kOk) {
        for (const auto& name : r.children) to_get_.push_back(join(path, name));
      } else if (r.code != zk::Code::kNoNode) {
        fail(r.code, path);
      }
    }
    done();
  }

  void onAnswer(zk::Code code, const std::string& path) {
    {
      std::lock_guard lock(mu_);
      if (code != zk::Code::kOk && code != zk::Code::kNoNode) fail(code, path);
    }
    done();
  }

  void fail(zk::Code code, const std::string& path) {
    if (!error_) error_ = Error{ErrorCode::kZooKeeper, "scan failed: " + std::string(zk::codeName(code)), path};
  }

  // One answer is in: refill the window, and wake the caller at the end.
  void done() {
    {
      std::lock_guard lock(mu_);
      --outstanding_;
    }
    pump();
    std::lock_guard lock(mu_);
    if (outstanding_ == 0) cv_.notify_all();
  }

  zk::Client& client_;
  const ScanOptions& options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> to_get_;   // stacks: depth first keeps the frontier small
  std::vector<std::string> to_list_;
  size_t outstanding_ = 0;
  std::optional<Error> error_;
  TreeScan scan_;
};

}  // namespace

double processCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

Result<TreeScan> scanTree(zk::Client& client, const std::string& root, const ScanOptions& options) {
  const double cpu = processCpuSeconds();
  Scanner scanner(client, options);
  auto scan = scanner.run(root);
  if (scan) scan->cpu_seconds = processCpuSeconds() - cpu;
  return scan;
}

void sortByPath(std::vector<ScannedNode>& nodes) {
  std::sort(nodes.begin(), nodes.end(), [](const ScannedNode& a, const ScannedNode& b) { return a.path < b.path; });
}

Result<TreeWrite> writeNodes(zk::Client& client, const std::vector<ScannedNode>& nodes, const WriteOptions& options) {
  const double cpu = processCpuSeconds();
  TreeWrite result;
  std::mutex mu;
  std::condition_variable cv;
  size_t in_flight = 0;
  std::optional<Error> error;
  const auto start = Clock::now();
  auto send = [&](std::vector<zk::Op> batch) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_flight < options.in_flight; });
    ++in_flight;
    ++result.requests;
    lock.unlock();
    std::string first = zk::opPath(batch.front());
    client.multi(std::move(batch), [&, first = std::move(first)](zk::MultiResult r) {
      std::lock_guard guard(mu);
      --in_flight;
      if (r.code != zk::Code::kOk && !error) {
        error = Error{ErrorCode::kZooKeeper, "multi create failed: " + std::string(zk::codeName(r.code)), first};
      }
      cv.notify_all();
    });
  };
  zk::MultiBatcher batcher({}, options.max_request_bytes, options.max_ops);
  for (const auto& node : nodes) {
    for (auto& b : batcher.add(zk::CreateOp{.path = node.path, .data = node.data})) send(std::move(b));
    std::lock_guard lock(mu);
    if (error) break;
  }
  if (auto last = batcher.flush(); !last.empty()) send(std::move(last));
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });
  if (error) return std::unexpected(*error);
  result.seconds = secondsSince(start);
  result.cpu_seconds = processCpuSeconds() - cpu;
  return result;
}

}  // namespace zks::bench
