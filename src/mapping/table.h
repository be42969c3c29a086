#pragma once

// A name map from a mapping file's `tables`. Internal to the engine.

#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace zks::mapping {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class Table {
 public:
  Table(std::string name, std::string file, int line) : name_(std::move(name)), file_(std::move(file)), line_(line) {}

  // Adds key → value; the caller has refused duplicate keys already.
  void add(std::string key, std::string value, int line);
  // Computes the inverse; call once after the last add().
  void seal();

  const std::string& name() const { return name_; }
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  size_t size() const { return entries_.size(); }

  struct Entry {
    std::string key;
    std::string value;
    int line = 0;
  };
  const std::vector<Entry>& entries() const { return entries_; }

  // Forward: key → value. Reverse: value → key (one-to-one tables only).
  const std::string* find(std::string_view key, bool reverse) const {
    const auto& map = reverse ? backward_ : forward_;
    auto it = map.find(key);
    return it == map.end() ? nullptr : &it->second;
  }
  bool oneToOne() const { return clash_.empty(); }
  // Whether some key (reverse: some value) holds ':', so a "host:port" lookup can hit.
  bool hasColonKey(bool reverse) const { return reverse ? colon_value_ : colon_key_; }
  // Keys sharing one value: (first key, other key, value); empty when one-to-one.
  struct Clash {
    std::string first_key;
    std::string other_key;
    std::string value;
    int line = 0;  // the other key's line
  };
  const std::vector<Clash>& clashes() const { return clash_; }

 private:
  std::string name_;
  std::string file_;
  int line_;
  std::vector<Entry> entries_;
  StringMap<std::string> forward_;
  StringMap<std::string> backward_;
  std::vector<Clash> clash_;
  bool colon_key_ = false;
  bool colon_value_ = false;
};

}  // namespace zks::mapping
