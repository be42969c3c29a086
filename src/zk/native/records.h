#pragma once

// Jute records of the client protocol (zookeeper.jute): the session
// handshake, request and reply headers, request bodies, and the replies the
// client reads. Pure functions: no I/O, no state. Decoders take a bounded
// JuteReader and leave it failed (ok() false) on malformed input.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zk/native/jute.h"
#include "zk/types.h"

namespace zks::zk::native {

// ---- framing ----

// Every packet is a 4-byte big-endian length and that many bytes.
inline constexpr size_t kFrameHeaderBytes = 4;

// Appends one request frame: length, RequestHeader{xid, type}, body.
void appendRequestFrame(std::string& out, int32_t xid, int32_t opcode, std::string_view body);

// ---- the session handshake (no request header) ----

struct ConnectRequest {
  int64_t last_zxid_seen = 0;
  int32_t timeout_ms = 0;
  int64_t session_id = 0;       // 0: a new session
  std::string password;         // empty for a new session (sent as 16 zero bytes)
  bool read_only = false;       // the trailing byte 3.4+ servers read
};
// The whole frame, length included.
std::string encodeConnectRequest(const ConnectRequest& request);

struct ConnectResponse {
  int32_t protocol_version = 0;
  int32_t timeout_ms = 0;  // 0 or less: the session is expired (or unknown)
  int64_t session_id = 0;
  std::string password;
  bool read_only = false;  // optional trailing byte
};
// `frame` without its length prefix.
bool decodeConnectResponse(std::string_view frame, ConnectResponse& out);

// ---- replies ----

struct ReplyHeader {
  int32_t xid = 0;
  int64_t zxid = 0;
  int32_t err = 0;
};
ReplyHeader readReplyHeader(JuteReader& in);

Stat readStat(JuteReader& in);
void writeStat(JuteWriter& out, const Stat& stat);  // for tests and fuzzing
AclList readAcls(JuteReader& in);
void writeAcls(JuteWriter& out, const AclList& acl);
std::vector<std::string> readStrings(JuteReader& in);

struct WatcherEventRecord {
  int32_t type = 0;
  int32_t state = 0;
  std::string path;
};
WatcherEventRecord readWatcherEvent(JuteReader& in);

// One entry of a MultiResponse (multi and multiRead): which fields are set
// depends on `type`, the opcode of the op answered, or op::kError.
struct MultiOpResult {
  int32_t type = 0;
  int32_t err = 0;   // the ErrorResponse's code when type is op::kError
  std::string path;  // create*
  Stat stat;         // create2/container/ttl, setData, getData
  std::string data;  // getData
  std::vector<std::string> children;  // getChildren
};
// Reads results until the terminating header. Fails on an unknown type.
std::vector<MultiOpResult> readMultiResponse(JuteReader& in);

// ---- request bodies ----

std::string pathRequest(std::string_view path);                   // getACL, sync
std::string pathWatchRequest(std::string_view path, bool watch);  // exists, getData, getChildren(2)
std::string createRequest(std::string_view path, std::string_view data, const AclList& acl, int32_t flags);
std::string createTtlRequest(std::string_view path, std::string_view data, const AclList& acl, int32_t flags,
                             int64_t ttl_ms);
std::string deleteRequest(std::string_view path, int32_t version);  // also check (CheckVersionRequest)
std::string setDataRequest(std::string_view path, std::string_view data, int32_t version);
std::string setAclRequest(std::string_view path, const AclList& acl, int32_t version);
std::string addWatchRequest(std::string_view path, int32_t mode);
std::string removeWatchesRequest(std::string_view path, int32_t watcher_type);
std::string authRequest(std::string_view scheme, std::string_view credentials);

// MultiOperationRecord (multi and multiRead): each op's header and body,
// then the terminating header.
struct MultiRequestOp {
  int32_t opcode = 0;
  std::string body;
};
std::string multiRequest(const std::vector<MultiRequestOp>& ops);

// SetWatches (op 101) has the first four lists; SetWatches2 (op 105) all six.
struct SetWatchesRecord {
  int64_t relative_zxid = 0;
  std::vector<std::string> data;
  std::vector<std::string> exist;
  std::vector<std::string> child;
  std::vector<std::string> persistent;
  std::vector<std::string> persistent_recursive;
  bool hasPersistent() const { return !persistent.empty() || !persistent_recursive.empty(); }
};
// The opcode and body: SetWatches2 only when the packet holds persistent
// watches, so that servers older than 3.6 can take the rest.
int32_t setWatchesOpcode(const SetWatchesRecord& record);
std::string setWatchesRequest(const SetWatchesRecord& record);

}  // namespace zks::zk::native
