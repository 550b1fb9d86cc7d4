import { describe, expect, it } from "vitest";
import type { DependencyGraph, GraphNodeType } from "../api/types";
import { DEFAULT_LAYOUT, countCrossings, edgePath, layoutGraph, type Layout } from "./graphLayout";

const node = (id: string) => ({ id, label: id.split(":")[1], type: id.split(":")[0] as GraphNodeType });

function graph(edges: [string, string][], extra: string[] = []): DependencyGraph {
  const ids = [...new Set([...edges.flat(), ...extra])];
  return { nodes: ids.map(node), edges: edges.map(([s, t]) => ({ source_id: s, target_id: t })) };
}

const layerOf = (layout: Layout) => Object.fromEntries(layout.nodes.map((n) => [n.id, n.layer]));
const placed = (layout: Layout, id: string) => {
  const found = layout.nodes.find((n) => n.id === id);
  if (!found) throw new Error(`${id} not placed`);
  return found;
};

describe("layoutGraph", () => {
  it("lays a producer → asset → consumer chain out left to right on one row", () => {
    const layout = layoutGraph(graph([["dag:p", "asset:1"], ["asset:1", "dag:c"]]));
    expect(layerOf(layout)).toEqual({ "dag:p": 0, "asset:1": 1, "dag:c": 2 });
    const [p, a, c] = ["dag:p", "asset:1", "dag:c"].map((id) => placed(layout, id));
    expect(p.x).toBeLessThan(a.x);
    expect(a.x).toBeLessThan(c.x);
    expect(new Set([p.y, a.y, c.y]).size).toBe(1);
    const { nodeWidth, columnGap, padding } = DEFAULT_LAYOUT;
    expect(layout.width).toBe(2 * padding + 3 * nodeWidth + 2 * columnGap);
    // Each edge runs from the right side of its source to the left side of its target.
    const first = layout.edges.find((e) => e.source === "dag:p");
    expect(first?.points).toEqual([
      { x: p.x + nodeWidth, y: p.y + p.height / 2 },
      { x: a.x, y: a.y + a.height / 2 },
    ]);
    expect(first?.back).toBe(false);
  });

  it("moves a lone producer next to what it feeds and routes long edges through virtual slots", () => {
    // producer → raw → cleaner → clean → reporter, raw → reporter too, and a feed into reporter.
    const layout = layoutGraph(
      graph([
        ["dag:producer", "asset:raw"],
        ["asset:raw", "dag:cleaner"],
        ["dag:cleaner", "asset:clean"],
        ["asset:clean", "dag:reporter"],
        ["asset:raw", "dag:reporter"],
        ["dag:feed", "asset:ext"],
        ["asset:ext", "dag:reporter"],
      ]),
    );
    const layers = layerOf(layout);
    expect(layers["dag:reporter"]).toBe(4);
    expect(layers["asset:ext"]).toBe(3);
    expect(layers["dag:feed"]).toBe(2);
    // raw (layer 1) → reporter (layer 4) passes layers 2 and 3: two virtual slots, 2 points each.
    const long = layout.edges.find((e) => e.source === "asset:raw" && e.target === "dag:reporter");
    expect(long?.points).toHaveLength(6);
    // ... and never through a real node of those layers.
    for (const point of long?.points.slice(1, -1) ?? []) {
      for (const other of layout.nodes) {
        const inside =
          point.x > other.x && point.x < other.x + other.width && point.y > other.y && point.y < other.y + other.height;
        expect(inside, `${other.id}`).toBe(false);
      }
    }
    // Nodes of one layer never overlap.
    for (const a of layout.nodes) {
      for (const b of layout.nodes) {
        if (a.id !== b.id && a.layer === b.layer) expect(Math.abs(a.y - b.y)).toBeGreaterThanOrEqual(a.height);
      }
    }
  });

  it("orders each layer to avoid crossings", () => {
    // Given in an order that crosses: a → y, b → x with x listed before y.
    const input: DependencyGraph = {
      nodes: ["dag:a", "dag:b", "asset:x", "asset:y"].map(node),
      edges: [
        { source_id: "dag:a", target_id: "asset:y" },
        { source_id: "dag:b", target_id: "asset:x" },
      ],
    };
    const layout = layoutGraph(input);
    expect(countCrossings(layout)).toBe(0);
    expect(placed(layout, "asset:y").y).toBeLessThan(placed(layout, "asset:x").y);
  });

  it("breaks a cycle with one back edge and still places every node", () => {
    const layout = layoutGraph(graph([["dag:a", "asset:1"], ["asset:1", "dag:b"], ["dag:b", "asset:2"], ["asset:2", "dag:a"]]));
    expect(layout.nodes).toHaveLength(4);
    const back = layout.edges.filter((e) => e.back);
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ source: "asset:2", target: "dag:a" });
    // A back edge starts at its source's left side and ends at its target's right side.
    const [start, end] = [back[0].points[0], back[0].points[back[0].points.length - 1]];
    expect(start.x).toBe(placed(layout, "asset:2").x);
    expect(end.x).toBe(placed(layout, "dag:a").x + DEFAULT_LAYOUT.nodeWidth);
  });

  it("cuts a cycle at the edge leading back towards the sources", () => {
    // dash produces raw again: producer → raw → cleaner → dash → raw. Listed dash first.
    const layout = layoutGraph({
      nodes: ["dag:dash", "asset:raw", "dag:cleaner", "dag:producer"].map(node),
      edges: [
        { source_id: "dag:dash", target_id: "asset:raw" },
        { source_id: "asset:raw", target_id: "dag:cleaner" },
        { source_id: "dag:cleaner", target_id: "dag:dash" },
        { source_id: "dag:producer", target_id: "asset:raw" },
      ],
    });
    expect(layout.edges.filter((e) => e.back).map((e) => `${e.source}->${e.target}`)).toEqual(["dag:dash->asset:raw"]);
    expect(layerOf(layout)).toEqual({ "dag:producer": 0, "asset:raw": 1, "dag:cleaner": 2, "dag:dash": 3 });
  });

  it("keeps lone nodes, drops self loops, duplicates and edges to unknown nodes", () => {
    const layout = layoutGraph({
      nodes: [node("dag:alone"), node("dag:a"), node("asset:1"), node("dag:a")],
      edges: [
        { source_id: "dag:a", target_id: "asset:1" },
        { source_id: "dag:a", target_id: "asset:1" },
        { source_id: "dag:a", target_id: "dag:a" },
        { source_id: "dag:a", target_id: "asset:404" },
      ],
    });
    expect(layout.nodes.map((n) => n.id).sort()).toEqual(["asset:1", "dag:a", "dag:alone"]);
    expect(layout.edges).toHaveLength(1);
    expect(layoutGraph({ nodes: [], edges: [] })).toEqual({
      width: 2 * DEFAULT_LAYOUT.padding,
      height: 2 * DEFAULT_LAYOUT.padding,
      nodes: [],
      edges: [],
    });
  });
});

describe("edgePath", () => {
  it("draws straight along a row and a horizontal-tangent curve between rows", () => {
    expect(edgePath([{ x: 0, y: 10 }, { x: 50, y: 10 }])).toBe("M0,10 L50,10");
    expect(edgePath([{ x: 0, y: 0 }, { x: 100, y: 40 }])).toBe("M0,0 C50,0 50,40 100,40");
    expect(edgePath([])).toBe("");
  });
});
