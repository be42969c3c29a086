#include "bench/bench_reads.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

namespace zks::bench {

namespace {

using Clock = std::chrono::steady_clock;

std::string join(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

// Wall time, our CPU and the server's CPU across one run.
class Meter {
 public:
  explicit Meter(pid_t server) : server_(server) {
    cpu_ = processCpuSeconds();
    server_cpu_ = server_ > 0 ? processCpuSecondsOf(server_) : 0;
    start_ = Clock::now();
  }
  void stop(ReadRun& run) const {
    run.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    run.client_cpu_s = processCpuSeconds() - cpu_;
    run.server_cpu_s = server_ > 0 ? processCpuSecondsOf(server_) - server_cpu_ : 0;
  }

 private:
  pid_t server_;
  double cpu_ = 0, server_cpu_ = 0;
  Clock::time_point start_;
};

// A bounded number of requests in flight, from the calling thread, with the
// first error kept. Completions arrive on the client's thread.
class Window {
 public:
  explicit Window(size_t limit) : limit_(limit) {}
  void acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ < limit_; });
    ++in_flight_;
  }
  void release(std::optional<Error> error = std::nullopt) {
    std::lock_guard lock(mu_);
    --in_flight_;
    if (error && !error_) error_ = std::move(error);
    cv_.notify_all();
  }
  void drain() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }
  bool failed() {
    std::lock_guard lock(mu_);
    return error_.has_value();
  }
  std::optional<Error> error() {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  size_t limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;
  std::optional<Error> error_;
};

Error readError(zk::Code code, const std::string& path) {
  return Error{ErrorCode::kZooKeeper, "read failed: " + std::string(zk::codeName(code)), path};
}

}  // namespace

double processCpuSecondsOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces: count fields after its ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

Result<ReadRun> readPathsPipelined(zk::Client& client, const std::vector<std::string>& paths, size_t window,
                                   pid_t server_pid) {
  ReadRun run;
  std::atomic<size_t> bytes{0};
  Window w(window);
  Meter meter(server_pid);
  for (size_t i = 0; i < paths.size(); ++i) {
    w.acquire();
    if (w.failed()) {
      w.release();
      break;
    }
    client.get(paths[i], false, [&w, &bytes, &paths, i](zk::GetResult r) {
      bytes += r.data.size();
      w.release(r.code == zk::Code::kOk ? std::nullopt : std::optional<Error>(readError(r.code, paths[i])));
    });
  }
  w.drain();
  meter.stop(run);
  if (auto e = w.error()) return std::unexpected(*e);
  run.nodes = run.requests = paths.size();
  run.payload_bytes = bytes;
  return run;
}

Result<ReadRun> readAclsPipelined(zk::Client& client, const std::vector<std::string>& paths, size_t window,
                                  pid_t server_pid) {
  ReadRun run;
  Window w(window);
  Meter meter(server_pid);
  for (size_t i = 0; i < paths.size(); ++i) {
    w.acquire();
    if (w.failed()) {
      w.release();
      break;
    }
    client.getAcl(paths[i], [&w, &paths, i](zk::AclResult r) {
      w.release(r.code == zk::Code::kOk ? std::nullopt : std::optional<Error>(readError(r.code, paths[i])));
    });
  }
  w.drain();
  meter.stop(run);
  if (auto e = w.error()) return std::unexpected(*e);
  run.nodes = run.requests = paths.size();
  return run;
}

Result<ReadRun> readPathsMulti(zk::Client& client, const std::vector<std::string>& paths, MultiReadShape shape,
                               pid_t server_pid) {
  ReadRun run;
  std::atomic<size_t> bytes{0};
  Window w(shape.in_flight);
  Meter meter(server_pid);
  for (size_t at = 0; at < paths.size(); at += shape.batch) {
    std::vector<zk::ReadOp> ops;
    for (size_t i = at; i < std::min(paths.size(), at + shape.batch); ++i) ops.push_back({zk::ReadKind::kGetData, paths[i]});
    w.acquire();
    if (w.failed()) {
      w.release();
      break;
    }
    ++run.requests;
    const std::string first = paths[at];
    client.multiRead(std::move(ops), [&w, &bytes, first](zk::MultiReadResult r) {
      std::optional<Error> error;
      if (r.code != zk::Code::kOk) error = readError(r.code, first);
      size_t b = 0;
      for (const auto& op : r.results) {
        b += op.data.size();
        if (op.code != zk::Code::kOk && !error) error = readError(op.code, first);
      }
      bytes += b;
      w.release(std::move(error));
    });
  }
  w.drain();
  meter.stop(run);
  if (auto e = w.error()) return std::unexpected(*e);
  run.nodes = paths.size();
  run.payload_bytes = bytes;
  return run;
}

namespace {

// The multiRead scan's state: stacks of paths to read and directories to
// list (depth first keeps them small), at most shape.in_flight requests out.
class MultiScanner {
 public:
  MultiScanner(zk::Client& client, bool keep_data, MultiReadShape shape)
      : client_(client), keep_data_(keep_data), shape_(shape) {}

  Result<MultiScan> run(const std::string& root, pid_t server_pid) {
    Meter meter(server_pid);
    {
      std::lock_guard lock(mu_);
      to_get_.push_back(root);
    }
    pump();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return in_flight_ == 0 && (error_ || (to_get_.empty() && to_list_.empty())); });
    }
    meter.stop(scan_.run);
    if (error_) return std::unexpected(*error_);
    scan_.run.nodes = scan_.nodes.size();
    return std::move(scan_);
  }

 private:
  struct Request {
    std::vector<zk::ReadOp> ops;
  };

  void pump() {
    std::vector<Request> out;
    {
      std::lock_guard lock(mu_);
      while (!error_ && in_flight_ < shape_.in_flight && (!to_list_.empty() || !to_get_.empty())) {
        Request r;
        if (!to_list_.empty()) {
          // Listings are batched by the names they are expected to bring.
          size_t names = 0;
          while (!to_list_.empty() && r.ops.size() < shape_.batch && (r.ops.empty() || names < 50000)) {
            names += static_cast<size_t>(to_list_.back().second);
            r.ops.push_back({zk::ReadKind::kGetChildren, std::move(to_list_.back().first)});
            to_list_.pop_back();
          }
        } else {
          while (!to_get_.empty() && r.ops.size() < shape_.batch) {
            r.ops.push_back({zk::ReadKind::kGetData, std::move(to_get_.back())});
            to_get_.pop_back();
          }
        }
        ++in_flight_;
        ++scan_.run.requests;
        out.push_back(std::move(r));
      }
    }
    for (auto& r : out) issue(std::move(r));
  }

  void issue(Request r) {
    auto paths = std::make_shared<std::vector<std::string>>();
    for (const auto& op : r.ops) paths->push_back(op.path);
    const bool list = r.ops.front().kind == zk::ReadKind::kGetChildren;
    client_.multiRead(std::move(r.ops), [this, paths, list](zk::MultiReadResult result) {
      {
        std::lock_guard lock(mu_);
        if (result.code != zk::Code::kOk) {
          fail(result.code, paths->front());
        } else {
          for (size_t i = 0; i < result.results.size(); ++i) onOne(list, (*paths)[i], result.results[i]);
        }
        --in_flight_;
      }
      pump();
      std::lock_guard lock(mu_);
      if (in_flight_ == 0) cv_.notify_all();
    });
  }

  void onOne(bool list, const std::string& path, zk::ReadResult& r) {
    if (r.code == zk::Code::kNoNode) return;
    if (r.code != zk::Code::kOk) {
      fail(r.code, path);
      return;
    }
    if (list) {
      for (const auto& name : r.children) to_get_.push_back(join(path, name));
      return;
    }
    if (r.stat.num_children > 0) to_list_.emplace_back(path, r.stat.num_children);
    scan_.run.payload_bytes += r.data.size();
    scan_.nodes.push_back({path, keep_data_ ? std::move(r.data) : std::string(), r.stat});
  }

  void fail(zk::Code code, const std::string& path) {
    if (!error_) error_ = readError(code, path);
  }

  zk::Client& client_;
  const bool keep_data_;
  const MultiReadShape shape_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> to_get_;
  std::vector<std::pair<std::string, int32_t>> to_list_;
  size_t in_flight_ = 0;
  std::optional<Error> error_;
  MultiScan scan_;
};

}  // namespace

Result<MultiScan> scanTreeMulti(zk::Client& client, const std::string& root, bool keep_data, MultiReadShape shape,
                                pid_t server_pid) {
  MultiScanner scanner(client, keep_data, shape);
  return scanner.run(root, server_pid);
}

}  // namespace zks::bench
