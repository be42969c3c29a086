#pragma once

// The native ZooKeeper client: the wire protocol spoken directly (codec:
// jute.h, records.h, frame_reader.h; transport: transport.h, tls.h;
// session: session.h, watch_registry.h; client layer: operations.h and
// native_client.cpp). It honours the contract of the libzookeeper client
// (c_client.h) and adds what that one lacks.
//
// Threads: every callback and listener runs on one dispatcher thread the
// client owns for its whole life, in the order the server's answers and
// events arrived (replies and events of one session are FIFO, so a read's
// answer and the watch events around it keep their order). Callbacks may
// issue requests, close() or reopen(); they must not destroy the client.
// The destructor closes the session and runs every callback still owed.
//
// Sessions: reopen() ends the current session (its pending requests
// complete with kClosing) and starts generation+1; it returns once connected
// and every `auth` entry is answered, or fails: kTimeout ("could not connect
// to ZooKeeper at '<connect>' within N ms: <why the last attempt failed>",
// which names a TLS problem such as an untrusted server certificate),
// kZooKeeper for refused auth (state kAuthFailed), a bad connect string or
// an expiry while connecting, kInvalidArgument for a TLS file that is
// missing or holds no usable PEM (the message names the file). Requests
// made while closed are answered kClosing; while reopen() runs they wait
// for the new session. A lost connection fails the requests on the wire
// and those made until the session is back with kConnectionLoss; the
// session resumes on the same or another host with its watches. After
// expiry requests are answered kSessionExpired until reopen().
//
// Capabilities: multiRead, addWatch and removeWatches are real requests
// unless ConnectOptions turns them off (multi_read, persistent_watches: for
// servers older than 3.6) or the server answered kUnimplemented; then
// multiRead is pipelined reads and the watch calls answer kUnimplemented.
// Container and TTL creates work inside multi().
//
// Watches: the client keeps a registry of what its session watches (see
// watch_registry.h) and delivers each event once, with the registrations it
// matched in WatchEvent::origins; an event that matches none is dropped.
// removeWatches(path) removes every watch on `path` (WatcherType Any) and
// answers kNoNode when the session had none there.
//
// ZOOKEEPER-4466 (3.8 servers): the server keeps one watch mode per path,
// session and watch table. A one-shot data watch (get/exists with
// watch=true) that this session sets on a path where it holds a persistent
// recursive watch replaces the recursive one in the server's data-watch
// table: from then on the server sends no created or data-changed events
// for the path's descendants, and once the one-shot has fired none for the
// path either (deletions still come, through the child-watch table), while
// this client still lists the recursive watch. Adding the recursive watch
// again (or a reconnect, which re-registers it) restores it. Do not set
// one-shot watches on a recursively watched path; the integration test
// ZkNativeWatchTest.OneShotWatchOnARecursiveRootReplacesItOnTheServer
// shows the behaviour.

#include <memory>

#include "zk/client.h"
#include "zk/connect_options.h"

namespace zks::zk {

std::unique_ptr<Client> makeNativeClient(ConnectOptions options);

}  // namespace zks::zk
