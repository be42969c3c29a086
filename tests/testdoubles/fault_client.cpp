#include "testdoubles/fault_client.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

namespace zks::zk {

std::string_view opKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kGet: return "get";
    case OpKind::kGetChildren: return "getChildren";
    case OpKind::kExists: return "exists";
    case OpKind::kGetAcl: return "getAcl";
    case OpKind::kCreate: return "create";
    case OpKind::kSet: return "set";
    case OpKind::kRemove: return "remove";
    case OpKind::kSetAcl: return "setAcl";
    case OpKind::kMulti: return "multi";
    case OpKind::kMultiRead: return "multiRead";
    case OpKind::kSync: return "sync";
    case OpKind::kAddWatch: return "addWatch";
    case OpKind::kRemoveWatches: return "removeWatches";
  }
  return "unknown";
}

struct FaultClient::Core {
  struct RuleState {
    size_t id = 0;
    FaultRule rule;
    uint64_t matched = 0;
  };
  struct Decision {
    FaultMode mode;
    Code code;
  };
  struct Arrival {
    bool is_response = false;
    uint64_t seq = 0;  // responses: the request's place in issue order
    std::function<void()> fn;
  };

  // Issuing. Held while forwarding, so requests reach the inner client in
  // the order of their sequence numbers.
  mutable std::mutex issue_mu;
  std::vector<RuleState> rules;
  size_t next_rule_id = 0;
  std::map<size_t, uint64_t> injected_by_rule;
  uint64_t injected_total = 0;
  std::mt19937_64 rng;
  uint64_t next_seq = 0;

  // Delivering.
  mutable std::mutex mu;
  std::condition_variable cv;
  mutable std::condition_variable idle_cv;
  std::deque<Arrival> arrivals;
  std::map<uint64_t, std::function<void()>> held;  // answers waiting for earlier ones
  uint64_t next_deliver = 0;
  size_t pending = 0;
  bool busy = false;
  bool stop = false;
  bool exited = false;
  std::thread worker;
  std::thread::id worker_id;
  WatchListener watch_listener;
  SessionListener session_listener;

  explicit Core(uint64_t seed) : rng(seed) {}

  static bool matches(const FaultRule& r, OpKind kind, const std::vector<const std::string*>& paths) {
    if ((r.ops & op_mask::bit(kind)) == 0) return false;
    if (paths.empty()) return r.path_prefix.empty() && !r.predicate;
    for (const auto* p : paths) {
      if (p->starts_with(r.path_prefix) && (!r.predicate || r.predicate(kind, *p))) return true;
    }
    return false;
  }

  // issue_mu held.
  std::optional<Decision> decide(OpKind kind, const std::vector<const std::string*>& paths) {
    for (auto& rs : rules) {
      const FaultRule& r = rs.rule;
      if (!matches(r, kind, paths)) continue;
      ++rs.matched;
      if (rs.matched <= r.skip) continue;
      if (r.max_faults != 0 && injected_by_rule[rs.id] >= r.max_faults) continue;
      if (r.probability < 1.0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng) >= r.probability) continue;
      ++injected_by_rule[rs.id];
      ++injected_total;
      const Code fallback = r.mode == FaultMode::kFailBefore ? Code::kConnectionLoss : Code::kOperationTimeout;
      return Decision{r.mode, r.code.value_or(fallback)};
    }
    return std::nullopt;
  }

  // The next thing to deliver, in order; mu held. `is_response` tells
  // whether it completes a request.
  std::function<void()> nextLocked(bool& is_response) {
    if (auto it = held.find(next_deliver); it != held.end()) {
      auto fn = std::move(it->second);
      held.erase(it);
      ++next_deliver;
      is_response = true;
      return fn;
    }
    while (!arrivals.empty()) {
      Arrival a = std::move(arrivals.front());
      arrivals.pop_front();
      is_response = a.is_response;
      if (!a.is_response) {
        if (stop) continue;  // no events once destruction began
        return std::move(a.fn);
      }
      if (a.seq == next_deliver) {
        ++next_deliver;
        return std::move(a.fn);
      }
      held.emplace(a.seq, std::move(a.fn));
    }
    return nullptr;
  }

  // Runs everything deliverable now on the calling thread; lk holds mu.
  void drain(std::unique_lock<std::mutex>& lk) {
    for (;;) {
      bool is_response = false;
      auto fn = nextLocked(is_response);
      if (!fn) return;
      busy = true;
      lk.unlock();
      fn();
      fn = nullptr;
      lk.lock();
      busy = false;
      if (is_response) --pending;
    }
  }

  void loop() {
    std::unique_lock lk(mu);
    for (;;) {
      drain(lk);
      idle_cv.notify_all();
      if (stop) {
        exited = true;
        return;
      }
      cv.wait(lk);
    }
  }

  // From any thread, typically the inner client's completion thread.
  void arrive(Arrival a) {
    std::unique_lock lk(mu);
    if (exited) {
      // No completion thread any more: answers still reach their callbacks
      // (exactly once), on this thread; events are dropped.
      if (!a.is_response) return;
      arrivals.push_back(std::move(a));
      drain(lk);
      return;
    }
    arrivals.push_back(std::move(a));
    cv.notify_one();
  }

  bool idleLocked() const { return pending == 0 && arrivals.empty() && held.empty() && !busy; }
};

namespace {

std::vector<const std::string*> pathsOf(const std::string& path) { return {&path}; }
std::vector<const std::string*> pathsOf(const std::vector<Op>& ops) {
  std::vector<const std::string*> out;
  for (const auto& op : ops) out.push_back(&opPath(op));
  return out;
}
std::vector<const std::string*> pathsOf(const std::vector<ReadOp>& ops) {
  std::vector<const std::string*> out;
  for (const auto& op : ops) out.push_back(&op.path);
  return out;
}

// Routes a request: fails it here, or forwards it with a callback that
// hands the (possibly replaced) answer to the completion thread.
template <typename R, typename Forward>
void route(const std::shared_ptr<FaultClient::Core>& core, OpKind kind,
           const std::vector<const std::string*>& paths, std::function<void(R)> cb, Forward&& forward) {
  std::lock_guard ilk(core->issue_mu);
  const auto decision = core->decide(kind, paths);
  const uint64_t seq = core->next_seq++;
  {
    std::lock_guard lk(core->mu);
    ++core->pending;
  }
  if (decision && decision->mode == FaultMode::kFailBefore) {
    R result{};
    result.code = decision->code;
    core->arrive({true, seq, [cb = std::move(cb), result = std::move(result)]() mutable { cb(std::move(result)); }});
    return;
  }
  std::optional<Code> replace;
  if (decision) replace = decision->code;
  forward([core, seq, replace, cb = std::move(cb)](R result) mutable {
    if (replace) {
      result = R{};  // the real answer is lost: outcome unknown
      result.code = *replace;
    }
    core->arrive({true, seq, [cb = std::move(cb), result = std::move(result)]() mutable { cb(std::move(result)); }});
  });
}

}  // namespace

FaultClient::FaultClient(std::shared_ptr<Client> inner, uint64_t seed) : FaultClient(*inner, seed) {
  owned_ = std::move(inner);
}

FaultClient::FaultClient(Client& inner, uint64_t seed) : inner_(&inner), core_(std::make_shared<Core>(seed)) {
  std::weak_ptr<Core> weak = core_;
  inner_->setWatchListener([weak](const WatchEvent& ev) {
    auto core = weak.lock();
    if (!core) return;
    core->arrive({false, 0, [core, ev] {
                    WatchListener listener;
                    {
                      std::lock_guard lk(core->mu);
                      listener = core->watch_listener;
                    }
                    if (listener) listener(ev);
                  }});
  });
  inner_->setSessionListener([weak](const SessionEvent& ev) {
    auto core = weak.lock();
    if (!core) return;
    core->arrive({false, 0, [core, ev] {
                    SessionListener listener;
                    {
                      std::lock_guard lk(core->mu);
                      listener = core->session_listener;
                    }
                    if (listener) listener(ev);
                  }});
  });
  // The worker starts by taking the lock, so it sees worker_id set.
  std::lock_guard lk(core_->mu);
  core_->worker = std::thread([core = core_] { core->loop(); });
  core_->worker_id = core_->worker.get_id();
}

FaultClient::~FaultClient() {
  {
    std::lock_guard lk(core_->mu);
    core_->stop = true;
    core_->cv.notify_all();
  }
  // A callback may hold the last reference to its own client.
  if (std::this_thread::get_id() == core_->worker_id) {
    core_->worker.detach();
  } else {
    core_->worker.join();
  }
}

size_t FaultClient::addRule(FaultRule rule) {
  std::lock_guard lk(core_->issue_mu);
  const size_t id = core_->next_rule_id++;
  core_->rules.push_back({id, std::move(rule), 0});
  return id;
}

void FaultClient::removeRule(size_t id) {
  std::lock_guard lk(core_->issue_mu);
  std::erase_if(core_->rules, [id](const auto& r) { return r.id == id; });
}

void FaultClient::clearRules() {
  std::lock_guard lk(core_->issue_mu);
  core_->rules.clear();
}

uint64_t FaultClient::injected() const {
  std::lock_guard lk(core_->issue_mu);
  return core_->injected_total;
}

uint64_t FaultClient::injected(size_t rule) const {
  std::lock_guard lk(core_->issue_mu);
  auto it = core_->injected_by_rule.find(rule);
  return it == core_->injected_by_rule.end() ? 0 : it->second;
}

bool FaultClient::waitIdle(std::chrono::milliseconds timeout) const {
  if (std::this_thread::get_id() == core_->worker_id) return false;
  std::unique_lock lk(core_->mu);
  return core_->idle_cv.wait_for(lk, timeout, [&] { return core_->idleLocked(); });
}

size_t FaultClient::pending() const {
  std::lock_guard lk(core_->mu);
  return core_->pending;
}

void FaultClient::get(const std::string& path, bool watch, GetCallback cb) {
  route<GetResult>(core_, OpKind::kGet, pathsOf(path), std::move(cb),
                   [&](GetCallback fwd) { inner_->get(path, watch, std::move(fwd)); });
}

void FaultClient::getChildren(const std::string& path, bool watch, ChildrenCallback cb) {
  route<ChildrenResult>(core_, OpKind::kGetChildren, pathsOf(path), std::move(cb),
                        [&](ChildrenCallback fwd) { inner_->getChildren(path, watch, std::move(fwd)); });
}

void FaultClient::exists(const std::string& path, bool watch, StatCallback cb) {
  route<StatResult>(core_, OpKind::kExists, pathsOf(path), std::move(cb),
                    [&](StatCallback fwd) { inner_->exists(path, watch, std::move(fwd)); });
}

void FaultClient::getAcl(const std::string& path, AclCallback cb) {
  route<AclResult>(core_, OpKind::kGetAcl, pathsOf(path), std::move(cb),
                   [&](AclCallback fwd) { inner_->getAcl(path, std::move(fwd)); });
}

void FaultClient::create(CreateOp op, CreateCallback cb) {
  route<CreateResult>(core_, OpKind::kCreate, pathsOf(op.path), std::move(cb),
                      [&](CreateCallback fwd) { inner_->create(std::move(op), std::move(fwd)); });
}

void FaultClient::set(SetOp op, StatCallback cb) {
  route<StatResult>(core_, OpKind::kSet, pathsOf(op.path), std::move(cb),
                    [&](StatCallback fwd) { inner_->set(std::move(op), std::move(fwd)); });
}

void FaultClient::remove(DeleteOp op, VoidCallback cb) {
  route<VoidResult>(core_, OpKind::kRemove, pathsOf(op.path), std::move(cb),
                    [&](VoidCallback fwd) { inner_->remove(std::move(op), std::move(fwd)); });
}

void FaultClient::setAcl(const std::string& path, AclList acl, int32_t version, VoidCallback cb) {
  route<VoidResult>(core_, OpKind::kSetAcl, pathsOf(path), std::move(cb), [&](VoidCallback fwd) {
    inner_->setAcl(path, std::move(acl), version, std::move(fwd));
  });
}

void FaultClient::multi(std::vector<Op> ops, MultiCallback cb) {
  const auto paths = pathsOf(ops);
  route<MultiResult>(core_, OpKind::kMulti, paths, std::move(cb),
                     [&](MultiCallback fwd) { inner_->multi(std::move(ops), std::move(fwd)); });
}

void FaultClient::multiRead(std::vector<ReadOp> ops, MultiReadCallback cb) {
  const auto paths = pathsOf(ops);
  route<MultiReadResult>(core_, OpKind::kMultiRead, paths, std::move(cb),
                         [&](MultiReadCallback fwd) { inner_->multiRead(std::move(ops), std::move(fwd)); });
}

void FaultClient::addWatch(const std::string& path, AddWatchMode mode, VoidCallback cb) {
  route<VoidResult>(core_, OpKind::kAddWatch, pathsOf(path), std::move(cb),
                    [&](VoidCallback fwd) { inner_->addWatch(path, mode, std::move(fwd)); });
}

void FaultClient::removeWatches(const std::string& path, VoidCallback cb) {
  route<VoidResult>(core_, OpKind::kRemoveWatches, pathsOf(path), std::move(cb),
                    [&](VoidCallback fwd) { inner_->removeWatches(path, std::move(fwd)); });
}

void FaultClient::sync(const std::string& path, VoidCallback cb) {
  route<VoidResult>(core_, OpKind::kSync, pathsOf(path), std::move(cb),
                    [&](VoidCallback fwd) { inner_->sync(path, std::move(fwd)); });
}

void FaultClient::setWatchListener(WatchListener listener) {
  std::lock_guard lk(core_->mu);
  core_->watch_listener = std::move(listener);
}

void FaultClient::setSessionListener(SessionListener listener) {
  std::lock_guard lk(core_->mu);
  core_->session_listener = std::move(listener);
}

}  // namespace zks::zk
