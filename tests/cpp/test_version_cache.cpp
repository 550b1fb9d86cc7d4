// Contract tests for VersionCache: one suite run against every eviction policy, then what is
// specific to each policy, TTL with a fake clock, weights, single flight and thread stress.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dagcore/version_cache.hpp"

namespace dagcore {
namespace {

using namespace std::chrono_literals;

/// A clock the test moves by hand; copies share the same time.
struct fake_clock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<fake_clock, duration>;
  static constexpr bool is_steady = true;

  std::shared_ptr<std::atomic<rep>> ticks = std::make_shared<std::atomic<rep>>(0);
  [[nodiscard]] time_point now() const { return time_point(duration(ticks->load())); }
  void advance(duration d) const { *ticks += d.count(); }
};

using Cache = VersionCache<std::string, std::string, fake_clock>;
using Removed = Cache::removed_entry;

struct recorder {
  std::vector<std::tuple<std::string, std::string, removal_cause>> events;
  Cache::removal_listener listener() {
    return [this](Removed& e) { events.emplace_back(e.key, e.value, e.cause); };
  }
  [[nodiscard]] std::size_t count(removal_cause cause) const {
    return static_cast<std::size_t>(std::count_if(
        events.begin(), events.end(), [&](const auto& ev) { return std::get<2>(ev) == cause; }));
  }
};

Cache::options make_options(cache_policy policy, std::optional<std::uint64_t> max_entries,
                            std::optional<std::uint64_t> max_weight = std::nullopt,
                            std::optional<fake_clock::duration> ttl = std::nullopt) {
  Cache::options o;
  o.policy = policy;
  o.max_entries = max_entries;
  o.max_weight = max_weight;
  o.ttl = ttl;
  return o;
}

std::string key(int i) { return "dag-version-" + std::to_string(i); }

class CacheContract : public ::testing::TestWithParam<cache_policy> {};

TEST_P(CacheContract, MissThenPutThenHit) {
  Cache cache(make_options(GetParam(), 16));
  EXPECT_EQ(cache.get(key(1)), std::nullopt);
  EXPECT_TRUE(cache.put(key(1), "v1"));
  EXPECT_EQ(cache.get(key(1)), "v1");
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.hits, 1U);
  EXPECT_EQ(s.misses, 1U);
  EXPECT_EQ(s.size, 1U);
  EXPECT_EQ(s.weight, 1U);
  EXPECT_EQ(s.max_entries, 16U);
  EXPECT_EQ(s.max_weight, std::nullopt);
}

TEST_P(CacheContract, OverwriteReplacesAndTellsTheListener) {
  recorder rec;
  Cache cache(make_options(GetParam(), 16), {}, rec.listener());
  cache.put(key(1), "old", 3);
  cache.put(key(1), "new", 5);
  EXPECT_EQ(cache.get(key(1)), "new");
  EXPECT_EQ(cache.stats().weight, 5U);
  EXPECT_EQ(cache.stats().size, 1U);
  ASSERT_EQ(rec.events.size(), 1U);
  EXPECT_EQ(rec.events[0], std::make_tuple(key(1), std::string("old"), removal_cause::replaced));
}

TEST_P(CacheContract, ContainsDoesNotCountOrPromote) {
  Cache cache(make_options(GetParam(), 16));
  cache.put(key(1), "v");
  EXPECT_TRUE(cache.contains(key(1)));
  EXPECT_FALSE(cache.contains(key(2)));
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.hits + s.misses, 0U);
}

TEST_P(CacheContract, InvalidateKeyTagAndClear) {
  recorder rec;
  Cache cache(make_options(GetParam(), 64), {}, rec.listener());
  for (int i = 0; i < 10; ++i) cache.put(key(i), "v", 1, i % 2 ? "odd" : "even");
  cache.put(key(100), "untagged");
  EXPECT_TRUE(cache.invalidate(key(0)));
  EXPECT_FALSE(cache.invalidate(key(0)));
  EXPECT_EQ(cache.invalidate_tag("odd"), 5U);
  EXPECT_EQ(cache.invalidate_tag("odd"), 0U);
  EXPECT_EQ(cache.invalidate_tag("no such tag"), 0U);
  EXPECT_EQ(cache.size(), 5U);  // 4 even + untagged
  for (int i = 1; i < 10; i += 2) EXPECT_FALSE(cache.contains(key(i)));
  EXPECT_EQ(cache.clear(), 5U);
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.stats().invalidations, 11U);
  EXPECT_EQ(rec.count(removal_cause::invalidated), 11U);
}

TEST_P(CacheContract, RetaggingMovesTheEntryToItsNewTag) {
  Cache cache(make_options(GetParam(), 64));
  cache.put(key(1), "v", 1, "a");
  cache.put(key(1), "v2", 1, "b");
  EXPECT_EQ(cache.invalidate_tag("a"), 0U);
  EXPECT_EQ(cache.invalidate_tag("b"), 1U);
  // A freed tag group is reused without mixing members.
  cache.put(key(2), "v", 1, "c");
  cache.put(key(3), "v", 1, "a");
  EXPECT_EQ(cache.invalidate_tag("c"), 1U);
  EXPECT_TRUE(cache.contains(key(3)));
}

TEST_P(CacheContract, CountLimitHoldsUnderRandomOperations) {
  recorder rec;
  Cache cache(make_options(GetParam(), 50), {}, rec.listener());
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> pick(0, 400);
  std::uniform_int_distribution<int> op(0, 9);
  for (int i = 0; i < 20000; ++i) {
    const int k = pick(rng);
    switch (op(rng)) {
      case 0:
        cache.invalidate(key(k));
        break;
      case 1:
      case 2:
      case 3:
        cache.put(key(k), std::to_string(i));
        break;
      default:
        cache.get(key(k));
    }
    ASSERT_LE(cache.size(), 50U);
  }
  for (int i = 1000; i < 1050; ++i) cache.put(key(i), "fresh");
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.size, 50U);
  EXPECT_EQ(s.evictions, rec.count(removal_cause::size));
  EXPECT_EQ(cache.keys().size(), 50U);
}

TEST_P(CacheContract, WeightLimitHoldsAndEitherLimitEvicts) {
  Cache cache(make_options(GetParam(), 100, 1000));
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::uint64_t> weight(1, 120);
  for (int i = 0; i < 5000; ++i) {
    cache.put(key(i % 700), "v", weight(rng));
    const cache_stats s = cache.stats();
    ASSERT_LE(s.weight, 1000U);
    ASSERT_LE(s.size, 100U);
  }
  // Light entries: the count limit binds.
  Cache light(make_options(GetParam(), 10, 1000));
  for (int i = 0; i < 100; ++i) light.put(key(i), "v", 1);
  EXPECT_EQ(light.size(), 10U);
  EXPECT_EQ(light.stats().weight, 10U);
  // Heavy entries: the weight limit binds.
  Cache heavy(make_options(GetParam(), 10, 1000));
  for (int i = 0; i < 100; ++i) heavy.put(key(i), "v", 400);
  EXPECT_EQ(heavy.size(), 2U);
  EXPECT_EQ(heavy.stats().weight, 800U);
}

TEST_P(CacheContract, EntryHeavierThanTheLimitIsRejected) {
  recorder rec;
  Cache cache(make_options(GetParam(), std::nullopt, 100), {}, rec.listener());
  cache.put(key(1), "small", 10);
  EXPECT_FALSE(cache.put(key(1), "huge", 101));
  EXPECT_FALSE(cache.put(key(2), "huge", 101));
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.rejections, 2U);
  EXPECT_EQ(s.size, 0U);  // the stale small value under key 1 is gone too
  EXPECT_EQ(s.weight, 0U);
  EXPECT_EQ(rec.count(removal_cause::replaced), 1U);
  EXPECT_TRUE(cache.put(key(3), "exact", 100));
  EXPECT_EQ(cache.get(key(3)), "exact");
}

TEST_P(CacheContract, UnboundedNeverEvicts) {
  Cache cache(make_options(GetParam(), std::nullopt));
  for (int i = 0; i < 20000; ++i) cache.put(key(i), "v", 1000);
  EXPECT_EQ(cache.size(), 20000U);
  EXPECT_EQ(cache.stats().evictions, 0U);
  EXPECT_EQ(cache.get(key(0)), "v");
}

TEST_P(CacheContract, TtlExpiresByAgeAndHitsDoNotRearm) {
  fake_clock clock;
  recorder rec;
  Cache cache(make_options(GetParam(), 16, std::nullopt, 10s), clock, rec.listener());
  cache.put(key(1), "v");
  clock.advance(9s);
  EXPECT_EQ(cache.get(key(1)), "v");  // a hit at 9 s ...
  clock.advance(1s);
  EXPECT_EQ(cache.get(key(1)), "v");  // ... and at exactly 10 s (not older than the TTL) ...
  clock.advance(1ns);
  EXPECT_EQ(cache.get(key(1)), std::nullopt);  // ... do not extend its life past 10 s
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.expirations, 1U);
  EXPECT_EQ(s.misses, 1U);
  EXPECT_EQ(s.size, 0U);
  EXPECT_EQ(rec.count(removal_cause::expired), 1U);
}

Cache::options with_refresh(cache_policy policy, fake_clock::duration refresh_after,
                            std::optional<fake_clock::duration> ttl = std::nullopt) {
  Cache::options o = make_options(policy, 16, std::nullopt, ttl);
  o.refresh_after = refresh_after;
  return o;
}

TEST_P(CacheContract, GetFreshServesFreshEntriesAndCountsOnlyThoseHits) {
  fake_clock clock;
  Cache cache(with_refresh(GetParam(), 30s), clock);
  EXPECT_EQ(cache.get_fresh(key(1)), std::nullopt);  // absent: not counted
  cache.put(key(1), "v");
  clock.advance(29s);
  EXPECT_EQ(cache.get_fresh(key(1)), "v");
  clock.advance(1s);  // 30 s since the put: stale, still cached, not counted
  EXPECT_EQ(cache.get_fresh(key(1)), std::nullopt);
  EXPECT_EQ(cache.peek(key(1)), "v");
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.hits, 1U);
  EXPECT_EQ(s.misses, 0U);
  EXPECT_EQ(s.size, 1U);
}

TEST_P(CacheContract, ConfirmMakesAStaleEntryFreshAndCountsAHit) {
  fake_clock clock;
  Cache cache(with_refresh(GetParam(), 30s), clock);
  cache.put(key(1), "v");
  clock.advance(31s);
  EXPECT_EQ(cache.get_fresh(key(1)), std::nullopt);
  EXPECT_EQ(cache.confirm(key(1)), "v");
  clock.advance(29s);  // fresh for 30 s from the confirmation, not from the put
  EXPECT_EQ(cache.get_fresh(key(1)), "v");
  EXPECT_EQ(cache.confirm(key(2)), std::nullopt);  // absent: nothing counted
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.hits, 2U);
  EXPECT_EQ(s.misses, 0U);
}

TEST_P(CacheContract, ReplacingOrLoadingAnEntryMakesItFresh) {
  fake_clock clock;
  Cache cache(with_refresh(GetParam(), 30s), clock);
  cache.put(key(1), "v1");
  clock.advance(40s);
  cache.put(key(1), "v2");
  EXPECT_EQ(cache.get_fresh(key(1)), "v2");
  clock.advance(40s);
  EXPECT_EQ(cache.get_or_load(key(2), [] { return std::string("v3"); }), "v3");
  EXPECT_EQ(cache.get_fresh(key(2)), "v3");
  EXPECT_EQ(cache.get_fresh(key(1)), std::nullopt);
}

TEST_P(CacheContract, ConfirmDoesNotRearmTheTtl) {
  fake_clock clock;
  recorder rec;
  Cache cache(with_refresh(GetParam(), 5s, 10s), clock, rec.listener());
  cache.put(key(1), "v");
  clock.advance(6s);
  EXPECT_EQ(cache.confirm(key(1)), "v");
  clock.advance(5s);  // 11 s since the put: expired although confirmed 5 s ago
  EXPECT_EQ(cache.get_fresh(key(1)), std::nullopt);
  EXPECT_EQ(cache.peek(key(1)), std::nullopt);
  EXPECT_EQ(cache.confirm(key(1)), std::nullopt);
  EXPECT_EQ(cache.stats().expirations, 1U);
  EXPECT_EQ(rec.count(removal_cause::expired), 1U);
}

TEST_P(CacheContract, ZeroRefreshAfterMakesEveryEntryStaleAndNoneMeansNever) {
  fake_clock clock;
  Cache always_stale(with_refresh(GetParam(), 0s), clock);
  always_stale.put(key(1), "v");
  EXPECT_EQ(always_stale.get_fresh(key(1)), std::nullopt);
  EXPECT_EQ(always_stale.confirm(key(1)), "v");
  Cache never_stale(make_options(GetParam(), 16), clock);
  never_stale.put(key(1), "v");
  clock.advance(1000h);
  EXPECT_EQ(never_stale.get_fresh(key(1)), "v");
}

TEST_P(CacheContract, PeekNeitherCountsNorPromotes) {
  Cache cache(make_options(GetParam(), 2));
  cache.put(key(1), "v1");
  cache.put(key(2), "v2");
  EXPECT_EQ(cache.peek(key(1)), "v1");
  EXPECT_EQ(cache.peek(key(3)), std::nullopt);
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.hits + s.misses, 0U);
}

TEST_P(CacheContract, CountMissCountsOneMiss) {
  Cache cache(make_options(GetParam(), 2));
  cache.count_miss();
  EXPECT_EQ(cache.stats().misses, 1U);
  EXPECT_EQ(cache.stats().hits, 0U);
}

TEST_P(CacheContract, InvalidatingAnExpiredEntryCountsAsExpiry) {
  fake_clock clock;
  recorder rec;
  Cache cache(make_options(GetParam(), 16, std::nullopt, 10s), clock, rec.listener());
  cache.put(key(1), "v", 1, "t");
  cache.put(key(2), "v", 1, "t");
  cache.put(key(3), "v");
  clock.advance(11s);
  cache.put(key(4), "v", 1, "t");  // purges 1-3 on the way in
  cache.put(key(5), "v");
  clock.advance(11s);  // now 4 and 5 have expired but are still stored
  EXPECT_FALSE(cache.invalidate(key(5)));
  EXPECT_EQ(cache.invalidate_tag("t"), 0U);
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.invalidations, 0U);
  EXPECT_EQ(s.expirations, 5U);
  EXPECT_EQ(rec.count(removal_cause::expired), 5U);
}

TEST_P(CacheContract, ExpiredEntriesAreInvisibleAndPurged) {
  fake_clock clock;
  Cache cache(make_options(GetParam(), 16, std::nullopt, 10s), clock);
  cache.put(key(1), "old");
  clock.advance(6s);
  cache.put(key(2), "young");
  clock.advance(5s);  // key 1 is 11 s old, key 2 is 5 s old
  EXPECT_FALSE(cache.contains(key(1)));
  EXPECT_TRUE(cache.contains(key(2)));
  EXPECT_EQ(cache.keys(), std::vector<std::string>{key(2)});
  EXPECT_EQ(cache.size(), 1U);
  // Re-putting restarts the entry's age.
  cache.put(key(2), "again");
  clock.advance(9s);
  EXPECT_EQ(cache.get(key(2)), "again");
  clock.advance(2s);
  EXPECT_EQ(cache.purge_expired(), 1U);
  EXPECT_EQ(cache.stats().expirations, 2U);
}

TEST_P(CacheContract, ListenerRunsOutsideTheLockAndMayReenter) {
  Cache* self = nullptr;
  std::vector<std::size_t> sizes_seen;
  Cache cache(make_options(GetParam(), 2), {}, [&](Removed& e) {
    // A listener that calls back in would deadlock if the lock were still held.
    sizes_seen.push_back(self->size());
    self->contains(e.key);
  });
  self = &cache;
  for (int i = 0; i < 10; ++i) cache.put(key(i), "v");
  cache.clear();
  EXPECT_EQ(sizes_seen.size(), 10U);
}

TEST_P(CacheContract, KeysListsEveryLiveKeyOnce) {
  Cache cache(make_options(GetParam(), 100));
  for (int i = 0; i < 60; ++i) cache.put(key(i), "v");
  for (int i = 0; i < 60; i += 3) cache.get(key(i));
  auto keys = cache.keys();
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> expected;
  for (int i = 0; i < 60; ++i) expected.push_back(key(i));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(keys, expected);
}

TEST_P(CacheContract, GetOrLoadLoadsOnceAndCaches) {
  Cache cache(make_options(GetParam(), 16));
  int calls = 0;
  auto loader = [&] {
    ++calls;
    return std::string("loaded");
  };
  EXPECT_EQ(cache.get_or_load(key(1), loader, 1, "tag"), "loaded");
  EXPECT_EQ(cache.get_or_load(key(1), loader), "loaded");
  EXPECT_EQ(calls, 1);
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.loads, 1U);
  EXPECT_EQ(s.misses, 1U);
  EXPECT_EQ(s.hits, 1U);
  EXPECT_EQ(cache.invalidate_tag("tag"), 1U);
}

TEST_P(CacheContract, ThrowingLoaderCachesNothing) {
  Cache cache(make_options(GetParam(), 16));
  auto failing = []() -> std::string { throw std::runtime_error("parse error"); };
  EXPECT_THROW(cache.get_or_load(key(1), failing), std::runtime_error);
  EXPECT_FALSE(cache.contains(key(1)));
  EXPECT_EQ(cache.stats().load_failures, 1U);
  // The failed flight is gone: the next caller loads again.
  EXPECT_EQ(cache.get_or_load(key(1), [] { return std::string("ok"); }), "ok");
}

TEST_P(CacheContract, LoaderMayUseTheCacheButNotItsOwnKey) {
  Cache cache(make_options(GetParam(), 16));
  const std::string v = cache.get_or_load(key(1), [&] {
    return cache.get_or_load(key(2), [] { return std::string("inner"); }) + "+outer";
  });
  EXPECT_EQ(v, "inner+outer");
  EXPECT_EQ(cache.get(key(2)), "inner");
  EXPECT_THROW(
      cache.get_or_load(
          key(3), [&] { return cache.get_or_load(key(3), [] { return std::string("never"); }); }),
      recursive_load_error);
  EXPECT_FALSE(cache.contains(key(3)));
}

TEST_P(CacheContract, InvalidationOrPutDuringLoadWins) {
  Cache cache(make_options(GetParam(), 16));
  const std::string a = cache.get_or_load(key(1), [&] {
    cache.invalidate(key(1));  // e.g. the DAG file changed while it was being read
    return std::string("stale");
  });
  EXPECT_EQ(a, "stale");                 // the caller still gets its value ...
  EXPECT_FALSE(cache.contains(key(1)));  // ... but it is not cached
  const std::string b = cache.get_or_load(key(2), [&] {
    cache.put(key(2), "written");
    return std::string("loaded");
  });
  EXPECT_EQ(b, "loaded");
  EXPECT_EQ(cache.get(key(2)), "written");
  cache.get_or_load(
      key(3),
      [&] {
        cache.invalidate_tag("t");
        return std::string("x");
      },
      1, "t");
  EXPECT_FALSE(cache.contains(key(3)));
  cache.get_or_load(key(4), [&] {
    cache.clear();
    return std::string("x");
  });
  EXPECT_FALSE(cache.contains(key(4)));
}

TEST_P(CacheContract, SingleFlightUnderThreads) {
  Cache cache(make_options(GetParam(), 16));
  std::atomic<int> calls{0};
  constexpr int threads = 8;
  std::barrier start(threads);
  std::vector<std::string> results(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      results[static_cast<std::size_t>(t)] = cache.get_or_load(key(1), [&] {
        ++calls;
        std::this_thread::sleep_for(50ms);
        return std::string("parsed");
      });
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(calls.load(), 1);
  for (const auto& r : results) EXPECT_EQ(r, "parsed");
  const cache_stats s = cache.stats();
  EXPECT_EQ(s.loads, 1U);
  EXPECT_EQ(s.hits + s.misses, static_cast<std::uint64_t>(threads));
}

TEST_P(CacheContract, FollowerCountedByOutcomeWhenAsked) {
  Cache cache(make_options(GetParam(), 16));
  // Followers join from other threads (this thread leads, and may not follow its own load).
  const auto follow = [&cache](const std::string& k, bool by_outcome) {
    Cache::load_ticket ticket;
    std::thread([&] { ticket = cache.begin_load_at(cache.now(), k, {}, by_outcome); }).join();
    return ticket;
  };
  // A succeeded load: its follower counts as a hit; the default follower stays a miss.
  auto leader = cache.begin_load_at(cache.now(), key(1));
  ASSERT_EQ(leader.kind(), Cache::load_ticket::role::leader);
  auto counted_by_outcome = follow(key(1), true);
  auto plain = follow(key(1), false);
  ASSERT_EQ(counted_by_outcome.kind(), Cache::load_ticket::role::follower);
  EXPECT_EQ(cache.stats().misses, 2U);  // the leader and the plain follower so far
  cache.complete_load_at(cache.now(), leader, "v");
  cache.wait(counted_by_outcome);
  cache.wait(plain);
  cache.wait(counted_by_outcome);  // counted once only
  cache_stats s = cache.stats();
  EXPECT_EQ(s.hits, 1U);
  EXPECT_EQ(s.misses, 2U);
  // A failed load: the follower counted by outcome is a miss.
  auto leader2 = cache.begin_load_at(cache.now(), key(2));
  auto follower2 = follow(key(2), true);
  cache.fail_load(leader2, std::make_exception_ptr(std::runtime_error("broken")));
  cache.wait(follower2);
  s = cache.stats();
  EXPECT_EQ(s.hits, 1U);
  EXPECT_EQ(s.misses, 4U);
}

TEST_P(CacheContract, SingleFlightFailureReachesEveryWaiter) {
  Cache cache(make_options(GetParam(), 16));
  std::atomic<int> calls{0};
  std::atomic<int> failures{0};
  constexpr int threads = 8;
  std::barrier start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      try {
        cache.get_or_load(key(1), [&]() -> std::string {
          ++calls;
          std::this_thread::sleep_for(50ms);
          throw std::runtime_error("broken DAG file");
        });
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()) == "broken DAG file") ++failures;
      }
    });
  }
  for (auto& th : pool) th.join();
  // Threads that arrive after the failure start a new load; each load fails once.
  EXPECT_GE(calls.load(), 1);
  EXPECT_EQ(failures.load(), threads);
  EXPECT_EQ(cache.stats().load_failures, static_cast<std::uint64_t>(calls.load()));
  EXPECT_FALSE(cache.contains(key(1)));
}

TEST_P(CacheContract, ThreadStressKeepsInvariants) {
  std::atomic<std::uint64_t> removed_by_listener{0};
  Cache cache(make_options(GetParam(), 64, 2000), {},
              [&](Removed&) { removed_by_listener.fetch_add(1, std::memory_order_relaxed); });
  constexpr int threads = 8;
  constexpr int ops = 20000;
  std::atomic<std::uint64_t> lookups{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::uniform_int_distribution<int> pick(0, 300);
      std::uniform_int_distribution<int> op(0, 99);
      std::uniform_int_distribution<std::uint64_t> weight(1, 60);
      for (int i = 0; i < ops; ++i) {
        const std::string k = key(pick(rng));
        const int o = op(rng);
        if (o < 60) {
          cache.get(k);
          ++lookups;
        } else if (o < 85) {
          cache.put(k, "v", weight(rng),
                    k.back() == '7' ? std::optional<std::string>("seven") : std::nullopt);
        } else if (o < 95) {
          cache.get_or_load(
              k, [] { return std::string("loaded"); }, weight(rng));
          ++lookups;
        } else if (o < 98) {
          cache.invalidate(k);
        } else if (o < 99) {
          cache.invalidate_tag("seven");
        } else {
          EXPECT_LE(cache.size(), 64U);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  const cache_stats s = cache.stats();
  EXPECT_LE(s.size, 64U);
  EXPECT_LE(s.weight, 2000U);
  EXPECT_EQ(s.hits + s.misses, lookups.load());
  EXPECT_EQ(cache.keys().size(), s.size);
  EXPECT_GE(removed_by_listener.load(), s.evictions + s.invalidations);
}

INSTANTIATE_TEST_SUITE_P(Policies, CacheContract,
                         ::testing::Values(cache_policy::lru, cache_policy::tinylfu),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// --- policy-specific behaviour ------------------------------------------------------------------

TEST(LruPolicy, EvictsLeastRecentlyUsedAndAHitPromotes) {
  recorder rec;
  Cache cache(make_options(cache_policy::lru, 3), {}, rec.listener());
  cache.put("a", "1");
  cache.put("b", "2");
  cache.put("c", "3");
  cache.get("a");  // order now b, c, a
  EXPECT_EQ(cache.keys(), (std::vector<std::string>{"b", "c", "a"}));
  cache.contains("b");  // no promotion
  cache.put("d", "4");
  EXPECT_EQ(rec.events.back(),
            std::make_tuple(std::string("b"), std::string("2"), removal_cause::size));
  EXPECT_EQ(cache.keys(), (std::vector<std::string>{"c", "a", "d"}));
}

double hot_set_survival(cache_policy policy) {
  Cache cache(make_options(policy, 1000));
  // A hot set, requested over and over (the DAGs the scheduler is running).
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 500; ++i) {
      if (!cache.get(key(i))) cache.put(key(i), "hot");
    }
  }
  // One pass through history (an API server listing every version once).
  for (int i = 10000; i < 30000; ++i) {
    if (!cache.get(key(i))) cache.put(key(i), "cold");
  }
  int survived = 0;
  for (int i = 0; i < 500; ++i) survived += cache.contains(key(i)) ? 1 : 0;
  return survived / 500.0;
}

TEST(TinyLfuPolicy, ScanDoesNotFlushTheHotSet) {
  EXPECT_GE(hot_set_survival(cache_policy::tinylfu), 0.95);
  EXPECT_EQ(hot_set_survival(cache_policy::lru), 0.0);
}

TEST(TinyLfuPolicy, NewPopularKeysAreAdmittedOverColdOnes) {
  Cache cache(make_options(cache_policy::tinylfu, 100));
  for (int i = 0; i < 100; ++i) cache.put(key(i), "old");
  // A newcomer requested repeatedly wins admission against the one-hit entries.
  for (int round = 0; round < 5; ++round) {
    if (!cache.get("newcomer")) cache.put("newcomer", "v");
    for (int i = 1000 + round * 10; i < 1000 + round * 10 + 5; ++i) cache.put(key(i), "cold");
  }
  EXPECT_TRUE(cache.contains("newcomer"));
  EXPECT_LE(cache.size(), 100U);
}

// --- construction and adversarial keys ----------------------------------------------------------

TEST(VersionCacheOptions, RejectsZeroLimitsAndNonPositiveTtl) {
  EXPECT_THROW(Cache(make_options(cache_policy::lru, 0)), std::invalid_argument);
  EXPECT_THROW(Cache(make_options(cache_policy::lru, 10, 0)), std::invalid_argument);
  EXPECT_THROW(Cache(make_options(cache_policy::lru, 10, std::nullopt, 0s)), std::invalid_argument);
  EXPECT_THROW(Cache(make_options(cache_policy::lru, 10, std::nullopt, -1s)),
               std::invalid_argument);
  Cache::options negative_refresh = make_options(cache_policy::lru, 10);
  negative_refresh.refresh_after = -1s;
  EXPECT_THROW(Cache{negative_refresh}, std::invalid_argument);
  Cache ok(make_options(cache_policy::lru, 10));
  EXPECT_THROW(ok.put("k", "v", 0), std::invalid_argument);
  EXPECT_EQ(parse_cache_policy("tinylfu"), cache_policy::tinylfu);
  EXPECT_EQ(parse_cache_policy("LFU"), std::nullopt);
}

struct colliding_hash {
  std::size_t operator()(int) const noexcept { return 42; }
};
struct colliding_traits : cache_traits<int> {
  using hasher = colliding_hash;
};

TEST(VersionCacheKeys, AllKeysCollidingStillWorks) {
  for (const cache_policy policy : {cache_policy::lru, cache_policy::tinylfu}) {
    VersionCache<int, int, std::chrono::steady_clock, colliding_traits> cache(
        {64, {}, {}, policy, {}});
    for (int i = 0; i < 200; ++i) cache.put(i, i * 10);
    EXPECT_EQ(cache.size(), 64U);
    int present = 0;
    for (int i = 0; i < 200; ++i) {
      if (auto v = cache.get(i)) {
        EXPECT_EQ(*v, i * 10);
        ++present;
      }
    }
    EXPECT_EQ(present, 64);
    for (int i = 0; i < 200; ++i) cache.invalidate(i);
    EXPECT_EQ(cache.size(), 0U);
  }
}

TEST(VersionCacheValues, SharedPointersAreReleasedOnRemoval) {
  auto payload = std::make_shared<int>(1);
  std::weak_ptr<int> watch = payload;
  VersionCache<int, std::shared_ptr<int>> cache({1, {}, {}, cache_policy::lru, {}});
  cache.put(1, std::move(payload));
  EXPECT_FALSE(watch.expired());
  cache.put(2, std::make_shared<int>(2));  // evicts key 1
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace dagcore
