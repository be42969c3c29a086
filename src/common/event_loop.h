#pragma once

// A single-threaded task loop. One thread owns the state a loop serves and
// runs it; any thread (client completion threads included) may post to it.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

namespace zks {

class EventLoop {
 public:
  using Task = std::function<void()>;
  using Clock = std::chrono::steady_clock;

  // Thread-safe; never blocks on the loop's work.
  void post(Task task);
  // Runs `task` on the loop no earlier than `delay` from now.
  void postAfter(std::chrono::milliseconds delay, Task task);

  // Runs tasks on the calling thread until `done()` is true (checked after
  // each task and at each wake-up) or stop() is called. Returns done().
  bool runUntil(const std::function<bool()>& done);
  // As runUntil, but gives up at `deadline`; returns whether done() held.
  bool runUntil(const std::function<bool()>& done, Clock::time_point deadline);
  void stop();
  bool stopped() const;

  size_t queued() const;

 private:
  bool runOnce(std::unique_lock<std::mutex>& lock, Clock::time_point deadline);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;
  std::multimap<Clock::time_point, Task> timers_;
  bool stopped_ = false;
};

}  // namespace zks
