// The DAG runs grid (docs/airflow-behaviour.md and docs/airflow-rest-api.md, "UI endpoints";
// Airflow 3's Grid): runs are columns, newest on the LEFT; tasks are rows (groups collapsible,
// a collapsed group shows the summary state of its members); each run has a bar on top whose
// height is its duration, coloured by its state.
//
// Performance (500 runs x 50 tasks must render within 1 s): the model (gridModel.ts) is computed
// once per data set; cells have a fixed size so positions are arithmetic, and only the visible
// runs x rows (plus an overscan) are rendered, by memoized row components; a cell is one plain
// element coloured by a class (no inline colour, no per-cell listener): clicks and hovers are
// handled by one delegated listener each. Keyboard: the grid box is focusable; arrow keys move a
// cursor over the cells (announced through a live region), Enter opens the cell.
//
// Measurement hooks read by the benchmark and the e2e tests:
// - root: data-testid="grid", data-rendered-runs (runs in the data shown), data-task-count;
// - run bars: data-run-id; run columns: data-run-id (and data-c); cells inside a column:
//   data-task-id, data-state ("none" for no state, "" for no task instance) and data-r. A cell
//   carries only what differs per row: with fewer attributes a column of 50 cells mounts faster,
//   which is what scrolling through runs costs;
// - performance.mark("dagcore:grid-rendered") and performance.measure("dagcore:grid-render",
//   "dagcore:grid-data", "dagcore:grid-rendered") in the animation frame after each commit of a
//   new data set ("dagcore:grid-data" is marked by the loader when the answer is parsed).
import { memo, useCallback, useDeferredValue, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { GridData, GridRun } from "../api/types";
import { STATE_COLORS, stateColor } from "../components/state";
import { formatDate, formatDuration } from "../format";
import { buildModel, countsText, runDuration, visibleRows, type NodeInfo } from "./gridModel";

export const COL_W = 18;
export const CELL = 14;
export const ROW_H = 20;
export const NAME_W = 240;
export const BAR_H = 60;
export const HEADER_H = BAR_H + 12;
const OVERSCAN_COLS = 16;
const OVERSCAN_ROWS = 32;
// The scroll position is kept in whole chunks (the overscan covers the rest of a chunk), so
// scrolling re-renders the grid only when it crosses a chunk: every 16 runs, every 32 rows.
const COL_CHUNK = 16;
const ROW_CHUNK = 32;
/** Used before the scroll box is measured (and in jsdom, which measures nothing). */
const FALLBACK_VIEW = { width: 1400, height: 900 };
/** Cells are coloured by class (cheaper than an inline style per cell); unknown states: "none". */
const CELL_CSS =
  `.gc{background:${stateColor("none")}}.gc.s-empty{background:transparent;border-color:transparent}` +
  Object.entries(STATE_COLORS)
    .map(([state, color]) => `.gc.s-${state}{background:${color}}`)
    .join("");

export interface GridProps {
  data: GridData;
  selectedRunId?: string;
  selectedTaskId?: string;
  onSelectRun: (runId: string) => void;
  onSelectTask: (runId: string, taskId: string) => void;
}

interface View {
  left: number;
  top: number;
  width: number;
  height: number;
}

interface Hover {
  row: number;
  col: number; // -1 for a bar
  x: number;
  y: number;
}

interface ColumnProps {
  run: GridRun;
  col: number;
  rows: NodeInfo[];
  r0: number;
  r1: number;
  /** The selected task's row in this column (-1: none). */
  selectedRow: number;
}

/** One run's cells for the visible rows. Columns, not rows, are the memoized unit: scrolling
 * through runs (the long axis) mounts the new columns and leaves the others untouched. */
const GridColumn = memo(function GridColumn({ run, col, rows, r0, r1, selectedRow }: ColumnProps) {
  const cells = [];
  for (let r = r0; r < r1; r += 1) {
    const info = rows[r];
    const state = info.states[col];
    const counts = info.counts?.[col] ?? null;
    const total = counts ? Object.values(counts).reduce((a, b) => a + b, 0) : 0;
    cells.push(
      <span
        key={info.node.id}
        className={
          "gc s-" +
          (state ?? "empty") +
          (info.node.type === "group" ? " gc-group" : "") +
          (r === selectedRow ? " gc-selected" : "")
        }
        style={{ top: r * ROW_H + 3 }}
        data-r={r}
        data-task-id={info.node.id}
        data-state={state ?? ""}
        title={counts ? countsText(counts) : undefined}
      >
        {counts && total ? <span className="gc-count">{total > 99 ? "99+" : total}</span> : null}
      </span>,
    );
  }
  return (
    <div className="grid-col" style={{ left: NAME_W + col * COL_W }} data-c={col} data-run-id={run.run_id}>
      {cells}
    </div>
  );
});

/** The items of [start, end) (pixels) in whole chunks plus an overscan: the window moves only
 * when the view crosses a chunk boundary. Rows use big chunks, so a DAG of up to ~80 task rows
 * never changes its row window and vertical scrolling re-renders no column. */
function range(
  start: number,
  end: number,
  size: number,
  overscan: number,
  count: number,
  chunk: number,
): [number, number] {
  const first = Math.max(0, Math.floor(start / size / chunk) * chunk - overscan);
  const last = Math.min(count, Math.ceil(end / size / chunk) * chunk + overscan);
  return [first, Math.max(first, last)];
}

export function Grid({ data, selectedRunId, selectedTaskId, onSelectRun, onSelectTask }: GridProps) {
  const model = useMemo(() => buildModel(data), [data]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const rows = useMemo(() => visibleRows(model, collapsed), [model, collapsed]);
  const scrollRef = useRef<HTMLDivElement>(null);
  const [view, setView] = useState<View>({ left: 0, top: 0, ...FALLBACK_VIEW });
  const [hover, setHover] = useState<Hover | null>(null);
  const [cursor, setCursor] = useState<{ row: number; col: number } | null>(null);

  const measure = useCallback(() => {
    const box = scrollRef.current;
    if (!box) return;
    setView((old) => {
      const colPx = COL_W * COL_CHUNK;
      const rowPx = ROW_H * ROW_CHUNK;
      const next = {
        left: Math.floor(box.scrollLeft / colPx) * colPx,
        top: Math.floor(box.scrollTop / rowPx) * rowPx,
        width: box.clientWidth || FALLBACK_VIEW.width,
        height: box.clientHeight || FALLBACK_VIEW.height,
      };
      return old.left === next.left && old.top === next.top && old.width === next.width && old.height === next.height
        ? old
        : next;
    });
  }, []);
  useLayoutEffect(() => {
    measure();
    const box = scrollRef.current;
    if (!box || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => measure());
    observer.observe(box);
    return () => observer.disconnect();
  }, [measure]);
  const frame = useRef(0);
  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      measure();
    });
  };

  // The benchmark's marks: after the commit that shows a new data set.
  useEffect(() => {
    const id = requestAnimationFrame(() => {
      performance.mark("dagcore:grid-rendered");
      try {
        performance.measure("dagcore:grid-render", "dagcore:grid-data", "dagcore:grid-rendered");
      } catch {
        /* no grid-data mark (data not from the loader) */
      }
    });
    return () => cancelAnimationFrame(id);
  }, [data]);

  const runCount = model.runs.length;
  // The window follows the scroll position at a lower priority: React renders newly exposed
  // columns in time slices between frames instead of blocking a frame (the overscan hides it).
  const shown = useDeferredValue(view);
  const [c0, c1] = range(shown.left, shown.left + shown.width - NAME_W, COL_W, OVERSCAN_COLS, runCount, COL_CHUNK);
  const [r0, r1] = range(shown.top, shown.top + shown.height - HEADER_H, ROW_H, OVERSCAN_ROWS, rows.length, ROW_CHUNK);
  const selectedCol = selectedRunId === undefined ? -1 : model.runs.findIndex((run) => run.run_id === selectedRunId);
  const totalW = NAME_W + runCount * COL_W + 8;
  const bodyH = rows.length * ROW_H;

  const toggle = (id: string) =>
    setCollapsed((old) => {
      const next = new Set(old);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  /** The cell or run bar under the pointer (data-r), and the run it belongs to: a bar carries
   * data-c and data-run-id itself, a cell takes them from its column. */
  const target = (event: React.MouseEvent): { el: HTMLElement; run: HTMLElement } | null => {
    const el = (event.target as HTMLElement).closest<HTMLElement>("[data-r]");
    const run = el?.closest<HTMLElement>("[data-c]");
    return el && run ? { el, run } : null;
  };
  const onClick = (event: React.MouseEvent) => {
    const found = target(event);
    if (!found) return;
    const { el } = found;
    const runId = found.run.dataset.runId ?? "";
    const taskId = el.dataset.taskId;
    const row = Number(el.dataset.r ?? -1);
    if (taskId && row >= 0 && rows[row]?.node.type === "task") onSelectTask(runId, taskId);
    else onSelectRun(runId);
  };
  const open = (row: number, col: number) => {
    const info = rows[row];
    const run = model.runs[col];
    if (!info || !run) return;
    if (info.node.type === "task") onSelectTask(run.run_id, info.node.id);
    else onSelectRun(run.run_id);
  };
  const onKeyDown = (event: React.KeyboardEvent) => {
    if (!rows.length || !runCount) return;
    const moves: Record<string, [number, number]> = {
      ArrowUp: [-1, 0],
      ArrowDown: [1, 0],
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
      Home: [0, -runCount],
      End: [0, runCount],
    };
    if (event.key === "Enter" || event.key === " ") {
      if (!cursor) return;
      event.preventDefault();
      open(cursor.row, cursor.col);
      return;
    }
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const from = cursor ?? { row: 0, col: Math.max(0, selectedCol) };
    const next = cursor
      ? {
          row: Math.min(rows.length - 1, Math.max(0, from.row + move[0])),
          col: Math.min(runCount - 1, Math.max(0, from.col + move[1])),
        }
      : from;
    setCursor(next);
    const box = scrollRef.current;
    if (!box) return;
    const cellsWidth = (box.clientWidth || FALLBACK_VIEW.width) - NAME_W;
    const cellsHeight = (box.clientHeight || FALLBACK_VIEW.height) - HEADER_H;
    const x = next.col * COL_W;
    const y = next.row * ROW_H;
    if (x < box.scrollLeft) box.scrollLeft = x;
    else if (x + COL_W > box.scrollLeft + cellsWidth) box.scrollLeft = x + COL_W - cellsWidth;
    if (y < box.scrollTop) box.scrollTop = y;
    else if (y + ROW_H > box.scrollTop + cellsHeight) box.scrollTop = y + ROW_H - cellsHeight;
  };
  const cursorInfo = cursor ? rows[cursor.row] : undefined;
  const cursorRun = cursor ? model.runs[cursor.col] : undefined;
  const cursorText =
    cursor && cursorInfo && cursorRun
      ? `${cursorInfo.node.id}, run ${cursorRun.run_id}: ${cursorInfo.states[cursor.col] ?? "no task instance"}` +
        (cursorInfo.counts?.[cursor.col] ? ` (${countsText(cursorInfo.counts[cursor.col]!)})` : "")
      : "";

  const onMouseOver = (event: React.MouseEvent) => {
    const found = target(event);
    if (!found) {
      setHover(null);
      return;
    }
    const rect = found.el.getBoundingClientRect();
    setHover({ row: Number(found.el.dataset.r ?? -1), col: Number(found.run.dataset.c), x: rect.right + 6, y: rect.top });
  };

  const bars = [];
  for (let c = c0; c < c1; c += 1) {
    const run = model.runs[c];
    const height = Math.max(3, Math.round((runDuration(run, Date.now()) / model.maxDuration) * BAR_H));
    bars.push(
      <button
        type="button"
        key={c}
        className={"gbar" + (c === selectedCol ? " gbar-selected" : "")}
        style={{ left: NAME_W + c * COL_W, height, background: stateColor(run.state) }}
        data-c={c}
        data-r={-1}
        data-run-id={run.run_id}
        data-state={run.state}
        aria-label={`Run ${run.run_id}: ${run.state}`}
      />,
    );
  }

  const selectedRow = selectedTaskId === undefined ? -1 : rows.findIndex((info) => info.node.id === selectedTaskId);
  const columns = [];
  for (let c = c0; c < c1; c += 1) {
    columns.push(
      <GridColumn
        key={model.runs[c].run_id}
        run={model.runs[c]}
        col={c}
        rows={rows}
        r0={r0}
        r1={r1}
        selectedRow={c === selectedCol ? selectedRow : -1}
      />,
    );
  }

  const names = [];
  for (let r = r0; r < r1; r += 1) {
    const info = rows[r];
    const node = info.node;
    const style = { top: r * ROW_H, paddingLeft: 6 + info.depth * 14 };
    names.push(
      <div
        key={node.id}
        className={"grid-name" + (node.id === selectedTaskId ? " grid-name-selected" : "")}
        style={style}
        title={node.id}
      >
        {node.type === "group" ? (
          <button
            type="button"
            className="group-toggle"
            aria-expanded={!collapsed.has(node.id)}
            onClick={() => toggle(node.id)}
          >
            <span aria-hidden="true">{collapsed.has(node.id) ? "▸ " : "▾ "}</span>
            {node.label}
          </button>
        ) : (
          <span>
            {node.label}
            {node.is_mapped ? <span className="muted"> [ ]</span> : null}
          </span>
        )}
      </div>,
    );
  }

  const hovered = hover ? model.runs[hover.col] : undefined;
  const hoveredRow = hover && hover.row >= 0 ? rows[hover.row] : undefined;
  const hoveredCounts = hoveredRow?.counts?.[hover?.col ?? 0] ?? null;

  return (
    <div
      className="grid"
      data-testid="grid"
      data-rendered-runs={runCount}
      data-task-count={data.task_ids.length}
    >
      <style>{CELL_CSS}</style>
      <div className="row grid-toolbar">
        <button type="button" onClick={() => setCollapsed(new Set())} disabled={!model.groupIds.length}>
          Expand all
        </button>
        <button type="button" onClick={() => setCollapsed(new Set(model.groupIds))} disabled={!model.groupIds.length}>
          Collapse all
        </button>
        <span className="muted">
          {runCount} of {data.total_runs} runs · {data.task_ids.length} tasks
        </span>
      </div>
      <div
        className="grid-scroll"
        ref={scrollRef}
        onScroll={onScroll}
        onClick={onClick}
        onMouseOver={onMouseOver}
        onMouseLeave={() => setHover(null)}
        onKeyDown={onKeyDown}
        tabIndex={0}
        role="group"
        aria-label="Runs and tasks grid: arrow keys move between cells, Enter opens one"
      >
        <div className="grid-canvas" style={{ width: totalW, height: HEADER_H + bodyH }}>
          <div className="grid-header" style={{ width: totalW, height: HEADER_H }}>
            <div className="grid-corner" style={{ width: NAME_W, height: HEADER_H }}>
              <span className="muted">{formatDuration(model.maxDuration)}</span>
              <span className="muted">Task</span>
            </div>
            {bars}
          </div>
          <div className="grid-names" style={{ width: NAME_W, height: bodyH }}>
            {names}
          </div>
          <div className="grid-body" style={{ top: HEADER_H, width: totalW, height: bodyH }}>
            {selectedCol >= 0 ? (
              <div className="grid-col-highlight" style={{ left: NAME_W + selectedCol * COL_W - 2, height: bodyH }} />
            ) : null}
            {hover && hover.row >= 0 ? (
              <div className="grid-row-highlight" style={{ top: hover.row * ROW_H, width: totalW }} />
            ) : null}
            {columns}
            {cursor && cursorInfo && cursorRun ? (
              <div
                className="grid-cursor"
                style={{ left: NAME_W + cursor.col * COL_W - 2, top: cursor.row * ROW_H + 1 }}
                aria-hidden="true"
              />
            ) : null}
          </div>
        </div>
      </div>
      <div className="sr-only" aria-live="polite" data-testid="grid-cursor">
        {cursorText}
      </div>
      {hover && hovered ? (
        <div className="grid-tooltip" role="tooltip" style={{ left: hover.x, top: hover.y }}>
          {hoveredRow ? <div><strong>{hoveredRow.node.id}</strong></div> : null}
          <div>Run: {hovered.run_id}</div>
          <div>
            State: {hoveredRow ? hoveredRow.states[hover.col] ?? "no task instance" : hovered.state}
          </div>
          {hoveredCounts ? <div>{countsText(hoveredCounts)}</div> : null}
          {!hoveredRow ? <div>Duration: {formatDuration(runDuration(hovered, Date.now()))}</div> : null}
          <div className="muted">{formatDate(hovered.logical_date ?? hovered.run_after)}</div>
        </div>
      ) : null}
      <ul className="grid-legend" aria-label="States">
        {Object.keys(STATE_COLORS).map((state) => (
          <li key={state}>
            <span className="state-dot" style={{ background: stateColor(state) }} aria-hidden="true" />
            {state}
          </li>
        ))}
      </ul>
    </div>
  );
}
