#include "zk/native/records.h"

#include "zk/native/protocol.h"

namespace zks::zk::native {
namespace {

// Smallest encodings, for bounding vector counts against what is left.
constexpr size_t kMinStringBytes = 4;
constexpr size_t kMinAclBytes = 4 + 4 + 4;  // perms, scheme, id

void writeStrings(JuteWriter& out, const std::vector<std::string>& strings) {
  out.count(strings.size());
  for (const auto& s : strings) out.buffer(s);
}

}  // namespace

void appendRequestFrame(std::string& out, int32_t xid, int32_t opcode, std::string_view body) {
  JuteWriter w(out);
  w.int32(static_cast<int32_t>(8 + body.size()));
  w.int32(xid);
  w.int32(opcode);
  out.append(body);
}

std::string encodeConnectRequest(const ConnectRequest& request) {
  std::string out;
  JuteWriter w(out);
  w.int32(0);  // length, patched below
  w.int32(kProtocolVersion);
  w.int64(request.last_zxid_seen);
  w.int32(request.timeout_ms);
  w.int64(request.session_id);
  w.buffer(request.password.empty() ? std::string(kPasswordBytes, '\0') : request.password);
  w.boolean(request.read_only);
  w.patchInt32(0, static_cast<int32_t>(out.size() - kFrameHeaderBytes));
  return out;
}

bool decodeConnectResponse(std::string_view frame, ConnectResponse& out) {
  JuteReader in(frame);
  out.protocol_version = in.int32();
  out.timeout_ms = in.int32();
  out.session_id = in.int64();
  out.password = in.buffer();
  // 3.4+ servers append readOnly; older ones do not.
  out.read_only = in.remaining() > 0 ? in.boolean() : false;
  return in.ok();
}

ReplyHeader readReplyHeader(JuteReader& in) {
  ReplyHeader h;
  h.xid = in.int32();
  h.zxid = in.int64();
  h.err = in.int32();
  return h;
}

Stat readStat(JuteReader& in) {
  Stat s;
  s.czxid = in.int64();
  s.mzxid = in.int64();
  s.ctime = in.int64();
  s.mtime = in.int64();
  s.version = in.int32();
  s.cversion = in.int32();
  s.aversion = in.int32();
  s.ephemeral_owner = in.int64();
  s.data_length = in.int32();
  s.num_children = in.int32();
  s.pzxid = in.int64();
  return s;
}

void writeStat(JuteWriter& out, const Stat& s) {
  out.int64(s.czxid);
  out.int64(s.mzxid);
  out.int64(s.ctime);
  out.int64(s.mtime);
  out.int32(s.version);
  out.int32(s.cversion);
  out.int32(s.aversion);
  out.int64(s.ephemeral_owner);
  out.int32(s.data_length);
  out.int32(s.num_children);
  out.int64(s.pzxid);
}

AclList readAcls(JuteReader& in) {
  AclList acl;
  const size_t n = in.count(kMinAclBytes);
  acl.reserve(n);
  for (size_t i = 0; i < n && in.ok(); ++i) {
    Acl a;
    a.perms = in.int32();
    a.scheme = in.buffer();
    a.id = in.buffer();
    acl.push_back(std::move(a));
  }
  return acl;
}

void writeAcls(JuteWriter& out, const AclList& acl) {
  out.count(acl.size());
  for (const auto& a : acl) {
    out.int32(a.perms);
    out.buffer(a.scheme);
    out.buffer(a.id);
  }
}

std::vector<std::string> readStrings(JuteReader& in) {
  std::vector<std::string> strings;
  const size_t n = in.count(kMinStringBytes);
  strings.reserve(n);
  for (size_t i = 0; i < n && in.ok(); ++i) strings.push_back(in.buffer());
  return strings;
}

WatcherEventRecord readWatcherEvent(JuteReader& in) {
  WatcherEventRecord e;
  e.type = in.int32();
  e.state = in.int32();
  e.path = in.buffer();
  return e;
}

std::vector<MultiOpResult> readMultiResponse(JuteReader& in) {
  std::vector<MultiOpResult> results;
  for (;;) {
    const int32_t type = in.int32();
    const bool done = in.boolean();
    const int32_t header_err = in.int32();
    if (!in.ok() || done) break;
    MultiOpResult r;
    r.type = type;
    r.err = header_err;
    switch (type) {
      case op::kCreate:
        r.path = in.buffer();
        break;
      case op::kCreate2:
      case op::kCreateContainer:
      case op::kCreateTtl:
        r.path = in.buffer();
        r.stat = readStat(in);
        break;
      case op::kDelete:
      case op::kCheck:
        break;
      case op::kSetData:
        r.stat = readStat(in);
        break;
      case op::kGetData:
        r.data = in.buffer();
        r.stat = readStat(in);
        break;
      case op::kGetChildren:
        r.children = readStrings(in);
        break;
      case op::kError:
        r.err = in.int32();
        break;
      default:
        in.fail();
        break;
    }
    if (!in.ok()) break;
    results.push_back(std::move(r));
  }
  return results;
}

std::string pathRequest(std::string_view path) {
  std::string out;
  JuteWriter(out).buffer(path);
  return out;
}

std::string pathWatchRequest(std::string_view path, bool watch) {
  std::string out;
  JuteWriter w(out);
  w.buffer(path);
  w.boolean(watch);
  return out;
}

std::string createRequest(std::string_view path, std::string_view data, const AclList& acl, int32_t flags) {
  std::string out;
  JuteWriter w(out);
  w.buffer(path);
  w.buffer(data);
  writeAcls(w, acl);
  w.int32(flags);
  return out;
}

std::string createTtlRequest(std::string_view path, std::string_view data, const AclList& acl, int32_t flags,
                             int64_t ttl_ms) {
  std::string out = createRequest(path, data, acl, flags);
  JuteWriter(out).int64(ttl_ms);
  return out;
}

std::string deleteRequest(std::string_view path, int32_t version) {
  std::string out;
  JuteWriter w(out);
  w.buffer(path);
  w.int32(version);
  return out;
}

std::string setDataRequest(std::string_view path, std::string_view data, int32_t version) {
  std::string out;
  JuteWriter w(out);
  w.buffer(path);
  w.buffer(data);
  w.int32(version);
  return out;
}

std::string setAclRequest(std::string_view path, const AclList& acl, int32_t version) {
  std::string out;
  JuteWriter w(out);
  w.buffer(path);
  writeAcls(w, acl);
  w.int32(version);
  return out;
}

std::string addWatchRequest(std::string_view path, int32_t mode) {
  std::string out;
  JuteWriter w(out);
  w.buffer(path);
  w.int32(mode);
  return out;
}

std::string removeWatchesRequest(std::string_view path, int32_t watcher_type) {
  std::string out;
  JuteWriter w(out);
  w.buffer(path);
  w.int32(watcher_type);
  return out;
}

std::string authRequest(std::string_view scheme, std::string_view credentials) {
  std::string out;
  JuteWriter w(out);
  w.int32(0);  // AuthPacket.type, unused by the server
  w.buffer(scheme);
  w.buffer(credentials);
  return out;
}

std::string multiRequest(const std::vector<MultiRequestOp>& ops) {
  std::string out;
  JuteWriter w(out);
  for (const auto& o : ops) {
    w.int32(o.opcode);
    w.boolean(false);
    w.int32(-1);
    out.append(o.body);
  }
  w.int32(-1);
  w.boolean(true);
  w.int32(-1);
  return out;
}

int32_t setWatchesOpcode(const SetWatchesRecord& record) {
  return record.hasPersistent() ? op::kSetWatches2 : op::kSetWatches;
}

std::string setWatchesRequest(const SetWatchesRecord& record) {
  std::string out;
  JuteWriter w(out);
  w.int64(record.relative_zxid);
  writeStrings(w, record.data);
  writeStrings(w, record.exist);
  writeStrings(w, record.child);
  if (record.hasPersistent()) {
    writeStrings(w, record.persistent);
    writeStrings(w, record.persistent_recursive);
  }
  return out;
}

}  // namespace zks::zk::native
