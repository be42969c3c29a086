#pragma once

// Leader election among the daemons that share one backup: each candidate
// holds an ephemeral sequential node state_path/leader/n_<nonce>_NNNNNNNNNN
// whose data is its identity; the lowest sequence number leads; every other
// candidate watches only its predecessor (no herd) and re-checks when it goes.
//
// Leadership alone never makes writes safe: a leader whose session silently
// expired still believes it leads until it hears so. On being elected the
// daemon takes the fence (store.h acquireFence) and leads every batch with
// its check, so a deposed leader's next batch is refused.
//
// Wiring: the Client has one watch listener and one session listener, owned
// by the daemon. It forwards every event to handleWatch()/handleSession();
// handleWatch() says whether the event was the election's. The owner calls
// ensureLayout() before start(), and reopen()s the client after a session
// expiry; the election re-enters by itself once the new session connects.
//
// Threading: start(), stop(), isLeader() and nodePath() may be called from any
// thread. on_elected, on_lost and on_error run on the client's completion
// thread (or on the thread that calls handleWatch/handleSession), one at a
// time, never under the election's lock, so they may call stop() or
// isLeader(). Like every completion callback they must be cheap: post to the
// owner's loop. After stop() returns no new callback starts.
//
// Teardown: the owner's listeners call into the election, so stop() it,
// destroy (or close and drain) the client, and only then the election.
//
// Unknown outcomes: a create whose answer is lost is found again by the
// random nonce in its name, so a candidate never holds two nodes.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "zk/client.h"

namespace zks::state {

class LeaderElection {
 public:
  struct Callbacks {
    std::function<void()> on_elected;  // this candidate now leads: take the fence, then write
    std::function<void()> on_lost;     // no longer leads (session ended, node removed): stop writing now
    std::function<void(const Error&)> on_error;  // the election cannot go on (no auth, layout missing)
  };

  LeaderElection(zk::Client& client, std::string state_path, std::string identity, Callbacks callbacks);
  ~LeaderElection();  // stop()
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  void start();
  // Withdraws: deletes this candidate's node (without waiting) so the next
  // candidate takes over at once rather than after the session timeout.
  void stop();

  bool handleWatch(const zk::WatchEvent& event);
  void handleSession(const zk::SessionEvent& event);

  bool isLeader() const;
  std::string nodePath() const;  // empty while not registered

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

// One registered candidate, as status shows it.
struct Candidate {
  std::string node;      // "n_<nonce>_0000000007"
  std::string identity;  // the daemon's "host:pid"
  int64_t sequence = 0;
};
// Candidates in election order: the first one leads. Blocking.
Result<std::vector<Candidate>> readCandidates(zk::Client& c, const std::string& state_path);

}  // namespace zks::state
