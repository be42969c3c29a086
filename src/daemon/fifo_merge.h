#pragma once

// How the daemon merges the primary's watch events with its reads: the FIFO
// merge rule. ZooKeeper 3.8 events carry no zxid, so the only clock that
// orders an event against a read is the session itself.
//
// Facts the rule stands on (ZooKeeper's guarantees for one session):
//  F1. The server sends replies and watch events in the order it produced
//      them, and a client sees a watch event before it sees data newer than
//      the change the event names.
//  F2. Both backends deliver them on one dispatcher thread in arrival order,
//      and every daemon owner posts them from there to the one EventLoop: the
//      loop processes the primary session's replies and events in the
//      session's order.
//
// Design invariants (each has a test; the names are in
// tests/unit/daemon_fifo_merge_test.cpp and daemon_recursive_test.cpp):
//  I1. Numbering. One ReadSequence, owned by the loop thread, numbers every
//      primary reply (getData, getACL, getChildren, exists, multiRead) and
//      every primary watch event when the loop processes it. By F1 and F2 a
//      number is the item's position in the session's FIFO: a reply numbered
//      after an event holds the change the event names; a reply numbered
//      before it does not.                                  [I1 tests]
//  I2. Per path, plans go in read order. A plan for primary path P (and its
//      backup path B) may be emitted only from a read newer than the read
//      behind the last plan emitted for P, and newer than the read behind
//      an event pass's last decision on B (an orphan delete names only B:
//      a per-node children pass deletes the copy of a child gone from the
//      primary, and an older full-pass create of it must not bring it back). "Nothing to write" counts as a
//      plan. Event passes on one path never run at once (DirtySet) and each
//      reads after its event, so each is newer than the one before. A full
//      pass (or re-verification) asks MergeLedger::mayPlan before emitting:
//      a plan from a read older than an event pass's plan for P is dropped
//      (the event pass holds the newer state). Hence values on the backup
//      never go back, and the last plan for P is from the newest read.
//  I3. Orphans. A full pass deletes a backup node B that has no primary
//      counterpart only if no event pass planned B after the full pass
//      listed B's primary parent (MergeLedger::mayDeleteOrphan). Otherwise
//      the node was created on the primary after that listing and is
//      already replicated; the next audit looks again.
//  I4. Live events are never held back. An event starts its single-node
//      pass at once, whether or not a full pass or a re-verification runs;
//      I2 and I3 are what make that safe. (That is what bounds "the first
//      new write after a reset" by one round trip, not by a re-read.)
//  I5. No descent on NodeCreated (recursive mode). A node's children are
//      created after it. A child created after the recursive watch was
//      registered fires its own NodeCreated (the watch covers the subtree).
//      A child created before it existed when the startup read (or the
//      re-verification) started, since that read is issued after the
//      addWatch reply, and the read lists every directory from then on. A
//      subtree deleted and created again fires an event per node.
//      The one exception is a node whose backup copy is created while the
//      primary node already has children (its parent was not replicable, or
//      its copy vanished from the backup): its subtree is read whole then.
//  I6. NodeDeleted erases one index entry: ZooKeeper deletes leaves first,
//      so every descendant fired its own NodeDeleted before (F1).
//  I7. Writes already queued. An event pass that finds a node gone from the
//      primary and no copy on the backup while a full pass runs may be
//      looking past a create the full pass has queued but not yet sent:
//      the path of such a node pass, and of every subtree pass (per-node
//      mode's children and delete events: it cannot tell which of its nodes
//      that was) that overlapped a full pass, is looked at again after it.
//      (Every overlapping pass, if the full pass numbered no reads.)
//  I8. Gaps. A new session, a reconnect (the server replays nothing for
//      persistent watches) or a watch re-added leaves a window without
//      events: a full pass that starts after the gap covers it, and the
//      applied-zxid watermark waits for that pass.
//  I9. One watch per root, never a one-shot watch (recursive mode): every
//      primary read is made with watch=false. On 3.8 a one-shot data watch
//      set on a recursively watched path replaces the recursive watch
//      (ZOOKEEPER-4466), silently. Children-changed events are ignored
//      (ZOOKEEPER-4475): a child's creation and deletion have their own
//      events.
//
// Threading: both classes are used on the daemon's loop thread only.

#include <cstdint>
#include <string>
#include <unordered_map>

namespace zks::daemon {

// I1: the primary session's FIFO position of what the loop processes.
class ReadSequence {
 public:
  uint64_t next() { return ++last_; }
  uint64_t last() const { return last_; }

 private:
  uint64_t last_ = 0;
};

// I2 and I3: what event passes planned while a full pass runs. Entries are
// kept only then: a full pass reads after it starts, so an event pass plan
// made while none ran is older than every read of the next one, and
// forgetting it changes no decision.
class MergeLedger {
 public:
  void fullPassStarted() { running_ = true; }
  // Drops everything.
  void fullPassEnded();
  bool fullPassRunning() const { return running_; }

  // An event pass planned primary path `source` (backup path `backup`; empty
  // if it has none) from a read numbered `seq`, whatever the plan wrote.
  void planned(const std::string& source, const std::string& backup, uint64_t seq);

  // I2: may a full pass emit its plan for `source` (backup path `backup`)
  // built from read `seq`?
  bool mayPlan(const std::string& source, const std::string& backup, uint64_t seq) const;
  // I3: may a full pass delete orphan `backup`, found under a primary
  // directory listed at `listing_seq`?
  bool mayDeleteOrphan(const std::string& backup, uint64_t listing_seq) const;

  size_t size() const { return source_.size() + backup_.size(); }

 private:
  bool running_ = false;
  std::unordered_map<std::string, uint64_t> source_;  // primary path -> newest event-pass read planned
  std::unordered_map<std::string, uint64_t> backup_;  // backup path -> the same, by backup path
};

}  // namespace zks::daemon
