#pragma once

// How `diff` (and `sync`) show planned changes: text grouped by kind, with
// per-field changes for properties and JSON payloads and short hex for
// binary ones, or a stable JSON document. Pure: values in, text out.

#include <string>
#include <vector>

#include "cli/redact.h"
#include "plan/change.h"

namespace zks::cli {

struct DiffSummary {
  size_t creates = 0, updates = 0, acls = 0, deletes = 0, skipped = 0, blocked = 0, conflicts = 0;
  bool guard_tripped = false;
  std::string guard_reason;
  size_t primary_nodes = 0;
  size_t backup_nodes = 0;
  bool differences() const { return creates || updates || acls || deletes || skipped || blocked || conflicts; }
};

DiffSummary summarize(const std::vector<plan::Change>& changes);

// The per-field differences between two payloads: properties keys or JSON
// pointers when both parse that way; empty otherwise.
std::vector<plan::FieldChange> payloadFieldChanges(const std::string& before, const std::string& after);

// A payload for a terminal: text as is (shortened), binary as short hex.
std::string displayPayload(const std::string& data, size_t max_chars = 120);

// Both formats print what `redactor` lets through (see redact.h); the
// default Redactor shows everything.
std::string formatDiffText(const std::vector<plan::Change>& changes, const DiffSummary& summary,
                           const Redactor& redactor = Redactor());
std::string formatDiffJson(const std::vector<plan::Change>& changes, const DiffSummary& summary,
                           const Redactor& redactor = Redactor());
// "diff: 3 to create, 1 to update, ..." — the closing line of both formats' runs.
std::string summaryLine(const DiffSummary& summary, const char* verb_prefix);

}  // namespace zks::cli
