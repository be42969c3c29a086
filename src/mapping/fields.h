#pragma once

// The `fields` of a rule, compiled for both payload formats that have
// fields. Internal to the engine.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "mapping/table.h"
#include "mapping/value.h"

namespace zks::mapping {

struct Field {
  std::string name;  // as written: a properties key, or a JSON pointer
  int line = 0;
  ValueSpec value;
};

// JSON pointers as a trie of reference tokens; "*" matches any member or element.
struct PointerNode {
  std::vector<std::pair<std::string, uint32_t>> members;  // sorted by token
  uint32_t any = UINT32_MAX;
  std::vector<uint32_t> fields;  // fields whose pointer ends here, in file order
};

struct FieldSet {
  std::vector<Field> fields;
  StringMap<uint32_t> by_key;        // properties
  std::vector<PointerNode> pointers;  // JSON; node 0 is the document root
  uint64_t key_lengths = 0;           // bit L set: some key has length L (L >= 63 share bit 63)

  bool empty() const { return fields.empty(); }
  // A cheap filter before the lookup: most keys of a payload are no field.
  bool mayHaveKey(size_t length) const { return (key_lengths >> std::min<size_t>(length, 63)) & 1; }
  const Field* findKey(std::string_view key) const {
    if (!mayHaveKey(key.size())) return nullptr;
    if (fields.size() <= 8) {  // a few compares beat hashing
      for (const Field& field : fields) {
        if (field.name == key) return &field;
      }
      return nullptr;
    }
    auto it = by_key.find(key);
    return it == by_key.end() ? nullptr : &fields[it->second];
  }
};

// Splits an RFC 6901 pointer into unescaped tokens; false when malformed.
bool parsePointer(std::string_view pointer, std::vector<std::string>& tokens, std::string& why);
// Adds field `index` under its pointer tokens.
void addPointer(FieldSet& set, const std::vector<std::string>& tokens, uint32_t index);
void sealPointers(FieldSet& set);

}  // namespace zks::mapping
