// The Client interface's fallbacks for backends (or servers) without
// multiRead, persistent watches or sync. They answer through a real
// request so that every callback runs on the backend's completion thread,
// as the interface promises, never on the caller's.

#include "zk/client.h"

#include <atomic>

namespace zks::zk {

namespace {

// Collects the answers of the pipelined reads that stand in for one multiRead.
struct EmulatedMultiRead {
  explicit EmulatedMultiRead(size_t n, MultiReadCallback done) : remaining(n), callback(std::move(done)) {
    result.results.resize(n);
  }
  void settle() {
    if (remaining.fetch_sub(1) == 1) callback(std::move(result));
  }
  MultiReadResult result;
  std::atomic<size_t> remaining;
  MultiReadCallback callback;
};

}  // namespace

void Client::multiRead(std::vector<ReadOp> ops, MultiReadCallback cb) {
  if (ops.empty()) {
    // Nothing to read; still answer from the completion thread.
    exists("/", false, [cb = std::move(cb)](StatResult r) {
      MultiReadResult out;
      out.code = r.code == Code::kOk || r.code == Code::kNoNode ? Code::kOk : r.code;
      cb(std::move(out));
    });
    return;
  }
  auto state = std::make_shared<EmulatedMultiRead>(ops.size(), std::move(cb));
  for (size_t i = 0; i < ops.size(); ++i) {
    ReadResult* slot = &state->result.results[i];
    if (ops[i].kind == ReadKind::kGetData) {
      get(ops[i].path, false, [state, slot](GetResult r) {
        slot->code = r.code;
        slot->data = std::move(r.data);
        slot->stat = r.stat;
        state->settle();
      });
    } else {
      getChildren(ops[i].path, false, [state, slot](ChildrenResult r) {
        slot->code = r.code;
        slot->children = std::move(r.children);
        slot->stat = r.stat;
        state->settle();
      });
    }
  }
}

void Client::addWatch(const std::string& path, AddWatchMode, VoidCallback cb) {
  exists(path, false, [cb = std::move(cb)](StatResult r) {
    cb(VoidResult{isRetryable(r.code) ? r.code : Code::kUnimplemented});
  });
}

void Client::removeWatches(const std::string& path, VoidCallback cb) {
  exists(path, false, [cb = std::move(cb)](StatResult r) {
    cb(VoidResult{isRetryable(r.code) ? r.code : Code::kUnimplemented});
  });
}

void Client::sync(const std::string& path, VoidCallback cb) {
  exists(path, false, [cb = std::move(cb)](StatResult r) {
    cb(VoidResult{isRetryable(r.code) ? r.code : Code::kUnimplemented});
  });
}

}  // namespace zks::zk
