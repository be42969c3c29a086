#include "cli/diff_format.h"

#include <nlohmann/json.hpp>

#include <map>
#include <sstream>

namespace zks::cli {

namespace {

bool isText(const std::string& data) {
  // Valid UTF-8 without control characters other than tab, CR and LF.
  size_t i = 0;
  while (i < data.size()) {
    auto c = static_cast<unsigned char>(data[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
      if (c == 0x7f) return false;
      ++i;
      continue;
    }
    const int extra = (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : -1;
    if (extra < 0 || i + static_cast<size_t>(extra) >= data.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(data[i + k]) >> 6) != 0x2) return false;
    }
    i += static_cast<size_t>(extra) + 1;
  }
  return true;
}

std::string hex(const std::string& data, size_t max_bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < data.size() && i < max_bytes; ++i) {
    auto c = static_cast<unsigned char>(data[i]);
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  if (data.size() > max_bytes) out += "…";
  return out;
}

// key -> value of a properties payload, or false when a line does not look
// like one. Only for display: the mapping engine keeps the exact bytes.
bool parseProperties(const std::string& text, std::map<std::string, std::string>& out) {
  std::istringstream in(text);
  std::string line;
  bool any = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#' || line[first] == '!') continue;
    auto sep = line.find_first_of("=:", first);
    if (sep == std::string::npos) return false;
    auto key = line.substr(first, sep - first);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    auto value = line.substr(sep + 1);
    auto vstart = value.find_first_not_of(" \t");
    out[key] = vstart == std::string::npos ? "" : value.substr(vstart);
    any = true;
  }
  return any;
}

void flatten(const nlohmann::json& j, const std::string& pointer, std::map<std::string, std::string>& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), pointer + "/" + it.key(), out);
  } else if (j.is_array() && !j.empty()) {
    for (size_t i = 0; i < j.size(); ++i) flatten(j[i], pointer + "/" + std::to_string(i), out);
  } else {
    out[pointer.empty() ? "/" : pointer] = j.dump();
  }
}

std::vector<plan::FieldChange> compareMaps(const std::map<std::string, std::string>& a,
                                           const std::map<std::string, std::string>& b) {
  std::vector<plan::FieldChange> out;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) out.push_back({k, v, "(absent)"});
    else if (it->second != v) out.push_back({k, v, it->second});
  }
  for (const auto& [k, v] : b) {
    if (!a.count(k)) out.push_back({k, "(absent)", v});
  }
  return out;
}

const char* kindTitle(plan::ChangeKind kind) {
  switch (kind) {
    case plan::ChangeKind::kCreate: return "to create";
    case plan::ChangeKind::kUpdate: return "to update";
    case plan::ChangeKind::kSetAcl: return "ACL to change";
    case plan::ChangeKind::kDelete: return "to delete";
    case plan::ChangeKind::kSkipped: return "not replicated";
    case plan::ChangeKind::kBlocked: return "delete blocked";
    case plan::ChangeKind::kConflict: return "conflicts";
  }
  return "";
}

const char* kindMark(plan::ChangeKind kind) {
  switch (kind) {
    case plan::ChangeKind::kCreate: return "+";
    case plan::ChangeKind::kUpdate: return "~";
    case plan::ChangeKind::kSetAcl: return "a";
    case plan::ChangeKind::kDelete: return "-";
    case plan::ChangeKind::kSkipped: return "!";
    case plan::ChangeKind::kBlocked: return "#";
    case plan::ChangeKind::kConflict: return "x";
  }
  return "?";
}

std::string aclText(const zk::AclList& acl, const Redactor& r) {
  std::string out;
  for (const auto& a : acl) {
    if (!out.empty()) out += ",";
    out += a.scheme + ":" + r.aclId(a) + ":" + std::to_string(a.perms);
  }
  return out.empty() ? "(none)" : out;
}

std::string redactedSize(const std::string& data) { return "<redacted: " + std::to_string(data.size()) + " bytes>"; }

nlohmann::json payloadJson(const std::optional<std::string>& data, const plan::Change& c, const Redactor& r) {
  if (!data) return nullptr;
  if (r.secretNode(c)) return nlohmann::json{{"redacted", true}, {"bytes", data->size()}};
  if (isText(*data)) return r.payload(*data);
  return nlohmann::json{{"hex", hex(*data, data->size())}};
}

// A payload for the text format, with secrets removed.
std::string shownPayload(const std::string& data, const plan::Change& c, const Redactor& r) {
  if (r.secretNode(c)) return redactedSize(data);
  return displayPayload(isText(data) ? r.payload(data) : data);
}

// A field change with secret values removed.
plan::FieldChange shownField(plan::FieldChange f, const plan::Change& c, const Redactor& r) {
  if (r.secretNode(c) || r.secretField(f.field)) {
    if (f.before != "(absent)") f.before = kRedacted;
    if (f.after != "(absent)") f.after = kRedacted;
  }
  return f;
}

}  // namespace

DiffSummary summarize(const std::vector<plan::Change>& changes) {
  DiffSummary s;
  for (const auto& c : changes) {
    switch (c.kind) {
      case plan::ChangeKind::kCreate: ++s.creates; break;
      case plan::ChangeKind::kUpdate: ++s.updates; break;
      case plan::ChangeKind::kSetAcl: ++s.acls; break;
      case plan::ChangeKind::kDelete: ++s.deletes; break;
      case plan::ChangeKind::kSkipped: ++s.skipped; break;
      case plan::ChangeKind::kBlocked: ++s.blocked; break;
      case plan::ChangeKind::kConflict: ++s.conflicts; break;
    }
  }
  return s;
}

std::vector<plan::FieldChange> payloadFieldChanges(const std::string& before, const std::string& after) {
  if (!isText(before) || !isText(after)) return {};
  auto b = nlohmann::json::parse(before, nullptr, false);
  auto a = nlohmann::json::parse(after, nullptr, false);
  if (!b.is_discarded() && !a.is_discarded() && b.is_structured() && a.is_structured()) {
    std::map<std::string, std::string> bm, am;
    flatten(b, "", bm);
    flatten(a, "", am);
    return compareMaps(bm, am);
  }
  std::map<std::string, std::string> bp, ap;
  if (parseProperties(before, bp) && parseProperties(after, ap)) return compareMaps(bp, ap);
  return {};
}

std::string displayPayload(const std::string& data, size_t max_chars) {
  if (data.empty()) return "(empty)";
  if (!isText(data)) return "hex:" + hex(data, 16) + " (" + std::to_string(data.size()) + " bytes)";
  std::string out;
  for (char c : data) {
    if (out.size() >= max_chars) {
      out += "… (" + std::to_string(data.size()) + " bytes)";
      break;
    }
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

std::string formatDiffText(const std::vector<plan::Change>& changes, const DiffSummary& summary, const Redactor& r) {
  std::ostringstream out;
  const plan::ChangeKind order[] = {plan::ChangeKind::kCreate,  plan::ChangeKind::kUpdate,
                                    plan::ChangeKind::kSetAcl,  plan::ChangeKind::kDelete,
                                    plan::ChangeKind::kSkipped, plan::ChangeKind::kBlocked,
                                    plan::ChangeKind::kConflict};
  for (auto kind : order) {
    size_t n = 0;
    for (const auto& c : changes) n += c.kind == kind;
    if (n == 0) continue;
    out << kindTitle(kind) << " (" << n << "):\n";
    for (const auto& c : changes) {
      if (c.kind != kind) continue;
      out << "  " << kindMark(kind) << " " << c.path;
      if (!c.source_path.empty() && c.source_path != c.path) out << "  (from " << c.source_path << ")";
      out << "\n";
      switch (kind) {
        case plan::ChangeKind::kCreate:
          out << "      data: " << shownPayload(c.after.value_or(""), c, r) << "\n";
          for (const auto& raw : c.fields) {
            const auto f = shownField(raw, c, r);
            out << "      mapped " << f.field << ": " << f.before << " -> " << f.after << "\n";
          }
          break;
        case plan::ChangeKind::kUpdate: {
          auto fields = payloadFieldChanges(c.before.value_or(""), c.after.value_or(""));
          if (fields.empty()) {
            out << "      before: " << shownPayload(c.before.value_or(""), c, r) << "\n";
            out << "      after:  " << shownPayload(c.after.value_or(""), c, r) << "\n";
          }
          for (const auto& raw : fields) {
            const auto f = shownField(raw, c, r);
            out << "      " << f.field << ": " << f.before << " -> " << f.after << "\n";
          }
          break;
        }
        case plan::ChangeKind::kSetAcl:
          out << "      acl: " << aclText(c.acl_before, r) << " -> " << aclText(c.acl, r) << "\n";
          break;
        default:
          if (!c.reason.empty()) out << "      " << c.reason << "\n";
          break;
      }
    }
  }
  if (summary.guard_tripped) out << "delete guard tripped: " << summary.guard_reason << "\n";
  return out.str();
}

std::string formatDiffJson(const std::vector<plan::Change>& changes, const DiffSummary& summary, const Redactor& r) {
  nlohmann::ordered_json doc;
  doc["secrets_redacted"] = !r.showsSecrets();
  doc["changes"] = nlohmann::ordered_json::array();
  for (const auto& c : changes) {
    nlohmann::ordered_json j;
    j["op"] = plan::changeKindName(c.kind);
    j["path"] = c.path;
    j["source_path"] = c.source_path.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.source_path);
    j["before"] = payloadJson(c.before, c, r);
    j["after"] = payloadJson(c.after, c, r);
    j["reason"] = c.reason.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.reason);
    auto fields = c.kind == plan::ChangeKind::kUpdate ? payloadFieldChanges(c.before.value_or(""), c.after.value_or(""))
                                                       : c.fields;
    j["fields"] = nlohmann::ordered_json::array();
    for (const auto& raw : fields) {
      const auto f = shownField(raw, c, r);
      j["fields"].push_back({{"field", f.field}, {"before", f.before}, {"after", f.after}});
    }
    if (c.kind == plan::ChangeKind::kSetAcl) {
      j["acl_before"] = aclText(c.acl_before, r);
      j["acl_after"] = aclText(c.acl, r);
    }
    doc["changes"].push_back(std::move(j));
  }
  doc["summary"] = {{"create", summary.creates},   {"update", summary.updates},
                    {"set_acl", summary.acls},     {"delete", summary.deletes},
                    {"skipped", summary.skipped},  {"blocked", summary.blocked},
                    {"conflict", summary.conflicts}, {"guard_tripped", summary.guard_tripped},
                    {"primary_nodes", summary.primary_nodes}, {"backup_nodes", summary.backup_nodes}};
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string summaryLine(const DiffSummary& s, const char* prefix) {
  std::ostringstream out;
  out << prefix << s.creates << " to create, " << s.updates << " to update, " << s.acls << " ACLs to change, "
      << s.deletes << " to delete, " << s.skipped << " not replicated, " << s.blocked << " deletes blocked, "
      << s.conflicts << " conflicts (" << s.primary_nodes << " primary nodes, " << s.backup_nodes
      << " backup nodes read)";
  if (s.guard_tripped) out << "; delete guard tripped";
  return out.str();
}

}  // namespace zks::cli
