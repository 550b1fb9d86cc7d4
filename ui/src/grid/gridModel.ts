// The grid's data model, computed once per data set (docs/airflow-rest-api.md, "UI endpoints"):
// the task tree flattened into rows (groups collapsible), and for every node one state per run
// (a group's is the summaryState of its members, a mapped task's the aggregate of its instances).
import type { GridCell, GridData, GridNode, GridRun } from "../api/types";
import { summaryState } from "../components/state";

export interface NodeInfo {
  node: GridNode;
  depth: number;
  /** One state per run (index = run index, newest first); null when there is no instance. */
  states: (string | null)[];
  /** Mapped tasks: the counts per state of each run's instances. */
  counts: (Record<string, number> | null)[] | null;
}

export interface GridModel {
  runs: GridRun[];
  /** Every node (tasks and groups) in tree order. */
  nodes: NodeInfo[];
  groupIds: string[];
  /** The longest run duration in seconds (for the bars), at least 1. */
  maxDuration: number;
}

export function cellState(cell: GridCell): string | null {
  if (cell === null || cell === undefined) return null;
  return typeof cell === "string" ? cell : cell.state;
}

export function runDuration(run: GridRun, now: number): number {
  if (run.duration !== null && run.duration !== undefined) return run.duration;
  if (!run.start_date) return 0;
  const end = run.end_date ? new Date(run.end_date).getTime() : now;
  return Math.max(0, (end - new Date(run.start_date).getTime()) / 1000);
}

/** "3 success, 1 failed" */
export function countsText(counts: Record<string, number>): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`)
    .join(", ");
}

export function buildModel(data: GridData, now: number = Date.now()): GridModel {
  const taskIndex = new Map<string, number>();
  data.task_ids.forEach((id, index) => taskIndex.set(id, index));
  const runCount = data.runs.length;
  const nodes: NodeInfo[] = [];
  const groupIds: string[] = [];

  // Returns the leaf task indices under `node`.
  const visit = (node: GridNode, depth: number): number[] => {
    const info: NodeInfo = { node, depth, states: new Array(runCount).fill(null), counts: null };
    nodes.push(info);
    if (node.type === "group") {
      groupIds.push(node.id);
      const leaves: number[] = [];
      for (const child of node.children ?? []) leaves.push(...visit(child, depth + 1));
      for (let r = 0; r < runCount; r += 1) {
        const row = data.cells[r] ?? [];
        const members: (string | null)[] = [];
        for (const leaf of leaves) {
          const state = cellState(row[leaf] ?? null);
          if (state !== null) members.push(state);
        }
        info.states[r] = members.length ? summaryState(members) : null;
      }
      return leaves;
    }
    const index = taskIndex.get(node.id);
    if (index === undefined) return [];
    for (let r = 0; r < runCount; r += 1) {
      const cell = data.cells[r]?.[index] ?? null;
      info.states[r] = cellState(cell);
      if (cell !== null && typeof cell === "object") {
        info.counts ??= new Array(runCount).fill(null);
        info.counts[r] = cell.counts;
      }
    }
    return [index];
  };
  for (const node of data.structure) visit(node, 0);

  let maxDuration = 1;
  for (const run of data.runs) maxDuration = Math.max(maxDuration, runDuration(run, now));
  return { runs: data.runs, nodes, groupIds, maxDuration };
}

/** The rows shown: every node whose ancestors are all expanded. */
export function visibleRows(model: GridModel, collapsed: ReadonlySet<string>): NodeInfo[] {
  const rows: NodeInfo[] = [];
  let hideBelow = Infinity; // depth of a collapsed group being skipped
  for (const info of model.nodes) {
    if (info.depth > hideBelow) continue;
    hideBelow = Infinity;
    rows.push(info);
    if (info.node.type === "group" && collapsed.has(info.node.id)) hideBelow = info.depth;
  }
  return rows;
}
