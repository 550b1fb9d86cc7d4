#include "dagcore/detail/frequency_sketch.hpp"

#include <algorithm>
#include <bit>

namespace dagcore::detail {
namespace {

constexpr std::uint64_t counters_per_word = 16;

// splitmix64's finaliser: callers hand us hashes of varying quality (Python's hash of a small
// int is the int itself), so spread them before indexing.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

frequency_sketch::frequency_sketch(std::uint64_t expected_entries) {
  ensure_capacity(expected_entries);
}

void frequency_sketch::ensure_capacity(std::uint64_t expected_entries) {
  // Twice the expected entries keeps the over-estimate rate near 1% at full load.
  const std::uint64_t wanted = std::bit_ceil(2 * std::max<std::uint64_t>(expected_entries, 64));
  if (wanted <= m_width) return;
  m_width = wanted;
  m_table.assign(rows * m_width / counters_per_word, 0);
  m_sample_size = 10 * std::max<std::uint64_t>(expected_entries, 64);
  m_additions = 0;
}

unsigned frequency_sketch::counter(unsigned row, std::uint64_t index) const noexcept {
  const std::uint64_t flat = row * m_width + index;
  const std::uint64_t word = m_table[flat / counters_per_word];
  return static_cast<unsigned>((word >> ((flat % counters_per_word) * 4)) & 0xfU);
}

void frequency_sketch::increment(std::uint64_t hash) noexcept {
  const std::uint64_t mixed = mix(hash);
  const std::uint64_t step = mix(mixed) | 1U;
  bool added = false;
  for (unsigned row = 0; row < rows; ++row) {
    const std::uint64_t flat = row * m_width + index_of(mixed, step, row);
    std::uint64_t& word = m_table[flat / counters_per_word];
    const unsigned shift = static_cast<unsigned>((flat % counters_per_word) * 4);
    if (((word >> shift) & 0xfU) < max_count) {
      word += std::uint64_t{1} << shift;
      added = true;
    }
  }
  if (added && ++m_additions >= m_sample_size) age();
}

unsigned frequency_sketch::frequency(std::uint64_t hash) const noexcept {
  const std::uint64_t mixed = mix(hash);
  const std::uint64_t step = mix(mixed) | 1U;
  unsigned result = max_count;
  for (unsigned row = 0; row < rows; ++row) {
    result = std::min(result, counter(row, index_of(mixed, step, row)));
  }
  return result;
}

void frequency_sketch::age() noexcept {
  for (std::uint64_t& word : m_table) word = (word >> 1) & 0x7777777777777777ULL;
  m_additions /= 2;
}

void frequency_sketch::clear() noexcept {
  std::fill(m_table.begin(), m_table.end(), 0);
  m_additions = 0;
}

}  // namespace dagcore::detail
