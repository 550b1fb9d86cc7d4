// The asset-condition engine: Airflow's outcomes for &, |, nesting, lists and aliases
// (docs/airflow-behaviour.md section 12), the queue semantics (pairs for other DAGs, duplicates,
// empty input), missing(), every validation error, ready() against a recursive reference on
// random trees (and on random flat all/any-of-leaves conditions, decided without a program
// run), and the pair-by-pair evaluation object.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dagcore/asset_conditions.hpp"

namespace dagcore::assets {
namespace {

using idx = condition_set::index_type;

/// A condition under construction, in prefix order.
struct tree {
  std::vector<std::uint8_t> kinds;
  std::vector<std::int64_t> values;
};

tree leaf(std::int64_t asset) { return {{0}, {asset}}; }

tree node(node_kind kind, const std::vector<tree>& children) {
  tree t{{static_cast<std::uint8_t>(kind)}, {static_cast<std::int64_t>(children.size())}};
  for (const tree& c : children) {
    t.kinds.insert(t.kinds.end(), c.kinds.begin(), c.kinds.end());
    t.values.insert(t.values.end(), c.values.begin(), c.values.end());
  }
  return t;
}

tree all(const std::vector<tree>& children) { return node(node_kind::all, children); }
tree any(const std::vector<tree>& children) { return node(node_kind::any, children); }

condition_set compile(const std::vector<tree>& conditions) {
  std::vector<std::uint8_t> kinds;
  std::vector<std::int64_t> values;
  std::vector<std::size_t> offsets{0};
  for (const tree& t : conditions) {
    kinds.insert(kinds.end(), t.kinds.begin(), t.kinds.end());
    values.insert(values.end(), t.values.begin(), t.values.end());
    offsets.push_back(kinds.size());
  }
  return {kinds, values, offsets};
}

using pairs = std::vector<std::pair<std::int64_t, std::int64_t>>;

std::vector<idx> ready(const condition_set& set, const pairs& queued) {
  std::vector<std::int64_t> dags;
  std::vector<std::int64_t> assets;
  for (const auto& [d, a] : queued) {
    dags.push_back(d);
    assets.push_back(a);
  }
  return set.ready(dags, assets);
}

/// One DAG's condition is ready for the assets queued for it.
bool ready_one(const tree& t, const std::vector<std::int64_t>& queued) {
  const condition_set set = compile({t});
  pairs p;
  for (const auto a : queued) p.emplace_back(0, a);
  return ready(set, p) == std::vector<idx>{0};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(AssetConditions, AndNeedsEveryAsset) {
  const tree t = all({leaf(1), leaf(2)});
  EXPECT_FALSE(ready_one(t, {1}));
  EXPECT_FALSE(ready_one(t, {2}));
  EXPECT_TRUE(ready_one(t, {1, 2}));
  EXPECT_TRUE(ready_one(t, {2, 1, 7}));  // an asset not in the condition changes nothing
}

TEST(AssetConditions, OrNeedsOneAsset) {
  const tree t = any({leaf(1), leaf(2)});
  EXPECT_TRUE(ready_one(t, {1}));
  EXPECT_TRUE(ready_one(t, {2}));
  EXPECT_FALSE(ready_one(t, {3}));
}

TEST(AssetConditions, PlainListIsAll) {
  // schedule=[a, b, c] is AssetAll(a, b, c).
  const tree t = all({leaf(10), leaf(20), leaf(30)});
  EXPECT_FALSE(ready_one(t, {10, 20}));
  EXPECT_TRUE(ready_one(t, {10, 20, 30}));
}

TEST(AssetConditions, SingleAsset) {
  EXPECT_TRUE(ready_one(leaf(5), {5}));
  EXPECT_FALSE(ready_one(leaf(5), {6}));
}

TEST(AssetConditions, Nesting) {
  // (a | b) & (c | (d & e))
  const tree t = all({any({leaf(1), leaf(2)}), any({leaf(3), all({leaf(4), leaf(5)})})});
  EXPECT_TRUE(ready_one(t, {1, 3}));
  EXPECT_TRUE(ready_one(t, {2, 4, 5}));
  EXPECT_FALSE(ready_one(t, {2, 4}));
  EXPECT_FALSE(ready_one(t, {3, 4, 5}));
  // a & (b | c) with a repeated leaf: a & (a | b)
  const tree r = all({leaf(1), any({leaf(1), leaf(2)})});
  EXPECT_TRUE(ready_one(r, {1}));
  EXPECT_FALSE(ready_one(r, {2}));
}

TEST(AssetConditions, EmptyAllIsTrueEmptyAnyIsFalse) {
  // all() / any() of no children; an alias resolving to nothing is any().
  EXPECT_TRUE(ready_one(all({leaf(1), all({})}), {1}));
  EXPECT_FALSE(ready_one(all({leaf(1), any({})}), {1}));
  EXPECT_TRUE(ready_one(any({leaf(1), any({})}), {1}));
  // Without a queued asset of its own the DAG is not looked at, whatever its condition.
  EXPECT_FALSE(ready_one(all({}), {}));
  EXPECT_FALSE(ready_one(all({}), {1}));
}

TEST(AssetConditions, AliasResolvedToSeveralAssetsIsAny) {
  const tree t = all({leaf(1), any({leaf(7), leaf(8)})});
  EXPECT_TRUE(ready_one(t, {1, 8}));
  EXPECT_FALSE(ready_one(t, {7, 8}));
}

TEST(AssetConditions, ManyAssetsInOneCondition) {
  // More than 16 distinct assets: the slot lookup takes its binary-search path.
  std::vector<tree> leaves;
  std::vector<std::int64_t> queued;
  for (std::int64_t a = 100; a < 140; a += 2) {
    leaves.push_back(leaf(a));
    queued.push_back(a);
  }
  const condition_set set = compile({all(leaves), any(leaves)});
  pairs p;
  for (const auto a : queued) p.emplace_back(0, a);
  EXPECT_EQ(ready(set, p), std::vector<idx>{0});
  p.pop_back();
  p.emplace_back(0, 139);  // not in the condition: ignored
  EXPECT_EQ(ready(set, p), std::vector<idx>{});
  EXPECT_EQ(ready(set, {{1, 138}}), std::vector<idx>{1});
  EXPECT_EQ(ready(set, {{1, 101}}), std::vector<idx>{});
  EXPECT_EQ(set.missing(0, std::vector<std::int64_t>(queued.begin() + 1, queued.end())),
            std::vector<std::int64_t>{100});
}

TEST(AssetConditions, PairForAnotherDagOnlyDoesNotCount) {
  const condition_set set = compile({all({leaf(1), leaf(2)}), leaf(1), any({leaf(2), leaf(3)})});
  EXPECT_EQ(ready(set, {{1, 1}, {0, 2}}), std::vector<idx>{1});
  EXPECT_EQ(ready(set, {{1, 1}, {0, 2}, {0, 1}}), (std::vector<idx>{0, 1}));
  EXPECT_EQ(ready(set, {{0, 2}}), std::vector<idx>{});
  EXPECT_EQ(ready(set, {{2, 1}}), std::vector<idx>{});  // asset 1 is not in DAG 2's condition
  EXPECT_EQ(ready(set, {{2, 3}, {0, 1}, {0, 2}}), (std::vector<idx>{0, 2}));
}

TEST(AssetConditions, DuplicatePairsAndOrder) {
  const condition_set set = compile({all({leaf(1), leaf(2)}), leaf(3)});
  EXPECT_EQ(ready(set, {{0, 1}, {0, 1}, {0, 1}}), std::vector<idx>{});
  EXPECT_EQ(ready(set, {{1, 3}, {0, 2}, {1, 3}, {0, 1}, {0, 2}}), (std::vector<idx>{0, 1}));
}

TEST(AssetConditions, EmptyInput) {
  const condition_set set = compile({leaf(1), all({})});
  EXPECT_EQ(ready(set, {}), std::vector<idx>{});
  const condition_set none;
  EXPECT_EQ(none.size(), 0U);
  EXPECT_EQ(ready(none, {}), std::vector<idx>{});
  const condition_set compiled_none({}, {}, std::vector<std::size_t>{0});
  EXPECT_EQ(compiled_none.size(), 0U);
}

TEST(AssetConditions, AssetsAndMissing) {
  const condition_set set = compile({all({leaf(9), any({leaf(3), leaf(9)}), leaf(4)}), leaf(1)});
  const auto a = set.assets(0);
  EXPECT_EQ(std::vector<std::int64_t>(a.begin(), a.end()), (std::vector<std::int64_t>{3, 4, 9}));
  EXPECT_EQ(set.missing(0, std::vector<std::int64_t>{9, 5}), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(set.missing(0, std::vector<std::int64_t>{}), (std::vector<std::int64_t>{3, 4, 9}));
  EXPECT_EQ(set.missing(1, std::vector<std::int64_t>{1}), std::vector<std::int64_t>{});
  EXPECT_EQ(error_of([&] { (void)set.missing(2, {}); }),
            "DAG index 2 is out of range (2 conditions)");
  EXPECT_EQ(error_of([&] { (void)set.missing(-1, {}); }),
            "DAG index -1 is out of range (2 conditions)");
  EXPECT_EQ(error_of([&] {
              (void)set.missing(0, std::vector<std::int64_t>{1, -4});
            }),
            "queued[1]: negative asset id -4");
}

std::string compile_error(std::vector<std::uint8_t> kinds, std::vector<std::int64_t> values,
                          std::vector<std::size_t> offsets) {
  return error_of([&] { condition_set set(kinds, values, offsets); });
}

TEST(AssetConditions, StructureErrors) {
  EXPECT_EQ(compile_error({0, 0}, {1}, {0, 2}),
            "kinds and values differ in length: 2 kinds, 1 values");
  EXPECT_EQ(compile_error({}, {}, {}), "offsets must hold at least one entry (0), got none");
  EXPECT_EQ(compile_error({0}, {1}, {1, 1}), "offsets[0] must be 0, got 1");
  EXPECT_EQ(compile_error({0, 0}, {1, 2}, {0, 2, 1}),
            "offsets[2] = 1 must lie between offsets[1] = 2 and the node count 2");
  EXPECT_EQ(compile_error({0, 0}, {1, 2}, {0, 3}),
            "offsets[1] = 3 must lie between offsets[0] = 0 and the node count 2");
  EXPECT_EQ(compile_error({0, 0}, {1, 2}, {0, 1}), "the last offset (1) must be the node count 2");
  EXPECT_EQ(compile_error({0}, {1}, {0, 1, 1}), "condition 1 is empty (no root node)");
  EXPECT_EQ(compile_error({0, 3}, {1, 2}, {0, 1, 2}),
            "condition 1, node 1: unknown node kind 3 (0 = leaf, 1 = all, 2 = any)");
  EXPECT_EQ(compile_error({1, 0}, {1, -5}, {0, 2}), "condition 0, node 1: negative asset id -5");
  EXPECT_EQ(compile_error({2, 0}, {-1, 1}, {0, 2}),
            "condition 0, node 0: any with a negative child count -1");
  EXPECT_EQ(compile_error({1, 0, 0}, {3, 1, 2}, {0, 3}),
            "condition 0, node 0: all(3) has more children than the 2 nodes left in the condition");
  // all(2) whose second child is any(2) with one child: the inner node runs past the end.
  EXPECT_EQ(compile_error({1, 0, 2, 0}, {2, 1, 2, 3}, {0, 4}),
            "condition 0, node 2: any(2) has more children than the 1 nodes left in the condition");
  // all(2) -> all(1) -> leaf, then the condition ends: the outer all misses a child.
  EXPECT_EQ(compile_error({1, 1, 0}, {2, 1, 4}, {0, 3}),
            "condition 0, node 0: all(2) is missing 1 child(ren): the condition ends at node 3");
  // A child count past the condition's end, reaching into the next condition, is refused.
  EXPECT_EQ(compile_error({1, 0, 0}, {2, 1, 2}, {0, 2, 3}),
            "condition 0, node 0: all(2) has more children than the 1 nodes left in the condition");
  EXPECT_EQ(compile_error({0, 0}, {1, 2}, {0, 2}),
            "condition 0, node 1: a node after the end of the condition's tree (the tree ends at "
            "node 0)");
  EXPECT_EQ(compile_error({0, 1, 0, 0}, {7, 1, 1, 2}, {0, 1, 4}),
            "condition 1, node 3: a node after the end of the condition's tree (the tree ends at "
            "node 2)");
}

TEST(AssetConditions, PairErrors) {
  const condition_set set = compile({leaf(1), leaf(2)});
  EXPECT_EQ(
      error_of([&] { (void)set.ready(std::vector<std::int64_t>{0}, std::vector<std::int64_t>{}); }),
      "the pair arrays differ in length: 1 DAG indexes, 0 asset ids");
  EXPECT_EQ(error_of([&] {
              (void)ready(set, {{0, 1}, {2, 1}});
            }),
            "pair 1: DAG index 2 is out of range (2 conditions)");
  EXPECT_EQ(error_of([&] {
              (void)ready(set, {{-1, 1}});
            }),
            "pair 0: DAG index -1 is out of range (2 conditions)");
  EXPECT_EQ(error_of([&] {
              (void)ready(set, {{0, 1}, {1, 2}, {1, -2}});
            }),
            "pair 2: negative asset id -2");
}

// Random trees against a recursive reference (Airflow's all()/any() over the children).
struct ref_node {
  node_kind kind = node_kind::leaf;
  std::int64_t asset = 0;
  std::vector<ref_node> children;
};

ref_node random_tree(std::mt19937_64& rng, int depth) {
  ref_node n;
  const auto pick = std::uniform_int_distribution<int>(0, 9)(rng);
  if (depth == 0 || pick < 4) {
    n.asset = std::uniform_int_distribution<std::int64_t>(0, 11)(rng);
    return n;
  }
  n.kind = pick < 7 ? node_kind::all : node_kind::any;
  const int count = std::uniform_int_distribution<int>(0, 4)(rng);
  for (int k = 0; k < count; ++k) n.children.push_back(random_tree(rng, depth - 1));
  return n;
}

tree to_tree(const ref_node& n) {
  if (n.kind == node_kind::leaf) return leaf(n.asset);
  std::vector<tree> children;
  for (const ref_node& c : n.children) children.push_back(to_tree(c));
  return node(n.kind, children);
}

bool reference(const ref_node& n, const std::set<std::int64_t>& queued) {
  switch (n.kind) {
    case node_kind::leaf:
      return queued.count(n.asset) != 0;
    case node_kind::all:
      return std::all_of(n.children.begin(), n.children.end(),
                         [&](const ref_node& c) { return reference(c, queued); });
    case node_kind::any:
      return std::any_of(n.children.begin(), n.children.end(),
                         [&](const ref_node& c) { return reference(c, queued); });
  }
  return false;
}

void collect_assets(const ref_node& n, std::set<std::int64_t>& out) {
  if (n.kind == node_kind::leaf) out.insert(n.asset);
  for (const ref_node& c : n.children) collect_assets(c, out);
}

TEST(AssetConditions, RandomTreesAgreeWithReference) {
  std::mt19937_64 rng(20'261'207);
  for (int round = 0; round < 200; ++round) {
    const int n_dags = std::uniform_int_distribution<int>(1, 12)(rng);
    std::vector<ref_node> refs;
    std::vector<tree> trees;
    for (int d = 0; d < n_dags; ++d) {
      refs.push_back(random_tree(rng, 4));
      trees.push_back(to_tree(refs.back()));
    }
    const condition_set set = compile(trees);
    pairs queued;
    std::vector<std::set<std::int64_t>> per_dag(static_cast<std::size_t>(n_dags));
    const int n_pairs = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int k = 0; k < n_pairs; ++k) {
      const auto d = std::uniform_int_distribution<std::int64_t>(0, n_dags - 1)(rng);
      const auto a = std::uniform_int_distribution<std::int64_t>(0, 13)(rng);
      queued.emplace_back(d, a);
      per_dag[static_cast<std::size_t>(d)].insert(a);
    }
    std::vector<idx> expected;
    for (int d = 0; d < n_dags; ++d) {
      const auto& q = per_dag[static_cast<std::size_t>(d)];
      std::set<std::int64_t> mine;
      collect_assets(refs[static_cast<std::size_t>(d)], mine);
      const bool has_own =
          std::any_of(q.begin(), q.end(), [&](std::int64_t a) { return mine.count(a) != 0; });
      if (has_own && reference(refs[static_cast<std::size_t>(d)], q)) {
        expected.push_back(static_cast<idx>(d));
      }
    }
    ASSERT_EQ(ready(set, queued), expected) << "round " << round;
  }
}

// The usual shapes are decided from the count of distinct marked assets (no program run): a
// leaf, all(leaves) and any(leaves), with repeated leaves and repeated pairs.
TEST(AssetConditions, FlatShapesCountDistinctAssets) {
  const condition_set set = compile({
      all({leaf(1), leaf(1), leaf(2)}),  // 0: needs 1 and 2 (1 twice in the condition)
      any({leaf(3), leaf(3)}),           // 1: 3
      leaf(4),                           // 2
      all({leaf(5), all({})}),           // 3: not flat (a nested empty all): the program
      any({leaf(6), any({})}),           // 4: not flat either
  });
  EXPECT_EQ(ready(set, {{0, 1}, {0, 1}, {0, 1}}), std::vector<idx>{});
  EXPECT_EQ(ready(set, {{0, 1}, {0, 1}, {0, 2}}), std::vector<idx>{0});
  EXPECT_EQ(ready(set, {{1, 3}, {1, 3}, {2, 4}, {2, 4}}), (std::vector<idx>{1, 2}));
  EXPECT_EQ(ready(set, {{0, 2}, {0, 9}, {1, 9}, {2, 5}}), std::vector<idx>{});
  EXPECT_EQ(ready(set, {{3, 5}, {4, 6}}), (std::vector<idx>{3, 4}));
}

TEST(AssetConditions, RandomFlatConditionsAgreeWithReference) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 300; ++round) {
    const int n_dags = std::uniform_int_distribution<int>(1, 8)(rng);
    std::vector<ref_node> refs;
    std::vector<tree> trees;
    for (int d = 0; d < n_dags; ++d) {
      ref_node r;
      r.kind = std::uniform_int_distribution<int>(0, 1)(rng) == 0 ? node_kind::all : node_kind::any;
      const int count = std::uniform_int_distribution<int>(1, 6)(rng);
      for (int k = 0; k < count; ++k) {
        ref_node l;
        l.asset = std::uniform_int_distribution<std::int64_t>(0, 5)(rng);  // repeats likely
        r.children.push_back(l);
      }
      refs.push_back(r);
      trees.push_back(to_tree(r));
    }
    const condition_set set = compile(trees);
    pairs queued;
    std::vector<std::set<std::int64_t>> per_dag(static_cast<std::size_t>(n_dags));
    const int n_pairs = std::uniform_int_distribution<int>(0, 20)(rng);
    for (int k = 0; k < n_pairs; ++k) {
      const auto d = std::uniform_int_distribution<std::int64_t>(0, n_dags - 1)(rng);
      const auto a = std::uniform_int_distribution<std::int64_t>(0, 7)(rng);
      queued.emplace_back(d, a);
      per_dag[static_cast<std::size_t>(d)].insert(a);
    }
    std::vector<idx> expected;
    for (int d = 0; d < n_dags; ++d) {
      const auto& q = per_dag[static_cast<std::size_t>(d)];
      std::set<std::int64_t> mine;
      collect_assets(refs[static_cast<std::size_t>(d)], mine);
      const bool has_own =
          std::any_of(q.begin(), q.end(), [&](std::int64_t a) { return mine.count(a) != 0; });
      if (has_own && reference(refs[static_cast<std::size_t>(d)], q)) {
        expected.push_back(static_cast<idx>(d));
      }
    }
    ASSERT_EQ(ready(set, queued), expected) << "round " << round;
  }
}

// The evaluation object gives ready()'s answer, pair by pair, and can be used for several sets.
TEST(AssetConditions, EvaluationMarksPairByPair) {
  const condition_set set = compile({all({leaf(1), any({leaf(2), leaf(3)})}), any({leaf(1)})});
  condition_set::evaluation e(set);
  EXPECT_EQ(e.result(), std::vector<idx>{});
  e.mark(0, 1);
  EXPECT_EQ(e.result(), std::vector<idx>{});
  e.mark(0, 9);  // not in DAG 0's condition: nothing
  e.mark(1, 2);  // not in DAG 1's condition
  EXPECT_EQ(e.result(), std::vector<idx>{});
  e.mark(0, 3);
  e.mark(0, 3);
  EXPECT_EQ(e.result(), std::vector<idx>{0});
  e.mark(1, 1);
  EXPECT_EQ(e.result(), (std::vector<idx>{0, 1}));
  EXPECT_EQ(ready(set, {{0, 1}, {0, 9}, {1, 2}, {0, 3}, {0, 3}, {1, 1}}), (std::vector<idx>{0, 1}));
  const condition_set none;
  EXPECT_EQ(condition_set::evaluation(none).result(), std::vector<idx>{});
}

TEST(AssetConditions, RandomDescriptionsCompileOrThrow) {
  // Arbitrary arrays either compile (and then evaluate any valid pairs) or throw
  // std::invalid_argument; nothing else (run under ASan/UBSan by `make sanitize`).
  std::mt19937_64 rng(7);
  int compiled = 0;
  for (int round = 0; round < 3000; ++round) {
    const auto n = std::uniform_int_distribution<std::size_t>(0, 9)(rng);
    std::vector<std::uint8_t> kinds(n);
    std::vector<std::int64_t> values(n);
    for (std::size_t k = 0; k < n; ++k) {
      kinds[k] = static_cast<std::uint8_t>(std::uniform_int_distribution<int>(0, 3)(rng));
      values[k] = std::uniform_int_distribution<std::int64_t>(-1, 4)(rng);
    }
    std::vector<std::size_t> offsets{0};
    for (std::size_t k = 1; k < n; ++k) {
      if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) offsets.push_back(k);
    }
    offsets.push_back(n);
    try {
      const condition_set set(kinds, values, offsets);
      ++compiled;
      pairs p;
      for (std::size_t d = 0; d < set.size(); ++d) {
        for (std::int64_t a = 0; a < 5; ++a) {
          if (std::uniform_int_distribution<int>(0, 1)(rng) == 1) {
            p.emplace_back(static_cast<std::int64_t>(d), a);
          }
        }
      }
      const auto out = ready(set, p);
      EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
      for (const idx d : out) EXPECT_LT(d, set.size());
    } catch (const std::invalid_argument&) {
    }
  }
  EXPECT_GE(compiled, 50);  // the generator does reach valid descriptions (100 with this seed)
}

}  // namespace
}  // namespace dagcore::assets
