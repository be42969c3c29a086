#pragma once

// Sequence counters: the suffix ZooKeeper gives the next sequential child of
// a parent. The replicator saves the primary's counters on the backup
// (saveCounters) so that failover, with the primary gone, can raise every
// replicated parent's counter on the backup above them (raiseCounters), and
// sequential nodes created on the promoted site never collide with
// replicated names.
//
// What ZooKeeper really counts (measured on 3.8): a parent counts child
// creations; the cversion it reports is 2 * creations - numChildren
// (ZOOKEEPER-1046), and the next sequential suffix is the creation count. So
// the counter is nextSequence(stat) = (cversion + numChildren) / 2, and each
// create+delete pair raises it by one (the reported cversion by two).
//
// Blocking functions: call from a CLI command or an owner's loop thread,
// never from a client callback.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "state/counter_store.h"
#include "state/store.h"
#include "zk/client.h"
#include "zk/multi_batcher.h"

namespace zks::state {

// The next sequential suffix ZooKeeper will hand out under a node with `stat`.
int32_t nextSequence(const zk::Stat& stat);

// ---- storage: state_path/counters (see counter_store.h for the layout) ----

// One-shot CounterStore::save: merges `counters` into what is saved (per
// parent the larger value; nothing is ever removed or lowered). With a fence
// token every request leads with its check, so a fenced or deposed
// replicator cannot change what a failover reads (kFenced). A save cut off
// at any point leaves either the old or the merged set readable. A daemon
// saving often keeps one CounterStore instead: it rewrites only what changed.
Status saveCounters(zk::Client& c, const std::string& state_path, const Counters& counters,
                    const std::optional<FenceToken>& fence, int64_t now_ms);

// One-shot CounterStore::load. A daemon gaining leadership merges this into
// the counters it collects (mergeCounters), so its saves start from what
// earlier leaders saved rather than from nothing.
Result<SavedCounters> loadCounters(zk::Client& c, const std::string& state_path);

// ---- raising ----

struct RaiseProgress {
  size_t parents_total = 0;
  size_t parents_checked = 0;  // read so far in the current round
  int64_t pairs_needed = 0;    // create/delete pairs the current round must write
  int64_t pairs_written = 0;   // in all rounds so far
};

struct RaiseOptions {
  size_t max_request_bytes = zk::kDefaultMaxRequestBytes;
  size_t max_ops_per_multi = 2000;
  size_t multis_in_flight = 8;
  size_t reads_in_flight = 512;
  // Also list each parent's children and raise above the highest sequential
  // suffix found: saved counters lag the primary by the save interval, the
  // replicated children do not. A suffix more than `scan_slack` above the
  // larger of the saved and current counter is taken for a name that merely
  // ends in ten digits (a timestamp, an id), not a sequence number.
  bool scan_children = true;
  int32_t scan_slack = 100000;
  // Walk the whole tree under these paths (the target roots, at failover)
  // and raise every parent whose children look sequential (names ending in
  // ten digits), whether or not a counter was saved for it: a failover run
  // before the first save, or a parent a leader never saw, is covered by
  // the names the backup holds. With no saved value to compare with, a
  // suffix is taken for a sequence number unless raising to it would need
  // more than max_pairs_per_parent pairs (a timestamp in seconds would);
  // such names are counted in RaiseReport::ignored_names, not raised.
  std::vector<std::string> scan_roots;
  // A parent needing more pairs than this is reported, not raised: a saved
  // value gone wild must not keep a failover busy for hours.
  int64_t max_pairs_per_parent = 10'000'000;
  // A replicator raising counters as it goes (so that the gap a failover
  // must close stays small) leads every request with its fence check: once
  // fenced it gets kFenced and has written nothing more.
  std::optional<FenceToken> fence;
  // Called on the calling thread, at most about every `progress_every`.
  std::function<void(const RaiseProgress&)> progress;
  std::chrono::milliseconds progress_every{1000};
};

struct RaiseReport {
  size_t parents = 0;   // parents considered
  size_t raised = 0;    // parents whose counter had to move
  size_t missing = 0;   // parents absent on the backup: nothing to raise
  int64_t pairs = 0;    // create/delete pairs written
  size_t scanned_nodes = 0;    // nodes listed by the scan_roots walk
  size_t scanned_parents = 0;  // parents the walk found that had no saved counter
  size_t ignored_names = 0;    // children whose ten-digit suffix was not taken for a sequence number
  std::string ignored_example; // one of them, "parent/name"
  size_t unreadable_nodes = 0;      // nodes the walk may not list (NoAuth): their children were not checked
  std::string unreadable_example;
  std::vector<Error> failures;  // parents left below their target (or subtrees not walked), with why
  std::chrono::milliseconds elapsed{0};
};

// Raises each parent's counter on the backup to at least desired[parent]
// (and above its sequential children, see scan_children) with create/delete
// pairs of a temporary child in multi requests, never splitting a pair, many
// pairs per request and several requests in flight. Level-triggered: after
// writing it re-reads and goes again until every parent is high enough, a
// parent's failure is permanent (no auth, ephemeral parent) or the rounds run
// out. Error only when the backup cannot be used at all or the fence moved
// (kFenced); per-parent problems are in RaiseReport::failures.
Result<RaiseReport> raiseCounters(zk::Client& backup, const Counters& desired, const RaiseOptions& options = {});

// Name of the temporary child the raise creates and deletes in one multi.
inline constexpr std::string_view kRaiseChildName = "zkstandby-counter-raise";

// ---- what a site's counters are now ----

struct CollectReport {
  Counters counters;  // path -> nextSequence, for every node that ever had a child
  size_t nodes = 0;   // nodes listed
  size_t unreadable = 0;  // nodes this identity may not list (NoAuth), skipped
  std::string unreadable_example;
  std::vector<Error> failures;  // subtrees that could not be listed for other reasons
};
// Walks the tree under `roots` and notes every node's counter (resume: what
// the active site handed out, to be raised on the rebuilt primary). Blocking.
// `skip(path)` leaves a subtree out (excluded paths).
CollectReport collectCounters(zk::Client& c, const std::vector<std::string>& roots,
                              const std::function<bool(const std::string&)>& skip = nullptr,
                              size_t reads_in_flight = 512);

}  // namespace zks::state
