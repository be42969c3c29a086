#pragma once

// The names of one directory's children, sorted, in one character buffer
// with an offset per name. A directory of 500,000 topics costs the names'
// bytes plus 4 bytes each, instead of a std::string (32 bytes, plus a heap
// block past 15 characters) inside a node-based container, twice over for
// the primary and the backup side (SPEC 7: sync memory under 100 B/znode).
//
// Immutable once built; not thread-safe to build, safe to read from one
// thread at a time like any value.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zks::reconcile {

class NameList {
 public:
  static constexpr size_t npos = static_cast<size_t>(-1);

  NameList() = default;
  // Takes the names as a client delivered them (any order) and frees them.
  explicit NameList(std::vector<std::string>&& names) {
    std::sort(names.begin(), names.end());
    size_t bytes = 0;
    for (const auto& n : names) bytes += n.size();
    chars_.reserve(bytes);
    offsets_.reserve(names.size() + 1);
    for (auto& n : names) {
      offsets_.push_back(static_cast<uint32_t>(chars_.size()));
      chars_.append(n);
      std::string().swap(n);  // give each name back as soon as it is copied
    }
    offsets_.push_back(static_cast<uint32_t>(chars_.size()));
    std::vector<std::string>().swap(names);
  }

  size_t size() const { return offsets_.empty() ? 0 : offsets_.size() - 1; }
  bool empty() const { return size() == 0; }
  std::string_view operator[](size_t i) const {
    return std::string_view(chars_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  // The index of `name`, or npos (binary search).
  size_t find(std::string_view name) const {
    size_t lo = 0, hi = size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      const std::string_view at = (*this)[mid];
      if (at < name) {
        lo = mid + 1;
      } else if (name < at) {
        hi = mid;
      } else {
        return mid;
      }
    }
    return npos;
  }
  // Bytes held (for memory accounting in tests).
  size_t bytes() const { return chars_.capacity() + offsets_.capacity() * sizeof(uint32_t); }

 private:
  std::string chars_;
  std::vector<uint32_t> offsets_;  // size() + 1 entries; name i is [offsets_[i], offsets_[i + 1])
};

}  // namespace zks::reconcile
