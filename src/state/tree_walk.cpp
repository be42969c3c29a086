#include "state/tree_walk.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "state/store.h"

namespace zks::state {
namespace {

constexpr int kMaxAttempts = 4;

struct Pending {
  std::string path;
  int attempt = 0;
};

struct Answer {
  Pending item;
  zk::ChildrenResult result;
};

}  // namespace

std::string childPath(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

WalkReport walkTree(zk::Client& c, const std::vector<std::string>& roots, size_t in_flight,
                    const std::function<bool(const std::string&)>& skip,
                    const std::function<void(const std::string&, const zk::ChildrenResult&)>& visit) {
  WalkReport report;
  // Depth first (a stack): the paths waiting to be listed stay few even in
  // a deep tree; a wide directory still queues all its children at once.
  std::vector<Pending> todo;
  for (auto it = roots.rbegin(); it != roots.rend(); ++it) todo.push_back({*it, 0});
  // Answers come in on the completion thread and are handled here; the walk
  // does not return before every request it sent was answered.
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Answer> answers;
  size_t outstanding = 0;
  const size_t window = std::max<size_t>(1, in_flight);

  while (true) {
    while (!todo.empty() && outstanding < window) {
      Pending item = std::move(todo.back());
      todo.pop_back();
      ++outstanding;
      const std::string path = item.path;
      c.getChildren(path, false, [&, item = std::move(item)](zk::ChildrenResult r) mutable {
        std::lock_guard lock(mutex);
        answers.push_back(Answer{std::move(item), std::move(r)});
        cv.notify_all();
      });
    }
    if (outstanding == 0 && todo.empty()) break;
    std::deque<Answer> batch;
    {
      std::unique_lock lock(mutex);
      cv.wait(lock, [&] { return !answers.empty(); });
      batch.swap(answers);
    }
    outstanding -= batch.size();
    bool backoff = false;
    for (auto& a : batch) {
      const zk::Code code = a.result.code;
      if (code == zk::Code::kOk) {
        ++report.nodes;
        visit(a.item.path, a.result);
        for (const auto& name : a.result.children) {
          std::string child = childPath(a.item.path, name);
          if (!skip || !skip(child)) todo.push_back({std::move(child), 0});
        }
      } else if (code == zk::Code::kNoNode) {
        // Deleted meanwhile (or a root that does not exist): nothing below.
      } else if (code == zk::Code::kNoAuth) {
        if (report.unreadable++ == 0) report.unreadable_example = a.item.path;
      } else if (zk::isRetryable(code) && a.item.attempt + 1 < kMaxAttempts) {
        todo.push_back({a.item.path, a.item.attempt + 1});
        backoff = true;
      } else {
        report.failures.push_back(zkError("listing children failed", code, a.item.path));
      }
    }
    // Connection trouble: give the client a moment to reconnect before the
    // retries go out (a backoff, not a wait for a condition).
    if (backoff) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return report;
}

}  // namespace zks::state
