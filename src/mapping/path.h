#pragma once

// ZooKeeper path shape, shared by the glob compiler and the engine.

#include <optional>
#include <string>
#include <string_view>

namespace zks::mapping {

// Why ZooKeeper would reject `path`, or nothing when it is acceptable:
// absolute, no trailing '/' (except "/"), no empty, "." or ".." segment, no
// control character and none of the code points ZooKeeper reserves.
std::optional<std::string> pathError(std::string_view path);

// Why `segment` cannot be one segment of a path (the same rules, plus '/').
std::optional<std::string> segmentError(std::string_view segment);

// Walks the segments of an absolute path without allocating:
//   for (SegmentIterator it(path); !it.done(); it.next()) use(it.segment());
// "/" has no segments. The path's shape is not checked.
class SegmentIterator {
 public:
  explicit SegmentIterator(std::string_view path) : path_(path), begin_(1) { find(); }
  bool done() const { return begin_ > path_.size(); }
  std::string_view segment() const { return path_.substr(begin_, end_ - begin_); }
  // The path up to and including this segment.
  std::string_view prefix() const { return path_.substr(0, end_); }
  void next() {
    begin_ = end_ + 1;
    find();
  }

 private:
  void find() {
    if (path_.size() <= 1) {
      begin_ = path_.size() + 1;
      return;
    }
    size_t slash = begin_ <= path_.size() ? path_.find('/', begin_) : std::string_view::npos;
    end_ = slash == std::string_view::npos ? path_.size() : slash;
  }
  std::string_view path_;
  size_t begin_;
  size_t end_ = 0;
};

// Whether `path` equals `root` or lies below it.
bool isUnder(std::string_view path, std::string_view root);

}  // namespace zks::mapping
