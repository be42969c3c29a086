#include "daemon/watermark.h"

#include <algorithm>

namespace zks::daemon {

namespace {
// Claims kept while old work is open. Beyond that, every other one goes:
// a dropped claim only delays the watermark until a later one settles.
constexpr size_t kMaxClaims = 1024;
}  // namespace

Watermark::Ticket Watermark::open() {
  const Ticket t = next_++;
  open_.insert(t);
  return t;
}

void Watermark::close(Ticket ticket) {
  if (open_.erase(ticket) > 0) settle();
}

void Watermark::offer(int64_t zxid) {
  if (zxid <= value_) return;
  // A claim with a later bound and a zxid no higher says nothing new.
  if (!claims_.empty() && claims_.back().zxid >= zxid) return;
  claims_.push_back(Claim{zxid, next_});
  if (claims_.size() > kMaxClaims) {
    std::deque<Claim> thinned;
    for (size_t i = 0; i < claims_.size(); ++i) {
      if (i % 2 == 1 || i + 1 == claims_.size()) thinned.push_back(claims_[i]);
    }
    claims_ = std::move(thinned);
  }
  settle();
}

void Watermark::settle() {
  const Ticket oldest_open = open_.empty() ? next_ : *open_.begin();
  while (!claims_.empty() && claims_.front().bound <= oldest_open) {
    value_ = std::max(value_, claims_.front().zxid);
    claims_.pop_front();
  }
}

}  // namespace zks::daemon
