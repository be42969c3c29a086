#include "state/counters.h"

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "state/tree_walk.h"
#include "zk/blocking.h"

namespace zks::state {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kMaxRaiseRounds = 6;

// Bounds the requests a blocking function keeps in flight. acquire() runs on
// the calling thread, release() in completion callbacks; release notifies
// under the lock so the waiter cannot destroy the object between the two.
class Window {
 public:
  explicit Window(size_t max) : max_(std::max<size_t>(1, max)) {}
  void acquire() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return in_flight_ < max_; });
    ++in_flight_;
  }
  void release() {
    std::lock_guard lock(mutex_);
    --in_flight_;
    cv_.notify_all();
  }
  void drain() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }
  std::mutex& mutex() { return mutex_; }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  size_t max_;
  size_t in_flight_ = 0;
};

size_t failedOp(const zk::MultiResult& r) {
  for (size_t i = 0; i < r.results.size(); ++i) {
    if (r.results[i].code == r.code) return i;
  }
  return r.results.size();
}

enum class ParentStatus : uint8_t { kPending, kDone, kMissing, kFailed };

struct Parent {
  std::string path;
  int32_t desired = 0;
  bool saved = true;  // false: found by the scan, with no saved counter to compare suffixes with
  ParentStatus status = ParentStatus::kPending;
  bool raised = false;
  // From the latest read.
  zk::Code read_code = zk::Code::kOk;
  int32_t next = 0;
  int32_t target = 0;
  size_t ignored = 0;  // suffixes above the ceiling in the latest read
  std::string ignored_example;
  Error error;
};

// What one read tells about a parent: its counter and the target it must
// reach. A saved parent's suffixes count up to `saved_slack` above the
// larger of the saved and current counter; a parent only the scan found
// has nothing saved to compare with, so any suffix counts that the raise
// can reach (`scan_slack`: max_pairs_per_parent).
void evaluateRead(Parent& parent, const zk::Stat& stat, const std::vector<std::string>* children, int64_t saved_slack,
                  int64_t scan_slack) {
  parent.next = nextSequence(stat);
  parent.ignored = 0;
  int64_t target = parent.desired;
  if (children != nullptr) {
    const int64_t ceiling =
        static_cast<int64_t>(std::max(parent.desired, parent.next)) + (parent.saved ? saved_slack : scan_slack);
    for (const auto& name : *children) {
      const int64_t suffix = sequenceSuffix(name);
      if (suffix < 0) continue;
      if (suffix >= ceiling) {
        if (parent.ignored++ == 0) parent.ignored_example = childPath(parent.path, name);
        continue;
      }
      if (suffix >= target) target = suffix + 1;
    }
  }
  parent.target = static_cast<int32_t>(std::min<int64_t>(target, INT32_MAX));
}

struct Segment {
  size_t parent;
  int64_t pairs;
};
struct Batch {
  std::vector<zk::Op> ops;
  std::vector<Segment> segments;  // which parent's pairs, in op order
  zk::MultiResult result;
};

}  // namespace

int32_t nextSequence(const zk::Stat& stat) {
  const int64_t next = (static_cast<int64_t>(stat.cversion) + stat.num_children + 1) / 2;
  return static_cast<int32_t>(std::clamp<int64_t>(next, 0, INT32_MAX));
}

Status saveCounters(zk::Client& c, const std::string& state_path, const Counters& counters,
                    const std::optional<FenceToken>& fence, int64_t now_ms) {
  return CounterStore(c, state_path).save(counters, fence, now_ms);
}

Result<SavedCounters> loadCounters(zk::Client& c, const std::string& state_path) {
  return CounterStore(c, state_path).load();
}

CollectReport collectCounters(zk::Client& c, const std::vector<std::string>& roots,
                              const std::function<bool(const std::string&)>& skip, size_t reads_in_flight) {
  CollectReport report;
  auto walk = walkTree(c, roots, reads_in_flight, skip, [&](const std::string& path, const zk::ChildrenResult& r) {
    if (r.stat.cversion > 0 || r.stat.num_children > 0) report.counters[path] = nextSequence(r.stat);
  });
  report.nodes = walk.nodes;
  report.unreadable = walk.unreadable;
  report.unreadable_example = std::move(walk.unreadable_example);
  report.failures = std::move(walk.failures);
  return report;
}

Result<RaiseReport> raiseCounters(zk::Client& backup, const Counters& desired, const RaiseOptions& options) {
  const auto start = Clock::now();
  std::vector<Parent> parents;
  parents.reserve(desired.size());
  for (const auto& [path, value] : desired) parents.push_back(Parent{.path = path, .desired = value});

  // Parents nobody saved a counter for, found by the names of their children.
  RaiseReport report;
  if (!options.scan_roots.empty()) {
    std::vector<std::string> found;
    auto walk = walkTree(backup, options.scan_roots, options.reads_in_flight, nullptr,
                         [&](const std::string& path, const zk::ChildrenResult& r) {
                           if (desired.contains(path)) return;
                           for (const auto& name : r.children) {
                             if (sequenceSuffix(name) >= 0) {
                               found.push_back(path);
                               break;
                             }
                           }
                         });
    report.scanned_nodes = walk.nodes;
    report.scanned_parents = found.size();
    report.unreadable_nodes = walk.unreadable;
    report.unreadable_example = std::move(walk.unreadable_example);
    report.failures = std::move(walk.failures);
    // The walk visits a node once; sort for a stable order of the report.
    std::sort(found.begin(), found.end());
    for (auto& path : found) parents.push_back(Parent{.path = std::move(path), .desired = 0, .saved = false});
  }

  RaiseProgress progress{.parents_total = parents.size()};
  auto last_progress = Clock::now();
  auto report_progress = [&](bool force) {
    if (!options.progress) return;
    if (!force && Clock::now() - last_progress < options.progress_every) return;
    last_progress = Clock::now();
    options.progress(progress);
  };

  for (int round = 0; round < kMaxRaiseRounds; ++round) {
    std::vector<size_t> pending;
    for (size_t i = 0; i < parents.size(); ++i) {
      if (parents[i].status == ParentStatus::kPending) pending.push_back(i);
    }
    if (pending.empty()) break;

    // Read every pending parent's counter (and children), pipelined.
    progress.parents_checked = 0;
    progress.pairs_needed = 0;
    {
      Window window(options.reads_in_flight);
      for (size_t i : pending) {
        window.acquire();
        Parent* parent = &parents[i];
        if (options.scan_children) {
          backup.getChildren(parent->path, false, [parent, &window, &options](zk::ChildrenResult r) {
            parent->read_code = r.code;
            if (r.code == zk::Code::kOk) {
              evaluateRead(*parent, r.stat, &r.children, options.scan_slack, options.max_pairs_per_parent);
            }
            window.release();
          });
        } else {
          backup.exists(parent->path, false, [parent, &window, &options](zk::StatResult r) {
            parent->read_code = r.code;
            if (r.code == zk::Code::kOk) {
              evaluateRead(*parent, r.stat, nullptr, options.scan_slack, options.max_pairs_per_parent);
            }
            window.release();
          });
        }
        ++progress.parents_checked;
        report_progress(false);
      }
      window.drain();
    }

    bool retryable_seen = false;
    std::vector<size_t> to_raise;
    for (size_t i : pending) {
      Parent& parent = parents[i];
      if (parent.read_code == zk::Code::kNoNode) {
        parent.status = ParentStatus::kMissing;
      } else if (parent.read_code != zk::Code::kOk) {
        parent.error = zkError("reading the parent failed", parent.read_code, parent.path);
        if (zk::isRetryable(parent.read_code)) {
          retryable_seen = true;
        } else {
          parent.status = ParentStatus::kFailed;
        }
      } else if (parent.next >= parent.target) {
        parent.status = ParentStatus::kDone;
      } else if (parent.target - parent.next > options.max_pairs_per_parent) {
        parent.status = ParentStatus::kFailed;
        parent.error = Error{ErrorCode::kInvalidArgument,
                             "sequence counter would need " + std::to_string(parent.target - parent.next) +
                                 " create/delete pairs (target " + std::to_string(parent.target) +
                                 "), more than max_pairs_per_parent",
                             parent.path};
      } else {
        to_raise.push_back(i);
        progress.pairs_needed += parent.target - parent.next;
      }
    }
    report_progress(true);

    // Write create/delete pairs, several multis in flight. A pair is never
    // split across requests: its temporary child must not outlive the multi.
    if (!to_raise.empty()) {
      std::vector<std::unique_ptr<Batch>> done_batches;
      Window window(options.multis_in_flight);
      std::vector<zk::Op> prefix;
      if (options.fence) prefix.push_back(fenceCheckOp(*options.fence));
      size_t prefix_bytes = 0;
      for (const auto& op : prefix) prefix_bytes += zk::serializedSize(op);
      auto fresh = [&] {
        auto b = std::make_unique<Batch>();
        b->ops = prefix;
        return b;
      };
      auto batch = fresh();
      size_t batch_bytes = prefix_bytes;
      auto send = [&] {
        if (batch->segments.empty()) return;
        window.acquire();
        Batch* b = batch.get();
        done_batches.push_back(std::move(batch));
        batch = fresh();
        batch_bytes = prefix_bytes;
        backup.multi(b->ops, [b, &window](zk::MultiResult r) {
          b->result = std::move(r);
          window.release();
        });
        report_progress(false);
      };
      for (size_t i : to_raise) {
        Parent& parent = parents[i];
        const std::string child = parent.path + (parent.path == "/" ? "" : "/") + std::string(kRaiseChildName);
        zk::Op create = zk::CreateOp{.path = child};
        zk::Op remove = zk::DeleteOp{.path = child};
        const size_t pair_bytes = zk::serializedSize(create) + zk::serializedSize(remove);
        for (int64_t left = parent.target - parent.next; left > 0; --left) {
          if (batch->ops.size() + 2 > options.max_ops_per_multi ||
              batch_bytes + pair_bytes > options.max_request_bytes) {
            send();
          }
          if (batch->segments.empty() || batch->segments.back().parent != i) batch->segments.push_back({i, 0});
          ++batch->segments.back().pairs;
          batch->ops.push_back(create);
          batch->ops.push_back(remove);
          batch_bytes += pair_bytes;
        }
      }
      send();
      window.drain();

      for (const auto& b : done_batches) {
        if (b->result.code == zk::Code::kOk) {
          for (const auto& seg : b->segments) {
            parents[seg.parent].raised = true;
            progress.pairs_written += seg.pairs;
          }
          continue;
        }
        if (zk::isRetryable(b->result.code)) {
          retryable_seen = true;
          continue;  // unknown outcome: the next round re-reads
        }
        // An answer: the op that carries it names the parent. The batch's
        // other parents were rolled back and are simply read again.
        size_t op = failedOp(b->result), seen = prefix.size();
        if (op < prefix.size()) {
          return fail(ErrorCode::kFenced, "the fence moved: another writer took over", options.fence->path);
        }
        for (const auto& seg : b->segments) {
          seen += static_cast<size_t>(seg.pairs) * 2;
          if (op < seen) {
            Parent& parent = parents[seg.parent];
            if (b->result.code != zk::Code::kNoNode) {  // parent deleted meanwhile: the re-read says missing
              parent.status = ParentStatus::kFailed;
              parent.error = zkError("raising the sequence counter failed", b->result.code, parent.path);
            }
            break;
          }
        }
      }
    }
    report_progress(true);
    // Connection trouble: give the client a moment to reconnect before the
    // next round re-reads (a backoff, not a wait for a condition).
    if (retryable_seen) std::this_thread::sleep_for(std::chrono::milliseconds(100 * (round + 1)));
  }

  report.parents = parents.size();
  report.pairs = progress.pairs_written;
  for (auto& parent : parents) {
    if (parent.raised) ++report.raised;
    if (parent.ignored > 0) {
      if (report.ignored_names == 0) report.ignored_example = parent.ignored_example;
      report.ignored_names += parent.ignored;
    }
    switch (parent.status) {
      case ParentStatus::kMissing: ++report.missing; break;
      case ParentStatus::kFailed: report.failures.push_back(parent.error); break;
      case ParentStatus::kPending:
        report.failures.push_back(parent.error.message.empty()
                                      ? Error{ErrorCode::kTimeout, "sequence counter still below its target", parent.path}
                                      : parent.error);
        break;
      case ParentStatus::kDone: break;
    }
  }
  report.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  const bool unreachable =
      !parents.empty() && std::all_of(parents.begin(), parents.end(), [](const Parent& p) {
        return p.status == ParentStatus::kPending && zk::isRetryable(p.read_code);
      });
  if (unreachable) return std::unexpected(parents.front().error);
  return report;
}

}  // namespace zks::state
