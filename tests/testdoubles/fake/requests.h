#pragma once

// Requests as a FakeClient queues them until its completion thread executes
// them, with the client-side checks made before sending and the request's
// size on the wire (for jute.maxbuffer).

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "zk/client.h"

namespace zks::zk::fake {

struct GetReq {
  using Result = GetResult;
  std::string path;
  bool watch;
  GetCallback cb;
};
struct ChildrenReq {
  using Result = ChildrenResult;
  std::string path;
  bool watch;
  ChildrenCallback cb;
};
struct ExistsReq {
  using Result = StatResult;
  std::string path;
  bool watch;
  StatCallback cb;
};
struct GetAclReq {
  using Result = AclResult;
  std::string path;
  AclCallback cb;
};
struct MultiReadReq {
  using Result = MultiReadResult;
  std::vector<ReadOp> ops;
  MultiReadCallback cb;
};
struct SyncReq {
  using Result = VoidResult;
  std::string path;
  VoidCallback cb;
};
struct AddWatchReq {
  using Result = VoidResult;
  std::string path;
  AddWatchMode mode;
  VoidCallback cb;
};
struct RemoveWatchesReq {
  using Result = VoidResult;
  std::string path;
  VoidCallback cb;
};
struct CreateReq {
  using Result = CreateResult;
  CreateOp op;
  CreateCallback cb;
};
struct SetReq {
  using Result = StatResult;
  SetOp op;
  StatCallback cb;
};
struct DeleteReq {
  using Result = VoidResult;
  DeleteOp op;
  VoidCallback cb;
};
struct SetAclReq {
  using Result = VoidResult;
  std::string path;
  AclList acl;
  int32_t version;
  VoidCallback cb;
};
struct MultiReq {
  using Result = MultiResult;
  std::vector<Op> ops;
  MultiCallback cb;
};
using Request = std::variant<GetReq, ChildrenReq, ExistsReq, GetAclReq, MultiReadReq, SyncReq, AddWatchReq,
                             RemoveWatchesReq, CreateReq, SetReq, DeleteReq, SetAclReq, MultiReq>;

// Write requests are transactions (a zxid each); the rest are not.
bool isWrite(const Request& req);

// The callback of `req` bound to `result`, to run on the completion thread.
template <typename R>
std::function<void()> bind(R& req, typename R::Result result) {
  return [cb = std::move(req.cb), result = std::move(result)]() mutable { cb(std::move(result)); };
}

// The callback of `req` bound to a result that carries only `code`.
std::function<void()> failure(Request& req, Code code);

// What the client refuses before sending, as its return code (kOk: send).
Code clientCheck(const Request& req, const Capabilities& capabilities);

// The request's serialized size, without the 4-byte length prefix the
// server compares with jute.maxbuffer.
size_t requestSize(const Request& req);

struct ClientWatches;
// The SetWatches (SetWatches2 with persistent watches) request a
// reconnecting client sends: every path of its registry, in one packet.
size_t setWatchesSize(const ClientWatches& watches);

}  // namespace zks::zk::fake
