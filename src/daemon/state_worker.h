#pragma once

// A thread for the daemon's blocking writes to its own records on the
// backup (the site state every 5 s and after each full reconcile, the
// sequence counters within seconds of a change): each is several round
// trips, and the loop thread must never wait on them (live events would
// queue behind them, and a stop could not be handled while the backup is
// unreachable). Jobs run one at a time in submit order; a job posts what
// the loop must learn back to the loop itself.
//
// Threading: run() and stop() from the owner's thread; jobs on the worker
// thread. A job blocked on a request returns once the client is closed
// (pending requests complete with kClosing): close the clients it uses
// before stop().

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace zks::daemon {

class StateWorker {
 public:
  StateWorker();
  ~StateWorker();
  StateWorker(const StateWorker&) = delete;
  StateWorker& operator=(const StateWorker&) = delete;

  // Queues `job`; dropped after stop().
  void run(std::function<void()> job);
  // Jobs queued or running.
  size_t pending() const;
  // Drops the jobs not started, waits for the running one, joins.
  void stop();

 private:
  void loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool running_job_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace zks::daemon
