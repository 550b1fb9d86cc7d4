// The popularity estimate behind W-TinyLFU: counts, saturation, aging, and growth.
#include <gtest/gtest.h>

#include <cstdint>

#include "dagcore/detail/frequency_sketch.hpp"

namespace dagcore::detail {
namespace {

TEST(FrequencySketch, CountsUpTo256) {
  frequency_sketch sketch(1024);
  EXPECT_EQ(sketch.frequency(12345), 0U);
  // The first sighting sets the doorkeeper bit, the next 255 fill the 8-bit counters.
  for (unsigned i = 1; i <= 300; ++i) {
    sketch.increment(12345);
    ASSERT_EQ(sketch.frequency(12345), std::min(i, 256U));
  }
}

TEST(FrequencySketch, OneHitWondersDoNotPolluteTheCounters) {
  frequency_sketch sketch(1024);
  for (int i = 0; i < 5; ++i) sketch.increment(7);
  // A scan: many keys seen once each (fewer than the sample size, so no aging).
  for (std::uint64_t k = 100000; k < 100000 + sketch.doorkeeper_period() - 100; ++k) {
    sketch.increment(k);
  }
  EXPECT_EQ(sketch.frequency(7), 5U);
  unsigned above_one = 0;
  for (std::uint64_t k = 100000; k < 101000; ++k) above_one += sketch.frequency(k) > 1 ? 1U : 0U;
  EXPECT_LT(above_one, 50U);  // doorkeeper false positives only
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
  for (int i = 0; i < 9; ++i) sketch.increment(7);   // doorkeeper + 8
  for (int i = 0; i < 21; ++i) sketch.increment(8);  // doorkeeper + 20
  sketch.age();
  EXPECT_EQ(sketch.frequency(7), 4U + 1U);  // the doorkeeper has its own period
  EXPECT_EQ(sketch.frequency(8), 10U + 1U);
  sketch.age();
  EXPECT_EQ(sketch.frequency(7), 2U + 1U);
}

TEST(FrequencySketch, DoorkeeperForgetsAfterItsPeriod) {
  frequency_sketch sketch(1024);
  sketch.increment(7);
  EXPECT_EQ(sketch.frequency(7), 1U);
  for (std::uint64_t k = 1000; k < 1000 + sketch.doorkeeper_period(); ++k) sketch.increment(k);
  EXPECT_EQ(sketch.frequency(7), 0U);  // seen once, long ago: a one-hit wonder again
}

TEST(FrequencySketch, AgesByItselfAfterItsSampleSize) {
  frequency_sketch sketch(1024);
  for (int i = 0; i < 41; ++i) sketch.increment(7);  // counters at 40
  std::uint64_t other = 1000;
  while (sketch.additions() + 1 < sketch.sample_size()) sketch.increment(other++ % 100000 + 1000);
  const unsigned before = sketch.frequency(7);
  EXPECT_GE(before, 40U);
  sketch.increment(other);  // the sample_size-th addition triggers aging
  EXPECT_LT(sketch.additions(), sketch.sample_size() / 2 + 1);
  const unsigned after = sketch.frequency(7);
  EXPECT_GE(after + 1, before / 2);
  EXPECT_LE(after, before / 2 + 1);
}

TEST(FrequencySketch, GrowsButNeverShrinks) {
  frequency_sketch sketch(100);
  const auto width = sketch.width();
  EXPECT_EQ(width, 2048U);  // sixteen times the expected entries, rounded up to a power of two
  sketch.ensure_capacity(50);
  EXPECT_EQ(sketch.width(), width);
  sketch.ensure_capacity(5000);
  EXPECT_EQ(sketch.width(), 131072U);
  sketch.clear();
  EXPECT_EQ(sketch.frequency(1), 0U);
}

}  // namespace
}  // namespace dagcore::detail
