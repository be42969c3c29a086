#include "mapping/glob.h"

#include <algorithm>

#include "mapping/path.h"

namespace zks::mapping {
namespace detail {

inline constexpr uint32_t kNone = UINT32_MAX;

struct TrieNode {
  std::vector<std::pair<std::string, uint32_t>> literals;  // sorted by segment
  std::vector<std::pair<std::string, uint32_t>> patterns;  // segments holding '*'
  uint32_t star = kNone;                                   // child for a lone '*'
  uint32_t dstar = kNone;                                  // child for '**'
  bool is_dstar = false;                                   // this node is a '**': it loops
  std::vector<uint32_t> accepts;                           // glob indices ending here
};

struct GlobTrie {
  std::vector<TrieNode> nodes;
  std::vector<std::string> patterns;
};

StateSet& StateSet::operator=(const StateSet& other) {
  if (this == &other) return *this;
  size_ = 0;
  heap_.clear();
  for (size_t i = 0; i < other.size_; ++i) add(other[i]);
  return *this;
}

void StateSet::swap(StateSet& other) noexcept {
  // Only the live prefix of the inline arrays matters.
  size_t live = std::min(std::max(size_, other.size_), kInline);
  for (size_t i = 0; i < live; ++i) std::swap(inline_[i], other.inline_[i]);
  heap_.swap(other.heap_);
  std::swap(size_, other.size_);
}

void StateSet::add(uint32_t state) {
  for (size_t i = 0; i < size_; ++i) {
    if ((*this)[i] == state) return;
  }
  if (size_ < kInline) {
    inline_[size_] = state;
  } else {
    if (heap_.size() > size_ - kInline) {
      heap_[size_ - kInline] = state;
    } else {
      heap_.push_back(state);
    }
  }
  ++size_;
}

}  // namespace detail

namespace {

using detail::GlobTrie;
using detail::kNone;
using detail::StateSet;
using detail::TrieNode;

// '*' in `pattern` matches any run of characters. Greedy with backtracking to
// the last star: linear in practice, quadratic at worst on tiny inputs.
bool segmentMatches(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

uint32_t child(std::vector<std::pair<std::string, uint32_t>>& edges, std::string_view segment, GlobTrie& trie) {
  for (auto& [text, index] : edges) {
    if (text == segment) return index;
  }
  auto index = static_cast<uint32_t>(trie.nodes.size());
  trie.nodes.emplace_back();
  edges.emplace_back(std::string(segment), index);
  return index;
}

// Adds `state` and the '**' nodes reachable from it without consuming a segment.
void addClosed(const GlobTrie& trie, uint32_t state, StateSet& out) {
  while (state != kNone) {
    out.add(state);
    state = trie.nodes[state].dstar;
  }
}

void stepImpl(const GlobTrie& trie, const StateSet& from, std::string_view segment, bool any_segment, StateSet& out) {
  out.clear();
  for (size_t i = 0; i < from.size(); ++i) {
    uint32_t state = from[i];
    const TrieNode& node = trie.nodes[state];
    if (node.is_dstar) addClosed(trie, state, out);
    if (node.star != kNone) addClosed(trie, node.star, out);
    if (any_segment) continue;
    if (!node.literals.empty()) {
      auto it = std::lower_bound(node.literals.begin(), node.literals.end(), segment,
                                 [](const auto& edge, std::string_view s) { return edge.first < s; });
      if (it != node.literals.end() && it->first == segment) addClosed(trie, it->second, out);
    }
    for (const auto& [pattern, target] : node.patterns) {
      if (segmentMatches(pattern, segment)) addClosed(trie, target, out);
    }
  }
}

}  // namespace

std::optional<std::string> globError(std::string_view pattern) {
  if (pattern.empty()) return "is empty";
  if (pattern.front() != '/') return "must be absolute (start with '/')";
  if (pattern == "/") return std::nullopt;
  if (pattern.back() == '/') return "must not end with '/'";
  for (unsigned char c : pattern) {
    if (c < 0x20 || c == 0x7f) return "contains a control character";
  }
  for (SegmentIterator it(pattern); !it.done(); it.next()) {
    std::string_view segment = it.segment();
    if (segment.empty()) return "has an empty segment ('//')";
    if (segment == "." || segment == "..") return "has a '" + std::string(segment) + "' segment";
    // '**' spans segments, so inside a segment it could only be '*' typed twice.
    if (segment != "**" && segment.find("**") != std::string_view::npos) {
      return "has '**' inside the segment '" + std::string(segment) + "' ('**' must be a whole segment)";
    }
  }
  return std::nullopt;
}

GlobSet::GlobSet() {
  auto trie = std::make_shared<GlobTrie>();
  trie->nodes.emplace_back();
  trie_ = std::move(trie);
}

Result<GlobSet> GlobSet::compile(const std::vector<std::string>& patterns) {
  auto trie = std::make_shared<GlobTrie>();
  trie->nodes.emplace_back();
  for (size_t g = 0; g < patterns.size(); ++g) {
    const std::string& pattern = patterns[g];
    if (auto error = globError(pattern)) {
      return fail(ErrorCode::kInvalidArgument, "glob '" + pattern + "' " + *error);
    }
    uint32_t state = 0;
    for (SegmentIterator it(pattern); !it.done(); it.next()) {
      std::string_view segment = it.segment();
      uint32_t next;
      if (segment == "**") {
        next = trie->nodes[state].dstar;
        if (next == kNone) {
          next = static_cast<uint32_t>(trie->nodes.size());
          trie->nodes.emplace_back();
          trie->nodes[next].is_dstar = true;
          trie->nodes[state].dstar = next;
        }
      } else if (segment == "*") {
        next = trie->nodes[state].star;
        if (next == kNone) {
          next = static_cast<uint32_t>(trie->nodes.size());
          trie->nodes.emplace_back();
          trie->nodes[state].star = next;
        }
      } else if (segment.find('*') != std::string_view::npos) {
        // child() may grow `nodes`, so no reference into it is held across the call.
        auto edges = std::move(trie->nodes[state].patterns);
        next = child(edges, segment, *trie);
        trie->nodes[state].patterns = std::move(edges);
      } else {
        auto edges = std::move(trie->nodes[state].literals);
        next = child(edges, segment, *trie);
        trie->nodes[state].literals = std::move(edges);
      }
      state = next;
    }
    trie->nodes[state].accepts.push_back(static_cast<uint32_t>(g));
    trie->patterns.push_back(pattern);
  }
  for (TrieNode& node : trie->nodes) std::sort(node.literals.begin(), node.literals.end());
  GlobSet set;
  set.trie_ = std::move(trie);
  return set;
}

size_t GlobSet::size() const { return trie_->patterns.size(); }
const std::string& GlobSet::pattern(size_t index) const { return trie_->patterns.at(index); }
const std::vector<uint32_t>& GlobSet::accepts(uint32_t state) const { return trie_->nodes[state].accepts; }

void GlobSet::start(States& out) const {
  out.clear();
  addClosed(*trie_, 0, out);
}

void GlobSet::step(const States& from, std::string_view segment, States& out) const {
  stepImpl(*trie_, from, segment, false, out);
}

void GlobSet::stepAnySegment(const States& from, States& out) const { stepImpl(*trie_, from, {}, true, out); }

namespace {
// Walks `path`, calling at_prefix(states, prefix_length) for "/" and after each
// segment; stops early when it returns true or no state is live.
template <typename Fn>
bool walk(const GlobSet& set, std::string_view path, Fn&& at_prefix) {
  StateSet a, b;
  set.start(a);
  if (at_prefix(a, size_t{1})) return true;
  for (SegmentIterator it(path); !it.done(); it.next()) {
    set.step(a, it.segment(), b);
    a.swap(b);
    if (a.empty()) return false;
    if (at_prefix(a, it.prefix().size())) return true;
  }
  return false;
}
}  // namespace

void GlobSet::allMatches(std::string_view path, std::vector<uint32_t>& out) const {
  out.clear();
  StateSet a, b;
  start(a);
  for (SegmentIterator it(path); !it.done() && !a.empty(); it.next()) {
    step(a, it.segment(), b);
    a.swap(b);
  }
  forEachAccept(a, [&](uint32_t index) { out.push_back(index); });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

std::optional<size_t> GlobSet::firstMatch(std::string_view path) const {
  StateSet a, b;
  start(a);
  for (SegmentIterator it(path); !it.done() && !a.empty(); it.next()) {
    step(a, it.segment(), b);
    a.swap(b);
  }
  std::optional<size_t> first;
  forEachAccept(a, [&](uint32_t index) {
    if (!first || index < *first) first = index;
  });
  return first;
}

bool GlobSet::matches(std::string_view path) const { return firstMatch(path).has_value(); }

std::optional<std::pair<size_t, size_t>> GlobSet::firstSelfOrAncestorMatch(std::string_view path) const {
  std::optional<std::pair<size_t, size_t>> found;
  walk(*this, path, [&](const StateSet& states, size_t prefix_length) {
    forEachAccept(states, [&](uint32_t index) {
      if (!found || index < found->first) found = std::pair<size_t, size_t>{index, prefix_length};
    });
    return found.has_value();
  });
  return found;
}

bool GlobSet::matchesSelfOrAncestor(std::string_view path) const {
  return firstSelfOrAncestorMatch(path).has_value();
}

Result<Glob> Glob::compile(std::string_view pattern) {
  auto set = GlobSet::compile({std::string(pattern)});
  if (!set) return std::unexpected(set.error());
  Glob glob;
  glob.set_ = std::move(*set);
  return glob;
}

}  // namespace zks::mapping
