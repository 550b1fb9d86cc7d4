// A small layered ("Sugiyama") layout of the asset dependency graph, left to right: producers
// on the left, consumers on the right (docs/airflow-rest-api.md D.7). No graph library:
//
// 1. cycles are broken by Eades, Lin and Smyth's greedy ordering (sources first, sinks last, else
//    the node with the most outgoing edges, fed from upstream); an edge pointing backwards in that order is laid out
//    reversed and drawn as a back edge;
// 2. layers: the longest path from a source, then every node moved as far right as its
//    successors allow (so a lone producer sits next to what it feeds, not in column 0);
// 3. an edge spanning several layers gets a virtual node in each layer between, so it is routed
//    around the nodes there instead of through them;
// 4. the order within each layer: a few barycenter sweeps (down, then up) to cut crossings;
// 5. coordinates: fixed-size slots, each layer centred vertically.
import type { DependencyGraph, GraphNode } from "../api/types";

export interface LayoutOptions {
  nodeWidth: number;
  nodeHeight: number;
  columnGap: number;
  rowGap: number;
  padding: number;
}

export const DEFAULT_LAYOUT: LayoutOptions = {
  nodeWidth: 200,
  nodeHeight: 40,
  columnGap: 64,
  rowGap: 18,
  padding: 12,
};

export interface PlacedNode extends GraphNode {
  x: number;
  y: number;
  width: number;
  height: number;
  layer: number;
  order: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface PlacedEdge {
  source: string;
  target: string;
  /** From the source's side to the target's side, through the virtual slots between. */
  points: Point[];
  /** Laid out reversed to break a cycle (it points right to left). */
  back: boolean;
}

export interface Layout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

const SWEEPS = 4;

/** Lay out `graph` (nodes in their given order as the tie-break; unknown edge ends ignored). */
export function layoutGraph(graph: DependencyGraph, options: LayoutOptions = DEFAULT_LAYOUT): Layout {
  const byId = new Map<string, GraphNode>();
  for (const node of graph.nodes) if (!byId.has(node.id)) byId.set(node.id, node);
  const ids = [...byId.keys()];
  const index = new Map(ids.map((id, i) => [id, i]));
  const seen = new Set<string>();
  const edges: { source: string; target: string }[] = [];
  for (const edge of graph.edges) {
    const key = `${edge.source_id}\u0000${edge.target_id}`;
    if (!byId.has(edge.source_id) || !byId.has(edge.target_id) || edge.source_id === edge.target_id) continue;
    if (seen.has(key)) continue;
    seen.add(key);
    edges.push({ source: edge.source_id, target: edge.target_id });
  }

  // 1. Break cycles (Eades, Lin and Smyth's greedy ordering): peel sinks to the back and sources
  // to the front; when neither is left, put the node with the most (outgoing - incoming) edges
  // next. Edges that point backwards in that order are the back edges.
  const remaining = new Set(ids);
  const inCount = new Map(ids.map((id) => [id, 0]));
  const outCount = new Map(ids.map((id) => [id, 0]));
  const outs = new Map<string, string[]>(ids.map((id) => [id, []]));
  const ins = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const edge of edges) {
    outs.get(edge.source)?.push(edge.target);
    ins.get(edge.target)?.push(edge.source);
    outCount.set(edge.source, (outCount.get(edge.source) ?? 0) + 1);
    inCount.set(edge.target, (inCount.get(edge.target) ?? 0) + 1);
  }
  const front: string[] = [];
  const rear: string[] = [];
  const take = (id: string) => {
    remaining.delete(id);
    for (const target of outs.get(id) ?? []) inCount.set(target, (inCount.get(target) ?? 0) - 1);
    for (const source of ins.get(id) ?? []) outCount.set(source, (outCount.get(source) ?? 0) - 1);
  };
  while (remaining.size) {
    let changed = true;
    while (changed) {
      changed = false;
      for (const id of ids) {
        if (!remaining.has(id)) continue;
        if (outCount.get(id) === 0) {
          rear.unshift(id);
          take(id);
          changed = true;
        } else if (inCount.get(id) === 0) {
          front.push(id);
          take(id);
          changed = true;
        }
      }
    }
    // Ties go to the node fed most by nodes already placed (the cycle's entry from upstream).
    const placed = new Set(front);
    const score = (id: string) => [
      (outCount.get(id) ?? 0) - (inCount.get(id) ?? 0),
      (ins.get(id) ?? []).filter((source) => placed.has(source)).length,
    ];
    let best: string | undefined;
    let bestScore: number[] = [];
    for (const id of ids) {
      if (!remaining.has(id)) continue;
      const mine = score(id);
      if (best === undefined || mine[0] > bestScore[0] || (mine[0] === bestScore[0] && mine[1] > bestScore[1])) {
        best = id;
        bestScore = mine;
      }
    }
    if (best !== undefined) {
      front.push(best);
      take(best);
    }
  }
  const rank = new Map([...front, ...rear].map((id, i) => [id, i]));
  const back = new Set(
    edges
      .filter((edge) => (rank.get(edge.source) ?? 0) > (rank.get(edge.target) ?? 0))
      .map((edge) => `${edge.source}\u0000${edge.target}`),
  );
  // The acyclic edges used for layering (back edges reversed).
  const dagEdges = edges.map((edge) => {
    const isBack = back.has(`${edge.source}\u0000${edge.target}`);
    return { from: isBack ? edge.target : edge.source, to: isBack ? edge.source : edge.target, edge, isBack };
  });
  const preds = new Map<string, string[]>(ids.map((id) => [id, []]));
  const succs = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const { from, to } of dagEdges) {
    if (!succs.get(from)?.includes(to)) {
      succs.get(from)?.push(to);
      preds.get(to)?.push(from);
    }
  }

  // 2. Layers: topological order (stable), longest path, then as far right as successors allow.
  const indegree = new Map(ids.map((id) => [id, preds.get(id)?.length ?? 0]));
  const ready = ids.filter((id) => indegree.get(id) === 0);
  const topo: string[] = [];
  while (ready.length) {
    ready.sort((a, b) => (index.get(a) ?? 0) - (index.get(b) ?? 0));
    const id = ready.shift() as string;
    topo.push(id);
    for (const next of succs.get(id) ?? []) {
      const left = (indegree.get(next) ?? 0) - 1;
      indegree.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  const layer = new Map<string, number>();
  for (const id of topo) {
    const ps = preds.get(id) ?? [];
    layer.set(id, ps.length ? Math.max(...ps.map((p) => (layer.get(p) ?? 0) + 1)) : 0);
  }
  for (const id of [...topo].reverse()) {
    const ss = succs.get(id) ?? [];
    if (ss.length) layer.set(id, Math.max(layer.get(id) ?? 0, Math.min(...ss.map((s) => layer.get(s) ?? 0)) - 1));
  }
  const layerCount = ids.length ? Math.max(...ids.map((id) => layer.get(id) ?? 0)) + 1 : 0;

  // 3. Virtual nodes for long edges: each layout edge becomes a chain of unit-length links.
  const layers: string[][] = Array.from({ length: layerCount }, () => []);
  for (const id of topo) layers[layer.get(id) ?? 0].push(id);
  const up = new Map<string, string[]>(); // neighbours in the layer to the left
  const down = new Map<string, string[]>(); // ... to the right
  const link = (a: string, b: string) => {
    if (!down.has(a)) down.set(a, []);
    if (!up.has(b)) up.set(b, []);
    down.get(a)?.push(b);
    up.get(b)?.push(a);
  };
  const chains = dagEdges.map(({ from, to }, edgeIndex) => {
    const chain = [from];
    const start = layer.get(from) ?? 0;
    const end = layer.get(to) ?? 0;
    for (let l = start + 1; l < end; l += 1) {
      const virtual = `\u0000v${edgeIndex}:${l}`;
      layers[l].push(virtual);
      chain.push(virtual);
    }
    chain.push(to);
    for (let i = 1; i < chain.length; i += 1) link(chain[i - 1], chain[i]);
    return chain;
  });

  // 4. Order within layers: barycenter sweeps.
  const position = new Map<string, number>();
  const renumber = (row: string[]) => row.forEach((id, i) => position.set(id, i));
  layers.forEach(renumber);
  const sweep = (row: string[], neighbours: Map<string, string[]>) => {
    const centre = new Map<string, number>();
    for (const id of row) {
      const ns = neighbours.get(id) ?? [];
      centre.set(
        id,
        ns.length ? ns.reduce((sum, n) => sum + (position.get(n) ?? 0), 0) / ns.length : (position.get(id) ?? 0),
      );
    }
    row.sort((a, b) => (centre.get(a) ?? 0) - (centre.get(b) ?? 0) || (position.get(a) ?? 0) - (position.get(b) ?? 0));
    renumber(row);
  };
  for (let s = 0; s < SWEEPS; s += 1) {
    for (let l = 1; l < layerCount; l += 1) sweep(layers[l], up);
    for (let l = layerCount - 2; l >= 0; l -= 1) sweep(layers[l], down);
  }

  // 5. Coordinates.
  const { nodeWidth, nodeHeight, columnGap, rowGap, padding } = options;
  const slot = nodeHeight + rowGap;
  const tallest = Math.max(0, ...layers.map((row) => row.length));
  const at = new Map<string, Point>();
  layers.forEach((row, l) => {
    const offset = ((tallest - row.length) * slot) / 2;
    row.forEach((id, i) => at.set(id, { x: padding + l * (nodeWidth + columnGap), y: padding + offset + i * slot }));
  });
  const nodes: PlacedNode[] = topo.map((id) => {
    const place = at.get(id) as Point;
    return {
      ...(byId.get(id) as GraphNode),
      x: place.x,
      y: place.y,
      width: nodeWidth,
      height: nodeHeight,
      layer: layer.get(id) ?? 0,
      order: position.get(id) ?? 0,
    };
  });
  nodes.sort((a, b) => a.layer - b.layer || a.order - b.order);
  const placedEdges: PlacedEdge[] = dagEdges.map(({ edge, isBack }, i) => {
    const points: Point[] = [];
    chains[i].forEach((id, k) => {
      const p = at.get(id) as Point;
      const mid = p.y + nodeHeight / 2;
      if (k > 0) points.push({ x: p.x, y: mid });
      if (k < chains[i].length - 1) points.push({ x: p.x + nodeWidth, y: mid });
    });
    return { source: edge.source, target: edge.target, points: isBack ? points.reverse() : points, back: isBack };
  });
  const width = layerCount ? 2 * padding + layerCount * nodeWidth + (layerCount - 1) * columnGap : 2 * padding;
  const height = tallest ? 2 * padding + tallest * slot - rowGap : 2 * padding;
  return { width, height, nodes, edges: placedEdges };
}

/** An SVG path through `points` with horizontal tangents (straight where they share a row). */
export function edgePath(points: Point[]): string {
  if (!points.length) return "";
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length; i += 1) {
    const a = points[i - 1];
    const b = points[i];
    if (a.y === b.y) d += ` L${b.x},${b.y}`;
    else {
      const dx = (b.x - a.x) / 2;
      d += ` C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
    }
  }
  return d;
}

/** How many pairs of edge segments cross (for tests and for judging an ordering). */
export function countCrossings(layout: Layout): number {
  const segments: [Point, Point][] = [];
  for (const edge of layout.edges) {
    for (let i = 1; i < edge.points.length; i += 1) {
      const a = edge.points[i - 1];
      const b = edge.points[i];
      if (a.x !== b.x) segments.push(a.x < b.x ? [a, b] : [b, a]);
    }
  }
  let crossings = 0;
  for (let i = 0; i < segments.length; i += 1) {
    for (let j = i + 1; j < segments.length; j += 1) {
      const [a1, a2] = segments[i];
      const [b1, b2] = segments[j];
      if (a1.x !== b1.x || a2.x !== b2.x) continue; // only segments between the same columns
      if ((a1.y - b1.y) * (a2.y - b2.y) < 0) crossings += 1;
    }
  }
  return crossings;
}
