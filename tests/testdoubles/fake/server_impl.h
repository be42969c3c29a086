#pragma once

// FakeServer::Impl: the tree, the server's watch managers, the sessions,
// and the execution of a client's requests against them. Everything here
// runs with `mu` held (see client_core.h for the lock order).

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "testdoubles/fake/auth.h"
#include "testdoubles/fake/client_core.h"
#include "testdoubles/fake/ops.h"
#include "testdoubles/fake/store.h"
#include "testdoubles/fake/watches.h"

namespace zks::zk {

struct FakeServer::Impl {
  struct Session {
    int64_t id = 0;
    std::weak_ptr<FakeClient::Core> core;
    fake::AuthIds auth;
    bool connected = true;
  };

  explicit Impl(FakeServerOptions o);

  FakeServerOptions options;
  mutable std::mutex mu;
  fake::Store store;
  fake::ServerWatches watches;
  std::map<int64_t, Session> sessions;
  int64_t sessions_created = 0;
  bool accepting = true;
  FakeCounters counters;
  std::vector<std::weak_ptr<FakeClient::Core>> cores;

  // ---- transactions (server_impl.cpp) ----
  // Fires the watches of a committed transaction, in the order of its
  // changes (DataTree triggers them as it applies each one).
  void commit(fake::Txn& txn);
  void fire(EventType type, const std::string& path);

  // ---- request execution (execute.cpp) ----
  void execute(FakeClient::Core& core, fake::Request& req);

  // ---- sessions (sessions.cpp) ----
  // A session's end fires other sessions' watches, which takes their cores'
  // locks: no core lock may be held while one ends (closeSession and the
  // calls that end a session take the core's lock themselves).
  //
  // `announce`: deliver kConnected. The constructor's first open stays
  // silent: no listener can be set before it.
  Status openSession(const std::shared_ptr<FakeClient::Core>& core, bool announce);
  // closeSession: one transaction deleting the session's ephemerals. The
  // session's own watches go first, so it is not notified of its own end.
  void closeSession(int64_t session_id);
  // false: a scheme the server has no provider for.
  bool addAuth(Session& session, const std::string& scheme, const std::string& credentials);
  // Without the core's lock:
  void authFailed(FakeClient::Core& c);
  void expire(FakeClient::Core& c);
  // With the core's lock held (they end no session):
  void disconnect(FakeClient::Core& c);
  SessionState reconnect(FakeClient::Core& c);

 private:
  int64_t createSession(const std::shared_ptr<FakeClient::Core>& core, const std::string& address);
  // DataTree.setWatches: fire what changed since `relative_zxid`, re-arm
  // the rest; persistent and recursive watches come back without events.
  void setWatches(FakeClient::Core& c, int64_t relative_zxid);
  void notify(int64_t session_id, EventType type, const std::string& path);
};

}  // namespace zks::zk
