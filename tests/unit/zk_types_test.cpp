#include <gtest/gtest.h>

#include "zk/multi_batcher.h"
#include "zk/types.h"

namespace zks::zk {
namespace {

TEST(KindOf, TellsNodeKindsApartFromEphemeralOwner) {
  struct Case {
    uint64_t owner;
    NodeKind kind;
  };
  for (auto [owner, kind] : {Case{0, NodeKind::kPersistent}, Case{0x8000000000000000ULL, NodeKind::kContainer},
                             Case{0xFF00000000000001ULL, NodeKind::kTtl}, Case{0x1000001a2b3c0000ULL, NodeKind::kEphemeral}}) {
    Stat stat;
    stat.ephemeral_owner = static_cast<int64_t>(owner);
    EXPECT_EQ(kindOf(stat), kind) << std::hex << owner;
  }
}

TEST(Classify, SeparatesAnswersFromRetryableAndBugs) {
  EXPECT_EQ(classify(Code::kNoNode), ErrorClass::kAnswer);
  EXPECT_EQ(classify(Code::kNodeExists), ErrorClass::kAnswer);
  EXPECT_EQ(classify(Code::kBadVersion), ErrorClass::kAnswer);
  EXPECT_EQ(classify(Code::kConnectionLoss), ErrorClass::kRetryable);
  EXPECT_EQ(classify(Code::kOperationTimeout), ErrorClass::kRetryable);
  EXPECT_EQ(classify(Code::kSessionExpired), ErrorClass::kRetryable);
  EXPECT_EQ(classify(Code::kMarshallingError), ErrorClass::kBug);
}

TEST(MultiBatcher, KeepsEveryBatchUnderTheByteBoundWithThePrefixFirst) {
  const size_t max_bytes = 10'000;
  MultiBatcher batcher({CheckOp{"/fence", 3}}, max_bytes);
  std::vector<std::vector<Op>> batches;
  for (int i = 0; i < 100; ++i) {
    for (auto& b : batcher.add(CreateOp{.path = "/n" + std::to_string(i), .data = std::string(900, 'x')})) {
      batches.push_back(std::move(b));
    }
  }
  batches.push_back(batcher.flush());
  size_t creates = 0;
  for (const auto& batch : batches) {
    size_t bytes = 0;
    for (const auto& op : batch) bytes += serializedSize(op);
    EXPECT_LE(bytes, max_bytes);
    ASSERT_TRUE(std::holds_alternative<CheckOp>(batch.front()));
    creates += batch.size() - 1;
  }
  EXPECT_EQ(creates, 100u);
  EXPECT_GT(batches.size(), 9u);
  EXPECT_TRUE(batcher.flush().empty());
}

TEST(MultiBatcher, SaysWhenOneOpCanNeverFit) {
  MultiBatcher batcher({CheckOp{"/fence", 0}}, 1000);
  EXPECT_TRUE(batcher.fits(SetOp{"/a", std::string(100, 'x')}));
  EXPECT_FALSE(batcher.fits(SetOp{"/a", std::string(1000, 'x')}));
}

}  // namespace
}  // namespace zks::zk
