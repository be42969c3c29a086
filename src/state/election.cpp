#include "state/election.h"

#include <algorithm>
#include <mutex>

#include "state/identity.h"
#include "state/site_state.h"
#include "state/store.h"
#include "zk/blocking.h"

namespace zks::state {
namespace {

constexpr std::string_view kPrefix = "n_";

// Election children in order; names that are not candidates are ignored.
std::vector<std::pair<int64_t, std::string>> ordered(const std::vector<std::string>& children) {
  std::vector<std::pair<int64_t, std::string>> out;
  for (const auto& name : children) {
    const int64_t seq = sequenceSuffix(name);
    if (seq >= 0 && name.starts_with(kPrefix)) out.emplace_back(seq, name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// Everything the asynchronous steps touch. Completions hold a shared_ptr, so
// a late one finds the Core alive and, by its stale round, does nothing.
// `round` grows on start, stop and session loss: an answer to a request of an
// older round is ignored.
struct LeaderElection::Core : std::enable_shared_from_this<Core> {
  zk::Client& client;
  const std::string dir;
  const std::string identity;
  const Callbacks callbacks;

  mutable std::mutex mutex;
  bool started = false;
  uint64_t round = 0;
  std::string nonce;
  std::string node;         // full path of our candidate node, empty if none
  std::string predecessor;  // full path of the node we watch
  std::string self_watched; // our node, once an exists watch is on it
  bool leader = false;
  bool waiting_for_session = false;  // a request failed retryably: redo on (re)connect
  // Candidates carry the records' protected ACL; a session without
  // authentication cannot use it (kInvalidAcl) and falls back to open.
  bool open_acl = false;

  Core(zk::Client& c, std::string d, std::string id, Callbacks cb)
      : client(c), dir(std::move(d)), identity(std::move(id)), callbacks(std::move(cb)) {}

  bool current(uint64_t r) const { return started && r == round; }

  void fireLost() {
    if (callbacks.on_lost) callbacks.on_lost();
  }
  void fireError(const Error& e) {
    if (callbacks.on_error) callbacks.on_error(e);
  }

  // Registers a new candidate node under this round's nonce.
  void enter(uint64_t r) {
    std::string name;
    zk::AclList acl;
    {
      std::lock_guard lock(mutex);
      if (!current(r)) return;
      name = dir + "/" + std::string(kPrefix) + nonce + "_";
      acl = open_acl ? zk::openAcl() : protectedRecordAcl();
    }
    auto self = shared_from_this();
    client.create(zk::CreateOp{.path = name, .data = identity, .acl = std::move(acl),
                               .mode = zk::CreateMode::kEphemeralSequential},
                  [self, r](zk::CreateResult res) { self->onCreated(r, std::move(res)); });
  }

  void onCreated(uint64_t r, zk::CreateResult res) {
    bool retry_open = false;
    {
      std::lock_guard lock(mutex);
      if (!current(r)) return;
      if (res.code == zk::Code::kOk) node = res.path;
      if (res.code == zk::Code::kInvalidAcl && !open_acl) retry_open = open_acl = true;
    }
    if (retry_open) return enter(r);  // refused before anything was created: no node to find
    if (res.code == zk::Code::kOk) return check(r);
    if (zk::isRetryable(res.code)) return recover(r);
    fireError(zkError("joining the leader election failed", res.code, dir));
  }

  // After an unknown outcome: our node may exist. Find it by its nonce, or
  // create one.
  void recover(uint64_t r) {
    auto self = shared_from_this();
    client.getChildren(dir, false, [self, r](zk::ChildrenResult res) {
      std::string found;
      {
        std::lock_guard lock(self->mutex);
        if (!self->current(r)) return;
        if (zk::isRetryable(res.code)) {
          self->waiting_for_session = true;
          return;
        }
        if (res.code == zk::Code::kOk) {
          const std::string tag = std::string(kPrefix) + self->nonce + "_";
          for (const auto& name : res.children) {
            if (name.starts_with(tag)) found = self->dir + "/" + name;
          }
          self->node = found;
        }
      }
      if (res.code != zk::Code::kOk) {
        return self->fireError(zkError("listing the leader election failed", res.code, self->dir));
      }
      if (found.empty()) return self->enter(r);
      self->check(r);
    });
  }

  // Are we first? If so lead; if not watch the predecessor.
  void check(uint64_t r) {
    auto self = shared_from_this();
    client.getChildren(dir, false, [self, r](zk::ChildrenResult res) { self->onChildren(r, std::move(res)); });
  }

  void onChildren(uint64_t r, zk::ChildrenResult res) {
    if (res.code != zk::Code::kOk) {
      {
        std::lock_guard lock(mutex);
        if (!current(r)) return;
        if (zk::isRetryable(res.code)) {
          waiting_for_session = true;
          return;
        }
      }
      return fireError(zkError("listing the leader election failed", res.code, dir));
    }
    enum class Next { kNothing, kElected, kLostAndReenter, kReenter, kLost, kWatchPredecessor };
    Next next = Next::kNothing;
    std::string watch_self, pred;
    {
      std::lock_guard lock(mutex);
      if (!current(r)) return;
      const auto order = ordered(res.children);
      const std::string mine = node.empty() ? "" : node.substr(dir.size() + 1);
      auto it = std::find_if(order.begin(), order.end(), [&](const auto& e) { return e.second == mine; });
      if (mine.empty() || it == order.end()) {
        // Our node is gone (session ended, or an operator removed it).
        next = leader ? Next::kLostAndReenter : Next::kReenter;
        leader = false;
        node.clear();
        self_watched.clear();
        nonce = randomId();
      } else if (it == order.begin()) {
        if (!leader) next = Next::kElected;
        leader = true;
        predecessor.clear();
        if (self_watched != node) watch_self = self_watched = node;
      } else {
        if (leader) next = Next::kLost;  // cannot happen with one node per candidate; be safe
        leader = false;
        pred = predecessor = dir + "/" + std::prev(it)->second;
        if (self_watched != node) watch_self = self_watched = node;
        if (next == Next::kNothing) next = Next::kWatchPredecessor;
      }
    }
    if (!watch_self.empty()) {
      // A watch on our own node tells us at once when it is deleted under us.
      // If it is already gone, check again rather than wait for an event
      // that will never come.
      auto self = shared_from_this();
      client.exists(watch_self, true, [self, r](zk::StatResult res) {
        if (res.code == zk::Code::kNoNode) self->check(r);
      });
    }
    switch (next) {
      case Next::kElected:
        if (callbacks.on_elected) callbacks.on_elected();
        break;
      case Next::kLostAndReenter:
        fireLost();
        enter(r);
        break;
      case Next::kReenter: enter(r); break;
      case Next::kLost:
        fireLost();
        watchPredecessor(r, pred);
        break;
      case Next::kWatchPredecessor: watchPredecessor(r, pred); break;
      case Next::kNothing: break;
    }
  }

  void watchPredecessor(uint64_t r, const std::string& pred) {
    auto self = shared_from_this();
    client.exists(pred, true, [self, r](zk::StatResult res) {
      {
        std::lock_guard lock(self->mutex);
        if (!self->current(r)) return;
        if (zk::isRetryable(res.code)) {
          self->waiting_for_session = true;
          return;
        }
      }
      // Gone before the watch was set: check again at once. Otherwise the
      // watch event brings us back.
      if (res.code == zk::Code::kNoNode) return self->check(r);
      if (res.code != zk::Code::kOk) {
        self->fireError(zkError("watching the previous candidate failed", res.code, self->dir));
      }
    });
  }
};

LeaderElection::LeaderElection(zk::Client& client, std::string state_path, std::string identity,
                               Callbacks callbacks)
    : core_(std::make_shared<Core>(client, StatePaths(state_path).leader, std::move(identity), std::move(callbacks))) {}

LeaderElection::~LeaderElection() { stop(); }

void LeaderElection::start() {
  uint64_t r;
  {
    std::lock_guard lock(core_->mutex);
    if (core_->started) return;
    core_->started = true;
    r = ++core_->round;
    core_->nonce = randomId();
    core_->waiting_for_session = false;
  }
  core_->enter(r);
}

void LeaderElection::stop() {
  std::string node;
  {
    std::lock_guard lock(core_->mutex);
    if (!core_->started) return;
    core_->started = false;
    ++core_->round;
    node = std::move(core_->node);
    core_->node.clear();
    core_->predecessor.clear();
    core_->self_watched.clear();
    core_->leader = false;
  }
  if (!node.empty()) core_->client.remove(zk::DeleteOp{node}, [](zk::VoidResult) {});
}

bool LeaderElection::handleWatch(const zk::WatchEvent& event) {
  uint64_t r;
  {
    std::lock_guard lock(core_->mutex);
    if (!core_->started) return false;
    const bool ours = (!core_->predecessor.empty() && event.path == core_->predecessor) ||
                      (!core_->node.empty() && event.path == core_->node);
    if (!ours) return event.path.starts_with(core_->dir + "/");
    if (event.path == core_->predecessor) core_->predecessor.clear();
    if (event.path == core_->node) core_->self_watched.clear();  // one-shot: re-armed by check()
    r = core_->round;
  }
  core_->check(r);
  return true;
}

void LeaderElection::handleSession(const zk::SessionEvent& event) {
  switch (event.state) {
    case zk::SessionState::kExpired:
    case zk::SessionState::kClosed:
    case zk::SessionState::kAuthFailed: {
      bool was_leader;
      {
        std::lock_guard lock(core_->mutex);
        if (!core_->started) return;
        ++core_->round;  // answers of the dead session are void
        was_leader = core_->leader;
        core_->leader = false;
        core_->node.clear();  // ephemeral: gone with its session
        core_->predecessor.clear();
        core_->self_watched.clear();
        core_->nonce = randomId();
        core_->waiting_for_session = true;
      }
      if (was_leader) core_->fireLost();
      return;
    }
    case zk::SessionState::kConnected: {
      uint64_t r;
      bool have_node;
      {
        std::lock_guard lock(core_->mutex);
        if (!core_->started || !core_->waiting_for_session) return;
        core_->waiting_for_session = false;
        r = core_->round;
        have_node = !core_->node.empty();
      }
      if (have_node) {
        core_->check(r);
      } else {
        core_->recover(r);
      }
      return;
    }
    case zk::SessionState::kConnecting:
      // Disconnected but the session may live on: keep leading. The fence,
      // not this flag, keeps a leader whose session died from writing.
      return;
  }
}

bool LeaderElection::isLeader() const {
  std::lock_guard lock(core_->mutex);
  return core_->leader;
}

std::string LeaderElection::nodePath() const {
  std::lock_guard lock(core_->mutex);
  return core_->node;
}

Result<std::vector<Candidate>> readCandidates(zk::Client& c, const std::string& state_path) {
  const std::string dir = StatePaths(state_path).leader;
  auto list = zk::getChildrenSync(c, dir);
  if (list.code == zk::Code::kNoNode) return std::vector<Candidate>{};
  if (list.code != zk::Code::kOk) return std::unexpected(zkError("listing the leader election failed", list.code, dir));
  std::vector<Candidate> out;
  for (auto& [seq, name] : ordered(list.children)) {
    auto r = zk::getSync(c, dir + "/" + name);
    if (r.code == zk::Code::kNoNode) continue;  // left meanwhile
    if (r.code != zk::Code::kOk) return std::unexpected(zkError("reading a candidate failed", r.code, dir + "/" + name));
    out.push_back(Candidate{name, r.data, seq});
  }
  return out;
}

}  // namespace zks::state
