#include "mapping/value.h"

#include "mapping/hosts.h"

namespace zks::mapping {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }

bool tableEdits(const ValueSpec& spec, bool reverse, std::string_view value, std::vector<Edit>& edits,
                std::string& unmapped) {
  const Table& table = *spec.table;
  if (spec.hosts) {
    bool ok = true;
    forEachHost(value, [&](const HostItem& item) {
      if (!ok) return;
      std::string_view host = value.substr(item.host_begin, item.host_end - item.host_begin);
      if (item.hasPort() && table.hasColonKey(reverse)) {
        // A table may name one endpoint ("10.10.1.11:9092") before whole hosts.
        std::string_view authority = value.substr(item.authority_begin, item.authority_end - item.authority_begin);
        if (const std::string* to = table.find(authority, reverse)) {
          if (*to != authority) edits.push_back({item.authority_begin, item.authority_end, *to});
          return;
        }
      }
      if (const std::string* to = table.find(host, reverse)) {
        if (*to != host) edits.push_back({item.host_begin, item.host_end, *to});
      } else if (spec.unmapped == Unmapped::kError) {
        unmapped = std::string(host);
        ok = false;
      }
    });
    return ok;
  }
  size_t begin = 0, end = value.size();
  while (begin < end && isSpace(value[begin])) ++begin;
  while (end > begin && isSpace(value[end - 1])) --end;
  if (begin == end) return true;
  std::string_view key = value.substr(begin, end - begin);
  if (const std::string* to = table.find(key, reverse)) {
    if (*to != key) edits.push_back({begin, end, *to});
  } else if (spec.unmapped == Unmapped::kError) {
    unmapped = std::string(key);
    return false;
  }
  return true;
}

bool blank(std::string_view value) {
  for (char c : value) {
    if (!isSpace(c)) return false;
  }
  return true;
}

}  // namespace

bool mapValue(const ValueSpec& spec, bool reverse, std::string_view value, std::vector<Edit>& edits,
              std::string& unmapped) {
  if (blank(value)) return true;
  if (spec.replace.empty()) {
    // One step (the common case): its edits are the result.
    return spec.table == nullptr || tableEdits(spec, reverse, value, edits, unmapped);
  }
  // Steps run in order; the first one's edits stay fine-grained (so a host
  // list keeps every byte around its hosts), later ones work on the result.
  std::vector<Edit> pending;
  std::string text;
  bool materialized = false;
  auto current = [&]() -> std::string_view { return materialized ? std::string_view(text) : value; };
  auto absorb = [&](std::vector<Edit>& step) {
    if (step.empty()) return;
    if (!materialized && pending.empty()) {
      pending = std::move(step);
      return;
    }
    if (!materialized) {
      text = applyEdits(value, pending);
      pending.clear();
      materialized = true;
    }
    text = applyEdits(text, step);
  };
  auto before_step = [&] {
    if (!materialized && !pending.empty()) {
      text = applyEdits(value, pending);
      pending.clear();
      materialized = true;
    }
  };
  auto table_step = [&]() -> bool {
    if (spec.table == nullptr) return true;
    before_step();
    std::vector<Edit> step;
    if (!tableEdits(spec, reverse, current(), step, unmapped)) return false;
    absorb(step);
    return true;
  };
  auto replace_step = [&] {
    for (size_t k = 0; k < spec.replace.size(); ++k) {
      const Replacement& entry = spec.replace[reverse ? spec.replace.size() - 1 - k : k];
      before_step();
      std::vector<Edit> step;
      (reverse ? *entry.reverse : entry.forward).findEdits(current(), step);
      absorb(step);
    }
  };
  if (!reverse) {
    if (!table_step()) return false;
    replace_step();
  } else {
    replace_step();
    if (!table_step()) return false;
  }
  if (materialized) {
    if (text != value) edits.push_back({0, value.size(), std::move(text)});
  } else {
    for (Edit& edit : pending) edits.push_back(std::move(edit));
  }
  return true;
}

}  // namespace zks::mapping
