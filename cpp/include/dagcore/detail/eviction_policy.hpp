// The eviction policies of VersionCache behind one interface.
//
// A policy sees only slot indices, weights and key hashes: the cache owns keys, values, the
// index, tags and TTL order, and tells the policy what happened. When the cache is over one of
// its limits it asks the policy for a victim, removes that slot and calls on_erase, and repeats
// until it is within bounds. This keeps the policies free of templates (they are compiled once
// into dagcore_core) and lets one contract test suite run against all of them.
//
// Complexity: every call is O(1) amortised except snapshot (O(n)) and sketch aging in TinyLFU
// (O(capacity) once per 10 x capacity accesses). Thread safety: none; the cache serialises.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "dagcore/detail/slot_list.hpp"

namespace dagcore {

/// Which entries a full cache gives up.
enum class cache_policy : std::uint8_t {
  lru,      ///< the least recently used entry
  tinylfu,  ///< W-TinyLFU: a 1% window LRU, then admission by popularity into a segmented LRU
};

/// Parses "lru" / "tinylfu"; std::nullopt for anything else.
std::optional<cache_policy> parse_cache_policy(std::string_view name) noexcept;
std::string_view to_string(cache_policy policy) noexcept;

namespace detail {

/// The limits a policy sizes itself for; std::nullopt means unbounded on that axis.
struct cache_bounds {
  std::optional<std::uint64_t> max_entries;
  std::optional<std::uint64_t> max_weight;
};

class eviction_policy {
 public:
  virtual ~eviction_policy() = default;

  /// A new entry in slot `s`.
  virtual void on_insert(slot_t s, std::uint64_t weight, std::uint64_t hash) = 0;
  /// A lookup found the entry in slot `s`.
  virtual void on_hit(slot_t s) = 0;
  /// The entry in slot `s` got a new value of the given weight (counts as an access).
  virtual void on_update(slot_t s, std::uint64_t weight) = 0;
  /// The entry in slot `s` left the cache.
  virtual void on_erase(slot_t s) = 0;
  /// A lookup of a key with this hash, present or not (the popularity signal; writes are not
  /// counted, so a miss followed by its put counts once).
  virtual void record(std::uint64_t hash) noexcept = 0;
  /// The slot to evict next. Precondition: the cache holds at least one entry.
  virtual slot_t select_victim() = 0;
  /// Appends all slots, those to be evicted first at the front.
  virtual void snapshot(std::vector<slot_t>& out) const = 0;
  /// Forgets every entry (the cache was cleared).
  virtual void reset() noexcept = 0;
};

std::unique_ptr<eviction_policy> make_eviction_policy(cache_policy policy,
                                                      const cache_bounds& bounds);

}  // namespace detail
}  // namespace dagcore
