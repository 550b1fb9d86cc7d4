#include "dagcore/detail/frequency_sketch.hpp"

#include <algorithm>
#include <bit>

namespace dagcore::detail {
namespace {

constexpr unsigned doorkeeper_probes = 3;
constexpr std::uint64_t min_entries = 64;

// splitmix64's finaliser: callers hand us hashes of varying quality (Python's hash of a small
// int is the int itself), so spread them before indexing.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr std::uint64_t doorkeeper_bit(std::uint64_t mixed, std::uint64_t step, unsigned i,
                                       std::uint64_t mask) noexcept {
  return ((mixed >> 32) + (i + 1) * (step >> 7)) & mask;
}

}  // namespace

frequency_sketch::frequency_sketch(std::uint64_t expected_entries) {
  ensure_capacity(expected_entries);
}

void frequency_sketch::ensure_capacity(std::uint64_t expected_entries) {
  const std::uint64_t entries = std::max(expected_entries, min_entries);
  const std::uint64_t wanted = std::bit_ceil(16 * entries);
  if (wanted <= m_width) return;
  m_width = wanted;
  m_counters.assign(rows * m_width, 0);
  m_sample_size = 128 * entries;
  m_doorkeeper_period = 20 * entries;
  // At most doorkeeper_period keys between two resets; 16 bits each keeps the false-positive
  // rate of 3 probes under 0.5%: every false positive is a scanned-once key that looks warm.
  m_doorkeeper.assign(std::bit_ceil(16 * m_doorkeeper_period) / 64, 0);
  m_additions = 0;
  m_doorkeeper_additions = 0;
}

frequency_sketch::probe frequency_sketch::probe_of(std::uint64_t hash) noexcept {
  const std::uint64_t mixed = mix(hash);
  return {mixed, mix(mixed) | 1U};
}

bool frequency_sketch::doorkeeper_contains(const probe& p) const noexcept {
  const std::uint64_t mask = m_doorkeeper.size() * 64 - 1;
  for (unsigned i = 0; i < doorkeeper_probes; ++i) {
    const std::uint64_t bit = doorkeeper_bit(p.mixed, p.step, i, mask);
    if ((m_doorkeeper[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

bool frequency_sketch::doorkeeper_insert(const probe& p) noexcept {
  const std::uint64_t mask = m_doorkeeper.size() * 64 - 1;
  bool present = true;
  for (unsigned i = 0; i < doorkeeper_probes; ++i) {
    const std::uint64_t bit = doorkeeper_bit(p.mixed, p.step, i, mask);
    std::uint64_t& word = m_doorkeeper[bit / 64];
    const std::uint64_t flag = std::uint64_t{1} << (bit % 64);
    present = present && (word & flag) != 0;
    word |= flag;
  }
  return present;
}

void frequency_sketch::increment(std::uint64_t hash) noexcept {
  const probe p = probe_of(hash);
  if (doorkeeper_insert(p)) {
    unsigned least = max_count;
    for (unsigned row = 0; row < rows; ++row) {
      least = std::min<unsigned>(least, m_counters[index_of(p, row)]);
    }
    if (least < max_count) {
      for (unsigned row = 0; row < rows; ++row) {
        std::uint8_t& c = m_counters[index_of(p, row)];
        if (c == least) ++c;
      }
    }
  }
  if (++m_doorkeeper_additions >= m_doorkeeper_period) {
    std::fill(m_doorkeeper.begin(), m_doorkeeper.end(), 0);
    m_doorkeeper_additions = 0;
  }
  if (++m_additions >= m_sample_size) age();
}

unsigned frequency_sketch::frequency(std::uint64_t hash) const noexcept {
  const probe p = probe_of(hash);
  unsigned result = max_count;
  for (unsigned row = 0; row < rows; ++row) {
    result = std::min<unsigned>(result, m_counters[index_of(p, row)]);
  }
  return result + (doorkeeper_contains(p) ? 1U : 0U);
}

void frequency_sketch::age() noexcept {
  for (std::uint8_t& c : m_counters) c = static_cast<std::uint8_t>(c >> 1);
  m_additions /= 2;
}

void frequency_sketch::clear() noexcept {
  std::fill(m_counters.begin(), m_counters.end(), 0);
  std::fill(m_doorkeeper.begin(), m_doorkeeper.end(), 0);
  m_additions = 0;
  m_doorkeeper_additions = 0;
}

}  // namespace dagcore::detail
