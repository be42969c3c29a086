#include "mapping/mapping_set.h"

#include <algorithm>

#include "mapping/format.h"
#include "mapping/path.h"
#include "mapping/rules.h"

namespace zks::mapping {

namespace detail {
struct Scope {
  std::vector<Root> roots;  // as configured (source = primary side)
  GlobSet exclude;          // on primary-side paths
};
}  // namespace detail

namespace {

using detail::Compiled;
using detail::Format;
using detail::Rule;
using States = detail::StateSet;

// Rule indices accepted by `states`, ascending, without duplicates.
class RuleList {
 public:
  void clear() { size_ = 0; }
  size_t size() const { return size_; }
  uint32_t operator[](size_t i) const { return i < kInline ? inline_[i] : heap_[i - kInline]; }
  void collect(const GlobSet& globs, const std::vector<uint32_t>& glob_rule, const States& states) {
    clear();
    globs.forEachAccept(states, [&](uint32_t glob) { insert(glob_rule[glob]); });
  }

 private:
  void insert(uint32_t rule) {
    size_t at = 0;
    while (at < size_ && (*this)[at] < rule) ++at;
    if (at < size_ && (*this)[at] == rule) return;
    push(0);
    for (size_t k = size_ - 1; k > at; --k) set(k, (*this)[k - 1]);
    set(at, rule);
  }
  void push(uint32_t v) {
    if (size_ < kInline) {
      inline_[size_] = v;
    } else if (heap_.size() > size_ - kInline) {
      heap_[size_ - kInline] = v;
    } else {
      heap_.push_back(v);
    }
    ++size_;
  }
  void set(size_t i, uint32_t v) {
    if (i < kInline) {
      inline_[i] = v;
    } else {
      heap_[i - kInline] = v;
    }
  }
  static constexpr size_t kInline = 16;
  uint32_t inline_[kInline] = {};
  std::vector<uint32_t> heap_;
  size_t size_ = 0;
};

size_t depthOf(std::string_view path) {
  if (path == "/") return 0;
  return static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

// Moves `path` from below `from` to below `to`.
std::string relocate(std::string_view path, std::string_view from, std::string_view to) {
  std::string_view rest = from == "/" ? path : path.substr(from.size());
  if (rest == "/") rest = {};
  std::string out;
  if (to != "/") out.append(to);
  out.append(rest);
  if (out.empty()) out.push_back('/');
  return out;
}

void fail(MapResult& result, FailureKind kind, std::string reason) {
  result.outcome = Outcome::kFailed;
  result.failure = kind;
  result.reason = std::move(reason);
  result.data.clear();
}

const std::shared_ptr<const Compiled>& emptyCompiled() {
  static const auto empty = [] {
    auto compiled = std::make_shared<Compiled>();
    return std::shared_ptr<const Compiled>(std::move(compiled));
  }();
  return empty;
}

}  // namespace

std::string_view failureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone: return "none";
    case FailureKind::kUnmapped: return "unmapped";
    case FailureKind::kParse: return "parse";
    case FailureKind::kTooLarge: return "too_large";
    case FailureKind::kBadPath: return "bad_path";
  }
  return "unknown";
}

MappingSet::MappingSet() : compiled_(emptyCompiled()) {}

size_t MappingSet::ruleCount() const { return compiled_->rules.size(); }
size_t MappingSet::tableCount() const { return compiled_->tables.size(); }
const std::vector<Root>& MappingSet::roots() const {
  static const std::vector<Root> kNone;
  return scope_ ? scope_->roots : kNone;
}

Result<MappingSet> MappingSet::withScope(std::vector<Root> roots, const std::vector<std::string>& exclude) const {
  auto scope = std::make_shared<detail::Scope>();
  for (Root& root : roots) {
    if (root.target.empty()) root.target = root.source;
    for (const std::string* path : {&root.source, &root.target}) {
      if (auto error = pathError(*path)) {
        return zks::fail(ErrorCode::kInvalidArgument, "root '" + *path + "' " + *error);
      }
    }
  }
  auto globs = GlobSet::compile(exclude);
  if (!globs) return std::unexpected(globs.error());
  scope->roots = std::move(roots);
  scope->exclude = std::move(*globs);
  MappingSet out = *this;
  out.scope_ = std::move(scope);
  return out;
}

LoadResult MappingSet::inverse() const {
  if (!reverse_ && !compiled_->inverse_problems.empty()) return std::unexpected(compiled_->inverse_problems);
  MappingSet out = *this;
  out.reverse_ = !reverse_;
  return out;
}

// Finds the root `path` lies in (longest match) on this set's source side.
bool MappingSet::scopeCheck(std::string_view path, MapResult& result, size_t& root_index) const {
  root_index = SIZE_MAX;
  if (!scope_) return true;
  size_t best = 0;
  for (size_t i = 0; i < scope_->roots.size(); ++i) {
    const std::string& from = reverse_ ? scope_->roots[i].target : scope_->roots[i].source;
    if (isUnder(path, from) && (root_index == SIZE_MAX || from.size() > best)) {
      root_index = i;
      best = from.size();
    }
  }
  if (root_index == SIZE_MAX) {
    result.outcome = Outcome::kNotReplicated;
    result.reason = reverse_ ? "outside every target root" : "outside every root";
    return false;
  }
  return true;
}

bool MappingSet::replicated(std::string_view path, std::string* reason) const {
  MapResult result;
  mapPath(path, result);
  if (result.outcome == Outcome::kNotReplicated) {
    if (reason) *reason = result.reason;
    return false;
  }
  return true;
}

// Computes result.path. The rules' globs match the primary-side path: the
// input going forward, result.path in reverse.
bool MappingSet::mapPathImpl(std::string_view path, MapResult& result, bool explain) const {
  result.outcome = Outcome::kMapped;
  result.failure = FailureKind::kNone;
  result.reason.clear();
  result.path.clear();  // a node whose path cannot be mapped has none (clear() keeps the buffer)
  result.path_changed = false;
  size_t root_index;
  if (!scopeCheck(path, result, root_index)) return false;
  const Compiled& c = *compiled_;
  std::string_view source_root = "/";
  std::string_view target_root = "/";
  if (root_index != SIZE_MAX) {
    const Root& root = scope_->roots[root_index];
    source_root = root.source;
    target_root = root.target;
  }
  // Work on the primary-side form: going forward it is the input; in reverse
  // the input is first moved below the source root, then renamed back.
  std::string relocated;
  std::string_view walk_path = path;
  if (reverse_ && root_index != SIZE_MAX && source_root != target_root) {
    relocated = relocate(path, target_root, source_root);
    walk_path = relocated;
  }
  const size_t fixed_depth = root_index == SIZE_MAX ? 0 : depthOf(source_root);
  std::string renamed;  // built only once a segment changes
  bool renaming = false;
  if (!c.segment_globs.empty()) {
    States states, next, any;
    RuleList rules;
    std::vector<Edit> edits;
    std::string segment_buffer, missing;
    c.segment_globs.start(states);
    size_t depth = 0;
    for (SegmentIterator it(walk_path); !it.done(); it.next()) {
      ++depth;
      std::string_view segment = it.segment();
      std::string_view mapped = segment;
      next.clear();
      if (depth > fixed_depth && !states.empty()) {
        if (!reverse_) {
          c.segment_globs.step(states, segment, next);
          rules.collect(c.segment_globs, c.segment_glob_rule, next);
        } else {
          // The renamed segment is only known after renaming; inverse()
          // ensured every segments glob ends in a wildcard there.
          c.segment_globs.stepAnySegment(states, any);
          rules.collect(c.segment_globs, c.segment_glob_rule, any);
        }
        for (size_t k = 0; k < rules.size(); ++k) {
          const Rule& rule = c.rules[rules[reverse_ ? rules.size() - 1 - k : k]];
          if (!rule.segments) continue;
          edits.clear();
          if (!mapValue(*rule.segments, reverse_, mapped, edits, missing)) {
            fail(result, FailureKind::kUnmapped,
                 "path segment '" + missing + "' is not in table " + rule.segments->table->name() + " (" +
                     rule.label() + ")");
            return false;
          }
          if (!edits.empty()) {
            segment_buffer = applyEdits(mapped, edits);
            mapped = segment_buffer;
          }
        }
        if (reverse_) c.segment_globs.step(states, mapped, next);
      } else if (!states.empty()) {
        c.segment_globs.step(states, segment, next);
      }
      states.swap(next);
      if (mapped != segment) {
        // A renamed segment must stay one segment: a '/' in it would move the node.
        if (auto error = segmentError(mapped)) {
          fail(result, FailureKind::kBadPath,
               "path segment '" + std::string(segment) + "' maps to '" + std::string(mapped) +
                   "', which is not a valid path segment: it " + *error);
          return false;
        }
      }
      if (mapped != segment && !renaming) {
        renaming = true;
        renamed.assign(walk_path.substr(0, it.prefix().size() - segment.size()));
      }
      if (renaming) {
        if (explain && mapped != segment) result.changes.push_back({"path segment", std::string(segment), std::string(mapped)});
        renamed.append(mapped);
        if (it.prefix().size() < walk_path.size()) renamed += '/';
      }
      if (states.empty() && !renaming) break;  // nothing below can match or rename
    }
  }
  std::string_view renamed_path = renaming ? std::string_view(renamed) : walk_path;
  if (!reverse_) {
    if (root_index != SIZE_MAX && source_root != target_root) {
      result.path = relocate(renamed_path, source_root, target_root);
    } else {
      result.path.assign(renamed_path);
    }
  } else {
    result.path.assign(renamed_path);
  }
  std::string_view primary_side = reverse_ ? std::string_view(result.path) : path;
  result.path_changed = result.path != path;
  if (scope_ && !scope_->exclude.empty()) {
    if (auto hit = scope_->exclude.firstSelfOrAncestorMatch(primary_side)) {
      result.outcome = Outcome::kNotReplicated;
      result.reason = "excluded by '" + scope_->exclude.pattern(hit->first) + "'";
      return false;
    }
  }
  if (result.path_changed) {
    if (auto error = pathError(result.path)) {
      fail(result, FailureKind::kBadPath, "mapped path '" + result.path + "' " + *error);
      return false;
    }
  }
  return true;
}

bool MappingSet::mapData(std::string_view primary_side, std::string_view data, MapResult& result, bool explain) const {
  const Compiled& c = *compiled_;
  result.data_changed = false;
  if (data.empty() || c.payload_globs.empty()) {
    result.data.assign(data);
    return true;
  }
  RuleList rules;
  {
    States a, b;
    c.payload_globs.start(a);
    for (SegmentIterator it(primary_side); !it.done() && !a.empty(); it.next()) {
      c.payload_globs.step(a, it.segment(), b);
      a.swap(b);
    }
    rules.collect(c.payload_globs, c.payload_glob_rule, a);
  }
  std::string_view current = data;
  std::string buffers[2];
  int next_buffer = 0;
  std::vector<Edit> edits;
  std::vector<Change>* changes = explain ? &result.changes : nullptr;
  auto commit = [&] {
    std::string& out = buffers[next_buffer];
    out.clear();
    appendEdited(current, edits, out);
    current = out;
    next_buffer ^= 1;
  };
  auto format_step = [&](const Rule& rule) -> bool {
    if (rule.format != Format::kProperties && rule.format != Format::kJson) return true;
    edits.clear();
    FormatStatus status = rule.format == Format::kProperties
                              ? mapProperties(current, rule.fields, reverse_, edits, changes)
                              : mapJson(current, rule.fields, reverse_, edits, changes);
    if (!status.ok()) {
      fail(result, status.failure, status.message + " (" + rule.label() + ")");
      return false;
    }
    if (!edits.empty()) commit();
    return true;
  };
  auto replace_step = [&](const Rule& rule) -> bool {
    bool replaced = false;
    for (size_t k = 0; k < rule.replace.size(); ++k) {
      const Replacement& entry = rule.replace[reverse_ ? rule.replace.size() - 1 - k : k];
      const RegexRewrite& rewrite = reverse_ ? *entry.reverse : entry.forward;
      edits.clear();
      if (rewrite.findEdits(current, edits) == 0) continue;
      if (changes) {
        for (const Edit& edit : edits) {
          std::string before(current.substr(edit.begin, edit.end - edit.begin));
          if (before != edit.text) changes->push_back({"replace /" + rewrite.regex() + "/", std::move(before), edit.text});
        }
      }
      commit();
      replaced = true;
    }
    if (replaced && !reverse_ && rule.format == Format::kJson) {
      std::string why;
      if (!jsonValid(current, why)) {
        fail(result, FailureKind::kParse, "replace left a payload that " + why + " (" + rule.label() + ")");
        return false;
      }
    }
    return true;
  };
  for (size_t k = 0; k < rules.size(); ++k) {
    const Rule& rule = c.rules[rules[reverse_ ? rules.size() - 1 - k : k]];
    if (!reverse_) {
      if (!format_step(rule) || !replace_step(rule)) return false;
    } else {
      if (!replace_step(rule) || !format_step(rule)) return false;
    }
  }
  if (current.size() > kMaxDataBytes) {
    fail(result, FailureKind::kTooLarge,
         "mapped payload is " + std::to_string(current.size()) + " bytes, over the " +
             std::to_string(kMaxDataBytes) + " ZooKeeper accepts");
    return false;
  }
  result.data_changed = current.data() != data.data() && current != data;  // compared only after an edit
  result.data.assign(current);
  return true;
}

void MappingSet::map(std::string_view path, std::string_view data, MapResult& result, bool explain) const {
  result.changes.clear();
  result.data_changed = false;
  if (!mapPathImpl(path, result, explain)) {
    result.data.clear();
    return;
  }
  mapData(reverse_ ? std::string_view(result.path) : path, data, result, explain);
}

void MappingSet::mapPath(std::string_view path, MapResult& result) const {
  result.changes.clear();
  result.data.clear();
  result.data_changed = false;
  mapPathImpl(path, result, false);
}

std::vector<std::string> MappingSet::sourcePathsFor(std::string_view target_path, size_t limit) const {
  std::vector<std::string> found;
  if (pathError(target_path)) return found;
  const Compiled& c = *compiled_;
  // The inverse of this set's direction, as candidates for each segment.
  std::vector<std::string> start_paths;
  if (scope_) {
    for (const Root& root : scope_->roots) {
      std::string_view from = reverse_ ? root.source : root.target;  // where this set writes
      std::string_view to = reverse_ ? root.target : root.source;    // where it reads
      if (isUnder(target_path, from)) start_paths.push_back(relocate(target_path, from, to));
    }
  } else {
    start_paths.emplace_back(target_path);
  }
  constexpr size_t kMaxCombinations = 4096;
  for (const std::string& start : start_paths) {
    std::vector<std::string> partial{""};
    for (SegmentIterator it(start); !it.done(); it.next()) {
      std::vector<std::string> options{std::string(it.segment())};
      // Closure of the segment under every segments table, looked up the other way.
      for (size_t round = 0; round < options.size() && options.size() < 16; ++round) {
        for (const Rule& rule : c.rules) {
          if (!rule.segments || rule.segments->table == nullptr) continue;
          ValueSpec spec{rule.segments->table, rule.segments->hosts, {}, Unmapped::kKeep};
          std::vector<Edit> edits;
          std::string missing;
          mapValue(spec, !reverse_, options[round], edits, missing);
          if (edits.empty()) continue;
          std::string other = applyEdits(options[round], edits);
          if (std::find(options.begin(), options.end(), other) == options.end()) options.push_back(std::move(other));
        }
      }
      std::vector<std::string> grown;
      for (const std::string& prefix : partial) {
        for (const std::string& option : options) {
          if (grown.size() >= kMaxCombinations) break;
          grown.push_back(prefix + "/" + option);
        }
      }
      partial = std::move(grown);
    }
    if (partial.size() == 1 && partial[0].empty()) partial[0] = "/";
    MapResult check;
    for (const std::string& candidate : partial) {
      mapPath(candidate, check);
      if (check.outcome == Outcome::kMapped && check.path == target_path &&
          std::find(found.begin(), found.end(), candidate) == found.end()) {
        found.push_back(candidate);
        if (found.size() >= limit) return found;
      }
    }
  }
  return found;
}

std::optional<std::string> CollisionIndex::claim(std::string_view target, std::string_view source) {
  auto it = claimed_.find(target);
  if (it == claimed_.end()) {
    claimed_.emplace(std::string(target), std::string(source));
    return std::nullopt;
  }
  if (it->second == source) return std::nullopt;
  return it->second;
}

}  // namespace zks::mapping
