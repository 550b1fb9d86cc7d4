// The asset-condition engine (asset_conditions.hpp). Design: the prefix description is checked
// and turned into a postfix program per condition in one left-to-right pass with a stack of the
// open all/any nodes; leaves refer to a slot in their condition's sorted distinct assets, so an
// evaluation marks one byte per (DAG, asset) slot from the queued pairs (a binary search in the
// DAG's few assets) and then runs the postfix programs of the DAGs that got a mark over a value
// stack sized once for the largest condition. The usual shapes (a leaf, all or any of leaves)
// are decided from the count of marked assets instead.
#include "dagcore/asset_conditions.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace dagcore::assets {
namespace {

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

std::string at(std::size_t condition, std::size_t node) {
  return "condition " + std::to_string(condition) + ", node " + std::to_string(node);
}

}  // namespace

condition_set::condition_set(std::span<const std::uint8_t> kinds,
                             std::span<const std::int64_t> values,
                             std::span<const std::size_t> offsets) {
  if (kinds.size() != values.size()) {
    fail("kinds and values differ in length: " + std::to_string(kinds.size()) + " kinds, " +
         std::to_string(values.size()) + " values");
  }
  if (offsets.empty()) fail("offsets must hold at least one entry (0), got none");
  if (offsets.front() != 0) fail("offsets[0] must be 0, got " + std::to_string(offsets.front()));
  for (std::size_t i = 1; i < offsets.size(); ++i) {
    if (offsets[i] < offsets[i - 1] || offsets[i] > kinds.size()) {
      fail("offsets[" + std::to_string(i) + "] = " + std::to_string(offsets[i]) +
           " must lie between offsets[" + std::to_string(i - 1) + "] = " +
           std::to_string(offsets[i - 1]) + " and the node count " + std::to_string(kinds.size()));
    }
  }
  if (offsets.back() != kinds.size()) {
    fail("the last offset (" + std::to_string(offsets.back()) + ") must be the node count " +
         std::to_string(kinds.size()));
  }

  const std::size_t n_conditions = offsets.size() - 1;
  m_prog.reserve(kinds.size());
  m_prog_off.reserve(n_conditions + 1);
  m_asset_off.reserve(n_conditions + 1);
  m_shape.reserve(n_conditions);

  struct open_node {
    std::size_t node;
    std::int64_t remaining;
  };
  std::vector<open_node> open;
  std::vector<std::int64_t> leaf_assets;  // this condition's leaves, in program order
  std::vector<std::size_t> leaf_ops;      // their positions in m_prog

  for (std::size_t c = 0; c < n_conditions; ++c) {
    const std::size_t begin = offsets[c];
    const std::size_t end = offsets[c + 1];
    if (begin == end) fail("condition " + std::to_string(c) + " is empty (no root node)");
    open.clear();
    leaf_assets.clear();
    leaf_ops.clear();
    bool closed = false;  // the root's tree is complete
    for (std::size_t n = begin; n < end; ++n) {
      if (closed) {
        fail(at(c, n) + ": a node after the end of the condition's tree (the tree ends at node " +
             std::to_string(n - 1) + ")");
      }
      const std::uint8_t code = kinds[n];
      const std::int64_t value = values[n];
      if (code > static_cast<std::uint8_t>(node_kind::any)) {
        fail(at(c, n) + ": unknown node kind " + std::to_string(code) +
             " (0 = leaf, 1 = all, 2 = any)");
      }
      const auto kind = static_cast<node_kind>(code);
      if (value < 0) {
        fail(at(c, n) + ": " +
             (kind == node_kind::leaf
                  ? std::string("negative asset id ")
                  : std::string(to_string(kind)) + " with a negative child count ") +
             std::to_string(value));
      }
      bool complete = true;  // this node is complete once read (a leaf, an empty all/any)
      if (kind == node_kind::leaf) {
        leaf_assets.push_back(value);
        leaf_ops.push_back(m_prog.size());
        m_prog.push_back({node_kind::leaf, 0});
      } else if (value > 0) {
        const auto left = static_cast<std::int64_t>(end - n - 1);
        if (value > left) {
          fail(at(c, n) + ": " + std::string(to_string(kind)) + "(" + std::to_string(value) +
               ") has more children than the " + std::to_string(left) +
               " nodes left in the condition");
        }
        open.push_back({n, value});
        complete = false;
      } else {
        m_prog.push_back({kind, 0});
      }
      if (!complete) continue;
      // Close every open node whose last child this was (postfix: a node after its children).
      while (!open.empty()) {
        if (--open.back().remaining > 0) break;
        const std::size_t node = open.back().node;
        m_prog.push_back(
            {static_cast<node_kind>(kinds[node]), static_cast<index_type>(values[node])});
        open.pop_back();
      }
      closed = open.empty();
    }
    if (!open.empty()) {
      const open_node& o = open.back();
      fail(at(c, o.node) + ": " + std::string(to_string(static_cast<node_kind>(kinds[o.node]))) +
           "(" + std::to_string(values[o.node]) + ") is missing " + std::to_string(o.remaining) +
           " child(ren): the condition ends at node " + std::to_string(end));
    }
    // Leaf slots: positions in the condition's sorted distinct assets.
    const std::size_t first = m_assets.size();
    m_assets.insert(m_assets.end(), leaf_assets.begin(), leaf_assets.end());
    std::sort(m_assets.begin() + static_cast<std::ptrdiff_t>(first), m_assets.end());
    m_assets.erase(
        std::unique(m_assets.begin() + static_cast<std::ptrdiff_t>(first), m_assets.end()),
        m_assets.end());
    m_asset_off.push_back(m_assets.size());
    for (std::size_t k = 0; k < leaf_ops.size(); ++k) {
      const auto it = std::lower_bound(m_assets.begin() + static_cast<std::ptrdiff_t>(first),
                                       m_assets.end(), leaf_assets[k]);
      m_prog[leaf_ops[k]].arg =
          static_cast<index_type>(it - (m_assets.begin() + static_cast<std::ptrdiff_t>(first)));
    }
    m_prog_off.push_back(m_prog.size());
    m_max_nodes = std::max(m_max_nodes, end - begin);
    const auto root = static_cast<node_kind>(kinds[begin]);
    const bool leaves_only = std::all_of(kinds.begin() + static_cast<std::ptrdiff_t>(begin) + 1,
                                         kinds.begin() + static_cast<std::ptrdiff_t>(end),
                                         [](std::uint8_t k) { return k == 0; });
    if (root == node_kind::leaf || (root == node_kind::all && values[begin] > 0 && leaves_only)) {
      m_shape.push_back(shape::all_leaves);
    } else if (root == node_kind::any && values[begin] > 0 && leaves_only) {
      m_shape.push_back(shape::any_leaves);
    } else {
      m_shape.push_back(shape::program);
    }
  }
}

inline bool condition_set::evaluate(index_type d, const std::uint8_t* marks,
                                    std::uint8_t* stack) const noexcept {
  std::size_t top = 0;  // values on the stack
  for (std::size_t p = m_prog_off[d]; p < m_prog_off[d + 1]; ++p) {
    const op o = m_prog[p];
    switch (o.kind) {
      case node_kind::leaf:
        stack[top++] = marks[o.arg];
        break;
      case node_kind::all: {
        std::uint8_t v = 1;
        for (std::size_t k = top - o.arg; k < top; ++k) v &= stack[k];
        top -= o.arg;
        stack[top++] = v;
        break;
      }
      case node_kind::any: {
        std::uint8_t v = 0;
        for (std::size_t k = top - o.arg; k < top; ++k) v |= stack[k];
        top -= o.arg;
        stack[top++] = v;
        break;
      }
    }
  }
  return stack[0] != 0;
}

condition_set::evaluation::evaluation(const condition_set& set)
    : m_set(&set), m_marks(set.m_assets.size(), 0), m_marked(set.size(), 0) {}

std::vector<condition_set::index_type> condition_set::evaluation::result() const {
  const condition_set& s = *m_set;
  std::vector<std::uint8_t> stack(s.m_max_nodes);
  std::vector<index_type> out;
  const auto n_dags = static_cast<index_type>(s.size());
  for (index_type d = 0; d < n_dags; ++d) {
    if (m_marked[d] == 0) continue;
    bool holds = false;
    switch (s.m_shape[d]) {
      case shape::all_leaves:
        holds = m_marked[d] == s.m_asset_off[d + 1] - s.m_asset_off[d];
        break;
      case shape::any_leaves:
        holds = true;
        break;
      case shape::program:
        holds = s.evaluate(d, m_marks.data() + s.m_asset_off[d], stack.data());
        break;
    }
    if (holds) out.push_back(d);
  }
  return out;
}

std::vector<condition_set::index_type> condition_set::ready(
    std::span<const std::int64_t> dags, std::span<const std::int64_t> assets) const {
  if (dags.size() != assets.size()) {
    fail("the pair arrays differ in length: " + std::to_string(dags.size()) + " DAG indexes, " +
         std::to_string(assets.size()) + " asset ids");
  }
  const std::size_t n_dags = size();
  evaluation e(*this);
  for (std::size_t k = 0; k < dags.size(); ++k) {
    const std::int64_t d = dags[k];
    if (d < 0 || static_cast<std::uint64_t>(d) >= n_dags) {
      fail("pair " + std::to_string(k) + ": DAG index " + std::to_string(d) + " is out of range (" +
           std::to_string(n_dags) + " conditions)");
    }
    if (assets[k] < 0) {
      fail("pair " + std::to_string(k) + ": negative asset id " + std::to_string(assets[k]));
    }
    e.mark(static_cast<index_type>(d), assets[k]);
  }
  return e.result();
}

std::vector<std::int64_t> condition_set::missing(std::int64_t dag,
                                                 std::span<const std::int64_t> queued) const {
  if (dag < 0 || static_cast<std::uint64_t>(dag) >= size()) {
    fail("DAG index " + std::to_string(dag) + " is out of range (" + std::to_string(size()) +
         " conditions)");
  }
  std::vector<std::int64_t> have(queued.begin(), queued.end());
  for (std::size_t k = 0; k < have.size(); ++k) {
    if (have[k] < 0) {
      fail("queued[" + std::to_string(k) + "]: negative asset id " + std::to_string(have[k]));
    }
  }
  std::sort(have.begin(), have.end());
  std::vector<std::int64_t> out;
  for (const std::int64_t a : assets(static_cast<index_type>(dag))) {
    if (!std::binary_search(have.begin(), have.end(), a)) out.push_back(a);
  }
  return out;
}

}  // namespace dagcore::assets
