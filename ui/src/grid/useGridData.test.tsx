import { act, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { GridData } from "../api/types";
import { mockFetch } from "../test/fetchMock";
import { flakyGrid, gridRun } from "./fixtures";
import { useGridData } from "./useGridData";

function Probe() {
  const grid = useGridData("e2e_flaky", { limit: 50, runType: "manual", state: "" });
  return <output data-testid="probe">{grid.error ? grid.error.message : grid.data ? grid.data.runs[0].state : "…"}</output>;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("useGridData", () => {
  it("polls every 3 s while a run is running, then every 15 s, with the filters in the query", async () => {
    vi.useFakeTimers();
    const mark = vi.spyOn(performance, "mark");
    const running = flakyGrid();
    const finished: GridData = { ...flakyGrid(), runs: [gridRun("run_new", "success"), ...flakyGrid().runs.slice(1).map((run) => ({ ...run, state: "success" }))] };
    const answers = [running, finished];
    const calls = mockFetch({ "GET /ui/grid/e2e_flaky": () => ({ body: answers.shift() ?? finished }) });
    render(<Probe />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10);
    });
    expect(screen.getByTestId("probe").textContent).toBe("running");
    expect(calls).toHaveLength(1);
    expect(calls[0].url.searchParams.get("limit")).toBe("50");
    expect(calls[0].url.searchParams.get("run_type")).toBe("manual");
    expect(calls[0].url.searchParams.has("state")).toBe(false);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(3000);
    });
    expect(calls).toHaveLength(2);
    expect(screen.getByTestId("probe").textContent).toBe("success");
    await act(async () => {
      await vi.advanceTimersByTimeAsync(14_000);
    });
    expect(calls).toHaveLength(2);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1100);
    });
    expect(calls).toHaveLength(3);
    expect(mark.mock.calls.filter(([name]) => name === "dagcore:grid-data")).toHaveLength(3);
  });

  it("shows the server's error", async () => {
    mockFetch({ "GET /ui/grid/e2e_flaky": { status: 404, body: { detail: "The Dag with ID: `e2e_flaky` was not found" } } });
    render(<Probe />);
    expect(await screen.findByText("The Dag with ID: `e2e_flaky` was not found")).toBeTruthy();
  });
});
