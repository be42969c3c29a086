#include "metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace zks::metrics {
namespace {

bool isMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool isLabelName(const std::string& name) {
  if (name.empty() || name.starts_with("__")) return false;  // "__" names are Prometheus' own
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    if (!std::isfinite(upper_bounds_[i]) || (i > 0 && upper_bounds_[i] <= upper_bounds_[i - 1])) {
      throw std::invalid_argument("histogram bucket bounds must be finite and strictly increasing");
    }
  }
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) noexcept {
  if (std::isnan(value)) return;
  // Bucket "le" means value <= bound: the first bound not below the value.
  size_t bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  snap.upper_bounds = upper_bounds_;
  snap.cumulative.reserve(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snap.cumulative.push_back(running);
  }
  snap.count = running;
  snap.sum = sum_.load(std::memory_order_relaxed);
  return snap;
}

Registry::Series& Registry::findOrAdd(const std::string& name, const std::string& help, Type type,
                                      const std::vector<double>& upper_bounds, Labels labels) {
  if (!isMetricName(name)) throw std::invalid_argument("bad metric name '" + name + "'");
  std::sort(labels.begin(), labels.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i].first;
    if (!isLabelName(label)) throw std::invalid_argument("bad label name '" + label + "' on " + name);
    if (i > 0 && labels[i - 1].first == label) throw std::invalid_argument("label '" + label + "' twice on " + name);
    if (type == Type::kHistogram && label == "le") throw std::invalid_argument("label 'le' is reserved on histogram " + name);
  }
  std::lock_guard lock(mutex_);
  auto [it, created] = families_.try_emplace(name, Family{type, help, upper_bounds, {}});
  Family& family = it->second;
  if (!created && (family.type != type || family.help != help || family.upper_bounds != upper_bounds)) {
    throw std::invalid_argument("metric '" + name + "' registered twice with different type, help or buckets");
  }
  auto series = family.series.find(labels);
  if (series != family.series.end()) return series->second;
  Series fresh;
  switch (type) {
    case Type::kCounter: fresh = std::make_unique<Counter>(); break;
    case Type::kGauge: fresh = std::make_unique<Gauge>(); break;
    case Type::kHistogram: fresh = std::make_unique<Histogram>(upper_bounds); break;
  }
  return family.series.emplace(std::move(labels), std::move(fresh)).first->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, Labels labels) {
  return *std::get<std::unique_ptr<Counter>>(findOrAdd(name, help, Type::kCounter, {}, std::move(labels)));
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, Labels labels) {
  return *std::get<std::unique_ptr<Gauge>>(findOrAdd(name, help, Type::kGauge, {}, std::move(labels)));
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const std::vector<double>& upper_bounds,
                               Labels labels) {
  // Validate the bounds before the family is created, so a bad call leaves nothing behind.
  Histogram probe(upper_bounds);
  return *std::get<std::unique_ptr<Histogram>>(findOrAdd(name, help, Type::kHistogram, upper_bounds, std::move(labels)));
}

}  // namespace zks::metrics
