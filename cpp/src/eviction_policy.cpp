// LRU and W-TinyLFU over slot indices. Design note for TinyLFU:
//
// New entries land in a window LRU sized 1% of the limits. When the window is over its share,
// its least recent entry becomes a candidate for the main space, a segmented LRU (probation and
// a protected segment of 80% of main). If main has room the candidate simply moves in; if not,
// it must beat main's victim on estimated popularity (frequency_sketch), else it is evicted.
// Two choices differ from Caffeine, both measured on the benchmark's scan trace:
// - the victim is the least popular of the 16 least recent probation entries, not simply the
//   least recent one, so a warm entry that was not touched lately is not the first to go;
// - a candidate seen only once lately (estimate 1: the doorkeeper bit) is never admitted over a
//   resident: a scan through history only churns the window and the hot set stays in main.
// A hit in probation promotes to protected; protected overflow demotes back to probation.
// Limits are counted in entries and in weight; each segment's share applies on both axes that
// are bounded.
#include "dagcore/detail/eviction_policy.hpp"

#include <algorithm>

#include "dagcore/detail/frequency_sketch.hpp"

namespace dagcore {

std::optional<cache_policy> parse_cache_policy(std::string_view name) noexcept {
  if (name == "lru") return cache_policy::lru;
  if (name == "tinylfu") return cache_policy::tinylfu;
  return std::nullopt;
}

std::string_view to_string(cache_policy policy) noexcept {
  switch (policy) {
    case cache_policy::lru:
      return "lru";
    case cache_policy::tinylfu:
      return "tinylfu";
  }
  return "?";
}

namespace detail {
namespace {

template <class T>
void grow_to_fit(std::vector<T>& v, slot_t s) {
  if (s >= v.size()) v.resize(std::max<std::size_t>(std::size_t{s} + 1, v.size() * 2));
}

class lru_policy final : public eviction_policy {
 public:
  void on_insert(slot_t s, std::uint64_t /*weight*/, std::uint64_t /*hash*/) override {
    grow_to_fit(m_links, s);
    m_order.push_back(m_links, s);
  }
  void on_hit(slot_t s) override { m_order.move_to_back(m_links, s); }
  void on_update(slot_t s, std::uint64_t /*weight*/) override { m_order.move_to_back(m_links, s); }
  void on_erase(slot_t s) override { m_order.unlink(m_links, s); }
  void record(std::uint64_t /*hash*/) noexcept override {}
  slot_t select_victim() override { return m_order.front(); }
  void snapshot(std::vector<slot_t>& out) const override { m_order.append_to(m_links, out); }
  void reset() noexcept override { m_order.reset(); }

 private:
  slot_links m_links;
  slot_list m_order;
};

/// A share of the cache's limits; std::nullopt on an axis the cache does not bound.
struct share {
  std::optional<std::uint64_t> entries;
  std::optional<std::uint64_t> weight;
};

struct segment {
  slot_list list;
  std::uint64_t weight = 0;
};

class tinylfu_policy final : public eviction_policy {
 public:
  explicit tinylfu_policy(const cache_bounds& bounds)
      : m_sketch(bounds.max_entries.value_or(0)), m_sketch_capacity(m_sketch.width()) {
    if (bounds.max_entries)
      split(*bounds.max_entries, m_window_share.entries, m_main_share.entries,
            m_protected_share.entries);
    if (bounds.max_weight)
      split(*bounds.max_weight, m_window_share.weight, m_main_share.weight,
            m_protected_share.weight);
    m_count_bounded = bounds.max_entries.has_value();
  }

  void on_insert(slot_t s, std::uint64_t weight, std::uint64_t hash) override {
    grow_to_fit(m_links, s);
    grow_to_fit(m_area, s);
    grow_to_fit(m_weight, s);
    grow_to_fit(m_hash, s);
    m_weight[s] = weight;
    m_hash[s] = hash;
    push(area::window, s);
    ++m_entries;
    if (!m_count_bounded && m_entries > m_sketch_capacity) {
      m_sketch_capacity = m_entries * 2;
      m_sketch.ensure_capacity(m_sketch_capacity);
    }
    // Keep the window at its share while main has room, so the layout is right before the
    // cache first fills.
    while (m_window.list.size() > 1 && over(m_window, m_window_share)) {
      const slot_t candidate = m_window.list.front();
      if (!main_fits(m_weight[candidate])) break;
      move(candidate, area::probation);
    }
  }

  void on_hit(slot_t s) override {
    switch (static_cast<area>(m_area[s])) {
      case area::window:
        m_window.list.move_to_back(m_links, s);
        break;
      case area::protected_:
        m_protected.list.move_to_back(m_links, s);
        break;
      case area::probation:
        move(s, area::protected_);
        while (m_protected.list.size() > 1 && over(m_protected, m_protected_share)) {
          move(m_protected.list.front(), area::probation);
        }
        break;
    }
  }

  void on_update(slot_t s, std::uint64_t weight) override {
    segment& seg = segment_of(static_cast<area>(m_area[s]));
    seg.weight = seg.weight - m_weight[s] + weight;
    m_weight[s] = weight;
    on_hit(s);
  }

  void on_erase(slot_t s) override {
    pop(s);
    --m_entries;
  }

  void record(std::uint64_t hash) noexcept override { m_sketch.increment(hash); }

  slot_t select_victim() override {
    for (;;) {
      if (!m_window.list.empty() && over(m_window, m_window_share)) {
        const slot_t candidate = m_window.list.front();
        if (main_fits(m_weight[candidate])) {
          move(candidate, area::probation);
          continue;
        }
        const slot_t victim = main_victim();
        if (victim == nil_slot) return candidate;
        const unsigned popularity = m_sketch.frequency(m_hash[candidate]);
        if (popularity >= min_admission_frequency &&
            popularity > m_sketch.frequency(m_hash[victim])) {
          move(candidate, area::probation);
          return victim;
        }
        return candidate;
      }
      const slot_t victim = main_victim();
      return victim != nil_slot ? victim : m_window.list.front();
    }
  }

  void snapshot(std::vector<slot_t>& out) const override {
    m_probation.list.append_to(m_links, out);
    m_protected.list.append_to(m_links, out);
    m_window.list.append_to(m_links, out);
  }

  void reset() noexcept override {
    m_window = segment{};
    m_probation = segment{};
    m_protected = segment{};
    m_entries = 0;
    m_sketch.clear();
  }

 private:
  enum class area : std::uint8_t { window, probation, protected_ };
  static constexpr unsigned victim_sample = 16;
  static constexpr unsigned min_admission_frequency = 2;

  static void split(std::uint64_t total, std::optional<std::uint64_t>& window,
                    std::optional<std::uint64_t>& main, std::optional<std::uint64_t>& protect) {
    window = std::max<std::uint64_t>(1, total / 100);
    main = total > *window ? total - *window : 0;
    protect = *main / 10 * 8 + (*main % 10) * 8 / 10;
  }

  static bool over(const segment& seg, const share& cap) noexcept {
    return (cap.entries && seg.list.size() > *cap.entries) ||
           (cap.weight && seg.weight > *cap.weight);
  }

  [[nodiscard]] bool main_fits(std::uint64_t weight) const noexcept {
    const std::uint64_t count = m_probation.list.size() + m_protected.list.size();
    const std::uint64_t total = m_probation.weight + m_protected.weight;
    return (!m_main_share.entries || count + 1 <= *m_main_share.entries) &&
           (!m_main_share.weight || total + weight <= *m_main_share.weight);
  }

  /// The least popular of the few least recent probation entries, else protected's least
  /// recent entry.
  [[nodiscard]] slot_t main_victim() const noexcept {
    if (m_probation.list.empty()) return m_protected.list.front();
    slot_t victim = m_probation.list.front();
    unsigned least = m_sketch.frequency(m_hash[victim]);
    slot_t s = m_links[victim].next;
    for (unsigned i = 1; i < victim_sample && s != nil_slot && least > 0;
         ++i, s = m_links[s].next) {
      const unsigned f = m_sketch.frequency(m_hash[s]);
      if (f < least) {
        least = f;
        victim = s;
      }
    }
    return victim;
  }

  segment& segment_of(area a) noexcept {
    switch (a) {
      case area::window:
        return m_window;
      case area::probation:
        return m_probation;
      case area::protected_:
        return m_protected;
    }
    return m_window;
  }

  void push(area a, slot_t s) noexcept {
    segment& seg = segment_of(a);
    seg.list.push_back(m_links, s);
    seg.weight += m_weight[s];
    m_area[s] = static_cast<std::uint8_t>(a);
  }

  void pop(slot_t s) noexcept {
    segment& seg = segment_of(static_cast<area>(m_area[s]));
    seg.list.unlink(m_links, s);
    seg.weight -= m_weight[s];
  }

  void move(slot_t s, area to) noexcept {
    pop(s);
    push(to, s);
  }

  share m_window_share;
  share m_main_share;
  share m_protected_share;
  bool m_count_bounded = false;

  slot_links m_links;
  std::vector<std::uint8_t> m_area;
  std::vector<std::uint64_t> m_weight;
  std::vector<std::uint64_t> m_hash;
  segment m_window;
  segment m_probation;
  segment m_protected;
  std::uint64_t m_entries = 0;

  frequency_sketch m_sketch;
  std::uint64_t m_sketch_capacity;
};

}  // namespace

std::unique_ptr<eviction_policy> make_eviction_policy(cache_policy policy,
                                                      const cache_bounds& bounds) {
  switch (policy) {
    case cache_policy::lru:
      return std::make_unique<lru_policy>();
    case cache_policy::tinylfu:
      return std::make_unique<tinylfu_policy>(bounds);
  }
  return std::make_unique<lru_policy>();
}

}  // namespace detail
}  // namespace dagcore
