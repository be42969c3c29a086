#pragma once

// A small Prometheus metrics registry (SPEC.md section 6): counters, gauges
// and fixed-bucket histograms, each series identified by name and labels,
// rendered in the text exposition format 0.0.4.
//
// Threading: every method of every class here may be called from any thread.
// Updates (inc, set, observe) are single atomic operations without a lock,
// so the replication loop can count on its hot path. Registration and
// render() take the registry's mutex; register once at startup and keep the
// returned reference, which stays valid for the registry's lifetime.
//
// Errors: a bad metric or label name, or registering one name twice with a
// different type, help text or buckets, is a bug in the caller; those throw
// std::invalid_argument at registration, i.e. at startup.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace zks::metrics {

// Label name/value pairs. Order does not matter: {a,b} and {b,a} name the
// same series; exposition sorts them by name.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Bucket upper bounds, in seconds, for replication lag and request latency
// (1 ms to 10 s), and for whole reconciles (100 ms to an hour).
inline const std::vector<double> kLagBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                0.25,  0.5,    1,     2.5,  5,     10};
inline const std::vector<double> kDurationBuckets = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600};

// A count that only goes up.
class Counter {
 public:
  void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down: session state, queue depth, role, epoch.
class Gauge {
 public:
  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void add(double delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  void inc() noexcept { add(1); }
  void dec() noexcept { add(-1); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets, plus their sum and count.
class Histogram {
 public:
  // upper_bounds: finite, strictly increasing; +Inf is implied.
  explicit Histogram(std::vector<double> upper_bounds);

  // A NaN observation is dropped: it has no bucket and would poison the sum.
  void observe(double value) noexcept;

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then the +Inf bucket (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  // Buckets are read one by one while others may observe, so a snapshot can
  // miss an observation in flight; count always equals the +Inf bucket.
  Snapshot snapshot() const;

  const std::vector<double>& upperBounds() const { return upper_bounds_; }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0};
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns the series with this name and labels, creating it at zero on
  // first use. Asking again returns the same object.
  Counter& counter(const std::string& name, const std::string& help, Labels labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, Labels labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const std::vector<double>& upper_bounds,
                       Labels labels = {});

  // Every family in name order, every series in label order.
  std::string render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  using Series = std::variant<std::unique_ptr<Counter>, std::unique_ptr<Gauge>, std::unique_ptr<Histogram>>;
  struct Family {
    Type type;
    std::string help;
    std::vector<double> upper_bounds;  // histograms only
    std::map<Labels, Series> series;   // labels sorted by name
  };

  Series& findOrAdd(const std::string& name, const std::string& help, Type type, const std::vector<double>& upper_bounds,
                    Labels labels);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

}  // namespace zks::metrics
