// The native client's pure layers: jute encoding, records, framing, path
// rules and chroot, the connect string, the watch registry and SetWatches
// packets. The decoders are fed truncated and random frames: they must
// fail cleanly, never crash or allocate without bound (run this binary in
// an ASan build too).

#include <algorithm>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "zk/native/frame_reader.h"
#include "zk/native/jute.h"
#include "zk/native/paths.h"
#include "zk/native/protocol.h"
#include "zk/native/records.h"
#include "zk/native/watch_registry.h"

namespace zks::zk::native {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

Stat sampleStat() {
  Stat s;
  s.czxid = 0x100000001;
  s.mzxid = 0x100000002;
  s.ctime = 1700000000000;
  s.mtime = 1700000000001;
  s.version = 3;
  s.cversion = 4;
  s.aversion = 5;
  s.ephemeral_owner = 0x1000000abcdef;
  s.data_length = 6;
  s.num_children = 7;
  s.pzxid = 0x100000003;
  return s;
}

TEST(Jute, WritesBigEndianAndLengthPrefixedValues) {
  std::string out;
  JuteWriter w(out);
  w.int32(0x01020304);
  w.int64(-2);
  w.boolean(true);
  w.buffer("ab");
  w.nullBuffer();
  EXPECT_EQ(out, bytes({1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 1, 0, 0, 0, 2, 'a', 'b', 0xff, 0xff,
                        0xff, 0xff}));
  JuteReader in(out);
  EXPECT_EQ(in.int32(), 0x01020304);
  EXPECT_EQ(in.int64(), -2);
  EXPECT_TRUE(in.boolean());
  EXPECT_EQ(in.buffer(), "ab");
  EXPECT_EQ(in.buffer(), "");  // null reads as empty
  EXPECT_TRUE(in.ok());
  EXPECT_TRUE(in.atEnd());
}

TEST(Jute, AFailedReadPoisonsTheReader) {
  const std::string short_buffer = bytes({0, 0, 0, 9, 'x'});  // a buffer of 9 bytes with 1 present
  JuteReader in(short_buffer);
  EXPECT_EQ(in.buffer(), "");
  EXPECT_FALSE(in.ok());
  EXPECT_EQ(in.int32(), 0);
  EXPECT_EQ(in.remaining(), 0u);

  const std::string minus_two = bytes({0xff, 0xff, 0xff, 0xfe});  // length -2
  JuteReader negative(minus_two);
  negative.buffer();
  EXPECT_FALSE(negative.ok());

  // A vector count that cannot fit in what is left is refused before
  // anything is reserved for it.
  std::string huge;
  JuteWriter(huge).int32(0x7fffffff);
  huge += "tiny";
  JuteReader in2(huge);
  EXPECT_TRUE(readStrings(in2).empty());
  EXPECT_FALSE(in2.ok());
}

TEST(Records, TheHandshakeCarriesTheTrailingReadOnlyByte) {
  ConnectRequest request;
  request.last_zxid_seen = 0x10;
  request.timeout_ms = 4000;
  request.session_id = 0x123;
  request.password = std::string(16, 'p');
  const std::string frame = encodeConnectRequest(request);
  // length, protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly
  ASSERT_EQ(frame.size(), 4u + 4 + 8 + 4 + 8 + (4 + 16) + 1);
  JuteReader in(frame);
  EXPECT_EQ(in.int32(), static_cast<int32_t>(frame.size() - 4));
  EXPECT_EQ(in.int32(), 0);
  EXPECT_EQ(in.int64(), 0x10);
  EXPECT_EQ(in.int32(), 4000);
  EXPECT_EQ(in.int64(), 0x123);
  EXPECT_EQ(in.buffer(), std::string(16, 'p'));
  EXPECT_FALSE(in.boolean());
  EXPECT_TRUE(in.atEnd());

  // A new session sends 16 zero bytes of password.
  const std::string fresh = encodeConnectRequest(ConnectRequest{});
  EXPECT_NE(fresh.find(std::string(16, '\0')), std::string::npos);
}

TEST(Records, TheHandshakeAnswerMayLackTheReadOnlyByte) {
  std::string body;
  JuteWriter w(body);
  w.int32(0);
  w.int32(4000);
  w.int64(0x77);
  w.buffer(std::string(16, 's'));
  ConnectResponse r;
  ASSERT_TRUE(decodeConnectResponse(body, r));
  EXPECT_EQ(r.timeout_ms, 4000);
  EXPECT_EQ(r.session_id, 0x77);
  EXPECT_FALSE(r.read_only);
  w.boolean(true);
  ASSERT_TRUE(decodeConnectResponse(body, r));
  EXPECT_TRUE(r.read_only);
}

TEST(Records, ARequestFrameIsLengthHeaderAndBody) {
  std::string out;
  appendRequestFrame(out, 7, op::kGetData, pathWatchRequest("/a", true));
  EXPECT_EQ(out, bytes({0, 0, 0, 15, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 2, '/', 'a', 1}));
  std::string ping;
  appendRequestFrame(ping, xid::kPing, op::kPing, {});
  EXPECT_EQ(ping, bytes({0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11}));
}

TEST(Records, CreateBodiesCarryAclFlagsAndTtl) {
  const AclList acl = {Acl{31, "world", "anyone"}};
  const std::string plain = createRequest("/n", "d", acl, createFlags(CreateMode::kEphemeralSequential));
  JuteReader in(plain);
  EXPECT_EQ(in.buffer(), "/n");
  EXPECT_EQ(in.buffer(), "d");
  EXPECT_EQ(readAcls(in), acl);
  EXPECT_EQ(in.int32(), 3);
  EXPECT_TRUE(in.atEnd());
  const std::string ttl = createTtlRequest("/n", "", acl, createFlags(CreateMode::kPersistentWithTtl), 60000);
  EXPECT_EQ(ttl.size(), createRequest("/n", "", acl, 5).size() + 8);
  EXPECT_EQ(createOpcode(CreateMode::kContainer), op::kCreateContainer);
  EXPECT_EQ(createOpcode(CreateMode::kPersistentSequentialWithTtl), op::kCreateTtl);
  EXPECT_EQ(createOpcode(CreateMode::kPersistent), op::kCreate);
}

TEST(Records, AMultiRequestEndsWithItsTerminator) {
  const std::string body = multiRequest({{op::kCheck, deleteRequest("/a", 2)}, {op::kDelete, deleteRequest("/b", -1)}});
  JuteReader in(body);
  for (int32_t expected : {op::kCheck, op::kDelete}) {
    EXPECT_EQ(in.int32(), expected);
    EXPECT_FALSE(in.boolean());
    EXPECT_EQ(in.int32(), -1);
    in.buffer();
    in.int32();
  }
  EXPECT_EQ(in.int32(), -1);
  EXPECT_TRUE(in.boolean());
  EXPECT_EQ(in.int32(), -1);
  EXPECT_TRUE(in.atEnd());
}

// A MultiResponse as the server writes one.
std::string multiResponse() {
  std::string out;
  JuteWriter w(out);
  auto header = [&](int32_t type, int32_t err) {
    w.int32(type);
    w.boolean(false);
    w.int32(err);
  };
  header(op::kCreate, 0);
  w.buffer("/created");
  header(op::kCreateContainer, 0);
  w.buffer("/box");
  writeStat(w, sampleStat());
  header(op::kSetData, 0);
  writeStat(w, sampleStat());
  header(op::kError, -101);
  w.int32(-101);
  header(op::kGetData, 0);
  w.buffer("payload");
  writeStat(w, sampleStat());
  header(op::kGetChildren, 0);
  w.count(2);
  w.buffer("x");
  w.buffer("y");
  header(op::kDelete, 0);
  header(op::kCheck, 0);
  w.int32(-1);
  w.boolean(true);
  w.int32(-1);
  return out;
}

TEST(Records, MultiResponsesDecodeEveryKindOfResult) {
  const std::string body = multiResponse();
  JuteReader in(body);
  const auto results = readMultiResponse(in);
  ASSERT_TRUE(in.ok());
  EXPECT_TRUE(in.atEnd());
  ASSERT_EQ(results.size(), 8u);
  EXPECT_EQ(results[0].path, "/created");
  EXPECT_EQ(results[1].path, "/box");
  EXPECT_EQ(results[1].stat, sampleStat());
  EXPECT_EQ(results[2].stat, sampleStat());
  EXPECT_EQ(results[3].type, op::kError);
  EXPECT_EQ(codeOf(results[3].err), Code::kNoNode);
  EXPECT_EQ(results[4].data, "payload");
  EXPECT_EQ(results[5].children, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(results[6].type, op::kDelete);
  EXPECT_EQ(results[7].type, op::kCheck);
}

TEST(Records, AnUnknownResultTypeFailsTheMultiResponse) {
  std::string body;
  JuteWriter w(body);
  w.int32(77);
  w.boolean(false);
  w.int32(0);
  JuteReader in(body);
  readMultiResponse(in);
  EXPECT_FALSE(in.ok());
}

TEST(Records, ServerCodesMapToOurs) {
  EXPECT_EQ(codeOf(0), Code::kOk);
  EXPECT_EQ(codeOf(-101), Code::kNoNode);
  EXPECT_EQ(codeOf(-110), Code::kNodeExists);
  EXPECT_EQ(codeOf(-103), Code::kBadVersion);
  EXPECT_EQ(codeOf(-111), Code::kNotEmpty);
  EXPECT_EQ(codeOf(-108), Code::kNoChildrenForEphemerals);
  EXPECT_EQ(codeOf(-102), Code::kNoAuth);
  EXPECT_EQ(codeOf(-114), Code::kInvalidAcl);
  EXPECT_EQ(codeOf(-8), Code::kBadArguments);
  EXPECT_EQ(codeOf(-6), Code::kUnimplemented);
  EXPECT_EQ(codeOf(-112), Code::kSessionExpired);
  EXPECT_EQ(codeOf(-118), Code::kSessionMoved);
  EXPECT_EQ(codeOf(-115), Code::kAuthFailed);
  EXPECT_EQ(codeOf(-121), Code::kNoNode);  // NOWATCHER
  EXPECT_EQ(codeOf(-127), Code::kThrottled);
  EXPECT_EQ(codeOf(-2), Code::kRuntimeInconsistency);
  EXPECT_EQ(codeOf(-999), Code::kUnknown);
  EXPECT_EQ(eventTypeOf(1), EventType::kCreated);
  EXPECT_EQ(eventTypeOf(4), EventType::kChildrenChanged);
  EXPECT_FALSE(eventTypeOf(-1));
  EXPECT_FALSE(eventTypeOf(7));
}

// ---- malformed input ----

// Frames the client decodes, each complete and valid.
std::vector<std::string> validBodies() {
  std::vector<std::string> bodies;
  {
    std::string b;
    JuteWriter w(b);
    w.int32(5);
    w.int64(0x100000009);
    w.int32(0);
    w.buffer("data");
    writeStat(w, sampleStat());
    bodies.push_back(b);
  }
  {
    std::string b;
    JuteWriter w(b);
    w.int32(-1);
    w.int64(-1);
    w.int32(0);
    w.int32(3);
    w.int32(3);
    w.buffer("/watched/path");
    bodies.push_back(b);
  }
  {
    std::string b;
    JuteWriter w(b);
    w.int32(9);
    w.int64(1);
    w.int32(0);
    writeAcls(w, {Acl{31, "digest", "u:abc"}, Acl{1, "world", "anyone"}});
    writeStat(w, sampleStat());
    bodies.push_back(b);
  }
  {
    std::string b;
    JuteWriter w(b);
    w.int32(10);
    w.int64(1);
    w.int32(0);
    bodies.push_back(b + multiResponse());
  }
  return bodies;
}

// Runs every decoder over `data` the way the session would.
void decodeAll(std::string_view data) {
  {
    JuteReader in(data);
    readReplyHeader(in);
    readStat(in);
  }
  {
    JuteReader in(data);
    readReplyHeader(in);
    in.buffer();
    readStat(in);
  }
  {
    JuteReader in(data);
    readReplyHeader(in);
    readWatcherEvent(in);
  }
  {
    JuteReader in(data);
    readReplyHeader(in);
    readAcls(in);
    readStat(in);
  }
  {
    JuteReader in(data);
    readReplyHeader(in);
    readStrings(in);
    readStat(in);
  }
  {
    JuteReader in(data);
    readReplyHeader(in);
    readMultiResponse(in);
  }
  {
    JuteReader in(data);
    readMultiResponse(in);
  }
  ConnectResponse r;
  decodeConnectResponse(data, r);
}

TEST(Decoders, TruncatedFramesFailWithoutCrashing) {
  for (const auto& body : validBodies()) {
    for (size_t n = 0; n < body.size(); ++n) {
      const std::string_view prefix(body.data(), n);
      decodeAll(prefix);
      JuteReader in(prefix);
      readReplyHeader(in);
      // Every body above ends with a field the full decode needs.
      JuteReader all(body);
      readReplyHeader(all);
      EXPECT_TRUE(all.ok());
      if (n < 16) {
        EXPECT_FALSE(in.ok()) << n;
      }
    }
    decodeAll(body);
  }
  // The multi response specifically: any cut is an error.
  const std::string multi = multiResponse();
  for (size_t n = 0; n < multi.size(); ++n) {
    JuteReader in(std::string_view(multi.data(), n));
    readMultiResponse(in);
    EXPECT_FALSE(in.ok()) << "cut at " << n;
  }
}

TEST(Decoders, RandomFramesNeverCrash) {
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> length(0, 300);
  const auto bodies = validBodies();
  for (int i = 0; i < 200000; ++i) {
    std::string data;
    if (i % 3 == 0) {
      // A valid frame with a few bytes flipped: lengths and counts go wild.
      data = bodies[static_cast<size_t>(i) % bodies.size()];
      for (int k = 0; k < 3; ++k) data[random() % data.size()] = static_cast<char>(byte(random));
    } else {
      data.resize(length(random));
      for (auto& c : data) c = static_cast<char>(byte(random));
    }
    decodeAll(data);
  }
}

TEST(FrameReader, SplitsAStreamHoweverItArrives) {
  std::vector<std::string> frames = {"", "a", std::string(70000, 'b'), "ccc"};
  std::string stream;
  for (const auto& f : frames) {
    JuteWriter(stream).int32(static_cast<int32_t>(f.size()));
    stream += f;
  }
  std::mt19937 random(7);
  for (int round = 0; round < 50; ++round) {
    FrameReader reader(1 << 20);
    std::vector<std::string> seen;
    size_t pos = 0;
    while (pos < stream.size()) {
      auto space = reader.writable(1);
      const size_t n = std::min({space.size(), stream.size() - pos, size_t{1} + random() % 5000});
      std::copy_n(stream.data() + pos, n, space.data());
      reader.commit(n);
      pos += n;
      std::string_view frame;
      while (reader.next(frame) == FrameReader::Status::kFrame) seen.emplace_back(frame);
    }
    EXPECT_EQ(seen, frames);
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

TEST(FrameReader, RefusesNegativeAndOversizedLengths) {
  for (int32_t length : {-1, 1025, 0x7fffffff}) {
    FrameReader reader(1024);
    auto space = reader.writable(4);
    std::string prefix;
    JuteWriter(prefix).int32(length);
    std::copy(prefix.begin(), prefix.end(), space.data());
    reader.commit(4);
    std::string_view frame;
    EXPECT_EQ(reader.next(frame), FrameReader::Status::kBadLength);
    EXPECT_EQ(reader.badLength(), length);
    // No room was made for the announced frame.
    EXPECT_LT(reader.writable(1).size(), size_t{1} << 20);
  }
}

// ---- paths ----

TEST(Paths, FollowZooKeepersRules) {
  for (const char* good : {"/", "/a", "/a/b", "/a-b_c.d", "/..a", "/a.", "/ünïcode"}) EXPECT_FALSE(pathError(good)) << good;
  for (const char* bad : {"", "a", "/a/", "//", "/a//b", "/.", "/a/..", "/a/./b", "/\x01", "/\x7f", "/\xc2\x80",
                          "/\xff", "/\xc0\xaf", "/\xef\xbf\xbf"}) {
    EXPECT_TRUE(pathError(bad)) << bad;
  }
  EXPECT_TRUE(pathError(std::string_view("/a\0b", 4)));
  EXPECT_FALSE(pathError("/a/", true)) << "a sequential name may be all counter";
  EXPECT_FALSE(pathError("/a/seq-", true));
  EXPECT_TRUE(pathError("/a//", true));
}

TEST(Paths, ChrootIsAddedAndStripped) {
  EXPECT_EQ(addChroot("", "/a"), "/a");
  EXPECT_EQ(addChroot("/app", "/"), "/app");
  EXPECT_EQ(addChroot("/app", "/a/b"), "/app/a/b");
  EXPECT_EQ(stripChroot("/app", "/app"), "/");
  EXPECT_EQ(stripChroot("/app", "/app/a"), "/a");
  EXPECT_FALSE(stripChroot("/app", "/apple"));
  EXPECT_FALSE(stripChroot("/app", "/other"));
  EXPECT_EQ(stripChroot("", "/x"), "/x");
}

TEST(Paths, ConnectStringsParseWithPortsIpv6AndChroot) {
  std::string error;
  auto cs = parseConnectString("zk1:2181,10.0.0.2:2182,[::1]:2183,zk4/app/x", error);
  ASSERT_TRUE(cs) << error;
  ASSERT_EQ(cs->hosts.size(), 4u);
  EXPECT_EQ(cs->hosts[0].host, "zk1");
  EXPECT_EQ(cs->hosts[0].port, 2181);
  EXPECT_EQ(cs->hosts[1].port, 2182);
  EXPECT_EQ(cs->hosts[2].host, "::1");
  EXPECT_EQ(cs->hosts[2].describe(), "[::1]:2183");
  EXPECT_EQ(cs->hosts[3].port, 2181);
  EXPECT_EQ(cs->chroot, "/app/x");
  cs = parseConnectString("h:1/", error);
  ASSERT_TRUE(cs);
  EXPECT_EQ(cs->chroot, "");
  for (const char* bad : {"", "h:0", "h:65536", "h:x", ",h:1", "h:1,", "[::1", "[::1]x", ":2181", "h:1/a/", "h:"}) {
    EXPECT_FALSE(parseConnectString(bad, error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

// ---- the watch registry ----

TEST(WatchRegistry, RoutesEventsByTypeAndConsumesOneShots) {
  WatchRegistry r;
  r.addOneShot(OneShotWatch::kData, "/d");
  r.addOneShot(OneShotWatch::kExist, "/e");
  r.addOneShot(OneShotWatch::kChild, "/c");
  EXPECT_EQ(r.route(EventType::kDataChanged, "/d"), watch_origin::kOneShot);
  EXPECT_EQ(r.route(EventType::kDataChanged, "/d"), 0) << "consumed";
  EXPECT_EQ(r.route(EventType::kCreated, "/e"), watch_origin::kOneShot);
  EXPECT_EQ(r.route(EventType::kDataChanged, "/c"), 0) << "a child watch sees no data change";
  EXPECT_EQ(r.route(EventType::kChildrenChanged, "/c"), watch_origin::kOneShot);
  r.addOneShot(OneShotWatch::kChild, "/c");
  r.addOneShot(OneShotWatch::kData, "/c");
  EXPECT_EQ(r.route(EventType::kDeleted, "/c"), watch_origin::kOneShot);
  EXPECT_TRUE(r.empty()) << "a deletion fires data and child watches alike";
}

TEST(WatchRegistry, PersistentAndRecursiveWatchesStayAndCoverWhatTheyShould) {
  WatchRegistry r;
  r.addPersistent("/p", AddWatchMode::kPersistent);
  r.addPersistent("/r", AddWatchMode::kPersistentRecursive);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(r.route(EventType::kDataChanged, "/p"), watch_origin::kPersistent);
    EXPECT_EQ(r.route(EventType::kChildrenChanged, "/p"), watch_origin::kPersistent);
  }
  EXPECT_EQ(r.route(EventType::kCreated, "/p/kid"), 0) << "a persistent watch does not see descendants";
  EXPECT_EQ(r.route(EventType::kCreated, "/r/a/b/c"), watch_origin::kRecursive);
  EXPECT_EQ(r.route(EventType::kDeleted, "/r"), watch_origin::kRecursive);
  EXPECT_EQ(r.route(EventType::kChildrenChanged, "/r"), 0) << "ZOOKEEPER-4475";
  EXPECT_EQ(r.route(EventType::kChildrenChanged, "/r/a"), 0);
  EXPECT_EQ(r.route(EventType::kCreated, "/rr"), 0) << "a sibling with a common prefix";
  r.addOneShot(OneShotWatch::kData, "/r/a");
  EXPECT_EQ(r.route(EventType::kDataChanged, "/r/a"), watch_origin::kOneShot | watch_origin::kRecursive);
  r.addPersistent("/", AddWatchMode::kPersistentRecursive);
  EXPECT_EQ(r.route(EventType::kCreated, "/anything"), watch_origin::kRecursive);
  r.removeAll("/r");
  r.removeAll("/");
  EXPECT_EQ(r.route(EventType::kCreated, "/r/a"), 0);
  EXPECT_EQ(r.size(), 1u);
}

TEST(WatchRegistry, SetWatchesPacketsHoldAtMostTheLimitOfPathBytes) {
  WatchRegistry r;
  std::set<std::string> all;
  for (int i = 0; i < 3000; ++i) {
    const std::string path = "/watched/" + std::to_string(i) + std::string(90, 'x');
    r.addOneShot(static_cast<OneShotWatch>(i % 3), path);
    all.insert(path);
  }
  r.addPersistent("/p", AddWatchMode::kPersistent);
  r.addPersistent("/r", AddWatchMode::kPersistentRecursive);
  all.insert("/p");
  all.insert("/r");
  constexpr size_t kLimit = 128 * 1024;
  const auto packets = r.setWatchesPackets(42, kLimit);
  EXPECT_GE(packets.size(), 3000u * 100 / kLimit);
  std::set<std::string> seen;
  int old_style = 0;
  for (const auto& p : packets) {
    EXPECT_EQ(p.relative_zxid, 42);
    size_t bytes = 0;
    for (auto* list : {&p.data, &p.exist, &p.child, &p.persistent, &p.persistent_recursive}) {
      for (const auto& path : *list) {
        bytes += path.size();
        EXPECT_TRUE(seen.insert(path).second) << "sent twice: " << path;
      }
    }
    EXPECT_LE(bytes, kLimit);
    // SetWatches (101) unless the packet holds persistent watches.
    if (setWatchesOpcode(p) == op::kSetWatches) {
      ++old_style;
      EXPECT_FALSE(p.hasPersistent());
    }
  }
  EXPECT_EQ(seen, all);
  EXPECT_EQ(old_style, static_cast<int>(packets.size()) - 1);
  // The old record has no persistent lists at all (a 3.5 server reads it).
  SetWatchesRecord plain{.relative_zxid = 1, .data = {"/a"}};
  SetWatchesRecord with_persistent = plain;
  with_persistent.persistent_recursive = {"/b"};
  EXPECT_EQ(setWatchesRequest(plain).size(), 8u + 4 + 6 + 4 + 4);
  EXPECT_EQ(setWatchesRequest(with_persistent).size(), setWatchesRequest(plain).size() + 4 + 4 + 6);
}

}  // namespace
}  // namespace zks::zk::native
