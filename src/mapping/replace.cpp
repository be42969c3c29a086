#include "mapping/replace.h"

#include <re2/re2.h>

#include <algorithm>

namespace zks::mapping {
namespace {

// `with` → RE2 rewrite syntax. Fails on ${N} with N not a single digit.
Result<std::string> toRewrite(std::string_view with) {
  std::string out;
  out.reserve(with.size() + 4);
  for (size_t i = 0; i < with.size(); ++i) {
    char c = with[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c != '$' || i + 1 == with.size()) {
      out += c;
    } else if (with[i + 1] >= '0' && with[i + 1] <= '9') {
      out += '\\';
      out += with[++i];
    } else if (with[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (with[i + 1] == '{') {
      size_t close = with.find('}', i + 2);
      std::string_view inside = close == std::string_view::npos ? with.substr(i + 2) : with.substr(i + 2, close - i - 2);
      if (close == std::string_view::npos || inside.size() != 1 || inside[0] < '0' || inside[0] > '9') {
        return fail(ErrorCode::kInvalidArgument, "'with' has '${" + std::string(inside) +
                                                     "...': only ${0} to ${9} name groups");
      }
      out += '\\';
      out += inside[0];
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

// Length of the UTF-8 character starting at `c` (1 for anything odd), as
// RE2::GlobalReplace steps over an empty match.
size_t charLength(std::string_view text, size_t at) {
  auto c = static_cast<unsigned char>(text[at]);
  size_t len = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  return at + len <= text.size() ? len : 1;
}

}  // namespace

Result<RegexRewrite> RegexRewrite::compile(std::string regex, std::string with) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const RE2>(regex, options);
  if (!re->ok()) return fail(ErrorCode::kInvalidArgument, "bad regex '" + regex + "': " + re->error());
  auto rewrite = toRewrite(with);
  if (!rewrite) return std::unexpected(rewrite.error());
  std::string why;
  if (!re->CheckRewriteString(*rewrite, &why)) {
    return fail(ErrorCode::kInvalidArgument, "'with' '" + with + "' does not fit regex '" + regex + "': " + why);
  }
  RegexRewrite out;
  out.regex_ = std::move(regex);
  out.with_ = std::move(with);
  out.rewrite_ = std::move(*rewrite);
  out.groups_ = std::max(RE2::MaxSubmatch(out.rewrite_), 0);
  out.re_ = std::move(re);
  return out;
}

size_t RegexRewrite::findEdits(std::string_view text, std::vector<Edit>& edits) const {
  // The loop of RE2::GlobalReplace, recording edits instead of building the string.
  constexpr int kMaxGroups = 10;
  re2::StringPiece groups[kMaxGroups];
  int n = groups_ + 1;
  re2::StringPiece piece(text.data(), text.size());
  size_t at = 0;
  const char* last_end = nullptr;
  size_t count = 0;
  while (at <= text.size()) {
    if (!re_->Match(piece, at, text.size(), RE2::UNANCHORED, groups, n)) break;
    size_t begin = static_cast<size_t>(groups[0].data() - text.data());
    if (groups[0].empty() && groups[0].data() == last_end) {
      // An empty match right where the last one ended: step over one character.
      if (at >= text.size()) break;
      at += charLength(text, at);
      continue;
    }
    std::string replacement;
    re_->Rewrite(&replacement, rewrite_, groups, n);
    size_t end = begin + groups[0].size();
    edits.push_back({begin, end, std::move(replacement)});
    ++count;
    at = end;
    last_end = groups[0].data() + groups[0].size();
  }
  return count;
}

bool applyReplacements(const std::vector<Replacement>& list, bool reverse, std::string_view text, std::string& out) {
  bool changed = false;
  std::string current;
  std::vector<Edit> edits;
  for (size_t k = 0; k < list.size(); ++k) {
    const Replacement& entry = list[reverse ? list.size() - 1 - k : k];
    const RegexRewrite& rewrite = reverse ? *entry.reverse : entry.forward;
    edits.clear();
    std::string_view input = changed ? std::string_view(current) : text;
    if (rewrite.findEdits(input, edits) == 0) continue;
    std::string next = applyEdits(input, edits);
    current = std::move(next);
    changed = true;
  }
  if (changed) out = std::move(current);
  return changed;
}

}  // namespace zks::mapping
