// The applied-zxid low watermark (issue 12 item 14).

#include <gtest/gtest.h>

#include "daemon/watermark.h"

namespace zks::daemon {
namespace {

TEST(Watermark, AClaimWaitsForEveryTicketOpenWhenItWasMade) {
  Watermark w;
  const auto gap = w.open();  // nothing is watched yet
  w.offer(100);
  EXPECT_EQ(w.value(), 0);
  const auto a = w.open();  // work that came after the claim
  w.close(gap);
  EXPECT_EQ(w.value(), 100) << "later work does not hold an earlier claim";
  w.offer(200);
  EXPECT_EQ(w.value(), 100) << "a is still open";
  const auto b = w.open();
  w.offer(300);
  w.close(b);
  EXPECT_EQ(w.value(), 100);
  w.close(a);
  EXPECT_EQ(w.value(), 300);
}

TEST(Watermark, NeverGoesBackAndIgnoresClaimsThatSayNothingNew) {
  Watermark w;
  w.offer(50);
  EXPECT_EQ(w.value(), 50);
  w.offer(40);
  EXPECT_EQ(w.value(), 50);
  const auto t = w.open();
  w.offer(60);
  w.offer(55);  // a later claim with a lower zxid: nothing new
  w.close(t);
  EXPECT_EQ(w.value(), 60);
  w.close(t);  // closing twice is harmless
  EXPECT_EQ(w.openTickets(), 0u);
}

TEST(Watermark, ManyClaimsBehindOneOpenTicketStayBounded) {
  Watermark w;
  const auto stuck = w.open();
  for (int64_t z = 1; z <= 100000; ++z) {
    const auto t = w.open();
    w.offer(z);
    w.close(t);
  }
  EXPECT_EQ(w.value(), 0);
  w.close(stuck);
  EXPECT_EQ(w.value(), 100000);
}

}  // namespace
}  // namespace zks::daemon
