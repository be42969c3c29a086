// The Reconciler's reads: multiRead batches per site, bounded by op count
// and expected reply bytes, several in flight; the pipelined single reads
// that stand in for them; and the ACL reads beside them.

#include <algorithm>

#include "reconcile/reconciler_internal.h"

namespace zks::reconcile {

namespace {
// What a reply carries per op besides the payload: the op header, the
// stat (68 bytes) and the length prefixes.
constexpr size_t kOpOverhead = 96;
}  // namespace

// Issues reads while the windows have room. Per site, waiting listings and
// backup reads go first (they finish work already begun); new primary
// nodes are taken up only while fewer than max_outstanding_reads are being
// read and the writes they produced do not wait in bulk.
void Reconciler::pump() {
  while (pumpPrimary()) {
  }
  while (pumpBackup()) {
  }
  // Backpressure: reading stops while the writes it produced wait to be
  // sent, so a slow backup bounds memory instead of growing a queue.
  if (writes_pending_ >= options_.max_pending_writes) applier()->flush();
}

bool Reconciler::pumpPrimary() {
  if (primary_batches_ >= options_.read_batches_in_flight) return false;
  if (!primary_lists_.empty()) {
    auto batch = std::make_shared<ReadBatch>(ReadBatch::Kind::kPrimaryList);
    while (!primary_lists_.empty() && batch->ops.size() < options_.read_batch_ops &&
           (batch->ops.empty() || batch->bytes < options_.read_batch_bytes)) {
      DirPtr dir = std::move(primary_lists_.back());
      primary_lists_.pop_back();
      batch->bytes += static_cast<size_t>(dir->primary_hint) * static_cast<size_t>(avg_name_bytes_ + 4) + kOpOverhead;
      batch->ops.push_back({zk::ReadKind::kGetChildren, dir->primary_path});
      batch->dirs.push_back(std::move(dir));
    }
    issue(std::move(batch));
    return true;
  }
  if (nodes_in_flight_ >= options_.max_outstanding_reads || writes_pending_ >= options_.max_pending_writes) {
    return false;
  }
  auto batch = primaryDataBatch();
  if (!batch) return false;
  issue(std::move(batch));
  return true;
}

// Children of the directories on top of the stack, as many as one batch
// holds: a batch may span directories (many small ones, e.g. partitions).
std::shared_ptr<Reconciler::ReadBatch> Reconciler::primaryDataBatch() {
  auto batch = std::make_shared<ReadBatch>(ReadBatch::Kind::kPrimaryData);
  const bool copy = options_.policies.acls == plan::AclPolicy::kCopy;
  const size_t per_op = static_cast<size_t>(avg_data_bytes_) + kOpOverhead;
  while (!dirs_.empty() && batch->ops.size() < options_.read_batch_ops &&
         (batch->ops.empty() || batch->bytes + per_op <= options_.read_batch_bytes) &&
         nodes_in_flight_ < options_.max_outstanding_reads) {
    DirPtr dir = dirs_.back();
    if (dir->next_child >= dir->primary.size()) {
      dirs_.pop_back();
      if (dir->pending == 0) dirDone(dir);
      continue;
    }
    const size_t child = dir->next_child++;
    ++dir->pending;
    std::string source_path = dir->root ? dir->root->source : joinPath(dir->primary_path, dir->primary[child]);
    if (!needsRead(dir, child, source_path)) {
      childDone(dir);
      continue;
    }
    auto node = std::make_shared<Node>();
    node->dir = dir;
    node->child = child;
    node->source_path = std::move(source_path);
    ++nodes_in_flight_;
    batch->ops.push_back({zk::ReadKind::kGetData, node->source_path});
    batch->bytes += per_op;
    // A first read of a node under `acls: copy` asks for its ACL beside the
    // data; a trusted pass waits for the stat to say whether it moved.
    if (copy && !trusted(*dir) && !isDataEventRoot(*dir)) readPrimaryAcl(node);
    batch->nodes.push_back(std::move(node));
  }
  if (batch->ops.empty()) return nullptr;
  return batch;
}

bool Reconciler::pumpBackup() {
  if (backup_batches_ >= options_.read_batches_in_flight) return false;
  const size_t max_ops = options_.read_batch_ops;
  const size_t max_bytes = options_.read_batch_bytes;
  auto fits = [&](const ReadBatch& b) { return b.ops.size() < max_ops && (b.ops.empty() || b.bytes < max_bytes); };
  if (!backup_reads_.empty()) {
    auto batch = std::make_shared<ReadBatch>(ReadBatch::Kind::kBackupData);
    // Oldest first: the nodes waiting longest hold their directory open.
    size_t taken = 0;
    while (taken < backup_reads_.size() && fits(*batch)) {
      NodePtr& node = backup_reads_[taken++];
      batch->bytes += node->desired->data.size() + kOpOverhead;
      batch->ops.push_back({zk::ReadKind::kGetData, node->desired->path});
      batch->nodes.push_back(std::move(node));
    }
    backup_reads_.erase(backup_reads_.begin(), backup_reads_.begin() + static_cast<std::ptrdiff_t>(taken));
    issue(std::move(batch));
    return true;
  }
  if (!backup_lists_.empty()) {
    auto batch = std::make_shared<ReadBatch>(ReadBatch::Kind::kBackupList);
    while (!backup_lists_.empty() && fits(*batch)) {
      DirPtr dir = std::move(backup_lists_.back());
      backup_lists_.pop_back();
      batch->bytes += static_cast<size_t>(dir->backup_hint) * static_cast<size_t>(avg_name_bytes_ + 4) + kOpOverhead;
      batch->ops.push_back({zk::ReadKind::kGetChildren, dir->backup_path});
      batch->dirs.push_back(std::move(dir));
    }
    issue(std::move(batch));
    return true;
  }
  if (!orphan_lists_.empty()) {
    auto batch = std::make_shared<ReadBatch>(ReadBatch::Kind::kOrphanList);
    while (!orphan_lists_.empty() && fits(*batch)) {
      OrphanPtr orphan = std::move(orphan_lists_.back());
      orphan_lists_.pop_back();
      batch->bytes +=
          static_cast<size_t>(orphan->stat.num_children) * static_cast<size_t>(avg_name_bytes_ + 4) + kOpOverhead;
      batch->ops.push_back({zk::ReadKind::kGetChildren, orphan->path});
      batch->orphans.push_back(std::move(orphan));
    }
    issue(std::move(batch));
    return true;
  }
  if (!orphan_reads_.empty()) {
    auto batch = std::make_shared<ReadBatch>(ReadBatch::Kind::kOrphanData);
    const size_t per_op = static_cast<size_t>(avg_data_bytes_) + kOpOverhead;
    while (!orphan_reads_.empty() && fits(*batch)) {
      OrphanPtr orphan = std::move(orphan_reads_.back());
      orphan_reads_.pop_back();
      batch->bytes += per_op;
      batch->ops.push_back({zk::ReadKind::kGetData, orphan->path});
      batch->orphans.push_back(std::move(orphan));
    }
    issue(std::move(batch));
    return true;
  }
  return false;
}

void Reconciler::issue(std::shared_ptr<ReadBatch> batch) {
  const bool primary = batch->primary();
  zk::Client& client = primary ? primary_ : backup_;
  ++(primary ? primary_batches_ : backup_batches_);
  ++reads_out_;
  batch->count = batch->ops.size();
  report_.reads += batch->count;
  // Watches cannot ride in a multiRead, and a backend (or server) without
  // multiRead would only emulate it: single reads, each numbered as the
  // reply it is.
  const bool watch = primary && options_.watch_primary;
  if (watch || !client.capabilities().multi_read) {
    issueSingles(std::move(batch), watch);
    return;
  }
  // The answers are matched by position; the paths stay with the nodes,
  // directories and orphans of the batch.
  auto ops = std::move(batch->ops);
  client.multiRead(std::move(ops), [this, loop = &loop_, alive = alive_, batch](zk::MultiReadResult r) mutable {
    loop->post([this, alive, batch = std::move(batch), r = std::move(r)]() mutable {
      if (!*alive) return;
      if (r.code == zk::Code::kOk && r.results.size() == batch->count) {
        batch->results = std::move(r.results);
      } else {
        // Not answered (connection loss, ...): every op failed with it.
        const zk::Code code = r.code == zk::Code::kOk ? zk::Code::kMarshallingError : r.code;
        batch->results.assign(batch->count, zk::ReadResult{.code = code});
      }
      if (batch->primary() && options_.next_read_seq) batch->seqs.push_back(options_.next_read_seq());
      onBatch(batch);
      pump();
      maybeFinish();
    });
  });
}

void Reconciler::issueSingles(std::shared_ptr<ReadBatch> batch, bool watch) {
  const bool primary = batch->primary();
  zk::Client& client = primary ? primary_ : backup_;
  const size_t n = batch->ops.size();
  batch->results.resize(n);
  if (primary && options_.next_read_seq) batch->seqs.resize(n);
  batch->remaining = n;
  // Each answer is posted on its own: its FIFO sequence is its own.
  auto settle = [this, batch](size_t i, zk::ReadResult r) {
    batch->results[i] = std::move(r);
    if (!batch->seqs.empty()) batch->seqs[i] = options_.next_read_seq();
    if (--batch->remaining > 0) return;
    onBatch(batch);
    pump();
    maybeFinish();
  };
  for (size_t i = 0; i < n; ++i) {
    const zk::ReadOp& op = batch->ops[i];
    if (op.kind == zk::ReadKind::kGetData) {
      client.get(op.path, watch, [loop = &loop_, alive = alive_, settle, i](zk::GetResult g) {
        loop->post([alive, settle, i, g = std::move(g)]() mutable {
          if (*alive) settle(i, zk::ReadResult{.code = g.code, .data = std::move(g.data), .stat = g.stat});
        });
      });
    } else {
      client.getChildren(op.path, watch, [loop = &loop_, alive = alive_, settle, i](zk::ChildrenResult c) {
        loop->post([alive, settle, i, c = std::move(c)]() mutable {
          if (*alive) settle(i, zk::ReadResult{.code = c.code, .stat = c.stat, .children = std::move(c.children)});
        });
      });
    }
  }
}

void Reconciler::onBatch(const std::shared_ptr<ReadBatch>& batch) {
  --(batch->primary() ? primary_batches_ : backup_batches_);
  --reads_out_;
  const size_t n = batch->count;
  for (size_t i = 0; i < n; ++i) {
    zk::ReadResult& r = batch->results[i];
    switch (batch->kind) {
      case ReadBatch::Kind::kPrimaryData: onPrimaryData(batch->nodes[i], std::move(r), batch->seq(i)); break;
      case ReadBatch::Kind::kPrimaryList: onPrimaryListed(batch->dirs[i], std::move(r), batch->seq(i)); break;
      case ReadBatch::Kind::kBackupData: onBackupData(batch->nodes[i], std::move(r)); break;
      case ReadBatch::Kind::kBackupList: onBackupListed(batch->dirs[i], std::move(r)); break;
      case ReadBatch::Kind::kOrphanData: onOrphanData(batch->orphans[i], std::move(r)); break;
      case ReadBatch::Kind::kOrphanList: onOrphanListed(batch->orphans[i], std::move(r)); break;
    }
  }
}

void Reconciler::getAcl(zk::Client& c, const std::string& path, std::function<void(zk::AclResult)> then) {
  ++reads_out_;
  ++report_.reads;
  c.getAcl(path, [this, loop = &loop_, alive = alive_, then = std::move(then)](zk::AclResult r) mutable {
    loop->post([this, alive, then = std::move(then), r = std::move(r)]() mutable {
      if (!*alive) return;
      --reads_out_;
      then(std::move(r));
      pump();
      maybeFinish();
    });
  });
}

void Reconciler::readPrimaryAcl(const NodePtr& node) {
  node->acl_out = true;
  getAcl(primary_, node->source_path, [this, node](zk::AclResult r) {
    node->acl_out = false;
    node->acl = std::move(r);
    if (node->stage == Node::Stage::kPlan) {
      planNode(node);
    } else if (node->data_in) {
      primaryRead(node);
    }
  });
}

void Reconciler::readBackupAcl(const NodePtr& node) {
  node->backup_acl_out = true;
  getAcl(backup_, node->desired->path, [this, node](zk::AclResult r) {
    node->backup_acl_out = false;
    node->backup_acl = std::move(r);
    if (node->backup) backupRead(node);
  });
}

}  // namespace zks::reconcile
