// The popularity estimate behind W-TinyLFU: counts, saturation, aging, and growth.
#include "dagcore/detail/frequency_sketch.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace dagcore::detail {
namespace {

TEST(FrequencySketch, CountsUpToFifteen) {
  frequency_sketch sketch(1024);
  EXPECT_EQ(sketch.frequency(12345), 0U);
  for (unsigned i = 1; i <= 20; ++i) {
    sketch.increment(12345);
    EXPECT_EQ(sketch.frequency(12345), std::min(i, 15U));
  }
}

TEST(FrequencySketch, NeverUnderestimatesAndRarelyConfusesKeys) {
  frequency_sketch sketch(4096);
  for (std::uint64_t k = 0; k < 4096; ++k) {
    for (std::uint64_t i = 0; i < k % 4; ++i) sketch.increment(k);
  }
  unsigned overestimated = 0;
  for (std::uint64_t k = 0; k < 4096; ++k) {
    const unsigned f = sketch.frequency(k);
    EXPECT_GE(f, k % 4) << "key " << k;
    overestimated += f > k % 4 ? 1U : 0U;
  }
  EXPECT_LT(overestimated, 4096U / 20);  // under 5% with four rows
}

TEST(FrequencySketch, AgingHalvesEveryCounter) {
  frequency_sketch sketch(1024);
  for (int i = 0; i < 8; ++i) sketch.increment(7);
  for (int i = 0; i < 15; ++i) sketch.increment(8);
  sketch.age();
  EXPECT_EQ(sketch.frequency(7), 4U);
  EXPECT_EQ(sketch.frequency(8), 7U);
  sketch.age();
  EXPECT_EQ(sketch.frequency(7), 2U);
}

TEST(FrequencySketch, AgesByItselfAfterItsSampleSize) {
  frequency_sketch sketch(1024);
  for (int i = 0; i < 8; ++i) sketch.increment(7);
  std::uint64_t other = 1000;
  while (sketch.additions() + 1 < sketch.sample_size()) sketch.increment(other++);
  const unsigned before = sketch.frequency(7);
  EXPECT_GE(before, 8U);
  sketch.increment(other++);  // the sample_size-th addition triggers aging
  EXPECT_LT(sketch.additions(), sketch.sample_size() / 2 + 1);
  EXPECT_EQ(sketch.frequency(7), before / 2);
}

TEST(FrequencySketch, GrowsButNeverShrinks) {
  frequency_sketch sketch(100);
  const auto width = sketch.width();
  EXPECT_EQ(width, 256U);  // twice the expected entries, rounded up to a power of two
  sketch.ensure_capacity(50);
  EXPECT_EQ(sketch.width(), width);
  sketch.ensure_capacity(5000);
  EXPECT_EQ(sketch.width(), 16384U);
  sketch.clear();
  EXPECT_EQ(sketch.frequency(1), 0U);
}

}  // namespace
}  // namespace dagcore::detail
