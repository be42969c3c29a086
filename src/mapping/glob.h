#pragma once

// Path globs, the one matcher every module uses (mapping rules, sync.exclude).
//
//   /zms/topic/*          `*` alone: exactly one segment
//   /zms/topic/stat_*     `*` inside a segment: any characters within it
//   /legacy/**            `**` alone: any number of segments, even none
//                         (so /legacy/** matches /legacy itself)
//   /                     the root only
//
// Every other character is literal. A set of globs is compiled into one
// segment trie walked as an NFA, so matching costs one pass over the path's
// segments however many globs there are, and allocates nothing unless more
// than 16 trie states are live at once.
//
// Thread safety: a compiled Glob or GlobSet is immutable; matching is const
// and may run from any number of threads.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace zks::mapping {

namespace detail {
struct GlobTrie;

// Live trie states during a walk: inline storage for the usual handful.
class StateSet {
 public:
  StateSet() = default;
  StateSet(const StateSet& other) { *this = other; }
  StateSet& operator=(const StateSet& other);
  void clear() { size_ = 0; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint32_t operator[](size_t i) const { return i < kInline ? inline_[i] : heap_[i - kInline]; }
  // Adds `state` unless present.
  void add(uint32_t state);
  void swap(StateSet& other) noexcept;

 private:
  static constexpr size_t kInline = 16;
  uint32_t inline_[kInline] = {};
  std::vector<uint32_t> heap_;
  size_t size_ = 0;
};
inline void swap(StateSet& a, StateSet& b) noexcept { a.swap(b); }
}  // namespace detail

// Why `pattern` is not a valid glob, or nothing.
std::optional<std::string> globError(std::string_view pattern);

// A compiled set of globs. Indices follow the order given to compile().
class GlobSet {
 public:
  GlobSet();  // matches nothing
  // Fails with kInvalidArgument naming the first bad pattern and why.
  static Result<GlobSet> compile(const std::vector<std::string>& patterns);

  size_t size() const;
  bool empty() const { return size() == 0; }
  const std::string& pattern(size_t index) const;

  // Whether some glob matches the whole path.
  bool matches(std::string_view path) const;
  // The lowest index of a glob matching the whole path, if any.
  std::optional<size_t> firstMatch(std::string_view path) const;
  // Every glob index matching the whole path, ascending, into `out` (cleared first).
  void allMatches(std::string_view path, std::vector<uint32_t>& out) const;
  // Whether some glob matches the path or one of its ancestors: what
  // `exclude` means, since a node below an excluded one cannot be placed.
  bool matchesSelfOrAncestor(std::string_view path) const;
  // As above, returning the first matching glob's index and the matched prefix's length.
  std::optional<std::pair<size_t, size_t>> firstSelfOrAncestorMatch(std::string_view path) const;

  // ---- step-wise walk, for matchers that act on each prefix (the engine) ----
  using States = detail::StateSet;
  // The states before any segment (they accept the path "/").
  void start(States& out) const;
  // The states after consuming one more segment.
  void step(const States& from, std::string_view segment, States& out) const;
  // Like step(), following only the edges every segment takes (`*`, `**`):
  // the globs that would accept whatever the segment is.
  void stepAnySegment(const States& from, States& out) const;
  // Calls fn(glob_index) for each glob accepting in `states` (unordered, may repeat).
  template <typename Fn>
  void forEachAccept(const States& states, Fn&& fn) const;

 private:
  const std::vector<uint32_t>& accepts(uint32_t state) const;
  std::shared_ptr<const detail::GlobTrie> trie_;
};

// One glob.
class Glob {
 public:
  static Result<Glob> compile(std::string_view pattern);
  const std::string& pattern() const { return set_.pattern(0); }
  bool matches(std::string_view path) const { return set_.matches(path); }
  bool matchesSelfOrAncestor(std::string_view path) const { return set_.matchesSelfOrAncestor(path); }

 private:
  GlobSet set_;
};

template <typename Fn>
void GlobSet::forEachAccept(const States& states, Fn&& fn) const {
  for (size_t i = 0; i < states.size(); ++i) {
    for (uint32_t index : accepts(states[i])) fn(index);
  }
}

}  // namespace zks::mapping
