#pragma once

// The payload formats with fields. Each maps the fields of one payload and
// returns byte-range edits of the raw payload: everything outside them is
// kept byte for byte. Internal to the engine.

#include <string>
#include <string_view>
#include <vector>

#include "mapping/edits.h"
#include "mapping/fields.h"
#include "mapping/result.h"

namespace zks::mapping {

struct FormatStatus {
  FailureKind failure = FailureKind::kNone;  // kNone, kParse or kUnmapped
  std::string message;
  bool ok() const { return failure == FailureKind::kNone; }
};

// Java Properties text (java.util.Properties.load rules): comments (# !),
// blank lines, '=' ':' or whitespace separators, escapes, line continuations,
// any line ending. Every occurrence of a mapped key is mapped. A new value is
// escaped as the writer did: '\:' style when the old value had it, \uXXXX
// for non-ASCII when the old value used \u escapes.
FormatStatus mapProperties(std::string_view payload, const FieldSet& fields, bool reverse, std::vector<Edit>& edits,
                           std::vector<Change>* explain);

// JSON (RFC 8259, validated strictly: a payload JSON parsers would refuse
// does not parse). String values at the fields' pointers are mapped and
// spliced in place, so formatting and key order stay as they were. Values
// that are not strings are left as they are.
FormatStatus mapJson(std::string_view payload, const FieldSet& fields, bool reverse, std::vector<Edit>& edits,
                     std::vector<Change>* explain);

// Strict JSON check alone (after a replace on a json rule's payload).
bool jsonValid(std::string_view payload, std::string& why);

}  // namespace zks::mapping
