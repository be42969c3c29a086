#include "reconcile/node_index.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace zks::reconcile {

namespace {
constexpr size_t kNpos = static_cast<size_t>(-1);
constexpr size_t kMinCapacity = 64;
// Linear probing stays short up to about this load; the table grows by half
// when it is reached, so it is between 0.57 and 0.85 full once past the minimum.
constexpr double kMaxLoad = 0.85;
}  // namespace

NodeIndex::NodeIndex() = default;
NodeIndex::~NodeIndex() = default;

NodeIndex::Hash NodeIndex::hashOf(std::string_view path) {
  const XXH128_hash_t h = XXH3_128bits(path.data(), path.size());
  return {h.low64 == 0 ? 1 : h.low64, static_cast<uint16_t>(h.high64 >> 48)};
}

// Any capacity, not only powers of two: the key is spread over [0, n) by a
// multiply-shift (keys are uniform hash values already).
size_t NodeIndex::slotOf(uint64_t key) const {
  __extension__ using Wide = unsigned __int128;
  return static_cast<size_t>((static_cast<Wide>(key) * keys_.size()) >> 64);
}

size_t NodeIndex::findSlot(uint64_t key) const {
  if (keys_.empty()) return kNpos;
  const size_t n = keys_.size();
  for (size_t i = slotOf(key);; i = i + 1 == n ? 0 : i + 1) {
    if (keys_[i] == key) return i;
    if (keys_[i] == 0) return kNpos;
  }
}

std::optional<IndexEntry> NodeIndex::find(std::string_view path) const {
  const Hash h = hashOf(path);
  const size_t slot = findSlot(h.key);
  if (slot == kNpos) return std::nullopt;
  const Value& v = values_[slot];
  if (v.tag != h.tag) return std::nullopt;  // another path's entry: read this one in full
  return IndexEntry{v.czxid, v.mzxid, v.pzxid, v.aversion, (v.flags & kReplicated) != 0};
}

void NodeIndex::insertFresh(uint64_t key, const Value& value) {
  const size_t n = keys_.size();
  size_t i = slotOf(key);
  while (keys_[i] != 0) i = i + 1 == n ? 0 : i + 1;
  keys_[i] = key;
  values_[i] = value;
}

void NodeIndex::grow() {
  const size_t capacity = std::max(kMinCapacity, keys_.size() + keys_.size() / 2);
  std::vector<uint64_t> old_keys(capacity, 0);
  std::vector<Value> old_values(capacity);
  old_keys.swap(keys_);
  old_values.swap(values_);
  for (size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] != 0) insertFresh(old_keys[i], old_values[i]);
  }
}

void NodeIndex::put(std::string_view path, const IndexEntry& entry) {
  const Hash h = hashOf(path);
  const Value value{entry.czxid, entry.mzxid,   entry.pzxid, entry.aversion,
                    h.tag,       static_cast<uint8_t>(entry.replicated ? kReplicated : 0), mark_};
  if (const size_t slot = findSlot(h.key); slot != kNpos) {
    values_[slot] = value;  // the same path, or (tag differs) a colliding one whose entry this replaces
  } else {
    if (static_cast<double>(size_ + 1) > kMaxLoad * static_cast<double>(keys_.size())) grow();
    insertFresh(h.key, value);
    ++size_;
  }
  if (keep_paths_ && legacy_paths_.find(path) == legacy_paths_.end()) {
    legacy_paths_.emplace(path);
    path_bytes_ += path.size();
  }
}

void NodeIndex::keepPaths(bool on) {
  keep_paths_ = on;
  if (!on) {
    std::set<std::string, std::less<>>().swap(legacy_paths_);
    path_bytes_ = 0;
  }
}

// Backward-shift deletion: the entries after the hole that would not be
// found past it move into it, so lookups never need tombstones.
void NodeIndex::eraseSlot(size_t hole) {
  const size_t n = keys_.size();
  keys_[hole] = 0;
  --size_;
  for (size_t i = hole + 1 == n ? 0 : hole + 1; keys_[i] != 0; i = i + 1 == n ? 0 : i + 1) {
    const size_t home = slotOf(keys_[i]);
    // Entry i may move into the hole unless its home lies cyclically in (hole, i].
    const bool home_after_hole = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (home_after_hole) continue;
    keys_[hole] = keys_[i];
    values_[hole] = values_[i];
    keys_[i] = 0;
    hole = i;
  }
}

void NodeIndex::erase(std::string_view path) {
  release(path);
  if (auto it = legacy_paths_.find(path); it != legacy_paths_.end()) {
    path_bytes_ -= it->size();
    legacy_paths_.erase(it);
  }
  const Hash h = hashOf(path);
  const size_t slot = findSlot(h.key);
  if (slot != kNpos && values_[slot].tag == h.tag) eraseSlot(slot);
}

void NodeIndex::clear() {
  std::vector<uint64_t>().swap(keys_);
  std::vector<Value>().swap(values_);
  size_ = 0;
  held_.clear();
  parked_ = 0;
  legacy_paths_.clear();
  path_bytes_ = 0;
}

void NodeIndex::beginSweep() { ++mark_; }

size_t NodeIndex::sweep() {
  const size_t before = size_;
  // Walking forward, a backward shift can move a later entry into the slot
  // just emptied: look at that slot again before going on. An entry that
  // wraps around from the front was already looked at and kept.
  for (size_t i = 0; i < keys_.size(); ++i) {
    while (keys_[i] != 0 && values_[i].mark != mark_) eraseSlot(i);
  }
  const size_t dropped = before - size_;
  if (dropped == 0) return 0;
  for (auto it = held_.begin(); it != held_.end();) {
    if (!find(it->first)) {
      forget(it->second);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = legacy_paths_.begin(); it != legacy_paths_.end();) {
    if (!find(*it)) {
      path_bytes_ -= it->size();
      it = legacy_paths_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

void NodeIndex::eraseSubtree(const std::string& path) {
  erase(path);
  const std::string prefix = path == "/" ? "/" : path + "/";
  for (auto it = legacy_paths_.lower_bound(prefix); it != legacy_paths_.end() && it->starts_with(prefix);) {
    const Hash h = hashOf(*it);
    const size_t slot = findSlot(h.key);
    if (slot != kNpos && values_[slot].tag == h.tag) eraseSlot(slot);
    path_bytes_ -= it->size();
    it = legacy_paths_.erase(it);
  }
  for (auto h = held_.lower_bound(prefix); h != held_.end() && h->first.starts_with(prefix);) {
    forget(h->second);
    h = held_.erase(h);
  }
}

size_t NodeIndex::tableBytes() const {
  return keys_.capacity() * sizeof(uint64_t) + values_.capacity() * sizeof(Value);
}

// ---- reported nodes ----

void NodeIndex::hold(const std::string& path, ReportedKind kind, plan::Change report) {
  auto& reports = held_[path];
  const bool was_parked = isParked(reports);
  reports.emplace_back(kind, std::move(report));
  if (!was_parked && isParked(reports)) ++parked_;
}

const NodeIndex::Reports* NodeIndex::held(const std::string& path) const {
  auto it = held_.find(path);
  return it == held_.end() ? nullptr : &it->second;
}

void NodeIndex::release(std::string_view path) {
  auto it = held_.find(path);
  if (it == held_.end()) return;
  forget(it->second);
  held_.erase(it);
}

bool NodeIndex::isParked(const Reports& reports) {
  for (const auto& [kind, c] : reports) {
    if (kind == ReportedKind::kParked || kind == ReportedKind::kTooLarge) return true;
  }
  return false;
}

void NodeIndex::forget(const Reports& reports) {
  if (isParked(reports)) --parked_;
}

}  // namespace zks::reconcile
