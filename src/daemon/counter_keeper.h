#pragma once

// The leader's sequence counters (state/counters.h) as it saves them: every
// parent it has seen, merged with what earlier leaders saved, highest value
// wins. The replicator hands over what it saw (Replicator::takeCounterChanges);
// this keeps the whole map and saves it through one CounterStore, which
// rewrites only the buckets that changed.
//
// Saving rules (issue 12 item 1): a new leader loads what is saved before
// its first save, so that it never saves less than is stored; a save
// follows each full reconcile and, within seconds, every change.
//
// Threading: the daemon's state worker thread only (it blocks on the backup).

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "state/counters.h"
#include "state/store.h"
#include "zk/client.h"

namespace zks::daemon {

class CounterKeeper {
 public:
  CounterKeeper(zk::Client& backup, std::string state_path);

  // Merges counters seen; true when one rose (a save is due).
  bool merge(const state::Counters& seen);
  // Loads what is saved (once per leadership) and merges it in.
  Status load();
  bool loaded() const { return loaded_; }
  // Saves when something rose since the last save (loading first if not
  // done). kFenced when the fence moved.
  Status save(const std::optional<state::FenceToken>& fence, int64_t now_ms);
  bool dirty() const { return dirty_; }
  // When the last save succeeded (epoch: never).
  std::chrono::steady_clock::time_point savedAt() const { return saved_at_; }
  const state::Counters& counters() const { return all_; }

 private:
  zk::Client& backup_;
  std::string state_path_;
  state::CounterStore store_;
  state::Counters all_;
  bool loaded_ = false;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point saved_at_{};
};

}  // namespace zks::daemon
