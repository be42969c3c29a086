#pragma once

// A request between its submission and the run of its callback, as the
// session layer sees it: an opcode and a serialized body going out, a
// decoder for the reply coming in, and a delivery to run on the dispatcher
// thread. The client layer (native_client.cpp) derives one class per
// operation.

#include <cstdint>
#include <memory>
#include <string>

#include "zk/native/jute.h"
#include "zk/types.h"

namespace zks::zk::native {

// Something to run on the client's dispatcher thread.
class Task {
 public:
  virtual ~Task() = default;
  virtual void run() = 0;
};

// The watch registration a successful answer makes (Java's
// WatchRegistration). Paths are the server's.
struct WatchIntent {
  enum Kind : uint8_t {
    kNone,
    kData,        // getData: a data watch when the node exists
    kExists,      // exists: a data watch, or an exist watch on kNoNode
    kChild,       // getChildren: a child watch
    kPersistent,  // addWatch
    kRecursive,   // addWatch, recursive
    kRemove,      // removeWatches: forget every registration on the path
  };
  Kind kind = kNone;
  std::string path;
};

class Call : public Task {
 public:
  int32_t opcode = 0;
  std::string body;  // the request record, chroot applied; freed once sent
  WatchIntent watch;
  // Set by the builder for a request that must not be sent (a bad path,
  // a TTL out of range): the call is answered with this code at once.
  Code refused = Code::kOk;

  // On the I/O thread: the server answered with `code` (from the reply
  // header) and `reply` holds the rest of the frame. Returns false when the
  // body is malformed; the call then completes with kMarshallingError.
  virtual bool onReply(Code code, JuteReader& reply) = 0;
  // No answer: connection loss, expiry, close, or refused before sending.
  virtual void onFailure(Code code) = 0;
  // The code the call completed with, once onReply or onFailure ran.
  virtual Code code() const = 0;
};

}  // namespace zks::zk::native
