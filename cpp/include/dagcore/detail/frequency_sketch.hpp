// A count-min sketch of 4-bit counters that ages: the popularity estimate behind W-TinyLFU.
//
// Four rows of `width` counters (width a power of two, twice the expected entries), packed sixteen to a 64-bit word. Each
// key hash picks one counter per row by double hashing; the estimate is the row minimum, so
// collisions can only over-estimate. After `sample_size` increments every counter is halved,
// which lets the sketch forget: a key that was hot last hour does not stay admitted forever.
//
// Complexity: increment and estimate are O(1); aging is O(width). Memory: width / 2 bytes.
// Exception guarantee: construction and ensure_capacity may throw std::bad_alloc; nothing else
// throws. Thread safety: none; the cache serialises access.
#pragma once

#include <cstdint>
#include <vector>

namespace dagcore::detail {

class frequency_sketch {
 public:
  static constexpr unsigned max_count = 15;

  /// Sizes the sketch for about `expected_entries` distinct hot keys.
  explicit frequency_sketch(std::uint64_t expected_entries = 0);

  /// Grows (and resets) the sketch when the cache has grown beyond what it was sized for.
  void ensure_capacity(std::uint64_t expected_entries);

  /// Counts one access of the key with this hash; may trigger aging.
  void increment(std::uint64_t hash) noexcept;

  /// The estimated number of recent accesses, 0..15.
  [[nodiscard]] unsigned frequency(std::uint64_t hash) const noexcept;

  /// Halves every counter.
  void age() noexcept;

  void clear() noexcept;

  [[nodiscard]] std::uint64_t width() const noexcept { return m_width; }
  [[nodiscard]] std::uint64_t sample_size() const noexcept { return m_sample_size; }
  [[nodiscard]] std::uint64_t additions() const noexcept { return m_additions; }

 private:
  static constexpr unsigned rows = 4;

  [[nodiscard]] std::uint64_t index_of(std::uint64_t mixed, std::uint64_t step,
                                       unsigned row) const noexcept {
    return (mixed + row * step) & (m_width - 1);
  }
  [[nodiscard]] unsigned counter(unsigned row, std::uint64_t index) const noexcept;

  std::vector<std::uint64_t> m_table;  // rows * width / 16 words
  std::uint64_t m_width = 0;
  std::uint64_t m_sample_size = 0;
  std::uint64_t m_additions = 0;
};

}  // namespace dagcore::detail
