// Sessions on the fake server: open, close, expiry, lost connections and
// reconnects with watch re-registration, authentication.

#include <algorithm>

#include "testdoubles/fake/paths.h"
#include "testdoubles/fake/server_impl.h"

namespace zks::zk {
namespace {

// Session ids of a real server carry its server id in the top byte; 1 keeps
// them clear of the container and TTL encodings.
constexpr int64_t kSessionIdBase = int64_t{1} << 56;

}  // namespace

int64_t FakeServer::Impl::createSession(const std::shared_ptr<FakeClient::Core>& core, const std::string& address) {
  store.takeZxid();  // createSession is a transaction
  const int64_t id = kSessionIdBase + ++sessions_created;
  Session s;
  s.id = id;
  s.core = core;
  s.auth.emplace_back("ip", address);
  sessions.emplace(id, std::move(s));
  return id;
}

void FakeServer::Impl::closeSession(int64_t session_id) {
  auto it = sessions.find(session_id);
  if (it == sessions.end()) return;
  watches.drop(session_id);
  sessions.erase(it);
  fake::Txn txn = store.begin();
  for (const auto& path : store.ephemeralsOf(session_id)) store.erase(txn, path);
  commit(txn);
}

bool FakeServer::Impl::addAuth(Session& session, const std::string& scheme, const std::string& credentials) {
  auto ids = fake::authenticate(scheme, credentials, options.super_digest);
  if (!ids) return false;
  for (auto& id : *ids) {
    if (std::find(session.auth.begin(), session.auth.end(), id) == session.auth.end()) {
      session.auth.push_back(std::move(id));
    }
  }
  return true;
}

void FakeServer::Impl::setWatches(FakeClient::Core& c, int64_t relative_zxid) {
  const int64_t sid = c.session_id;
  std::vector<fake::Trigger> fired;
  for (const auto& p : c.watches.data) {
    const fake::Node* n = store.find(p);
    if (n == nullptr) {
      fired.push_back({EventType::kDeleted, p});
    } else if (n->mzxid > relative_zxid) {
      fired.push_back({EventType::kDataChanged, p});
    } else {
      watches.addData(p, sid);
    }
  }
  for (const auto& p : c.watches.exist) {
    if (store.contains(p)) {
      fired.push_back({EventType::kCreated, p});
    } else {
      watches.addData(p, sid);
    }
  }
  for (const auto& p : c.watches.child) {
    const fake::Node* n = store.find(p);
    if (n == nullptr) {
      fired.push_back({EventType::kDeleted, p});
    } else if (n->pzxid > relative_zxid) {
      fired.push_back({EventType::kChildrenChanged, p});
    } else {
      watches.addChild(p, sid);
    }
  }
  for (const auto& p : c.watches.persistent) watches.addWatch(p, sid, AddWatchMode::kPersistent);
  for (const auto& p : c.watches.recursive) watches.addWatch(p, sid, AddWatchMode::kPersistentRecursive);
  for (const auto& t : fired) c.notifyLocked(t.type, t.path);
}

Status FakeServer::Impl::openSession(const std::shared_ptr<FakeClient::Core>& core, bool announce) {
  // The old session ends first, without the core's lock: its end fires
  // other sessions' watches, which takes their cores' locks.
  const bool had_session = sessions.contains(core->session_id);
  if (had_session) closeSession(core->session_id);
  std::string refused_scheme;
  {
    std::lock_guard lk(core->mu);
    core->failQueuedLocked(had_session ? Code::kClosing : pendingCode(core->state));
    core->watches.clear();
    core->session_id = 0;
    if (!accepting) {
      core->state = SessionState::kClosed;
      return fail(ErrorCode::kTimeout, "fake ZooKeeper server does not accept connections");
    }
    core->generation += 1;
    core->session_id = createSession(core, core->options.address);
    core->state = SessionState::kConnected;
    core->last_zxid = store.zxid();
    if (announce) core->sessionEventLocked(SessionState::kConnected);
    Session& s = sessions.at(core->session_id);
    std::vector<AuthEntry> auth = core->options.auth;
    auth.insert(auth.end(), core->added_auth.begin(), core->added_auth.end());
    for (const auto& a : auth) {
      if (!addAuth(s, a.scheme, a.credentials)) {
        refused_scheme = a.scheme;
        break;
      }
    }
  }
  if (refused_scheme.empty()) return {};
  authFailed(*core);
  // Like the real clients: reopen() fails, naming the scheme only.
  return fail(ErrorCode::kZooKeeper,
              "fake ZooKeeper server refused authentication with scheme '" + refused_scheme + "'");
}

void FakeServer::Impl::authFailed(FakeClient::Core& c) {
  // The session view changes only with both locks held, so reading it with
  // the server's lock alone is safe; the core's lock is not held while the
  // session's end fires other sessions' watches.
  if (c.state != SessionState::kConnected) return;
  closeSession(c.session_id);
  std::lock_guard lk(c.mu);
  c.failQueuedLocked(Code::kAuthFailed);
  c.watches.clear();
  c.state = SessionState::kAuthFailed;
  c.sessionEventLocked(SessionState::kAuthFailed);
}

void FakeServer::Impl::disconnect(FakeClient::Core& c) {
  if (c.state != SessionState::kConnected) return;
  // The server forgets a connection's watches when it closes; the client
  // keeps its registry and re-sends it on reconnect.
  auto it = sessions.find(c.session_id);
  if (it != sessions.end()) it->second.connected = false;
  watches.drop(c.session_id);
  c.failQueuedLocked(Code::kConnectionLoss);
  c.state = SessionState::kConnecting;
  c.sessionEventLocked(SessionState::kConnecting);
}

SessionState FakeServer::Impl::reconnect(FakeClient::Core& c) {
  if (c.state != SessionState::kConnecting || !accepting) return c.state;
  auto it = sessions.find(c.session_id);
  if (it == sessions.end()) {
    c.watches.clear();
    c.state = SessionState::kExpired;
    c.sessionEventLocked(SessionState::kExpired);
    return c.state;
  }
  if (fake::setWatchesSize(c.watches) > options.max_request_bytes) return c.state;  // the server drops it again
  it->second.connected = true;
  c.state = SessionState::kConnected;
  c.sessionEventLocked(SessionState::kConnected);
  setWatches(c, c.last_zxid);
  c.last_zxid = store.zxid();
  return c.state;
}

void FakeServer::Impl::expire(FakeClient::Core& c) {
  if (!sessions.contains(c.session_id)) return;
  closeSession(c.session_id);  // see authFailed() about the locks
  std::lock_guard lk(c.mu);
  if (c.state != SessionState::kConnected) return;  // learnt on reconnect
  c.failQueuedLocked(Code::kSessionExpired);
  c.watches.clear();
  c.state = SessionState::kExpired;
  c.sessionEventLocked(SessionState::kExpired);
}

}  // namespace zks::zk
