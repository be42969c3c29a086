#pragma once

// Waiting for a condition in tests: poll it until it holds or a deadline
// passes. Tests wait for conditions, never for fixed amounts of time.

#include <chrono>
#include <thread>

namespace zks::testing {

// Calls `predicate` until it returns true (then returns true) or `deadline`
// passes (then returns false, after one last check).
template <typename Predicate>
bool waitFor(Predicate&& predicate, std::chrono::steady_clock::time_point deadline,
             std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  for (;;) {
    if (predicate()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return predicate();
    std::this_thread::sleep_for(poll);
  }
}

template <typename Predicate>
bool waitFor(Predicate&& predicate, std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  return waitFor(std::forward<Predicate>(predicate), std::chrono::steady_clock::now() + timeout, poll);
}

}  // namespace zks::testing
