#include "daemon/readiness.h"

#include <algorithm>

namespace zks::daemon {

Readiness judgeReadiness(const ReadinessState& s, const std::string& read_site, const std::string& write_site) {
  if (s.fenced) return {false, "fenced: the site was failed over"};
  if (!s.write_connected) return {false, "not connected to the " + write_site};
  if (!s.read_connected) return {false, "not connected to the " + read_site};
  if (!s.election_ok) return {false, "leader election failing (" + s.election_error + "); rejoining after a pause"};
  if (!s.in_election) return {false, "not yet in the leader election"};
  if (!s.leader) {
    if (s.standing_by) return {true, "follower: standing by"};
    return {false, "in the leader election: not yet leader or follower"};
  }
  if (!s.first_done) return {false, "leader: first full reconcile not done"};
  if (s.guard_tripped) {
    return {false, "leader: the delete guard held back the last full reconcile's deletes (" + s.not_converged_reason +
                       "); check, then run `zkstandby sync --allow-mass-delete`"};
  }
  if (s.last_result == "not_converged") {
    return {false, "leader: the last full reconcile did not converge (" + s.not_converged_reason + "); retrying"};
  }
  std::string text = "leader: replicating";
  if (!s.watch_mode.empty()) text += " (" + (s.watch_mode == "recursive" ? std::string("recursive watch") : std::string("per-node watches")) + ")";
  if (s.reported_nodes > 0 || s.unreadable_nodes > 0) {
    text += "; ready, " + std::to_string(std::max(s.reported_nodes, s.unreadable_nodes)) + " reported nodes";
    std::string detail;
    if (s.unreadable_nodes > 0) detail += std::to_string(s.unreadable_nodes) + " unreadable on the " + read_site;
    if (s.parked_nodes > 0) {
      detail += (detail.empty() ? "" : ", ") + std::to_string(s.parked_nodes) + " parked after a refused write";
    }
    if (!detail.empty()) text += " (" + detail + ")";
    text += "; see the log";
    if (s.unreadable_nodes > 0) {
      text += "; unreadable" + (s.first_unreadable.empty() ? std::string() : " e.g. " + s.first_unreadable) +
              ": the replicator's identity has no READ permission there, the " + read_site +
              " sends no events for such nodes, and their changes are not replicated";
    }
  }
  if (s.reverifying) {
    text += "; re-verifying the tree (" + std::to_string(s.reverify_nodes) +
            " nodes so far; live changes replicate meanwhile)";
  }
  return {true, text};
}

}  // namespace zks::daemon
