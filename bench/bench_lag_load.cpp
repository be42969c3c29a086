#include "bench/bench_lag_load.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <thread>

#include "zk/c_client.h"

namespace zks::bench {

namespace {

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

std::string payloadFor(const std::string& path, const std::string& cluster, uint64_t seq) {
  const std::string tail = "gatedIps=\ngatedCluster=\nbenchSeq=" + std::to_string(seq) + "\n";
  if (path.find("/consumergroup/") != std::string::npos) {
    return "clusterName=" + cluster +
           "\ntype=consumergroup\nbindingTopic=topic_0000001\nbroadcast=false\nconsumeFrom=latest\nsuspend=false\n" +
           tail;
  }
  return "clusterName=" + cluster + "\ntype=topic\nstatisticsLogger=false\n" + tail;
}

uint64_t payloadSeq(const std::string& data) {
  const size_t at = data.find("benchSeq=");
  if (at == std::string::npos) return 0;
  return std::strtoull(data.c_str() + at + 9, nullptr, 10);
}

std::string standbyCluster(const std::string& cluster) {
  std::string out = cluster;
  if (auto at = out.find("_bj_"); at != std::string::npos) out.replace(at, 4, "_sh_");
  return out;
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(values.size() - 1, lo + 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

// ---- LagProbe ----

Result<std::unique_ptr<LagProbe>> LagProbe::connect(const std::string& backup_connect) {
  std::unique_ptr<LagProbe> probe(new LagProbe());
  probe->client_ = zk::makeCClient({.connect = backup_connect, .name = "lag-probe"});
  LagProbe* self = probe.get();
  probe->client_->setWatchListener([self](const zk::WatchEvent& e) {
    if (e.type != zk::EventType::kDataChanged && e.type != zk::EventType::kCreated) return;
    {
      std::lock_guard lock(self->mu_);
      auto it = self->pending_.find(e.path);
      if (it == self->pending_.end() || it->second.empty()) return;
    }
    self->read(e.path);
  });
  if (auto s = probe->client_->reopen(std::chrono::seconds(15)); !s) return std::unexpected(s.error());
  return probe;
}

LagProbe::~LagProbe() {
  // Callbacks still owed run inside close(), while the members they touch live.
  if (client_) client_->close();
  client_.reset();
}

void LagProbe::expect(int phase, const std::string& path, uint64_t seq, Clock::time_point acked, int64_t mtime_ms,
                      std::string standby_cluster) {
  {
    std::lock_guard lock(mu_);
    pending_[path].push_back({phase, seq, acked, mtime_ms, std::move(standby_cluster)});
    ++pending_count_;
  }
  read(path);
}

void LagProbe::read(const std::string& path) {
  // A data watch with every read: the next change on the backup triggers
  // the next read, so nothing is polled.
  client_->get(path, true, [this, path](zk::GetResult r) { onRead(path, std::move(r), Clock::now()); });
}

void LagProbe::onRead(const std::string& path, zk::GetResult r, Clock::time_point at) {
  if (r.code == zk::Code::kNoNode) {
    // Not there yet: an exists watch fires on its creation.
    client_->exists(path, true, [](zk::StatResult) {});
    return;
  }
  if (r.code != zk::Code::kOk) return;
  const uint64_t seen = payloadSeq(r.data);
  const int64_t now_ms = wallMs();
  std::lock_guard lock(mu_);
  auto it = pending_.find(path);
  if (it == pending_.end()) return;
  auto& queue = it->second;
  // Samples of one path come in sequence order (one writer session).
  while (!queue.empty() && queue.front().seq <= seen) {
    const auto& p = queue.front();
    // The mapped value: no primary-site name left, and when this very write
    // is what the backup shows, its own cluster renamed.
    const bool value_ok = r.data.find("_bj_") == std::string::npos &&
                          (p.seq != seen || r.data.find("clusterName=" + p.standby_cluster + "\n") != std::string::npos);
    results_.push_back({p.phase, msBetween(p.acked, at), static_cast<double>(now_ms - p.mtime_ms), value_ok});
    queue.pop_front();
    --pending_count_;
  }
  if (queue.empty()) pending_.erase(it);
}

std::vector<LagResult> LagProbe::results(int phase) const {
  std::lock_guard lock(mu_);
  std::vector<LagResult> out;
  for (const auto& r : results_) {
    if (r.phase == phase) out.push_back(r);
  }
  return out;
}

size_t LagProbe::unresolved() const {
  std::lock_guard lock(mu_);
  return pending_count_;
}

bool LagProbe::waitAllResolved(Clock::time_point deadline) const {
  for (;;) {
    if (unresolved() == 0) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

size_t LagProbe::abandon() {
  std::lock_guard lock(mu_);
  const size_t n = pending_count_;
  pending_.clear();
  pending_count_ = 0;
  return n;
}

// ---- Writer ----

struct Writer::Shared {
  std::mutex mu;
  std::condition_variable cv;
  size_t in_flight = 0;
  WriteStats stats;
  Clock::time_point last_done;
};

Writer::Writer(zk::Client& primary, WriterTargets targets, LagProbe& probe, uint64_t seed)
    : primary_(primary), targets_(std::move(targets)), probe_(probe), rng_state_(seed) {}

void Writer::issueSet(const PhaseLoad& load, const std::shared_ptr<Shared>& shared) {
  const uint64_t seq = ++seq_;
  const std::string& path = targets_.nodes[next() % targets_.nodes.size()];
  // The mapped field changes with every write: the cluster follows the sequence.
  const std::string& cluster = targets_.clusters[seq % targets_.clusters.size()];
  const bool sampled = seq % load.sample_every == 0;
  const auto issued = Clock::now();
  primary_.set({.path = path, .data = payloadFor(path, cluster, seq)},
               [this, shared, seq, path, cluster, sampled, issued, phase = load.phase](zk::StatResult r) {
                 const auto now = Clock::now();
                 if (sampled && r.code == zk::Code::kOk) {
                   probe_.expect(phase, path, seq, now, r.stat.mtime, standbyCluster(cluster));
                 }
                 std::lock_guard lock(shared->mu);
                 (r.code == zk::Code::kOk ? shared->stats.ok : shared->stats.failed)++;
                 shared->stats.ack_ms.push_back(msBetween(issued, now));
                 shared->last_done = now;
                 --shared->in_flight;
                 shared->cv.notify_all();
               });
  ++shared->stats.sets;
}

void Writer::issueCreate(const std::shared_ptr<Shared>& shared) {
  const uint64_t seq = ++seq_;
  const std::string& dir = targets_.topic_dirs[next() % targets_.topic_dirs.size()];
  const std::string path = dir + "/bench_" + std::to_string(next_created_++);
  const std::string& cluster = targets_.clusters[seq % targets_.clusters.size()];
  const auto issued = Clock::now();
  primary_.create({.path = path, .data = payloadFor(path, cluster, seq)},
                  [this, shared, path, issued](zk::CreateResult r) {
                    const auto now = Clock::now();
                    if (r.code == zk::Code::kOk) {
                      std::lock_guard lock(created_mu_);
                      created_.push_back(path);
                    }
                    std::lock_guard lock(shared->mu);
                    (r.code == zk::Code::kOk ? shared->stats.ok : shared->stats.failed)++;
                    shared->stats.ack_ms.push_back(msBetween(issued, now));
                    shared->last_done = now;
                    --shared->in_flight;
                    shared->cv.notify_all();
                  });
  ++shared->stats.creates;
}

void Writer::issueDelete(const std::shared_ptr<Shared>& shared) {
  std::string path;
  {
    std::lock_guard lock(created_mu_);
    if (!created_.empty()) {
      path = created_.front();
      created_.pop_front();
    }
  }
  if (path.empty()) return issueCreate(shared);
  ++seq_;
  const auto issued = Clock::now();
  primary_.remove({.path = path}, [shared, issued](zk::VoidResult r) {
    const auto now = Clock::now();
    std::lock_guard lock(shared->mu);
    (r.code == zk::Code::kOk ? shared->stats.ok : shared->stats.failed)++;
    shared->stats.ack_ms.push_back(msBetween(issued, now));
    shared->last_done = now;
    --shared->in_flight;
    shared->cv.notify_all();
  });
  ++shared->stats.deletes;
}

WriteStats Writer::run(const PhaseLoad& load) {
  auto shared = std::make_shared<Shared>();
  const auto start = Clock::now();
  const auto end = start + load.duration;
  // Tokens accrue at `rate`; at most 100 ms of them are saved up, so a stall
  // shows as a lower achieved rate rather than a burst afterwards.
  const double max_saved = std::max(1.0, load.rate * 0.1);
  double tokens = 0;
  auto last = start;
  const uint64_t churn_every = load.create_delete_share > 0
                                   ? static_cast<uint64_t>(std::llround(1.0 / load.create_delete_share))
                                   : 0;
  uint64_t n = 0;
  for (auto now = start; now < end; now = Clock::now()) {
    tokens = std::min(max_saved, tokens + load.rate * std::chrono::duration<double>(now - last).count());
    last = now;
    while (tokens >= 1) {
      {
        std::lock_guard lock(shared->mu);
        if (shared->in_flight >= load.window) break;
        ++shared->in_flight;
        ++shared->stats.issued;
      }
      tokens -= 1;
      ++n;
      if (churn_every && n % churn_every == 0) {
        // Alternate: creates and deletes of extra topics keep the tree's size.
        if ((n / churn_every) % 2) issueCreate(shared);
        else issueDelete(shared);
      } else {
        issueSet(load, shared);
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  std::unique_lock lock(shared->mu);
  shared->cv.wait_until(lock, Clock::now() + std::chrono::seconds(30), [&] { return shared->in_flight == 0; });
  shared->stats.seconds = std::chrono::duration<double>(std::max(shared->last_done, end) - start).count();
  return shared->stats;
}

std::optional<Clock::time_point> Writer::probeWrite(int phase) {
  PhaseLoad one;
  one.phase = phase;
  one.sample_every = 1;
  auto shared = std::make_shared<Shared>();
  {
    std::lock_guard lock(shared->mu);
    shared->in_flight = 1;
  }
  issueSet(one, shared);
  std::unique_lock lock(shared->mu);
  if (!shared->cv.wait_until(lock, Clock::now() + std::chrono::seconds(30), [&] { return shared->in_flight == 0; }) ||
      shared->stats.ok != 1) {
    return std::nullopt;
  }
  return shared->last_done;
}

}  // namespace zks::bench
