#include "mapping/edits.h"

namespace zks::mapping {

void appendEdited(std::string_view text, const std::vector<Edit>& edits, std::string& out) {
  size_t extra = 0;
  for (const Edit& edit : edits) extra += edit.text.size();
  out.reserve(out.size() + text.size() + extra);
  size_t at = 0;
  for (const Edit& edit : edits) {
    out.append(text.substr(at, edit.begin - at));
    out.append(edit.text);
    at = edit.end;
  }
  out.append(text.substr(at));
}

}  // namespace zks::mapping
