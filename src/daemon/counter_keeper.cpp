#include "daemon/counter_keeper.h"

namespace zks::daemon {

CounterKeeper::CounterKeeper(zk::Client& backup, std::string state_path)
    : backup_(backup), state_path_(state_path), store_(backup, std::move(state_path)) {}

bool CounterKeeper::merge(const state::Counters& seen) {
  bool rose = false;
  for (const auto& [path, value] : seen) {
    auto [it, fresh] = all_.try_emplace(path, value);
    if (fresh || value > it->second) {
      it->second = std::max(it->second, value);
      rose = true;
    }
  }
  dirty_ = dirty_ || rose;
  return rose;
}

Status CounterKeeper::load() {
  auto saved = store_.load();
  if (!saved) return std::unexpected(saved.error());
  // What was saved needs no saving again: only what rises above it does.
  const bool was_dirty = dirty_;
  state::mergeCounters(all_, saved->counters);
  dirty_ = was_dirty;
  loaded_ = true;
  return {};
}

Status CounterKeeper::save(const std::optional<state::FenceToken>& fence, int64_t now_ms) {
  if (!loaded_) {
    if (auto s = load(); !s) return s;
  }
  if (!dirty_) return {};
  if (auto s = store_.save(all_, fence, now_ms); !s) return s;
  dirty_ = false;
  saved_at_ = std::chrono::steady_clock::now();
  return {};
}

}  // namespace zks::daemon
