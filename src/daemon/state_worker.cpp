#include "daemon/state_worker.h"

namespace zks::daemon {

StateWorker::StateWorker() : thread_([this] { loop(); }) {}

StateWorker::~StateWorker() { stop(); }

void StateWorker::run(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

size_t StateWorker::pending() const {
  std::lock_guard lock(mutex_);
  return jobs_.size() + (running_job_ ? 1 : 0);
}

void StateWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    jobs_.clear();
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void StateWorker::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopped_ || !jobs_.empty(); });
    if (stopped_) return;
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    running_job_ = true;
    lock.unlock();
    job();
    lock.lock();
    running_job_ = false;
  }
}

}  // namespace zks::daemon
