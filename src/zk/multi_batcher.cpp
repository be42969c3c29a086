#include "zk/multi_batcher.h"

namespace zks::zk {

MultiBatcher::MultiBatcher(std::vector<Op> prefix, size_t max_bytes, size_t max_ops)
    : prefix_(std::move(prefix)), max_bytes_(max_bytes), max_ops_(max_ops) {
  for (const auto& op : prefix_) prefix_bytes_ += serializedSize(op);
}

bool MultiBatcher::fits(const Op& op) const { return prefix_bytes_ + serializedSize(op) <= max_bytes_; }

std::vector<std::vector<Op>> MultiBatcher::add(Op op) {
  std::vector<std::vector<Op>> full;
  const size_t size = serializedSize(op);
  if (!current_.empty() &&
      (prefix_bytes_ + current_bytes_ + size > max_bytes_ || current_.size() + prefix_.size() >= max_ops_)) {
    full.push_back(flush());
  }
  current_.push_back(std::move(op));
  current_bytes_ += size;
  return full;
}

std::vector<Op> MultiBatcher::flush() {
  if (current_.empty()) return {};
  std::vector<Op> batch = prefix_;
  batch.reserve(prefix_.size() + current_.size());
  for (auto& op : current_) batch.push_back(std::move(op));
  current_.clear();
  current_bytes_ = 0;
  return batch;
}

}  // namespace zks::zk
