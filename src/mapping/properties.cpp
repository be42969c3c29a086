// Java Properties, mapped in place. The reading rules are those of
// java.util.Properties.load (LineReader and loadConvert); a value is decoded
// only when its key is a field.
#include <cstdint>

#include "mapping/format.h"

namespace zks::mapping {
namespace {

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\f'; }
bool isNewline(char c) { return c == '\r' || c == '\n'; }
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One character of a logical line: a plain byte or an escape sequence.
struct Unit {
  size_t begin = 0;
  size_t end = 0;
  bool escaped = false;
  char c = 0;  // the byte, or the character after the backslash
};

// Walks the units of one logical line, joining continuation lines.
struct Cursor {
  std::string_view s;
  size_t pos;
  bool joined = false;     // a continuation was crossed
  bool malformed = false;  // a \u escape without four hex digits

  bool next(Unit& u) {
    while (pos < s.size()) {
      char c = s[pos];
      if (isNewline(c)) return false;
      if (c != '\\') {
        u = {pos, pos + 1, false, c};
        ++pos;
        return true;
      }
      if (pos + 1 >= s.size()) {  // a lone backslash at the end: Java drops it
        pos = s.size();
        return false;
      }
      char d = s[pos + 1];
      if (isNewline(d)) {
        pos += 1;
        pos += (s[pos] == '\r' && pos + 1 < s.size() && s[pos + 1] == '\n') ? 2 : 1;
        while (pos < s.size() && isBlank(s[pos])) ++pos;
        joined = true;
        continue;
      }
      if (d == 'u') {
        if (pos + 6 > s.size() || hexValue(s[pos + 2]) < 0 || hexValue(s[pos + 3]) < 0 || hexValue(s[pos + 4]) < 0 ||
            hexValue(s[pos + 5]) < 0) {
          malformed = true;
          return false;
        }
        u = {pos, pos + 6, true, 'u'};
        pos += 6;
        return true;
      }
      u = {pos, pos + 2, true, d};
      pos += 2;
      return true;
    }
    return false;
  }
};

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

uint32_t unitCodeUnit(std::string_view s, const Unit& u) {
  uint32_t v = 0;
  for (size_t k = u.begin + 2; k < u.begin + 6; ++k) v = v * 16 + static_cast<uint32_t>(hexValue(s[k]));
  return v;
}

// Decodes the units [begin, end) of a logical line; `ranges` (when given)
// gets each decoded byte's raw range.
void decode(std::string_view s, size_t begin, size_t end, std::string& out,
            std::vector<std::pair<size_t, size_t>>* ranges) {
  out.reserve(out.size() + (end - begin));
  if (ranges) ranges->reserve(ranges->size() + (end - begin));
  Cursor cursor{s, begin};
  Unit u;
  auto emit = [&](std::string_view bytes, size_t raw_begin, size_t raw_end) {
    out.append(bytes);
    if (ranges) {
      for (size_t k = 0; k < bytes.size(); ++k) ranges->emplace_back(raw_begin, raw_end);
    }
  };
  while (cursor.pos < end && cursor.next(u)) {
    if (!u.escaped) {
      emit(std::string_view(&s[u.begin], 1), u.begin, u.end);
      continue;
    }
    char c = u.c;
    if (c != 'u') {
      char plain = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'f' ? '\f' : c;
      emit(std::string_view(&plain, 1), u.begin, u.end);
      continue;
    }
    uint32_t cp = unitCodeUnit(s, u);
    size_t raw_end = u.end;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      // A high surrogate: combine with a following \u low surrogate.
      Cursor peek = cursor;
      Unit low;
      if (peek.pos < end && peek.next(low) && low.escaped && low.c == 'u') {
        uint32_t lo = unitCodeUnit(s, low);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          raw_end = low.end;
          cursor = peek;
        }
      }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // a lone surrogate has no UTF-8 form
    std::string bytes;
    appendUtf8(bytes, cp);
    emit(bytes, u.begin, raw_end);
  }
}

// How the writer escaped the old value, to escape a new one alike.
struct Style {
  bool java_store = false;  // ':' '=' '#' '!' escaped, as Properties.store does
  bool ascii = false;       // non-ASCII written as \uXXXX
};

Style styleOf(std::string_view raw) {
  Style style;
  for (size_t k = 0; k + 1 < raw.size(); ++k) {
    if (raw[k] != '\\') continue;
    char d = raw[k + 1];
    if (d == ':' || d == '=' || d == '#' || d == '!') style.java_store = true;
    if (d == 'u') style.ascii = true;
    ++k;
  }
  return style;
}

// Decodes one UTF-8 sequence at text[i] (lenient: a bad byte is itself).
uint32_t utf8At(std::string_view text, size_t& i) {
  auto c = static_cast<unsigned char>(text[i]);
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (len == 1 || i + len > text.size()) {
    ++i;
    return c;
  }
  uint32_t cp = c & (0x3F >> (len - 1));
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  i += len;
  return cp;
}

void appendHex4(std::string& out, uint32_t v) {
  static const char kHex[] = "0123456789ABCDEF";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 0xF];
}

std::string encode(std::string_view text, const Style& style, bool at_value_start) {
  std::string out;
  out.reserve(text.size() + 4);
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    auto uc = static_cast<unsigned char>(c);
    if (uc >= 0x80 && style.ascii) {
      uint32_t cp = utf8At(text, i);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        appendHex4(out, 0xD800 + (cp >> 10));
        appendHex4(out, 0xDC00 + (cp & 0x3FF));
      } else {
        appendHex4(out, cp);
      }
      continue;
    }
    ++i;
    switch (c) {
      case '\\': out += "\\\\"; continue;
      case '\t': out += "\\t"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (uc < 0x20 || uc == 0x7F) {
      appendHex4(out, uc);
    } else if (c == ' ' && at_value_start && out.empty()) {
      out += "\\ ";  // a leading space would be read as part of the separator
    } else if (style.java_store && (c == ':' || c == '=' || c == '#' || c == '!')) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

size_t lineNumber(std::string_view s, size_t pos) {
  size_t line = 1;
  for (size_t k = 0; k < pos && k < s.size(); ++k) {
    if (s[k] == '\n' || (s[k] == '\r' && (k + 1 >= s.size() || s[k + 1] != '\n'))) ++line;
  }
  return line;
}

// Bytes that end the fast scan of a line: it holds no escape or
// continuation when the first of these is a line end.
struct ByteClass {
  bool line_stop[256] = {};
  bool key_stop[256] = {};
  constexpr ByteClass() {
    for (unsigned char c : {'\\', '\r', '\n'}) line_stop[c] = true;
    for (unsigned char c : {'=', ':', ' ', '\t', '\f'}) key_stop[c] = true;
  }
};
constexpr ByteClass kBytes;

}  // namespace

FormatStatus mapProperties(std::string_view s, const FieldSet& fields, bool reverse, std::vector<Edit>& edits,
                           std::vector<Change>* explain) {
  FormatStatus status;
  auto malformed = [&](size_t at) {
    status.failure = FailureKind::kParse;
    status.message = "does not parse as properties: line " + std::to_string(lineNumber(s, at)) +
                     ": malformed \\uXXXX escape";
    return status;
  };
  std::string key_buffer, value_buffer;
  std::vector<std::pair<size_t, size_t>> ranges;
  std::vector<Edit> value_edits;
  // Maps one value (raw [value_begin, value_end)); `plain` when it holds no
  // escape or continuation, so raw and decoded bytes coincide.
  auto map_value = [&](std::string_view key, size_t value_begin, size_t value_end, bool plain) -> bool {
    const Field* field = fields.findKey(key);
    if (field == nullptr) return true;
    std::string_view raw = s.substr(value_begin, value_end - value_begin);
    std::string_view value = raw;
    ranges.clear();
    if (!plain) {
      value_buffer.clear();
      decode(s, value_begin, value_end, value_buffer, &ranges);
      value = value_buffer;
    }
    value_edits.clear();
    std::string missing;
    if (!mapValue(field->value, reverse, value, value_edits, missing)) {
      status.failure = FailureKind::kUnmapped;
      status.message = field->name + ": '" + missing + "' is not in table " + field->value.table->name();
      return false;
    }
    if (value_edits.empty()) return true;
    if (explain) explain->push_back({std::string(key), std::string(value), applyEdits(value, value_edits)});
    Style style = plain ? Style{} : styleOf(raw);
    for (Edit& edit : value_edits) {
      size_t raw_begin, raw_end;
      if (plain) {
        raw_begin = value_begin + edit.begin;
        raw_end = value_begin + edit.end;
      } else {
        raw_begin = edit.begin < ranges.size() ? ranges[edit.begin].first : value_end;
        raw_end = edit.end > edit.begin ? ranges[edit.end - 1].second : raw_begin;
      }
      edits.push_back({raw_begin, raw_end, encode(edit.text, style, edit.begin == 0)});
    }
    return true;
  };

  size_t pos = 0;
  const size_t n = s.size();
  while (pos < n) {
    while (pos < n && isBlank(s[pos])) ++pos;
    if (pos >= n) break;
    char first = s[pos];
    if (isNewline(first)) {
      pos += (first == '\r' && pos + 1 < n && s[pos + 1] == '\n') ? 2 : 1;
      continue;
    }
    if (first == '#' || first == '!') {  // a comment never continues
      while (pos < n && !isNewline(s[pos])) ++pos;
      continue;
    }
    // Fast path: a line without backslashes is split by plain byte scans.
    size_t eol = pos;
    while (eol < n && !kBytes.line_stop[static_cast<unsigned char>(s[eol])]) ++eol;
    if (eol == n || s[eol] != '\\') {
      size_t key_end = pos;
      while (key_end < eol && !kBytes.key_stop[static_cast<unsigned char>(s[key_end])]) ++key_end;
      size_t at = key_end;
      bool had_sep = false;
      while (at < eol) {
        char c = s[at];
        if (isBlank(c)) {
          ++at;
        } else if (!had_sep && (c == '=' || c == ':')) {
          had_sep = true;
          ++at;
        } else {
          break;
        }
      }
      if (at < eol && fields.mayHaveKey(key_end - pos) &&
          !map_value(s.substr(pos, key_end - pos), at, eol, true)) {
        return status;
      }
      pos = eol;
      continue;
    }
    // Slow path, with escapes and continuations. Key: up to an unescaped '=', ':' or blank.
    Cursor cursor{s, pos};
    Unit u;
    size_t key_begin = pos, key_end = pos;
    bool key_plain = true, have_unit = false;
    while ((have_unit = cursor.next(u))) {
      if (!u.escaped && (u.c == '=' || u.c == ':' || isBlank(u.c))) break;
      key_plain = key_plain && !u.escaped;
      key_end = u.end;
    }
    if (cursor.malformed) return malformed(cursor.pos);
    key_plain = key_plain && !cursor.joined;
    // Separator: blanks, at most one '=' or ':', blanks.
    if (have_unit) {
      bool had_sep = u.c == '=' || u.c == ':';
      while (true) {
        Cursor peek = cursor;
        Unit v;
        if (!peek.next(v)) {
          cursor = peek;
          break;
        }
        if (!v.escaped && isBlank(v.c)) {
          cursor = peek;
        } else if (!v.escaped && !had_sep && (v.c == '=' || v.c == ':')) {
          had_sep = true;
          cursor = peek;
        } else {
          break;
        }
      }
      if (cursor.malformed) return malformed(cursor.pos);
    }
    // Value: the rest of the logical line.
    bool joined_before = cursor.joined;
    size_t value_begin = cursor.pos, value_end = cursor.pos;
    bool value_plain = true, any_value = false;
    while (cursor.next(u)) {
      if (!any_value) value_begin = u.begin;
      any_value = true;
      value_plain = value_plain && !u.escaped;
      value_end = u.end;
    }
    if (cursor.malformed) return malformed(cursor.pos);
    value_plain = value_plain && cursor.joined == joined_before;
    pos = cursor.pos;
    if (!any_value) continue;  // an empty value is left as it is
    std::string_view key;
    if (key_plain) {
      key = s.substr(key_begin, key_end - key_begin);
    } else {
      key_buffer.clear();
      decode(s, key_begin, key_end, key_buffer, nullptr);
      key = key_buffer;
    }
    if (!map_value(key, value_begin, value_end, value_plain)) return status;
  }
  return status;
}

}  // namespace zks::mapping
