#pragma once

// The client layer's requests: one Call class per operation, built from the
// Client interface's arguments (paths get the chroot, bad paths and TTLs
// are refused before sending) and decoding the server's reply into the
// interface's result types (created paths lose the chroot again).

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "zk/client.h"
#include "zk/native/call.h"

namespace zks::zk::native {

std::unique_ptr<Call> getCall(const std::string& chroot, const std::string& path, bool watch, GetCallback cb);
std::unique_ptr<Call> childrenCall(const std::string& chroot, const std::string& path, bool watch,
                                   ChildrenCallback cb);
std::unique_ptr<Call> existsCall(const std::string& chroot, const std::string& path, bool watch, StatCallback cb);
std::unique_ptr<Call> getAclCall(const std::string& chroot, const std::string& path, AclCallback cb);
std::unique_ptr<Call> createCall(const std::string& chroot, CreateOp op, CreateCallback cb);
std::unique_ptr<Call> setCall(const std::string& chroot, SetOp op, StatCallback cb);
std::unique_ptr<Call> deleteCall(const std::string& chroot, DeleteOp op, VoidCallback cb);
std::unique_ptr<Call> setAclCall(const std::string& chroot, const std::string& path, const AclList& acl,
                                 int32_t version, VoidCallback cb);
std::unique_ptr<Call> syncCall(const std::string& chroot, const std::string& path, VoidCallback cb);
std::unique_ptr<Call> multiCall(const std::string& chroot, std::vector<Op> ops, MultiCallback cb);

// multiRead (op 22). A server that answers kUnimplemented (older than 3.6)
// clears `supported` and the read is redone through `fallback` (pipelined
// reads), so the caller still gets its answer.
using MultiReadFallback = std::function<void(std::vector<ReadOp>, MultiReadCallback)>;
std::unique_ptr<Call> multiReadCall(const std::string& chroot, std::vector<ReadOp> ops, MultiReadCallback cb,
                                    std::atomic<bool>* supported, MultiReadFallback fallback);

// addWatch (op 106) and removeWatches (op 18, WatcherType Any). An answer
// kUnimplemented clears `supported`.
std::unique_ptr<Call> addWatchCall(const std::string& chroot, const std::string& path, AddWatchMode mode,
                                   VoidCallback cb, std::atomic<bool>* supported);
std::unique_ptr<Call> removeWatchesCall(const std::string& chroot, const std::string& path, VoidCallback cb);

}  // namespace zks::zk::native
