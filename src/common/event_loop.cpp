#include "common/event_loop.h"

#include <algorithm>

namespace zks {

// The notify happens under the lock: the loop can only see the task after
// the poster is done with the condition variable, so a loop destroyed right
// after running the last task (a client's completion thread posted it) is
// never signalled while it is being destroyed. TSan found that window.
void EventLoop::post(Task task) {
  std::lock_guard lock(mutex_);
  tasks_.push_back(std::move(task));
  wake_.notify_one();
}

void EventLoop::postAfter(std::chrono::milliseconds delay, Task task) {
  std::lock_guard lock(mutex_);
  timers_.emplace(Clock::now() + delay, std::move(task));
  wake_.notify_one();
}

void EventLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  wake_.notify_all();
}

bool EventLoop::stopped() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

size_t EventLoop::queued() const {
  std::lock_guard lock(mutex_);
  return tasks_.size() + timers_.size();
}

// Runs at most one task; returns false when it waited until `deadline` or a
// stop without running anything.
bool EventLoop::runOnce(std::unique_lock<std::mutex>& lock, Clock::time_point deadline) {
  for (;;) {
    if (stopped_) return false;
    auto now = Clock::now();
    if (!timers_.empty() && timers_.begin()->first <= now) {
      auto task = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
      lock.unlock();
      task();
      lock.lock();
      return true;
    }
    if (!tasks_.empty()) {
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
      return true;
    }
    // Bound each wait so a far-off deadline never overflows the clock.
    auto wake_at = std::min(deadline, now + std::chrono::seconds(1));
    if (!timers_.empty() && timers_.begin()->first < wake_at) wake_at = timers_.begin()->first;
    if (now >= deadline) return false;
    wake_.wait_until(lock, wake_at);
    if (Clock::now() >= deadline && tasks_.empty() &&
        (timers_.empty() || timers_.begin()->first > Clock::now())) {
      return false;
    }
  }
}

bool EventLoop::runUntil(const std::function<bool()>& done) {
  return runUntil(done, Clock::time_point::max());
}

bool EventLoop::runUntil(const std::function<bool()>& done, Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  for (;;) {
    lock.unlock();
    if (done()) return true;
    lock.lock();
    if (!runOnce(lock, deadline)) {
      lock.unlock();
      return done();
    }
  }
}

}  // namespace zks
