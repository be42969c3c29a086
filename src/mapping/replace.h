#pragma once

// Regex replacement with RE2 (linear time, no backtracking blow-up on hostile
// payloads). Internal to the engine.
//
// `with` takes $1..$9 (or ${1}..${9}) for groups and $0 for the whole match;
// $$ is a literal '$'; any other '$' and every '\' are literal. Matches are
// replaced left to right without overlap, as RE2::GlobalReplace does.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "mapping/edits.h"

namespace re2 {
class RE2;
}

namespace zks::mapping {

class RegexRewrite {
 public:
  // Fails with the reason (bad regex, a $N beyond the regex's groups).
  static Result<RegexRewrite> compile(std::string regex, std::string with);

  const std::string& regex() const { return regex_; }
  const std::string& with() const { return with_; }

  // Appends one edit per match of the regex in `text` (coordinates of `text`).
  // Returns the number of matches.
  size_t findEdits(std::string_view text, std::vector<Edit>& edits) const;

 private:
  std::string regex_;
  std::string with_;
  std::string rewrite_;  // `with` in RE2's \N syntax
  std::shared_ptr<const re2::RE2> re_;
  int groups_ = 0;
};

// One entry of a `replace` list; `reverse` is what --reverse uses.
struct Replacement {
  int line = 0;
  RegexRewrite forward;
  std::optional<RegexRewrite> reverse;
};

// Applies `list` in order (reverse: their `reverse`s in reverse order, which
// the caller has checked exist) to `text`. Returns false when nothing matched;
// otherwise `out` holds the result.
bool applyReplacements(const std::vector<Replacement>& list, bool reverse, std::string_view text,
                       std::string& out);

}  // namespace zks::mapping
