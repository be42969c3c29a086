#pragma once

// What /readyz answers, and the state it is judged from.
//
// 503 (not ready) means "do not count on this daemon for failover right
// now"; an operator's readiness probe alerts (or restarts) on it:
//  - fenced (the site was failed over), or not connected to either site;
//  - not (yet) in the leader election, or in it but not yet known to be a
//    follower (a single daemon is briefly neither leader nor follower before
//    its election resolves: it must not look ready then), or the election
//    is failing and the daemon backs off to rejoin it: with a broken
//    election this daemon can neither lead nor take over, so high
//    availability is gone;
//  - leader, and the first full reconcile is not done;
//  - leader, and the last full reconcile tripped the delete guard: the
//    backup keeps nodes the primary deleted until an operator decides
//    (`sync --allow-mass-delete`), so failing over would bring them back;
//  - leader, and the last full reconcile did not converge (a read failed,
//    writes unresolved, path collisions): the backup is not known to be a
//    copy. It is retried; the next clean pass makes the daemon ready again.
// 200 (ready): a follower standing by, or a leader whose last full
// reconcile converged — also "converged except reported nodes" (malformed
// payloads, nodes refused for good, ACLs the primary redacted, primary
// nodes the replicator may not read): those are named in the log, the
// metrics and the answer's text ("ready, 3 reported nodes ..."), and no
// restart or retry changes them, so they must not keep the daemon unready.
// A leader re-verifying the tree after a reconnect stays ready (live events
// replicate meanwhile); the text says so.
//
// Threading: ReadinessBoard is written by the daemon's loop thread and read
// by the HTTP server's threads; every access takes its lock.

#include <cstddef>
#include <mutex>
#include <string>

namespace zks::daemon {

struct ReadinessState {
  bool fenced = false;
  bool read_connected = false;
  bool write_connected = false;
  bool in_election = false;
  bool election_ok = true;
  // Registered behind another candidate (its node is not the first).
  bool standing_by = false;
  std::string election_error;  // the last election error while !election_ok
  bool leader = false;
  bool first_done = false;  // leader: a full reconcile ended (any result)
  // The leader's last full reconcile: "", "converged",
  // "converged_except_reported" or "not_converged", and why not.
  std::string last_result;
  bool guard_tripped = false;
  std::string not_converged_reason;
  size_t reported_nodes = 0;
  // Primary nodes the replicator may not read (no auth), from the last full
  // reconcile and the event passes since, and one of them. The server sends
  // no events for them (CVE-2024-23944): their changes are not replicated.
  size_t unreadable_nodes = 0;
  std::string first_unreadable;
  size_t parked_nodes = 0;
  // "recursive" or "per_node" (leader only).
  std::string watch_mode;
  // A re-verification runs (after a reconnect): live events replicate,
  // changes made while the connection was down are being looked for.
  bool reverifying = false;
  size_t reverify_nodes = 0;
};

struct Readiness {
  bool ready = false;
  std::string text;  // one line: why (not) ready
};

// Pure: the answer for `state`. Site names are for the text ("primary",
// "backup"; swapped with --reverse).
Readiness judgeReadiness(const ReadinessState& state, const std::string& read_site, const std::string& write_site);

class ReadinessBoard {
 public:
  ReadinessBoard(std::string read_site, std::string write_site)
      : read_site_(std::move(read_site)), write_site_(std::move(write_site)) {}

  template <typename F>
  void update(F&& change) {
    std::lock_guard lock(mutex_);
    change(state_);
  }
  ReadinessState snapshot() const {
    std::lock_guard lock(mutex_);
    return state_;
  }
  Readiness judge() const { return judgeReadiness(snapshot(), read_site_, write_site_); }

 private:
  const std::string read_site_;
  const std::string write_site_;
  mutable std::mutex mutex_;
  ReadinessState state_;
};

}  // namespace zks::daemon
