#include "mapping/table.h"

namespace zks::mapping {

void Table::add(std::string key, std::string value, int line) {
  forward_.emplace(key, value);
  entries_.push_back({std::move(key), std::move(value), line});
}

void Table::seal() {
  backward_.clear();
  clash_.clear();
  for (const Entry& entry : entries_) {
    colon_key_ = colon_key_ || entry.key.find(':') != std::string::npos;
    colon_value_ = colon_value_ || entry.value.find(':') != std::string::npos;
    auto [it, inserted] = backward_.emplace(entry.value, entry.key);
    if (!inserted) clash_.push_back({it->second, entry.key, entry.value, entry.line});
  }
}

}  // namespace zks::mapping
