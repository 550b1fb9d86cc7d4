import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { GridData } from "../api/types";
import { stateColor } from "../components/state";
import { flakyGrid, gridRun } from "./fixtures";
import { Grid, NAME_W, COL_W } from "./Grid";
import { buildModel, visibleRows } from "./gridModel";
import { pollDelay, FAST_POLL_MS, SLOW_POLL_MS } from "./useGridData";

function renderGrid(data: GridData = flakyGrid(), extra: Partial<Parameters<typeof Grid>[0]> = {}) {
  const onSelectRun = vi.fn();
  const onSelectTask = vi.fn();
  const view = render(<Grid data={data} onSelectRun={onSelectRun} onSelectTask={onSelectTask} {...extra} />);
  return { ...view, onSelectRun, onSelectTask };
}

const cell = (runId: string, taskId: string) =>
  document.querySelector<HTMLElement>(`.grid-col[data-run-id="${runId}"] .gc[data-task-id="${taskId}"]`);
const left = (element: HTMLElement | null) => Number.parseFloat(element!.style.left);

describe("Grid", () => {
  it("puts the newest run on the left and colours cells from the data", () => {
    renderGrid();
    const root = screen.getByTestId("grid");
    expect(root.dataset.renderedRuns).toBe("3");
    expect(root.dataset.taskCount).toBe("5");
    const bars = [...document.querySelectorAll<HTMLElement>(".gbar")];
    expect(bars.map((bar) => bar.dataset.runId)).toEqual(["run_new", "run_mid", "run_old"]);
    expect(left(bars[0])).toBeLessThan(left(bars[1]));
    expect(left(bars[1])).toBeLessThan(left(bars[2]));
    expect(left(bars[0])).toBe(NAME_W);
    // The longest run has the tallest bar, coloured by run state.
    expect(Number.parseFloat(bars[1].style.height)).toBeGreaterThan(Number.parseFloat(bars[2].style.height));
    expect(bars[1].style.background).toBe("rgb(255, 0, 0)");

    expect(cell("run_mid", "checks.flaky")!.dataset.state).toBe("failed");
    expect(cell("run_mid", "done")!.dataset.state).toBe("upstream_failed");
    expect(cell("run_new", "done")!.dataset.state).toBe("");
    expect(left(cell("run_old", "done")!.parentElement)).toBe(NAME_W + 2 * COL_W);
    expect(cell("run_old", "numbers")!.className).toContain("s-success");
    expect(cell("run_mid", "done")!.className).toContain("s-upstream_failed");
    expect(document.querySelector("style")!.textContent).toContain(`.gc.s-failed{background:${stateColor("failed")}}`);
  });

  it("shows a mapped cell's aggregate state, counts in its title and a count marker", () => {
    renderGrid();
    const mapped = cell("run_new", "square")!;
    expect(mapped.dataset.state).toBe("running");
    expect(mapped.title).toBe("2 success, 1 running");
    expect(mapped.textContent).toBe("3");
  });

  it("collapses a group into one row with the summary state of its members", () => {
    renderGrid();
    expect(cell("run_mid", "checks")!.dataset.state).toBe("failed");
    expect(cell("run_old", "checks")!.dataset.state).toBe("success");
    expect(cell("run_new", "checks")!.dataset.state).toBe(""); // no member has an instance
    const toggle = screen.getByRole("button", { name: "checks" });
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    expect(cell("run_mid", "checks.flaky")).toBeNull();
    expect(cell("run_mid", "checks")!.dataset.state).toBe("failed");
    // done moved up one row
    expect(cell("run_mid", "done")!.style.top).toBe("63px");
    fireEvent.click(screen.getByRole("button", { name: "Expand all" }));
    expect(cell("run_mid", "checks.flaky")).not.toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Collapse all" }));
    expect(cell("run_mid", "checks.lint")).toBeNull();
  });

  it("keeps groups collapsed when new data arrives", () => {
    const { rerender, onSelectRun, onSelectTask } = renderGrid();
    fireEvent.click(screen.getByRole("button", { name: "checks" }));
    const next = flakyGrid();
    next.runs[0] = gridRun("run_new", "success", 8);
    rerender(<Grid data={next} onSelectRun={onSelectRun} onSelectTask={onSelectTask} />);
    expect(cell("run_new", "checks.flaky")).toBeNull();
    expect(document.querySelector<HTMLElement>('.gbar[data-run-id="run_new"]')!.dataset.state).toBe("success");
  });

  it("selects a run from its bar and a task instance from its cell, and highlights them", () => {
    const { onSelectRun, onSelectTask, rerender } = renderGrid();
    fireEvent.click(screen.getByRole("button", { name: "Run run_mid: failed" }));
    expect(onSelectRun).toHaveBeenCalledWith("run_mid");
    fireEvent.click(cell("run_old", "checks.flaky")!);
    expect(onSelectTask).toHaveBeenCalledWith("run_old", "checks.flaky");
    fireEvent.click(cell("run_old", "checks")!); // a group cell selects the run
    expect(onSelectRun).toHaveBeenLastCalledWith("run_old");
    rerender(
      <Grid data={flakyGrid()} selectedRunId="run_old" selectedTaskId="checks.flaky" onSelectRun={onSelectRun} onSelectTask={onSelectTask} />,
    );
    expect(cell("run_old", "checks.flaky")!.className).toContain("gc-selected");
    expect(cell("run_mid", "checks.flaky")!.className).not.toContain("gc-selected");
    expect(document.querySelector('.gbar[data-run-id="run_old"]')!.className).toContain("gbar-selected");
  });

  it("shows a tooltip with task, run and state on hover", () => {
    renderGrid();
    fireEvent.mouseOver(cell("run_mid", "checks.flaky")!);
    const tip = screen.getByRole("tooltip");
    expect(tip.textContent).toContain("checks.flaky");
    expect(tip.textContent).toContain("run_mid");
    expect(tip.textContent).toContain("failed");
    fireEvent.mouseOver(document.querySelector('.gbar[data-run-id="run_mid"]')!);
    expect(screen.getByRole("tooltip").textContent).toContain("Duration: 20s");
  });

  it("moves a keyboard cursor over the cells and opens one with Enter", () => {
    const { onSelectTask, onSelectRun } = renderGrid();
    const box = screen.getByRole("group", { name: /arrow keys move between cells/ });
    fireEvent.keyDown(box, { key: "ArrowDown" });
    expect(screen.getByTestId("grid-cursor").textContent).toBe("numbers, run run_new: success");
    fireEvent.keyDown(box, { key: "ArrowDown" });
    fireEvent.keyDown(box, { key: "ArrowRight" });
    expect(screen.getByTestId("grid-cursor").textContent).toBe("square, run run_mid: success (3 success)");
    fireEvent.keyDown(box, { key: "End" });
    fireEvent.keyDown(box, { key: "ArrowDown" });
    fireEvent.keyDown(box, { key: "ArrowDown" });
    fireEvent.keyDown(box, { key: "ArrowDown" });
    expect(screen.getByTestId("grid-cursor").textContent).toBe("checks.flaky, run run_old: success");
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSelectTask).toHaveBeenCalledWith("run_old", "checks.flaky");
    fireEvent.keyDown(box, { key: "ArrowUp" });
    fireEvent.keyDown(box, { key: "ArrowUp" });
    fireEvent.keyDown(box, { key: "Enter" }); // the group row opens the run
    expect(onSelectRun).toHaveBeenCalledWith("run_old");
  });

  it("renders only a window of a large grid (500 runs x 50 tasks)", () => {
    const runs = Array.from({ length: 500 }, (_, r) => gridRun(`r${r}`, r % 7 ? "success" : "failed", r));
    const taskIds = Array.from({ length: 50 }, (_, t) => `t${t}`);
    const data: GridData = {
      dag_id: "big",
      structure: taskIds.map((id) => ({ id, label: id, type: "task", is_mapped: false, operator: null, children: null })),
      task_ids: taskIds,
      runs,
      cells: runs.map((_, r) => taskIds.map((_, t) => ((r + t) % 5 ? "success" : "failed"))),
      total_runs: 500,
    };
    renderGrid(data);
    const root = screen.getByTestId("grid");
    expect(root.dataset.renderedRuns).toBe("500");
    const cells = document.querySelectorAll(".gc");
    expect(cells.length).toBeGreaterThan(0);
    expect(cells.length).toBeLessThan(25_000 / 2);
    expect(cell("r1", "t0")!.dataset.state).toBe("success");
    expect(cell("r3", "t2")!.dataset.state).toBe("failed");
    expect(cell("r499", "t0")).toBeNull(); // far right: not rendered
    expect(within(root).getByText("500 of 500 runs · 50 tasks")).toBeTruthy();
  });
});

describe("gridModel", () => {
  it("lists rows in tree order and hides a collapsed group's members", () => {
    const model = buildModel(flakyGrid());
    expect(visibleRows(model, new Set()).map((row) => row.node.id)).toEqual([
      "numbers", "square", "checks", "checks.lint", "checks.flaky", "done",
    ]);
    expect(visibleRows(model, new Set(["checks"])).map((row) => row.node.id)).toEqual([
      "numbers", "square", "checks", "done",
    ]);
    expect(model.maxDuration).toBe(20);
  });

  it("polls fast while a shown run is queued or running", () => {
    const data = flakyGrid();
    expect(pollDelay(data)).toBe(FAST_POLL_MS);
    data.runs[0] = gridRun("run_new", "success");
    expect(pollDelay(data)).toBe(SLOW_POLL_MS);
  });
});
