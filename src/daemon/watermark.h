#pragma once

// The low watermark behind last_applied_zxid: the highest primary zxid Z
// such that every change the primary made at or below Z is on the backup
// (except nodes reported as unreplicable, and ACL-only changes, which fire
// no watch and wait for the next audit).
//
// Why it holds: replies and watch events of one session come in the order
// the server made them (FIFO). When a read answer shows zxid Z (a node's
// mzxid or pzxid), every event for a watched change at or below Z has
// already arrived. So a pass that ends having read up to Z proves "Z is on
// the backup" once all work known at that moment — every event received,
// every write still unresolved, every retry waiting — has ended too.
//
// Work is tracked as tickets: open() when work becomes known, close() when
// it is settled on the backup (or reported). offer(Z) records the claim
// "Z, once every ticket opened so far is closed". Tickets opened later do
// not hold it back. Nothing is trusted before the first offer is settled,
// and a gap (a primary session whose watches were lost, or the start of a
// leadership) is itself a ticket, closed by the next full pass that began
// after it and ended clean.
//
// Pure and single-threaded (the replicator's loop thread).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <set>

namespace zks::daemon {

class Watermark {
 public:
  using Ticket = uint64_t;

  Ticket open();
  void close(Ticket ticket);
  // Every change up to `zxid` is on the backup once every ticket open now
  // is closed.
  void offer(int64_t zxid);
  // The watermark: 0 until a claim is settled.
  int64_t value() const { return value_; }
  size_t openTickets() const { return open_.size(); }

 private:
  void settle();

  struct Claim {
    int64_t zxid;
    Ticket bound;  // settled once no ticket below this is open
  };
  Ticket next_ = 1;
  std::set<Ticket> open_;
  std::deque<Claim> claims_;  // bounds increasing; zxids increasing
  int64_t value_ = 0;
};

}  // namespace zks::daemon
