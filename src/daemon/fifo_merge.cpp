#include "daemon/fifo_merge.h"

#include <algorithm>

namespace zks::daemon {

void MergeLedger::fullPassEnded() {
  running_ = false;
  source_.clear();
  backup_.clear();
}

void MergeLedger::planned(const std::string& source, const std::string& backup, uint64_t seq) {
  if (!running_) return;
  auto raise = [seq](std::unordered_map<std::string, uint64_t>& map, const std::string& key) {
    if (key.empty()) return;
    auto& slot = map[key];
    slot = std::max(slot, seq);
  };
  raise(source_, source);
  raise(backup_, backup);
}

bool MergeLedger::mayPlan(const std::string& source, const std::string& backup, uint64_t seq) const {
  auto it = source_.find(source);
  if (it != source_.end() && it->second >= seq) return false;
  auto b = backup.empty() ? backup_.end() : backup_.find(backup);
  return b == backup_.end() || b->second < seq;
}

bool MergeLedger::mayDeleteOrphan(const std::string& backup, uint64_t listing_seq) const {
  auto it = backup_.find(backup);
  return it == backup_.end() || it->second < listing_seq;
}

}  // namespace zks::daemon
