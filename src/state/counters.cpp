#include "state/counters.h"

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

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

std::string chunkPath(const StatePaths& p, size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/chunk-%04zu", i);
  return p.counters + buf;
}

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
  ParentStatus status = ParentStatus::kPending;
  bool raised = false;
  // From the latest read.
  zk::Code read_code = zk::Code::kOk;
  int32_t next = 0;
  int32_t target = 0;
  Error error;
};

// What one read tells about a parent: its counter and the target it must reach.
void evaluateRead(Parent& parent, const zk::Stat& stat, const std::vector<std::string>* children, int32_t slack) {
  parent.next = nextSequence(stat);
  int64_t target = parent.desired;
  if (children != nullptr) {
    const int64_t ceiling = static_cast<int64_t>(std::max(parent.desired, parent.next)) + slack;
    for (const auto& name : *children) {
      const int64_t suffix = sequenceSuffix(name);
      if (suffix >= target && suffix < ceiling) target = suffix + 1;
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

std::vector<std::string> encodeCounterChunks(const Counters& counters, size_t max_chunk_bytes) {
  std::vector<std::string> chunks;
  json current = json::object();
  size_t bytes = 2;
  for (const auto& [path, value] : counters) {
    // "key":value, — the escaped key plus the number and punctuation.
    const size_t entry = json(path).dump().size() + std::to_string(value).size() + 2;
    if (!current.empty() && bytes + entry > max_chunk_bytes) {
      chunks.push_back(current.dump());
      current = json::object();
      bytes = 2;
    }
    current[path] = value;
    bytes += entry;
  }
  if (!current.empty()) chunks.push_back(current.dump());
  return chunks;
}

Status decodeCounterChunk(std::string_view chunk, Counters& into) {
  json j = json::parse(chunk, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(ErrorCode::kInvalidArgument, "counter chunk is not a JSON object");
  for (const auto& [path, value] : j.items()) {
    if (!value.is_number_integer()) {
      return fail(ErrorCode::kInvalidArgument, "counter of '" + path + "' is not an integer");
    }
    into[path] = static_cast<int32_t>(std::clamp<int64_t>(value.get<int64_t>(), 0, INT32_MAX));
  }
  return {};
}

Status saveCounters(zk::Client& c, const std::string& state_path, const Counters& counters,
                    const std::optional<FenceToken>& fence, int64_t now_ms) {
  const StatePaths p(state_path);
  auto existing = zk::getChildrenSync(c, p.counters);
  if (existing.code == zk::Code::kNoNode) {
    if (auto s = ensureLayout(c, state_path); !s) return s;
    existing = zk::getChildrenSync(c, p.counters);
  }
  if (existing.code != zk::Code::kOk) return std::unexpected(zkError("listing saved counters failed", existing.code, p.counters));
  const auto chunks = encodeCounterChunks(counters, kCounterChunkBytes);

  std::vector<zk::Op> prefix;
  if (fence) prefix.push_back(fenceCheckOp(*fence));
  zk::MultiBatcher batcher(prefix, zk::kDefaultMaxRequestBytes);
  std::vector<std::vector<zk::Op>> batches;
  auto add = [&](zk::Op op) {
    for (auto& b : batcher.add(std::move(op))) batches.push_back(std::move(b));
  };
  auto has = [&](const std::string& path) {
    const std::string name = path.substr(p.counters.size() + 1);
    return std::find(existing.children.begin(), existing.children.end(), name) != existing.children.end();
  };
  for (size_t i = 0; i < chunks.size(); ++i) {
    const std::string path = chunkPath(p, i);
    if (has(path)) {
      add(zk::SetOp{path, chunks[i]});
    } else {
      add(zk::CreateOp{.path = path, .data = chunks[i]});
    }
  }
  for (const auto& name : existing.children) {
    const std::string path = p.counters + "/" + name;
    bool current = false;
    for (size_t i = 0; i < chunks.size() && !current; ++i) current = chunkPath(p, i) == path;
    if (!current) add(zk::DeleteOp{path});
  }
  // The meta record goes last: a reader that sees the new chunk count finds
  // every chunk it names.
  json meta = {{"chunks", chunks.size()}, {"parents", counters.size()}, {"saved_ms", now_ms}};
  add(zk::SetOp{p.counters, meta.dump()});
  if (auto last = batcher.flush(); !last.empty()) batches.push_back(std::move(last));

  for (auto& batch : batches) {
    auto r = zk::multiSync(c, std::move(batch));
    if (r.code == zk::Code::kOk) continue;
    if (fence && failedOp(r) == 0) return fail(ErrorCode::kFenced, "the fence moved: another writer took over", fence->path);
    return std::unexpected(zkError("saving counters failed", r.code, p.counters));
  }
  return {};
}

Result<SavedCounters> loadCounters(zk::Client& c, const std::string& state_path) {
  const StatePaths p(state_path);
  auto meta = zk::getSync(c, p.counters);
  if (meta.code == zk::Code::kNoNode || (meta.code == zk::Code::kOk && meta.data.empty())) return SavedCounters{};
  if (meta.code != zk::Code::kOk) return std::unexpected(zkError("reading saved counters failed", meta.code, p.counters));
  json m = json::parse(meta.data, nullptr, false);
  if (m.is_discarded() || !m.is_object() || !m.value("chunks", json()).is_number_unsigned()) {
    return fail(ErrorCode::kInvalidArgument, "saved counters: meta record is not {\"chunks\": N, ...}", p.counters);
  }
  SavedCounters saved;
  saved.saved_ms = m.value("saved_ms", int64_t{0});
  const size_t chunks = m["chunks"].get<size_t>();
  for (size_t i = 0; i < chunks; ++i) {
    const std::string path = chunkPath(p, i);
    auto r = zk::getSync(c, path);
    if (r.code != zk::Code::kOk) return std::unexpected(zkError("reading saved counters failed", r.code, path));
    if (auto s = decodeCounterChunk(r.data, saved.counters); !s) {
      return fail(ErrorCode::kInvalidArgument, s.error().message, path);
    }
  }
  return saved;
}

Result<RaiseReport> raiseCounters(zk::Client& backup, const Counters& desired, const RaiseOptions& options) {
  const auto start = Clock::now();
  std::vector<Parent> parents;
  parents.reserve(desired.size());
  for (const auto& [path, value] : desired) parents.push_back(Parent{.path = path, .desired = value});

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
            if (r.code == zk::Code::kOk) evaluateRead(*parent, r.stat, &r.children, options.scan_slack);
            window.release();
          });
        } else {
          backup.exists(parent->path, false, [parent, &window, &options](zk::StatResult r) {
            parent->read_code = r.code;
            if (r.code == zk::Code::kOk) evaluateRead(*parent, r.stat, nullptr, options.scan_slack);
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

  RaiseReport report;
  report.parents = parents.size();
  report.pairs = progress.pairs_written;
  for (auto& parent : parents) {
    if (parent.raised) ++report.raised;
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
