#pragma once

// The saved sequence counters on the backup: state_path/counters (the meta
// record) and its chunk children. Used through counters.h.
//
// Layout (format 2). The meta record holds
//   {"format": 2, "buckets": K, "chunks": ["<id>-0000", ...], "parents": P,
//    "bytes": B, "saved_ms": T}
// Parents are spread over K buckets (a power of two) by a stable hash of
// their path; bucket i lives whole in the chunk node counters/<chunks[i]>
// (JSON {path: counter}; "" names an empty bucket, which has no node).
//
// Consistency. A chunk is never changed or deleted while the meta names it.
// A save writes each bucket that changed as a NEW chunk node (a fresh name),
// then switches the meta in one versioned set (behind the fence), then
// deletes the chunks the meta no longer names. A save cut off at any point
// leaves the meta naming a complete set: the old one before the switch, the
// new one after it. What a cut save leaves behind (chunks no meta names) the
// next save deletes; its deletes carry a check of the meta version, so they
// can never remove a chunk a newer meta names.
//
// Readers. A chunk the meta names can be missing only if a save's clean-up
// ran between the reader's meta read and its chunk read: the reader reads
// the meta again and starts over. When the meta did not move, the chunk was
// deleted by hand: the reader reports it (SavedCounters::problems) and
// returns the rest. A failover must never fail on its saved counters: its
// child scan covers whatever they lack.
//
// Merge. A save never lowers a stored counter: every bucket it writes is
// merged with the stored chunk (per parent the larger value). A new leader
// that has not yet seen every parent cannot erase what earlier leaders saved.
//
// Cost. A CounterStore remembers, per bucket, a hash of what its caller gave
// at the last save; a bucket whose content did not change is neither read nor
// written again. Saving a 500,000-parent map in which one topic changed
// reads and writes one chunk (about 64 KiB) and the meta.
//
// Format 1 (earlier versions): meta {"chunks": N}, chunks counters/chunk-NNNN.
// Read as such; the first save rewrites it in format 2.
//
// Blocking: call from a CLI command or an owner's loop thread, never from a
// client callback. One thread at a time per CounterStore.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "state/store.h"
#include "zk/client.h"

namespace zks::state {

// Backup path of a replicated parent -> the primary's nextSequence() for it.
using Counters = std::map<std::string, int32_t>;

// Per parent the larger value. Pure.
void mergeCounters(Counters& into, const Counters& from);

struct SavedCounters {
  Counters counters;
  int64_t saved_ms = 0;               // 0: never saved
  std::vector<std::string> problems;  // chunks missing or unreadable (their parents are absent from `counters`)
};

class CounterStore {
 public:
  CounterStore(zk::Client& client, std::string state_path);

  // Everything saved. An error only when the meta record itself cannot be
  // read or parsed.
  Result<SavedCounters> load();

  // Merges `counters` into what is stored (see above). With a fence token
  // every request leads with its check: a fenced or deposed replicator gets
  // kFenced and has changed nothing a reader sees.
  Status save(const Counters& counters, const std::optional<FenceToken>& fence, int64_t now_ms);

 private:
  struct Meta;
  Result<Meta> readMeta();

  zk::Client& client_;
  std::string state_path_;
  // What the last successful save of this store wrote: the meta version and,
  // per bucket, the hash of the caller's content. Valid while the stored
  // meta still has that version.
  int32_t meta_version_ = -1;
  std::vector<uint64_t> given_hash_;
};

// Helpers of the layout, pure; exposed for tests.
inline constexpr size_t kCounterChunkTargetBytes = 64 * 1024;
// The bucket of a parent among `buckets` (a power of two).
size_t counterBucket(std::string_view path, size_t buckets);
// The bucket count for about `bytes` of entries: `current` while it keeps
// chunks between a quarter and twice the target size, else the power of two
// nearest the target.
size_t counterBucketCount(size_t bytes, size_t current);
// One bucket's JSON, and back (adds to `into`; kInvalidArgument when the
// text is not an object of integers).
std::string encodeCounterChunk(const Counters& bucket);
Status decodeCounterChunk(std::string_view chunk, Counters& into);

}  // namespace zks::state
