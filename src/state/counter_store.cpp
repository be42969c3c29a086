#include "state/counter_store.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "state/identity.h"
#include "zk/blocking.h"
#include "zk/multi_batcher.h"

namespace zks::state {
namespace {

using nlohmann::json;

constexpr int kMaxAttempts = 8;
// Bytes an entry takes in a chunk besides its path: quotes, colon, comma, digits.
constexpr size_t kEntryOverhead = 14;

uint64_t fnv1a(std::string_view bytes, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

size_t entryBytes(const std::string& path) { return path.size() + kEntryOverhead; }

size_t failedOp(const zk::MultiResult& r) {
  for (size_t i = 0; i < r.results.size(); ++i) {
    if (r.results[i].code == r.code) return i;
  }
  return r.results.size();
}

std::string legacyChunkName(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "chunk-%04zu", i);
  return buf;
}

std::string chunkName(const std::string& generation, size_t bucket) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%04zu", bucket);
  return generation + buf;
}

Error fencedError(const FenceToken& fence) {
  return Error{ErrorCode::kFenced, "the fence moved: another writer took over", fence.path};
}

}  // namespace

void mergeCounters(Counters& into, const Counters& from) {
  for (const auto& [path, value] : from) {
    auto [it, inserted] = into.emplace(path, value);
    if (!inserted && it->second < value) it->second = value;
  }
}

size_t counterBucket(std::string_view path, size_t buckets) {
  return buckets <= 1 ? 0 : static_cast<size_t>(fnv1a(path) & (buckets - 1));
}

size_t counterBucketCount(size_t bytes, size_t current) {
  if (current > 0 && std::has_single_bit(current)) {
    const size_t per_chunk = bytes / current;
    if (per_chunk >= kCounterChunkTargetBytes / 4 && per_chunk <= kCounterChunkTargetBytes * 2) return current;
    if (current == 1 && per_chunk <= kCounterChunkTargetBytes * 2) return 1;
  }
  return std::max<size_t>(1, std::bit_ceil((bytes + kCounterChunkTargetBytes - 1) / kCounterChunkTargetBytes));
}

std::string encodeCounterChunk(const Counters& bucket) {
  json j = json::object();
  for (const auto& [path, value] : bucket) j[path] = value;
  return j.dump();
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

struct CounterStore::Meta {
  bool exists = false;             // a meta record with content
  int32_t version = -1;            // of the meta node
  int format = 2;
  std::vector<std::string> names;  // per bucket (format 2) or per chunk (format 1); "" = empty bucket
  std::vector<size_t> counts;      // format 2: parents per bucket
  std::vector<size_t> sizes;       // format 2: bytes per bucket
  int64_t saved_ms = 0;
  size_t bytes() const {
    size_t total = 0;
    for (size_t s : sizes) total += s;
    return total;
  }
};

CounterStore::CounterStore(zk::Client& client, std::string state_path)
    : client_(client), state_path_(std::move(state_path)) {}

Result<CounterStore::Meta> CounterStore::readMeta() {
  const StatePaths p(state_path_);
  auto r = zk::getSync(client_, p.counters);
  Meta meta;
  if (r.code == zk::Code::kNoNode) return meta;
  if (r.code != zk::Code::kOk) return std::unexpected(zkError("reading saved counters failed", r.code, p.counters));
  meta.version = r.stat.version;
  if (r.data.empty()) return meta;
  json m = json::parse(r.data, nullptr, false);
  if (m.is_discarded() || !m.is_object()) {
    return fail(ErrorCode::kInvalidArgument, "saved counters: the meta record is not a JSON object", p.counters);
  }
  meta.exists = true;
  meta.saved_ms = m.value("saved_ms", int64_t{0});
  const json& chunks = m.value("chunks", json());
  if (chunks.is_number_unsigned()) {  // format 1
    meta.format = 1;
    for (size_t i = 0; i < chunks.get<size_t>(); ++i) meta.names.push_back(legacyChunkName(i));
    return meta;
  }
  const size_t buckets = m.value("buckets", size_t{0});
  const json& counts = m.value("counts", json());
  const json& sizes = m.value("sizes", json());
  auto unknown = [&] {
    return fail(ErrorCode::kInvalidArgument, "saved counters: the meta record has neither layout this version knows",
                p.counters);
  };
  if (m.value("format", 0) != 2 || !std::has_single_bit(buckets) || !chunks.is_array() || chunks.size() != buckets ||
      !counts.is_array() || counts.size() != buckets || !sizes.is_array() || sizes.size() != buckets) {
    return unknown();
  }
  for (size_t b = 0; b < buckets; ++b) {
    if (!chunks[b].is_string() || !counts[b].is_number_unsigned() || !sizes[b].is_number_unsigned()) return unknown();
    meta.names.push_back(chunks[b].get<std::string>());
    meta.counts.push_back(counts[b].get<size_t>());
    meta.sizes.push_back(sizes[b].get<size_t>());
  }
  return meta;
}

Result<SavedCounters> CounterStore::load() {
  const StatePaths p(state_path_);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto meta = readMeta();
    if (!meta) return std::unexpected(meta.error());
    SavedCounters saved;
    saved.saved_ms = meta->saved_ms;
    bool meta_moved = false;
    for (const auto& name : meta->names) {
      if (name.empty()) continue;
      const std::string path = p.counters + "/" + name;
      auto r = zk::getSync(client_, path);
      if (r.code == zk::Code::kNoNode) {
        // A save switched the meta and cleaned up since we read it?
        auto again = zk::existsSync(client_, p.counters);
        if (again.code == zk::Code::kOk && again.stat.version != meta->version) {
          meta_moved = true;
          break;
        }
        saved.problems.push_back("chunk " + path + " named by the meta record is missing");
        continue;
      }
      if (r.code != zk::Code::kOk) return std::unexpected(zkError("reading saved counters failed", r.code, path));
      if (auto s = decodeCounterChunk(r.data, saved.counters); !s) {
        saved.problems.push_back("chunk " + path + ": " + s.error().message);
      }
    }
    if (meta_moved) continue;
    meta_version_ = meta->version;
    given_hash_.clear();
    return saved;
  }
  return fail(ErrorCode::kConflict, "saved counters kept changing while being read", p.counters);
}

Status CounterStore::save(const Counters& counters, const std::optional<FenceToken>& fence, int64_t now_ms) {
  const StatePaths p(state_path_);
  std::vector<zk::Op> prefix;
  if (fence) prefix.push_back(fenceCheckOp(*fence));
  auto send = [&](std::vector<zk::Op> ops, const char* what) -> Status {
    auto r = zk::multiSync(client_, std::move(ops));
    if (r.code == zk::Code::kOk) return {};
    if (fence && failedOp(r) == 0 && r.code == zk::Code::kBadVersion) return std::unexpected(fencedError(*fence));
    return std::unexpected(recordError(what, r.code, p.counters));
  };

  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto meta = readMeta();
    if (!meta) {
      // A meta record this version cannot read is replaced by a full save
      // of what the caller has: refusing would leave it unreadable for good.
      if (meta.error().code != ErrorCode::kInvalidArgument) return std::unexpected(meta.error());
      auto raw = zk::existsSync(client_, p.counters);
      if (raw.code != zk::Code::kOk) return std::unexpected(zkError("reading saved counters failed", raw.code, p.counters));
      meta = Meta{.exists = false, .version = raw.stat.version};
    }
    if (meta->version < 0) {  // no layout yet
      if (auto s = ensureLayout(client_, state_path_); !s) return s;
      continue;
    }
    if (meta->version != meta_version_) given_hash_.clear();  // someone else saved: trust nothing remembered

    size_t given_bytes = 0;
    for (const auto& [path, value] : counters) given_bytes += entryBytes(path);
    const size_t current = meta->exists && meta->format == 2 ? meta->names.size() : 0;
    const size_t buckets = counterBucketCount(std::max(given_bytes, meta->bytes()), current);
    const bool rebucket = buckets != current;

    // The caller's entries per bucket, with a hash of each bucket's content.
    std::vector<Counters> given(buckets);
    std::vector<uint64_t> hashes(buckets, 1469598103934665603ULL);
    for (const auto& [path, value] : counters) {
      const size_t b = counterBucket(path, buckets);
      given[b].emplace_hint(given[b].end(), path, value);
      hashes[b] = fnv1a(path, hashes[b]);
      hashes[b] = fnv1a(std::string_view(reinterpret_cast<const char*>(&value), sizeof value), hashes[b]);
    }

    // What is stored, for the buckets that will be written: all of it when
    // the bucket count changes, otherwise the buckets whose input changed.
    std::vector<std::optional<Counters>> stored(buckets);
    if (rebucket) {
      for (auto& b : stored) b.emplace();
      if (meta->exists) {
        auto all = load();
        if (!all) return std::unexpected(all.error());
        if (meta_version_ != meta->version) continue;  // moved while loading
        for (const auto& [path, value] : all->counters) (*stored[counterBucket(path, buckets)])[path] = value;
      }
    } else {
      bool moved = false;
      for (size_t b = 0; b < buckets && !moved; ++b) {
        if (b < given_hash_.size() && given_hash_[b] == hashes[b]) continue;
        stored[b].emplace();
        if (meta->names[b].empty()) continue;
        const std::string path = p.counters + "/" + meta->names[b];
        auto r = zk::getSync(client_, path);
        if (r.code == zk::Code::kNoNode) {
          auto again = zk::existsSync(client_, p.counters);
          moved = again.code != zk::Code::kOk || again.stat.version != meta->version;
          continue;  // deleted by hand: rewritten from what the caller has
        }
        if (r.code != zk::Code::kOk) return std::unexpected(zkError("reading saved counters failed", r.code, path));
        (void)decodeCounterChunk(r.data, *stored[b]);  // unreadable: rewritten from what the caller has
      }
      if (moved) continue;
    }

    // New chunks for the buckets whose merged content differs from what is stored.
    auto acl = recordAcl(client_, state_path_);
    if (!acl) return std::unexpected(acl.error());
    const std::string generation = randomId();
    std::vector<std::string> names = rebucket ? std::vector<std::string>(buckets) : meta->names;
    std::vector<size_t> counts = rebucket ? std::vector<size_t>(buckets) : meta->counts;
    std::vector<size_t> sizes = rebucket ? std::vector<size_t>(buckets) : meta->sizes;
    zk::MultiBatcher batcher(prefix, zk::kDefaultMaxRequestBytes);
    std::vector<std::vector<zk::Op>> batches;
    for (size_t b = 0; b < buckets; ++b) {
      if (!stored[b]) continue;  // the caller's part did not change: the stored chunk stays
      Counters merged = *stored[b];
      mergeCounters(merged, given[b]);
      const std::string data = merged.empty() ? std::string() : encodeCounterChunk(merged);
      // Unchanged content keeps its chunk (an empty bucket has none).
      if (!rebucket && merged == *stored[b] && meta->names[b].empty() == merged.empty()) continue;
      counts[b] = merged.size();
      sizes[b] = data.size();
      names[b].clear();
      if (merged.empty()) continue;
      names[b] = chunkName(generation, b);
      for (auto& full : batcher.add(zk::CreateOp{.path = p.counters + "/" + names[b], .data = data, .acl = *acl})) {
        batches.push_back(std::move(full));
      }
    }
    if (auto last = batcher.flush(); !last.empty()) batches.push_back(std::move(last));
    for (auto& batch : batches) {
      if (auto s = send(std::move(batch), "saving counters failed"); !s) return s;
    }

    // The switch: one versioned set, behind the fence.
    size_t parents = 0;
    for (size_t n : counts) parents += n;
    json m = {{"format", 2}, {"buckets", buckets}, {"chunks", names},  {"counts", counts},
              {"sizes", sizes}, {"parents", parents}, {"saved_ms", now_ms}};
    std::vector<zk::Op> ops = prefix;
    ops.push_back(zk::SetOp{p.counters, m.dump(), meta->version});
    auto r = zk::multiSync(client_, std::move(ops));
    if (r.code != zk::Code::kOk) {
      if (fence && failedOp(r) == 0 && r.code == zk::Code::kBadVersion) return std::unexpected(fencedError(*fence));
      if (r.code == zk::Code::kBadVersion) continue;  // another save switched first: merge with it
      return std::unexpected(recordError("saving counters failed", r.code, p.counters));
    }
    meta_version_ = r.results.back().stat.version;
    given_hash_ = std::move(hashes);

    // Clean-up of chunks no meta names any more. Each batch checks that the
    // meta is still ours, so a newer save's chunks are never touched.
    auto children = zk::getChildrenSync(client_, p.counters);
    if (children.code != zk::Code::kOk) return {};  // left for the next save
    const std::set<std::string> named(names.begin(), names.end());
    std::vector<zk::Op> guard = prefix;
    guard.push_back(zk::CheckOp{p.counters, meta_version_});
    zk::MultiBatcher cleaner(guard, zk::kDefaultMaxRequestBytes);
    std::vector<std::vector<zk::Op>> deletes;
    for (const auto& child : children.children) {
      if (named.contains(child)) continue;
      for (auto& full : cleaner.add(zk::DeleteOp{p.counters + "/" + child})) deletes.push_back(std::move(full));
    }
    if (auto last = cleaner.flush(); !last.empty()) deletes.push_back(std::move(last));
    for (auto& batch : deletes) {
      auto d = zk::multiSync(client_, std::move(batch));
      if (d.code != zk::Code::kOk) break;  // fenced, superseded or cut: the next save finishes
    }
    return {};
  }
  return fail(ErrorCode::kConflict, "saving counters kept racing with other writers", p.counters);
}

}  // namespace zks::state
