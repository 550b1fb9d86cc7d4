// The asset-condition engine: every asset-scheduled DAG's condition (a boolean expression of
// AssetAll / AssetAny over assets, docs/airflow-behaviour.md section 12) compiled once into one
// condition_set, then evaluated for all DAGs in one call against the queued (dag, asset) pairs
// (Airflow's asset_dag_run_queue rows).
//
// Contract
// - Description: condition i is the nodes [offsets[i], offsets[i + 1]) of two parallel arrays,
//   kinds and values, in prefix order: all(n) / any(n) (value = n, the child count) followed by
//   its n children, or leaf (value = the asset id, >= 0). Each condition is exactly one tree. An
//   empty all(0) is true and an empty any(0) false (Airflow's all() / any() of the children); an
//   alias that resolves to nothing is written as any(0).
// - Errors (std::invalid_argument, naming the value and its position): offsets not starting at
//   0, decreasing or past the arrays; kinds and values of different lengths; an empty condition;
//   an unknown node kind; a negative child count or asset id; a node whose children run past its
//   condition's end; nodes left after a condition's tree. In evaluation: pair arrays of different
//   lengths, a DAG index out of range, a negative asset id (naming the pair's position).
// - ready(dags, assets): the DAGs, sorted ascending, that have at least one queued pair for an
//   asset of their condition and whose condition holds with "the asset is queued for this DAG"
//   as the truth of each leaf. A DAG without such a pair is never ready (Airflow only looks at
//   DAGs with queue rows). Pairs may repeat and come in any order; a pair for an asset the DAG's
//   condition does not mention is ignored.
// - evaluation: ready() one pair at a time (mark() each, then result()), for a caller that
//   reads the pairs from elsewhere; mark() does not check its arguments (the caller does). One
//   evaluation belongs to one thread; it refers to its condition_set, which must outlive it.
// - missing(dag, assets): the distinct asset ids of the DAG's leaves that are not among the
//   given queued assets, sorted ascending.
// - Complexity: construction O(N log N) for N nodes; ready O(P log L + S + D + T) for P pairs, L
//   the largest number of distinct assets of one condition, S distinct leaves in all, D DAGs and
//   T the nodes of the DAGs touched (a leaf, or an all/any of leaves only, the usual shapes,
//   costs no program run: all of them marked, or any). Nothing is allocated per DAG: one call
//   allocates its work space (S bytes, D counters and one value stack) once.
// - Thread safety: a condition_set is immutable after construction; its const members may be
//   called concurrently. Exception guarantee: strong.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace dagcore::assets {

/// A node of the prefix description.
enum class node_kind : std::uint8_t {
  leaf = 0,  ///< value: asset id
  all = 1,   ///< value: child count; true when every child is (AssetAll, `&`, a list)
  any = 2,   ///< value: child count; true when a child is (AssetAny, `|`, an alias)
};

constexpr std::string_view to_string(node_kind k) noexcept {
  switch (k) {
    case node_kind::leaf:
      return "leaf";
    case node_kind::all:
      return "all";
    case node_kind::any:
      return "any";
  }
  return "";
}

/// Every consumer DAG's condition, compiled for bulk evaluation.
class condition_set {
 public:
  using index_type = std::uint32_t;

  condition_set() = default;  ///< no conditions
  /// Compiles the description (see the contract for the layout and the errors).
  condition_set(std::span<const std::uint8_t> kinds, std::span<const std::int64_t> values,
                std::span<const std::size_t> offsets);

  /// The number of conditions (DAGs).
  [[nodiscard]] std::size_t size() const noexcept { return m_asset_off.size() - 1; }
  /// The distinct asset ids of condition d's leaves, sorted.
  [[nodiscard]] std::span<const std::int64_t> assets(index_type d) const noexcept {
    return {m_assets.data() + m_asset_off[d], m_assets.data() + m_asset_off[d + 1]};
  }

  /// The DAGs whose condition holds for the queued pairs (dags[k], assets[k]), sorted.
  [[nodiscard]] std::vector<index_type> ready(std::span<const std::int64_t> dags,
                                              std::span<const std::int64_t> assets) const;

  /// ready() one pair at a time, for a caller that reads the pairs from somewhere else (the
  /// binding reads them from Python tuples): mark() each pair, then result(). The arguments are
  /// not checked: dag < size() and asset >= 0 are the caller's to ensure.
  class evaluation {
   public:
    explicit evaluation(const condition_set& set);
    /// Marks the asset queued for the DAG (nothing when its condition does not mention it).
    void mark(index_type dag, std::int64_t asset) noexcept;
    /// The DAGs whose condition holds for the marked pairs, sorted.
    [[nodiscard]] std::vector<index_type> result() const;

   private:
    const condition_set* m_set;
    std::vector<std::uint8_t> m_marks;  // per (DAG, distinct asset) slot
    std::vector<index_type> m_marked;   // distinct assets marked, per DAG
  };
  /// Condition d's leaf assets that are not queued, sorted (std::invalid_argument for a bad d).
  [[nodiscard]] std::vector<std::int64_t> missing(std::int64_t dag,
                                                  std::span<const std::int64_t> queued) const;

 private:
  // Compiled program, postfix, per condition [m_prog_off[d], m_prog_off[d + 1]): an op is a
  // leaf reading slot `arg` of the DAG's marks, or all/any over the top `arg` stack values.
  struct op {
    node_kind kind;
    index_type arg;
  };

  // How a condition is decided once its marks are set: the usual shapes need no program run.
  enum class shape : std::uint8_t {
    program,     // run the postfix program
    all_leaves,  // a leaf, or all(n > 0) of leaves: true when every distinct asset is marked
    any_leaves,  // any(n > 0) of leaves: true when an asset is marked
  };

  [[nodiscard]] bool evaluate(index_type d, const std::uint8_t* marks,
                              std::uint8_t* stack) const noexcept;
  [[nodiscard]] std::ptrdiff_t slot_of(index_type d, std::int64_t asset) const noexcept;

  std::vector<shape> m_shape;  // per condition
  std::vector<op> m_prog;
  std::vector<std::size_t> m_prog_off{0};
  std::vector<std::int64_t> m_assets;  // distinct assets per condition, sorted (leaf slots)
  std::vector<std::size_t> m_asset_off{0};
  std::size_t m_max_nodes = 0;
};

// Inline: the binding calls mark() once per queued row.
inline std::ptrdiff_t condition_set::slot_of(index_type d, std::int64_t asset) const noexcept {
  const auto row = assets(d);
  if (row.size() <= 16) {  // the usual few assets: a scan beats a binary search's branches
    for (std::size_t k = 0; k < row.size(); ++k) {
      if (row[k] == asset) return static_cast<std::ptrdiff_t>(k);
    }
    return -1;
  }
  const auto* it = std::lower_bound(row.data(), row.data() + row.size(), asset);
  if (it == row.data() + row.size() || *it != asset) return -1;
  return it - row.data();
}

inline void condition_set::evaluation::mark(index_type dag, std::int64_t asset) noexcept {
  const std::ptrdiff_t slot = m_set->slot_of(dag, asset);
  if (slot < 0) return;
  std::uint8_t& m = m_marks[m_set->m_asset_off[dag] + static_cast<std::size_t>(slot)];
  m_marked[dag] += 1U - m;
  m = 1;
}

}  // namespace dagcore::assets
