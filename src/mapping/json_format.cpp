// JSON, validated strictly and mapped in place: a string value at a field's
// pointer is decoded, mapped and spliced back into its own byte range.
#include <algorithm>
#include <charconv>
#include <cstdint>

#include "mapping/format.h"
#include "mapping/glob.h"

namespace zks::mapping {
namespace {

using States = detail::StateSet;
constexpr int kMaxDepth = 512;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A string's content, as found in the payload.
struct JsonString {
  size_t begin = 0;  // after the opening quote
  size_t end = 0;    // at the closing quote
  bool escaped = false;
};

uint32_t hex4(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (size_t k = at; k < at + 4; ++k) v = v * 16 + static_cast<uint32_t>(hexValue(s[k]));
  return v;
}

// Decodes a validated string's content; `ranges` gets each decoded byte's raw range.
void decodeString(std::string_view s, const JsonString& str, std::string& out,
                  std::vector<std::pair<size_t, size_t>>* ranges) {
  size_t i = str.begin;
  while (i < str.end) {
    size_t unit_begin = i;
    size_t before = out.size();
    if (s[i] != '\\') {
      out += s[i++];
    } else {
      char e = s[i + 1];
      i += 2;
      switch (e) {
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4(s, i);
          i += 4;
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // validated: a low surrogate escape follows
            uint32_t lo = hex4(s, i + 2);
            i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          appendUtf8(out, cp);
          break;
        }
        default: out += e; break;  // " \ /
      }
    }
    if (ranges) {
      for (size_t k = before; k < out.size(); ++k) ranges->emplace_back(unit_begin, i);
    }
  }
}

struct Style {
  bool slash = false;  // '/' written as '\/'
  bool ascii = false;  // non-ASCII written as \uXXXX
};

Style styleOf(std::string_view raw) {
  Style style;
  for (size_t k = 0; k + 1 < raw.size(); ++k) {
    if (raw[k] != '\\') continue;
    if (raw[k + 1] == '/') style.slash = true;
    if (raw[k + 1] == 'u') style.ascii = true;
    ++k;
  }
  return style;
}

void appendHex4(std::string& out, uint32_t v) {
  static const char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 0xF];
}

std::string encode(std::string_view text, const Style& style) {
  std::string out;
  out.reserve(text.size() + 2);
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80 && style.ascii) {
      size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      if (len > 1 && i + len <= text.size()) {
        uint32_t cp = c & (0x3F >> (len - 1));
        for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
        if (cp >= 0x10000) {
          cp -= 0x10000;
          appendHex4(out, 0xD800 + (cp >> 10));
          appendHex4(out, 0xDC00 + (cp & 0x3FF));
        } else {
          appendHex4(out, cp);
        }
        i += len;
        continue;
      }
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '/':
        if (style.slash) {
          out += "\\/";
        } else {
          out += '/';
        }
        break;
      default:
        if (c < 0x20) {
          appendHex4(out, c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

// Appends a reference token to a pointer, escaped per RFC 6901.
void appendToken(std::string& pointer, std::string_view token) {
  pointer += '/';
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
}

class Scanner {
 public:
  Scanner(std::string_view s, const FieldSet* fields, bool reverse, std::vector<Edit>* edits,
          std::vector<Change>* explain)
      : s_(s), fields_(fields), reverse_(reverse), edits_(edits), explain_(explain) {}

  FormatStatus run() {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // a UTF-8 byte order mark, as parsers allow
    States root;
    if (fields_ && !fields_->pointers.empty()) root.add(0);
    skipSpace();
    if (!value(root, 0)) return status_;
    skipSpace();
    if (pos_ != s_.size()) parseError("unexpected data after the value");
    return status_;
  }

 private:
  bool parseError(const std::string& what) {
    if (status_.ok()) {
      status_.failure = FailureKind::kParse;
      status_.message = "does not parse as JSON: " + what + " at byte " + std::to_string(pos_);
    }
    return false;
  }

  void skipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return parseError("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool number() {
    size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    auto digit = [&] { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; };
    if (!digit()) return parseError("invalid number");
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digit()) return parseError("invalid number");
      while (digit()) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digit()) return parseError("invalid number");
      while (digit()) ++pos_;
    }
    return pos_ > start;
  }

  // At the opening quote. Validates escapes, control characters and UTF-8.
  bool string(JsonString& out) {
    ++pos_;
    out.begin = pos_;
    out.escaped = false;
    while (true) {
      if (pos_ >= s_.size()) return parseError("unterminated string");
      auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') break;
      if (c < 0x20) return parseError("control character in string");
      if (c == '\\') {
        out.escaped = true;
        if (pos_ + 1 >= s_.size()) return parseError("unterminated string");
        char e = s_[pos_ + 1];
        if (e == 'u') {
          if (!hexAt(pos_ + 2)) return parseError("invalid \\u escape");
          uint32_t cp = hex4(s_, pos_ + 2);
          pos_ += 6;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return parseError("lone low surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (pos_ + 1 >= s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u' || !hexAt(pos_ + 2)) {
              return parseError("high surrogate without a low one");
            }
            uint32_t lo = hex4(s_, pos_ + 2);
            if (lo < 0xDC00 || lo > 0xDFFF) return parseError("high surrogate without a low one");
            pos_ += 6;
          }
          continue;
        }
        if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
          return parseError("invalid escape");
        }
        pos_ += 2;
        continue;
      }
      if (c < 0x80) {
        ++pos_;
        continue;
      }
      if (!utf8()) return parseError("invalid UTF-8 in string");
    }
    out.end = pos_;
    ++pos_;
    return true;
  }

  bool hexAt(size_t at) const {
    if (at + 4 > s_.size()) return false;
    for (size_t k = at; k < at + 4; ++k) {
      if (hexValue(s_[k]) < 0) return false;
    }
    return true;
  }

  // One multi-byte UTF-8 sequence at pos_ (RFC 3629 well-formedness).
  bool utf8() {
    auto byte = [&](size_t k) { return k < s_.size() ? static_cast<unsigned char>(s_[k]) : 0u; };
    unsigned c = byte(pos_);
    unsigned lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    unsigned second = byte(pos_ + 1);
    if (second < lo || second > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      unsigned b = byte(pos_ + k);
      if (b < 0x80 || b > 0xBF) return false;
    }
    pos_ += len;
    return true;
  }

  // The states below `from` for member or element `token`.
  void descend(const States& from, std::string_view token, States& out) const {
    out.clear();
    for (size_t i = 0; i < from.size(); ++i) {
      const PointerNode& node = fields_->pointers[from[i]];
      if (node.any != UINT32_MAX) out.add(node.any);
      if (node.members.empty()) continue;
      auto it = std::lower_bound(node.members.begin(), node.members.end(), token,
                                 [](const auto& edge, std::string_view t) { return edge.first < t; });
      if (it != node.members.end() && it->first == token) out.add(it->second);
    }
  }

  bool hasMembers(const States& states) const {
    for (size_t i = 0; i < states.size(); ++i) {
      const PointerNode& node = fields_->pointers[states[i]];
      if (node.any != UINT32_MAX || !node.members.empty()) return true;
    }
    return false;
  }

  bool value(const States& active, int depth) {
    if (pos_ >= s_.size()) return parseError("unexpected end");
    if (depth > kMaxDepth) return parseError("nesting deeper than " + std::to_string(kMaxDepth));
    char c = s_[pos_];
    switch (c) {
      case '{': return object(active, depth);
      case '[': return array(active, depth);
      case '"': {
        JsonString str;
        if (!string(str)) return false;
        if (!active.empty()) return mapString(active, str);
        return true;
      }
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        return parseError("unexpected character");
    }
  }

  bool object(const States& active, int depth) {
    ++pos_;
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    bool descending = !active.empty() && hasMembers(active);
    States child;
    std::string key_buffer;
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] != '"') return parseError("expected a member name");
      JsonString key;
      if (!string(key)) return false;
      skipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return parseError("expected ':'");
      ++pos_;
      skipSpace();
      size_t pointer_length = pointer_.size();
      child.clear();
      if (descending) {
        std::string_view name;
        if (key.escaped) {
          key_buffer.clear();
          decodeString(s_, key, key_buffer, nullptr);
          name = key_buffer;
        } else {
          name = s_.substr(key.begin, key.end - key.begin);
        }
        descend(active, name, child);
        if (!child.empty()) appendToken(pointer_, name);
      }
      if (!value(child, depth + 1)) return false;
      pointer_.resize(pointer_length);
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        skipSpace();
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return parseError("expected ',' or '}'");
    }
  }

  bool array(const States& active, int depth) {
    ++pos_;
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    bool descending = !active.empty() && hasMembers(active);
    States child;
    for (size_t index = 0;; ++index) {
      size_t pointer_length = pointer_.size();
      child.clear();
      if (descending) {
        char digits[24];
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits, index);
        std::string_view token(digits, static_cast<size_t>(end - digits));
        descend(active, token, child);
        if (!child.empty()) appendToken(pointer_, token);
      }
      if (!value(child, depth + 1)) return false;
      pointer_.resize(pointer_length);
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        skipSpace();
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return parseError("expected ',' or ']'");
    }
  }

  // Maps a string value that one or more fields' pointers reach.
  bool mapString(const States& active, const JsonString& str) {
    field_order_.clear();
    for (size_t i = 0; i < active.size(); ++i) {
      for (uint32_t f : fields_->pointers[active[i]].fields) field_order_.push_back(f);
    }
    if (field_order_.empty()) return true;
    std::sort(field_order_.begin(), field_order_.end());
    field_order_.erase(std::unique(field_order_.begin(), field_order_.end()), field_order_.end());
    if (reverse_) std::reverse(field_order_.begin(), field_order_.end());

    std::string_view raw = s_.substr(str.begin, str.end - str.begin);
    std::string_view value = raw;
    ranges_.clear();
    if (str.escaped) {
      decoded_.clear();
      decodeString(s_, str, decoded_, &ranges_);
      value = decoded_;
    }
    // Several fields on one value apply in file order, each to the last one's result.
    std::vector<Edit> value_edits;
    std::string current;
    bool collapsed = false;
    for (uint32_t f : field_order_) {
      const Field& field = fields_->fields[f];
      std::vector<Edit> step;
      std::string missing;
      std::string_view input = collapsed ? std::string_view(current) : value;
      if (!value_edits.empty() && !collapsed) {
        current = applyEdits(value, value_edits);
        collapsed = true;
        input = current;
      }
      if (!mapValue(field.value, reverse_, input, step, missing)) {
        status_.failure = FailureKind::kUnmapped;
        status_.message = where() + ": '" + missing + "' is not in table " + field.value.table->name();
        return false;
      }
      if (step.empty()) continue;
      if (collapsed) {
        current = applyEdits(current, step);
      } else {
        value_edits = std::move(step);
      }
    }
    if (collapsed) {
      value_edits.clear();
      if (current != value) value_edits.push_back({0, value.size(), current});
    }
    if (value_edits.empty()) return true;
    if (explain_) {
      explain_->push_back({where(), std::string(value),
                           applyEdits(value, value_edits)});
    }
    Style style = str.escaped ? styleOf(raw) : Style{};
    for (Edit& edit : value_edits) {
      size_t raw_begin, raw_end;
      if (!str.escaped) {
        raw_begin = str.begin + edit.begin;
        raw_end = str.begin + edit.end;
      } else {
        raw_begin = edit.begin < ranges_.size() ? ranges_[edit.begin].first : str.end;
        raw_end = edit.end > edit.begin ? ranges_[edit.end - 1].second : raw_begin;
      }
      edits_->push_back({raw_begin, raw_end, encode(edit.text, style)});
    }
    return true;
  }

  // The current value's pointer, for messages; the whole document is "(document)".
  std::string where() const { return pointer_.empty() ? std::string("(document)") : pointer_; }

  std::string_view s_;
  const FieldSet* fields_;
  bool reverse_;
  std::vector<Edit>* edits_;
  std::vector<Change>* explain_;
  size_t pos_ = 0;
  FormatStatus status_;
  std::string pointer_;  // the concrete pointer of the current value (explain only)
  std::vector<uint32_t> field_order_;
  std::string decoded_;
  std::vector<std::pair<size_t, size_t>> ranges_;
};

}  // namespace

FormatStatus mapJson(std::string_view payload, const FieldSet& fields, bool reverse, std::vector<Edit>& edits,
                     std::vector<Change>* explain) {
  return Scanner(payload, &fields, reverse, &edits, explain).run();
}

bool jsonValid(std::string_view payload, std::string& why) {
  auto status = Scanner(payload, nullptr, false, nullptr, nullptr).run();
  if (!status.ok()) why = status.message;
  return status.ok();
}

bool parsePointer(std::string_view pointer, std::vector<std::string>& tokens, std::string& why) {
  tokens.clear();
  if (pointer.empty()) return true;
  if (pointer.front() != '/') {
    why = "must be empty or start with '/'";
    return false;
  }
  size_t at = 1;
  while (true) {
    size_t end = pointer.find('/', at);
    std::string_view raw = pointer.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    std::string token;
    for (size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] != '~') {
        token += raw[k];
      } else if (k + 1 < raw.size() && (raw[k + 1] == '0' || raw[k + 1] == '1')) {
        token += raw[k + 1] == '0' ? '~' : '/';
        ++k;
      } else {
        why = "has a '~' not followed by 0 or 1";
        return false;
      }
    }
    tokens.push_back(std::move(token));
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return true;
}

void addPointer(FieldSet& set, const std::vector<std::string>& tokens, uint32_t index) {
  if (set.pointers.empty()) set.pointers.emplace_back();
  uint32_t node = 0;
  for (const std::string& token : tokens) {
    uint32_t next = UINT32_MAX;
    if (token == "*") {
      next = set.pointers[node].any;
      if (next == UINT32_MAX) {
        next = static_cast<uint32_t>(set.pointers.size());
        set.pointers.emplace_back();
        set.pointers[node].any = next;
      }
    } else {
      for (const auto& [text, target] : set.pointers[node].members) {
        if (text == token) next = target;
      }
      if (next == UINT32_MAX) {
        next = static_cast<uint32_t>(set.pointers.size());
        set.pointers.emplace_back();
        set.pointers[node].members.emplace_back(token, next);
      }
    }
    node = next;
  }
  set.pointers[node].fields.push_back(index);
}

void sealPointers(FieldSet& set) {
  for (PointerNode& node : set.pointers) std::sort(node.members.begin(), node.members.end());
}

}  // namespace zks::mapping
