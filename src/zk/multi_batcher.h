#pragma once

#include <vector>

#include "zk/types.h"

namespace zks::zk {

// Splits a sequence of ops into multi requests that each stay under
// `max_bytes` serialized (the server's jute.maxbuffer, 1 MiB by default, less
// a margin) and `max_ops`. Every batch begins with `prefix` (the fence check),
// so each one is refused by the server once the fence moved.
// Order is kept: batch i's ops all precede batch i+1's.
class MultiBatcher {
 public:
  MultiBatcher(std::vector<Op> prefix, size_t max_bytes, size_t max_ops = 1000);

  // Adds an op; returns the batches that became full (usually zero or one).
  std::vector<std::vector<Op>> add(Op op);
  // The last, partial batch (empty if none).
  std::vector<Op> flush();

  // An op alone (with the prefix) over max_bytes can never be sent.
  bool fits(const Op& op) const;

 private:
  std::vector<Op> prefix_;
  size_t prefix_bytes_ = 0;
  size_t max_bytes_;
  size_t max_ops_;
  std::vector<Op> current_;
  size_t current_bytes_ = 0;
};

// 1 MiB minus room for the request header: what a default server accepts.
inline constexpr size_t kDefaultMaxRequestBytes = 1024 * 1024 - 4096;

}  // namespace zks::zk
