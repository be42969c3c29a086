#pragma once

// The mapping engine (SPEC.md section 3): what one primary node becomes on
// the backup. Pure: values in, values out; no ZooKeeper, no threads, no I/O
// except loadMappingFiles() reading the files it is given.
//
// Usage (planner, daemon, `map`, `diff`):
//
//   auto set = mapping::loadMappingFiles(config.mapping.files);   // or problems
//   auto scoped = set->withScope(roots, config.sync.exclude);      // roots + exclude
//   mapping::MapResult result;                                     // reused per node
//   scoped->map(primary_path, primary_data, result);
//   switch (result.outcome) { kMapped: write result.path/result.data ... }
//
// A MappingSet is an immutable value, cheap to copy (it shares its compiled
// rules). map() is const, allocation-free when it can reuse `result`'s
// buffers and the node needs no change, and safe to call from any thread.
//
// Direction: globs in mapping files always name primary-side paths. A
// forward set maps primary → backup; inverse() gives the backup → primary set
// for --reverse, in which globs still match the primary-side path (the one
// being produced), so the same rules serve both directions.

#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "mapping/glob.h"
#include "mapping/problem.h"
#include "mapping/result.h"

namespace zks::mapping {

namespace detail {
struct Compiled;
struct Scope;
}  // namespace detail

// sync.roots: a subtree of the primary and where it goes on the backup.
struct Root {
  std::string source;
  std::string target;
};

// In-memory mapping file text, for tests and tools.
struct MappingSource {
  std::string name;  // shown in problems where a file path would be
  std::string text;
};

class MappingSet;
using LoadResult = std::expected<MappingSet, std::vector<Problem>>;

// Reads and compiles mapping files, in order: tables of every file share
// one namespace, rules apply in file order then rule order. Every problem in
// every file is reported (unknown key, bad glob, bad regex, unknown table,
// a rename that would send two paths to one, ...), each with file and line.
LoadResult loadMappingFiles(const std::vector<std::filesystem::path>& files);
LoadResult loadMappingSources(const std::vector<MappingSource>& sources);
LoadResult loadMappingText(std::string_view text, std::string name = "<mapping>");

class MappingSet {
 public:
  // The identity mapping: every node maps to itself, unscoped.
  MappingSet();

  // The same rules limited to `roots` (source → target; a target defaults to
  // its source when empty) minus `exclude` (globs on primary-side paths; a
  // node below an excluded one is excluded too). Without a scope every path
  // is replicated in place. Fails on a bad root path or glob.
  Result<MappingSet> withScope(std::vector<Root> roots, const std::vector<std::string>& exclude) const;

  // The set for --reverse (backup → primary): inverted tables, each replace
  // entry's `reverse`, rules in reverse order, roots swapped. Refuses, with
  // the place of each offender, tables that are not one-to-one, replace
  // entries without `reverse`, and `segments` rules whose glob names the
  // renamed segment other than by `*` or `**`. inverse() of an inverse is the
  // forward set again.
  LoadResult inverse() const;
  bool reversed() const { return reverse_; }

  // Maps one node. Never a partial result: kFailed leaves `data` empty.
  // `explain` fills result.changes (for map/diff display); it allocates.
  // `path` and `data` must not point into `result`'s own buffers.
  void map(std::string_view path, std::string_view data, MapResult& result, bool explain = false) const;
  MapResult map(std::string_view path, std::string_view data, bool explain = false) const {
    MapResult result;
    map(path, data, result, explain);
    return result;
  }
  // The path alone (for nodes whose data is not at hand): outcome kMapped
  // with result.path, kNotReplicated, or kFailed (kUnmapped, kBadPath).
  void mapPath(std::string_view path, MapResult& result) const;

  // Whether a source-side path is outside every root or excluded (with why).
  bool replicated(std::string_view path, std::string* reason = nullptr) const;

  // Every source-side path this set maps to `target_path` (roots, segment
  // renames and exclusions considered), found by looking each segment up
  // backwards through the segment tables and checking each candidate with
  // mapPath(). Two or more of them existing on the source is a collision:
  // the planner checks its tree against this list. At most `limit` results.
  std::vector<std::string> sourcePathsFor(std::string_view target_path, size_t limit = 64) const;

  size_t ruleCount() const;
  size_t tableCount() const;
  const std::vector<Root>& roots() const;

 private:
  bool scopeCheck(std::string_view path, MapResult& result, size_t& root_index) const;
  bool mapPathImpl(std::string_view path, MapResult& result, bool explain) const;
  bool mapData(std::string_view primary_side, std::string_view data, MapResult& result, bool explain) const;

  std::shared_ptr<const detail::Compiled> compiled_;
  std::shared_ptr<const detail::Scope> scope_;
  bool reverse_ = false;

  friend LoadResult loadMappingSources(const std::vector<MappingSource>& sources);
};

// Plan-time collision detection: remembers which source path claimed each
// target path during one pass.
class CollisionIndex {
 public:
  // Records that `source` maps to `target`. Returns the other source path
  // when a different one claimed `target` first.
  std::optional<std::string> claim(std::string_view target, std::string_view source);
  void clear() { claimed_.clear(); }
  size_t size() const { return claimed_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> claimed_;
};

}  // namespace zks::mapping
