// VersionCache: a bounded, thread-safe, observable cache of parsed DAG versions.
//
// Contract
// - Bounds: at most `max_entries` entries and at most `max_weight` total weight (either may be
//   unbounded; both unbounded means the cache never evicts for size). An entry heavier than
//   `max_weight` is not cached and counts as a rejection. Eviction order is the policy's: LRU,
//   or W-TinyLFU, which is not flushed by one scan through cold keys.
// - TTL: an entry older than `ttl` (now - time it was put > ttl) is a miss and is removed.
//   A hit does not re-arm the TTL, so a hot entry still expires and gets re-read.
// - Freshness (optional `refresh_after`): an entry is fresh for `refresh_after` after it was
//   stored or last confirmed. get_fresh serves fresh entries only; for a stale one the caller
//   checks its source (a DAG version's hash, say) and calls confirm (still good: fresh again,
//   counted as a hit) or reloads it. So a cache hit that needs no check is one call, and the
//   caller keeps no per-entry time of its own. Confirming does not re-arm the TTL.
// - Single flight: begin_load/complete_load/fail_load (and get_or_load on top of them) make
//   concurrent misses on one key run one load; the others wait for its value or its failure. A
//   put, invalidate, invalidate_tag or clear that touches a key while it loads detaches the load:
//   its result goes to its callers but never into the cache, so a racing writer wins and an
//   invalidation is never undone by an older load.
// - Removal: every entry that leaves the cache is handed to the removal listener (with its
//   cause) after the cache lock is released, and destroyed after that, in the calling thread.
//   No user code runs while the lock is held, so a listener or a value's destructor may call
//   back into the cache.
// - Thread safety: every public member may be called concurrently. One mutex guards the state.
// - Complexity: get/put/contains/invalidate are O(1) amortised (plus the evictions they cause);
//   invalidate_tag is O(entries of the tag); clear/keys/snapshots are O(n).
// - Exception guarantee: basic. Constructor arguments are checked (std::invalid_argument).
//   The removal listener must not throw (it is called from noexcept context).
// - References: none escape; values are returned by copy.
//
// Time: the cache never reads the clock unless a TTL or refresh_after is set. Members with the
// `_at` suffix take "now" explicitly, so a caller that owns its own clock (the Python binding,
// whose clock is a Python callable that must not be called under the lock) computes it first.
#pragma once

#include <tsl/robin_map.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dagcore/detail/eviction_policy.hpp"
#include "dagcore/detail/slot_list.hpp"

namespace dagcore {

/// Why an entry left the cache.
enum class removal_cause : std::uint8_t {
  size,         ///< evicted to respect max_entries / max_weight (or not admitted by TinyLFU)
  expired,      ///< older than the TTL
  invalidated,  ///< invalidate, invalidate_tag or clear
  replaced,     ///< a put stored a new value under its key
};

constexpr std::string_view to_string(removal_cause cause) noexcept {
  switch (cause) {
    case removal_cause::size:
      return "size";
    case removal_cause::expired:
      return "expired";
    case removal_cause::invalidated:
      return "invalidated";
    case removal_cause::replaced:
      return "replaced";
  }
  return "?";
}

/// Counters since construction, and the current occupancy.
struct cache_stats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t loads = 0;
  std::uint64_t load_failures = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expirations = 0;
  std::uint64_t invalidations = 0;
  std::uint64_t rejections = 0;
  std::uint64_t size = 0;
  std::uint64_t weight = 0;
  std::optional<std::uint64_t> max_entries;
  std::optional<std::uint64_t> max_weight;
};

/// A loader re-entered the load of its own key from the same thread (it would wait forever).
class recursive_load_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// How keys and tags are hashed and compared, and what a failed load carries.
template <class Key, class Tag = std::string>
struct cache_traits {
  using hasher = std::hash<Key>;
  using key_equal = std::equal_to<Key>;
  using tag_type = Tag;
  using tag_hasher = std::hash<Tag>;
  using tag_equal = std::equal_to<Tag>;
  using failure_type = std::exception_ptr;
};

template <class Key, class Value, class Clock = std::chrono::steady_clock,
          class Traits = cache_traits<Key>>
class VersionCache {
  static_assert(std::is_copy_constructible_v<Key>, "keys are copied into the index");
  static_assert(std::is_copy_constructible_v<Value>, "values are returned by copy");
  static_assert(std::is_nothrow_move_constructible_v<Value>, "values move out on removal");

 public:
  using key_type = Key;
  using mapped_type = Value;
  using clock_type = Clock;
  using time_point = typename Clock::time_point;
  using duration = typename Clock::duration;
  using hasher = typename Traits::hasher;
  using key_equal = typename Traits::key_equal;
  using tag_type = typename Traits::tag_type;
  using tag_hasher = typename Traits::tag_hasher;
  using tag_equal = typename Traits::tag_equal;
  using failure_type = typename Traits::failure_type;

  struct options {
    std::optional<std::uint64_t> max_entries = 4096;
    std::optional<std::uint64_t> max_weight;
    std::optional<duration> ttl;
    cache_policy policy = cache_policy::lru;
    /// Entries older than this since stored or confirmed are stale for get_fresh (zero: every
    /// entry is stale at once; unset: entries never go stale).
    std::optional<duration> refresh_after;
  };

  struct removed_entry {
    Key key;
    Value value;
    removal_cause cause;
  };
  using removal_listener = std::function<void(removed_entry&)>;

 private:
  struct flight;

 public:
  /// The outcome of begin_load: a cached value, or the caller leads the load, or it follows
  /// (waits for) a load another thread leads.
  class load_ticket {
   public:
    enum class role : std::uint8_t { hit, leader, follower };

    [[nodiscard]] role kind() const noexcept { return m_role; }
    /// The cached value (role::hit), or after wait() the loaded value if the load succeeded.
    [[nodiscard]] const Value* value() const noexcept {
      if (m_role == role::hit) return &*m_value;
      return m_flight && m_flight->value ? &*m_flight->value : nullptr;
    }
    /// After wait(): the failure of the load, if it failed.
    [[nodiscard]] const failure_type* failure() const noexcept {
      return m_flight && m_flight->failure ? &*m_flight->failure : nullptr;
    }

   private:
    friend class VersionCache;
    role m_role = role::hit;
    bool m_count_on_wait = false;
    std::optional<Value> m_value;
    std::shared_ptr<flight> m_flight;
  };

  explicit VersionCache(options opts = {}, Clock clock = Clock{}, removal_listener listener = {})
      : m_options(validated(std::move(opts))),
        m_clock(std::move(clock)),
        m_listener(std::move(listener)),
        m_policy(detail::make_eviction_policy(
            m_options.policy, detail::cache_bounds{m_options.max_entries, m_options.max_weight})) {}

  VersionCache(const VersionCache&) = delete;
  VersionCache& operator=(const VersionCache&) = delete;
  ~VersionCache() = default;

  [[nodiscard]] const options& config() const noexcept { return m_options; }

  /// The clock's time if a TTL or refresh_after is set, else a constant (the cache then ignores
  /// time).
  [[nodiscard]] time_point now() const { return uses_time() ? m_clock.now() : time_point{}; }

  /// Whether the cache reads time at all (a TTL or refresh_after is set).
  [[nodiscard]] bool uses_time() const noexcept {
    return m_options.ttl.has_value() || m_options.refresh_after.has_value();
  }

  // --- lookups -------------------------------------------------------------------------------

  /// The value under `key`, or std::nullopt (a miss). A hit promotes (LRU) or counts (TinyLFU).
  template <class K>
  std::optional<Value> get(const K& key) {
    return get_at(now(), key);
  }
  template <class K>
  std::optional<Value> get_at(time_point now, const K& key) {
    std::vector<removed_entry> removed;
    std::optional<Value> result;
    {
      std::lock_guard lock(m_mutex);
      const std::size_t h = m_hash(key);
      result = lookup_locked(now, key, h, removed);
    }
    dispatch(removed);
    return result;
  }

  /// The value under `key` if it is live and fresh (see refresh_after): counts a hit and
  /// promotes it (LRU) or counts its use (TinyLFU). Otherwise std::nullopt, and nothing is
  /// counted: the caller's slow path (peek and confirm, or a load) counts the lookup once.
  template <class K>
  std::optional<Value> get_fresh(const K& key) {
    return get_fresh_at(now(), key);
  }
  template <class K>
  std::optional<Value> get_fresh_at(time_point now, const K& key) {
    return hit_if_at(now, key, [&](node& n) { return fresh(n, now); });
  }

  /// The live value under `key`, fresh or stale, without promotion or statistics (std::nullopt
  /// if absent or expired).
  template <class K>
  std::optional<Value> peek(const K& key) {
    return peek_at(now(), key);
  }
  template <class K>
  std::optional<Value> peek_at(time_point now, const K& key) {
    std::lock_guard lock(m_mutex);
    const auto it = m_index.find(key, m_hash(key));
    if (it == m_index.end() || expired(m_nodes[it->second], now)) return std::nullopt;
    return m_nodes[it->second].value;
  }

  /// The caller checked the entry under `key` against its source and it is current: it is
  /// fresh again from `now` (the TTL is not re-armed), and the lookup counts as a hit and
  /// promotes it. Returns its value, or std::nullopt (nothing counted) if it is gone.
  template <class K>
  std::optional<Value> confirm(const K& key) {
    return confirm_at(now(), key);
  }
  template <class K>
  std::optional<Value> confirm_at(time_point now, const K& key) {
    return hit_if_at(now, key, [&](node& n) {
      n.refreshed = now;
      return true;
    });
  }

  /// Counts a miss for a lookup the caller answered without the cache (its source says the key
  /// does not exist), so that hits + misses stays the number of lookups.
  void count_miss() {
    std::lock_guard lock(m_mutex);
    ++m_stats.misses;
  }

  /// Whether a live entry exists; no promotion, no statistics.
  template <class K>
  bool contains(const K& key) {
    return contains_at(now(), key);
  }
  template <class K>
  bool contains_at(time_point now, const K& key) {
    std::lock_guard lock(m_mutex);
    const auto it = m_index.find(key, m_hash(key));
    return it != m_index.end() && !expired(m_nodes[it->second], now);
  }

  // --- writes --------------------------------------------------------------------------------

  /// Stores `value` under `key`. Returns false if it was rejected (heavier than max_weight).
  bool put(Key key, Value value, std::uint64_t weight = 1, std::optional<tag_type> tag = {}) {
    return put_at(now(), std::move(key), std::move(value), weight, std::move(tag));
  }
  bool put_at(time_point now, Key key, Value value, std::uint64_t weight = 1,
              std::optional<tag_type> tag = {}) {
    check_weight(weight);
    std::vector<removed_entry> removed;
    bool stored = false;
    {
      std::lock_guard lock(m_mutex);
      const std::size_t h = m_hash(key);
      detach_flight_locked(key, h);
      stored =
          store_locked(now, std::move(key), h, std::move(value), weight, std::move(tag), removed);
    }
    dispatch(removed);
    return stored;
  }

  /// Removes `key`; true if a live entry was removed (an expired one counts as expired).
  template <class K>
  bool invalidate(const K& key) {
    return invalidate_at(now(), key);
  }
  template <class K>
  bool invalidate_at(time_point now, const K& key) {
    std::vector<removed_entry> removed;
    {
      std::lock_guard lock(m_mutex);
      const std::size_t h = m_hash(key);
      detach_flight_locked(key, h);
      const auto it = m_index.find(key, h);
      if (it != m_index.end()) remove_live_or_expired_locked(now, it->second, removed);
    }
    dispatch(removed);
    return count_invalidated(removed) == 1;
  }

  /// Removes every entry put with this tag; returns how many live ones were removed.
  std::size_t invalidate_tag(const tag_type& tag) { return invalidate_tag_at(now(), tag); }
  std::size_t invalidate_tag_at(time_point now, const tag_type& tag) {
    std::vector<removed_entry> removed;
    {
      std::lock_guard lock(m_mutex);
      for (auto it = m_flights.begin(); it != m_flights.end();) {
        if (it->second->tag && m_tag_equal(*it->second->tag, tag)) {
          it->second->detached = true;
          it = m_flights.erase(it);
        } else {
          ++it;
        }
      }
      const auto group = m_tag_index.find(tag);
      if (group != m_tag_index.end()) {
        std::vector<detail::slot_t> members;
        m_tags[group->second].members.append_to(m_tag_links, members);
        removed.reserve(members.size());
        for (const detail::slot_t s : members) remove_live_or_expired_locked(now, s, removed);
      }
    }
    dispatch(removed);
    return count_invalidated(removed);
  }

  /// Removes every entry; returns how many live ones were removed.
  std::size_t clear() { return clear_at(now()); }
  std::size_t clear_at(time_point now) {
    std::vector<removed_entry> removed;
    {
      std::lock_guard lock(m_mutex);
      remove_everything_locked(now, removed);
    }
    dispatch(removed);
    return count_invalidated(removed);
  }

  /// Drops expired entries now (they are otherwise dropped lazily); returns how many.
  std::size_t purge_expired() { return purge_expired_at(now()); }
  std::size_t purge_expired_at(time_point now) {
    std::vector<removed_entry> removed;
    {
      std::lock_guard lock(m_mutex);
      purge_locked(now, removed);
    }
    dispatch(removed);
    return removed.size();
  }

  // --- single-flight loading -----------------------------------------------------------------

  /// Looks `key` up; on a miss either starts a load (the caller must then call complete_load or
  /// fail_load) or joins the load in progress (the caller then calls wait). Counts a hit or a
  /// miss; with `follower_hit_on_success`, a follower is counted by wait instead: a hit if the
  /// load it waited for succeeded (it was served a value it did not load, as Airflow's DBDagBag
  /// counts a lookup that finds another thread's load), else a miss. Throws
  /// recursive_load_error if this thread already leads the load of `key`.
  template <class K>
  load_ticket begin_load_at(time_point now, const K& key, std::optional<tag_type> tag = {},
                            bool follower_hit_on_success = false) {
    std::vector<removed_entry> removed;
    load_ticket ticket;
    bool recursive = false;
    {
      std::lock_guard lock(m_mutex);
      const std::size_t h = m_hash(key);
      ticket.m_value = lookup_locked(now, key, h, removed);
      if (!ticket.m_value) {
        const auto it = m_flights.find(key, h);
        if (it != m_flights.end()) {
          recursive = it->second->leader == std::this_thread::get_id();
          ticket.m_role = load_ticket::role::follower;
          ticket.m_flight = it->second;
          if (follower_hit_on_success && !recursive) {
            --m_stats.misses;  // counted by wait, once the outcome is known
            ticket.m_count_on_wait = true;
          }
        } else {
          auto f = std::make_shared<flight>(Key(key), h, std::move(tag));
          m_flights.emplace(f->key, f);
          ticket.m_role = load_ticket::role::leader;
          ticket.m_flight = std::move(f);
        }
      }
    }
    dispatch(removed);
    if (recursive) throw recursive_load_error("a loader asked for its own key while loading it");
    return ticket;
  }

  /// Blocks a follower until its load has completed or failed.
  void wait(load_ticket& ticket) {
    if (ticket.m_role != load_ticket::role::follower) return;
    std::unique_lock lock(m_mutex);
    ticket.m_flight->done_cv.wait(lock, [&] { return ticket.m_flight->done; });
    if (ticket.m_count_on_wait) {
      ticket.m_count_on_wait = false;
      ++(ticket.m_flight->failure ? m_stats.misses : m_stats.hits);
    }
  }

  /// The leader's load produced `value`: publish it to followers and cache it (unless the load
  /// was detached). Returns false if it was not cached.
  bool complete_load_at(time_point now, load_ticket& ticket, const Value& value,
                        std::uint64_t weight = 1) {
    check_weight(weight);
    std::vector<removed_entry> removed;
    bool stored = false;
    {
      std::lock_guard lock(m_mutex);
      flight& f = *ticket.m_flight;
      f.value = value;
      ++m_stats.loads;
      if (!f.detached) {
        m_flights.erase(f.key, f.hash);
        stored = store_locked(now, f.key, f.hash, value, weight, f.tag, removed);
      }
      f.done = true;
      f.done_cv.notify_all();
    }
    dispatch(removed);
    return stored;
  }

  /// The leader's load failed: wake the followers with the failure; nothing is cached.
  void fail_load(load_ticket& ticket, failure_type failure) {
    std::lock_guard lock(m_mutex);
    flight& f = *ticket.m_flight;
    f.failure = std::move(failure);
    ++m_stats.load_failures;
    if (!f.detached) m_flights.erase(f.key, f.hash);
    f.done = true;
    f.done_cv.notify_all();
  }

  /// get, and on a miss run `loader()` once for all concurrent callers (C++ convenience; the
  /// failure type must be std::exception_ptr). `loader` runs outside the lock.
  template <class K, class Loader>
  Value get_or_load(const K& key, Loader&& loader, std::uint64_t weight = 1,
                    std::optional<tag_type> tag = {}) {
    static_assert(std::is_same_v<failure_type, std::exception_ptr>,
                  "get_or_load rethrows std::exception_ptr failures");
    check_weight(weight);
    load_ticket ticket = begin_load_at(now(), key, std::move(tag));
    switch (ticket.kind()) {
      case load_ticket::role::hit:
        return *ticket.value();
      case load_ticket::role::follower:
        wait(ticket);
        if (const failure_type* failure = ticket.failure()) std::rethrow_exception(*failure);
        return *ticket.value();
      case load_ticket::role::leader:
        break;
    }
    std::optional<Value> value;
    try {
      value.emplace(std::forward<Loader>(loader)());
    } catch (...) {
      fail_load(ticket, std::current_exception());
      throw;
    }
    complete_load_at(now(), ticket, *value, weight);
    return std::move(*value);
  }

  // --- observation ---------------------------------------------------------------------------

  /// Live entries (expired ones are purged first).
  std::size_t size() { return size_at(now()); }
  std::size_t size_at(time_point now) {
    std::vector<removed_entry> removed;
    std::size_t n = 0;
    {
      std::lock_guard lock(m_mutex);
      purge_locked(now, removed);
      n = m_index.size();
    }
    dispatch(removed);
    return n;
  }

  /// A snapshot of the live keys, those the policy would evict first at the front.
  std::vector<Key> keys() { return keys_at(now()); }
  std::vector<Key> keys_at(time_point now) {
    std::vector<removed_entry> removed;
    std::vector<Key> out;
    {
      std::lock_guard lock(m_mutex);
      purge_locked(now, removed);
      std::vector<detail::slot_t> slots;
      slots.reserve(m_index.size());
      m_policy->snapshot(slots);
      out.reserve(slots.size());
      for (const detail::slot_t s : slots) out.push_back(*m_nodes[s].key);
    }
    dispatch(removed);
    return out;
  }

  cache_stats stats() { return stats_at(now()); }
  cache_stats stats_at(time_point now) {
    std::vector<removed_entry> removed;
    cache_stats out;
    {
      std::lock_guard lock(m_mutex);
      purge_locked(now, removed);
      out = m_stats;
      out.size = m_index.size();
      out.weight = m_weight;
      out.max_entries = m_options.max_entries;
      out.max_weight = m_options.max_weight;
    }
    dispatch(removed);
    return out;
  }

  // --- ownership hooks for garbage-collected values ------------------------------------------

  /// Calls `visit(object)` for every key, value and tag held, unless the lock is busy (then
  /// returns -1 without visiting). Stops at and returns the first non-zero result. For a
  /// tracing collector's traverse hook: it must not block, and not visiting is conservative.
  template <class Visit>
  int try_visit(Visit&& visit) {
    std::unique_lock lock(m_mutex, std::try_to_lock);
    if (!lock.owns_lock()) return -1;
    for (const node& n : m_nodes) {
      if (!n.key) continue;
      if (const int r = visit(*n.key)) return r;
      if (const int r = visit(*n.value)) return r;
    }
    for (const tag_group& g : m_tags) {
      if (!g.tag) continue;
      if (const int r = visit(*g.tag)) return r;
    }
    return 0;
  }

  /// Removes every entry without telling the listener and hands them to the caller (to be
  /// destroyed after the call returns, outside the lock). For a collector's clear hook.
  std::vector<removed_entry> drain() {
    const time_point at = now();
    std::vector<removed_entry> removed;
    std::lock_guard lock(m_mutex);
    remove_everything_locked(at, removed);
    return removed;
  }

 private:
  struct node {
    std::optional<Key> key;  // empty while the slot is free
    std::optional<Value> value;
    std::uint64_t weight = 0;
    std::size_t hash = 0;
    time_point inserted{};
    time_point refreshed{};  // stored or last confirmed (refresh_after)
    std::uint32_t tag_group = no_tag;
  };

  struct tag_group {
    std::optional<tag_type> tag;  // empty while the group is free
    detail::slot_list members;
  };

  struct flight {
    flight(Key k, std::size_t h, std::optional<tag_type> t)
        : key(std::move(k)), hash(h), tag(std::move(t)), leader(std::this_thread::get_id()) {}
    Key key;
    std::size_t hash;
    std::optional<tag_type> tag;
    std::thread::id leader;
    bool detached = false;  // invalidated or overwritten meanwhile: do not cache the result
    bool done = false;
    std::optional<Value> value;
    std::optional<failure_type> failure;
    std::condition_variable done_cv;
  };

  static constexpr std::uint32_t no_tag = std::numeric_limits<std::uint32_t>::max();

  static options validated(options opts) {
    if (opts.max_entries && *opts.max_entries == 0) {
      throw std::invalid_argument("max_entries must be positive");
    }
    if (opts.max_entries && *opts.max_entries >= detail::nil_slot) {
      throw std::invalid_argument("max_entries is too large");
    }
    if (opts.max_weight && *opts.max_weight == 0) {
      throw std::invalid_argument("max_weight must be positive");
    }
    if (opts.ttl && !(*opts.ttl > duration::zero())) {
      throw std::invalid_argument("ttl must be positive");
    }
    if (opts.refresh_after && *opts.refresh_after < duration::zero()) {
      throw std::invalid_argument("refresh_after must not be negative");
    }
    return opts;
  }

  static void check_weight(std::uint64_t weight) {
    if (weight == 0) throw std::invalid_argument("weight must be at least 1");
  }

  bool expired(const node& n, time_point now) const {
    return m_options.ttl && now - n.inserted > *m_options.ttl;
  }

  bool fresh(const node& n, time_point now) const {
    return !m_options.refresh_after || now - n.refreshed < *m_options.refresh_after;
  }

  bool over_limits() const noexcept {
    return (m_options.max_entries && m_index.size() > *m_options.max_entries) ||
           (m_options.max_weight && m_weight > *m_options.max_weight);
  }

  /// The live entry under `key`, if `accept(node)` says so: counted as a hit and promoted
  /// (get_fresh_at, confirm_at). An expired entry is removed; nothing else is counted.
  template <class K, class Accept>
  std::optional<Value> hit_if_at(time_point now, const K& key, Accept&& accept) {
    std::vector<removed_entry> removed;
    std::optional<Value> result;
    {
      std::lock_guard lock(m_mutex);
      const std::size_t h = m_hash(key);
      const auto it = m_index.find(key, h);
      if (it != m_index.end()) {
        const detail::slot_t s = it->second;
        if (expired(m_nodes[s], now)) {
          remove_locked(s, removal_cause::expired, removed);
        } else if (accept(m_nodes[s])) {
          m_policy->record(h);
          ++m_stats.hits;
          m_policy->on_hit(s);
          result = m_nodes[s].value;
        }
      }
    }
    dispatch(removed);
    return result;
  }

  template <class K>
  std::optional<Value> lookup_locked(time_point now, const K& key, std::size_t h,
                                     std::vector<removed_entry>& removed) {
    m_policy->record(h);
    const auto it = m_index.find(key, h);
    if (it == m_index.end()) {
      ++m_stats.misses;
      return std::nullopt;
    }
    const detail::slot_t s = it->second;
    if (expired(m_nodes[s], now)) {
      ++m_stats.misses;
      remove_locked(s, removal_cause::expired, removed);
      return std::nullopt;
    }
    ++m_stats.hits;
    m_policy->on_hit(s);
    return m_nodes[s].value;
  }

  template <class K>
  void detach_flight_locked(const K& key, std::size_t h) {
    const auto it = m_flights.find(key, h);
    if (it == m_flights.end()) return;
    it->second->detached = true;
    m_flights.erase(it);
  }

  bool store_locked(time_point now, Key key, std::size_t h, Value value, std::uint64_t weight,
                    std::optional<tag_type> tag, std::vector<removed_entry>& removed) {
    const auto it = m_index.find(key, h);
    if (m_options.max_weight && weight > *m_options.max_weight) {
      ++m_stats.rejections;
      if (it != m_index.end()) remove_locked(it->second, removal_cause::replaced, removed);
      return false;
    }
    if (it != m_index.end()) {
      const detail::slot_t s = it->second;
      node& n = m_nodes[s];
      removed.push_back(removed_entry{*n.key, std::move(*n.value), removal_cause::replaced});
      n.value = std::move(value);
      m_weight = m_weight - n.weight + weight;
      n.weight = weight;
      n.inserted = now;
      n.refreshed = now;
      if (m_options.ttl) m_fifo.move_to_back(m_fifo_links, s);
      unlink_tag_locked(s);
      link_tag_locked(s, std::move(tag));
      m_policy->on_update(s, weight);
    } else {
      const detail::slot_t s = allocate_slot();
      node& n = m_nodes[s];
      n.key.emplace(std::move(key));
      n.value.emplace(std::move(value));
      n.weight = weight;
      n.hash = h;
      n.inserted = now;
      n.refreshed = now;
      m_index.emplace(*n.key, s);
      if (m_options.ttl) m_fifo.push_back(m_fifo_links, s);
      link_tag_locked(s, std::move(tag));
      m_weight += weight;
      m_policy->on_insert(s, weight, h);
    }
    if (m_options.ttl) purge_locked(now, removed);
    while (over_limits()) remove_locked(m_policy->select_victim(), removal_cause::size, removed);
    return true;
  }

  detail::slot_t allocate_slot() {
    if (!m_free.empty()) {
      const detail::slot_t s = m_free.back();
      m_free.pop_back();
      return s;
    }
    if (m_nodes.size() >= detail::nil_slot - 1) throw std::length_error("cache is full");
    const auto s = static_cast<detail::slot_t>(m_nodes.size());
    m_nodes.emplace_back();
    m_fifo_links.emplace_back();
    m_tag_links.emplace_back();
    return s;
  }

  void link_tag_locked(detail::slot_t s, std::optional<tag_type> tag) {
    if (!tag) return;
    auto it = m_tag_index.find(*tag);
    std::uint32_t g = 0;
    if (it != m_tag_index.end()) {
      g = it->second;
    } else {
      if (!m_free_tags.empty()) {
        g = m_free_tags.back();
        m_free_tags.pop_back();
      } else {
        g = static_cast<std::uint32_t>(m_tags.size());
        m_tags.emplace_back();
      }
      m_tags[g].tag.emplace(*tag);
      m_tag_index.emplace(std::move(*tag), g);
    }
    m_tags[g].members.push_back(m_tag_links, s);
    m_nodes[s].tag_group = g;
  }

  void unlink_tag_locked(detail::slot_t s) {
    const std::uint32_t g = m_nodes[s].tag_group;
    if (g == no_tag) return;
    m_nodes[s].tag_group = no_tag;
    tag_group& group = m_tags[g];
    group.members.unlink(m_tag_links, s);
    if (group.members.empty()) {
      m_tag_index.erase(*group.tag);
      group.tag.reset();
      m_free_tags.push_back(g);
    }
  }

  void remove_locked(detail::slot_t s, removal_cause cause, std::vector<removed_entry>& removed) {
    node& n = m_nodes[s];
    m_index.erase(*n.key, n.hash);
    m_policy->on_erase(s);
    if (m_options.ttl) m_fifo.unlink(m_fifo_links, s);
    unlink_tag_locked(s);
    m_weight -= n.weight;
    removed.push_back(removed_entry{std::move(*n.key), std::move(*n.value), cause});
    n.key.reset();
    n.value.reset();
    m_free.push_back(s);
    switch (cause) {
      case removal_cause::size:
        ++m_stats.evictions;
        break;
      case removal_cause::expired:
        ++m_stats.expirations;
        break;
      case removal_cause::invalidated:
        ++m_stats.invalidations;
        break;
      case removal_cause::replaced:
        break;
    }
  }

  void remove_everything_locked(time_point now, std::vector<removed_entry>& removed) {
    for (auto& [key, f] : m_flights) f->detached = true;
    m_flights.clear();
    std::vector<detail::slot_t> slots;
    m_policy->snapshot(slots);
    removed.reserve(slots.size());
    for (const detail::slot_t s : slots) remove_live_or_expired_locked(now, s, removed);
  }

  void remove_live_or_expired_locked(time_point now, detail::slot_t s,
                                     std::vector<removed_entry>& removed) {
    remove_locked(s, expired(m_nodes[s], now) ? removal_cause::expired : removal_cause::invalidated,
                  removed);
  }

  static std::size_t count_invalidated(const std::vector<removed_entry>& removed) noexcept {
    return static_cast<std::size_t>(std::count_if(
        removed.begin(), removed.end(),
        [](const removed_entry& e) { return e.cause == removal_cause::invalidated; }));
  }

  void purge_locked(time_point now, std::vector<removed_entry>& removed) {
    if (!m_options.ttl) return;
    while (!m_fifo.empty() && expired(m_nodes[m_fifo.front()], now)) {
      remove_locked(m_fifo.front(), removal_cause::expired, removed);
    }
  }

  void dispatch(std::vector<removed_entry>& removed) noexcept {
    if (!m_listener) return;
    for (removed_entry& entry : removed) m_listener(entry);
  }

  const options m_options;
  Clock m_clock;
  removal_listener m_listener;
  [[no_unique_address]] hasher m_hash;
  [[no_unique_address]] tag_equal m_tag_equal;

  mutable std::mutex m_mutex;
  std::unique_ptr<detail::eviction_policy> m_policy;
  tsl::robin_map<Key, detail::slot_t, hasher, key_equal> m_index;
  std::vector<node> m_nodes;
  std::vector<detail::slot_t> m_free;
  detail::slot_links m_fifo_links;  // insertion order, kept only with a TTL
  detail::slot_list m_fifo;
  detail::slot_links m_tag_links;
  std::vector<tag_group> m_tags;
  std::vector<std::uint32_t> m_free_tags;
  tsl::robin_map<tag_type, std::uint32_t, tag_hasher, tag_equal> m_tag_index;
  tsl::robin_map<Key, std::shared_ptr<flight>, hasher, key_equal> m_flights;
  std::uint64_t m_weight = 0;
  cache_stats m_stats;
};

}  // namespace dagcore
