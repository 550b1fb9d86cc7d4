// Intrusive doubly linked lists over slot indices.
//
// The cache keeps its entries in a slot vector and threads several independent orders through
// them (recency, insertion order for TTL, tag membership). Each order owns a parallel vector of
// links, so one slot can sit in several lists at once without any per-list allocation.
//
// Complexity: every operation is O(1). Exception guarantee: nothing throws. Thread safety: none;
// the owner serialises access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace dagcore::detail {

using slot_t = std::uint32_t;
inline constexpr slot_t nil_slot = std::numeric_limits<slot_t>::max();

struct slot_link {
  slot_t prev = nil_slot;
  slot_t next = nil_slot;
};

using slot_links = std::vector<slot_link>;

/// A list whose nodes are slot indices and whose links live in a caller-owned `slot_links`.
class slot_list {
 public:
  [[nodiscard]] slot_t front() const noexcept { return m_head; }
  [[nodiscard]] slot_t back() const noexcept { return m_tail; }
  [[nodiscard]] std::size_t size() const noexcept { return m_size; }
  [[nodiscard]] bool empty() const noexcept { return m_size == 0; }

  void push_back(slot_links& links, slot_t s) noexcept {
    links[s].prev = m_tail;
    links[s].next = nil_slot;
    if (m_tail != nil_slot) {
      links[m_tail].next = s;
    } else {
      m_head = s;
    }
    m_tail = s;
    ++m_size;
  }

  void unlink(slot_links& links, slot_t s) noexcept {
    const slot_link l = links[s];
    if (l.prev != nil_slot) {
      links[l.prev].next = l.next;
    } else {
      m_head = l.next;
    }
    if (l.next != nil_slot) {
      links[l.next].prev = l.prev;
    } else {
      m_tail = l.prev;
    }
    links[s] = slot_link{};
    --m_size;
  }

  void move_to_back(slot_links& links, slot_t s) noexcept {
    if (m_tail == s) return;
    unlink(links, s);
    push_back(links, s);
  }

  void reset() noexcept { *this = slot_list{}; }

  /// Appends the members front to back.
  void append_to(const slot_links& links, std::vector<slot_t>& out) const {
    for (slot_t s = m_head; s != nil_slot; s = links[s].next) out.push_back(s);
  }

 private:
  slot_t m_head = nil_slot;
  slot_t m_tail = nil_slot;
  std::size_t m_size = 0;
};

}  // namespace dagcore::detail
