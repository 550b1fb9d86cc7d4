import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { describe, expect, it } from "vitest";
import type { DagRun, DagVersion, TaskInstance } from "../../api/types";
import { flakyGrid } from "../../grid/fixtures";
import { mockFetch, type MockRoute } from "../../test/fetchMock";
import { uiDag } from "../list/fixtures";
import { DagPage } from "./DagPage";

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname + location.search}</output>;
}

const version = (n: number): DagVersion => ({
  id: `v${n}`, version_number: n, dag_id: "e2e_flaky", bundle_name: "dags-folder", bundle_version: null,
  created_at: "2026-10-01T00:00:00Z", dag_display_name: "e2e_flaky", bundle_url: null,
});

const run: DagRun = {
  dag_run_id: "run_mid", dag_id: "e2e_flaky", logical_date: "2026-10-01T00:00:00Z", queued_at: null,
  start_date: "2026-10-01T00:00:00Z", end_date: null, duration: 20, data_interval_start: null,
  data_interval_end: null, run_after: "2026-10-01T00:00:00Z", run_type: "manual", state: "failed",
  triggered_by: "rest_api", triggering_user_name: "admin", conf: { answer: 42 }, note: null,
  dag_versions: [version(2)], bundle_version: null, dag_display_name: "e2e_flaky",
};

const ti = (taskId: string, mapIndex: number, state: string, tryNumber = 1): TaskInstance => ({
  id: `${taskId}-${mapIndex}`, task_id: taskId, dag_id: "e2e_flaky", dag_run_id: "run_mid", map_index: mapIndex,
  logical_date: "2026-10-01T00:00:00Z", run_after: null, start_date: null, end_date: null, duration: 1.5, state,
  try_number: tryNumber, max_tries: 0, task_display_name: taskId, hostname: "host1", pool: "default_pool",
  queue: "default", priority_weight: 1, operator: "PythonOperator", operator_name: "@task", queued_when: null,
  scheduled_when: null, pid: 123, note: null, rendered_map_index: mapIndex >= 0 ? String(mapIndex) : null,
  dag_version: version(2),
});

function routes(extra: Record<string, MockRoute> = {}): Record<string, MockRoute> {
  return {
    "GET /api/v2/dags/e2e_flaky/details": { body: { ...uiDag("e2e_flaky"), params: null } },
    "GET /ui/grid/e2e_flaky": { body: flakyGrid() },
    "GET /ui/backfills": { body: { backfills: [], total_entries: 0 } },
    "GET /api/v2/dags/e2e_flaky/dagRuns/run_mid": { body: run },
    "GET /api/v2/dags/e2e_flaky/dagRuns/run_mid/taskInstances": (url) => {
      const task = url.searchParams.get("task_id");
      const all = [ti("numbers", -1, "success"), ti("square", 0, "success"), ti("square", 1, "failed", 2), ti("checks.flaky", -1, "failed")];
      const list = task ? all.filter((item) => item.task_id === task) : all;
      return { body: { task_instances: list, total_entries: list.length } };
    },
    ...extra,
  };
}

function codeRoutes(): Record<string, MockRoute> {
  return {
    "GET /api/v2/dags/e2e_flaky/dagVersions": { body: { dag_versions: [version(1), version(2)], total_entries: 2 } },
    "GET /api/v2/dagSources/e2e_flaky": (url) => ({
      body: {
        dag_id: "e2e_flaky", dag_display_name: "e2e_flaky",
        version_number: Number(url.searchParams.get("version_number")),
        content: url.searchParams.get("version_number") === "2" ? "a = 1\nb = 3\n" : "a = 1\nb = 2\n",
      },
    }),
  };
}

function renderDag(url: string) {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <Routes>
        <Route path="/dags/:dagId/*" element={<><DagPage /><Where /></>} />
      </Routes>
    </MemoryRouter>,
  );
}

describe("DagPage", () => {
  it("shows the header and the grid with the runs-shown limit from the URL", async () => {
    const calls = mockFetch(routes());
    renderDag("/dags/e2e_flaky?limit=100");
    await screen.findByTestId("grid");
    expect(screen.getByRole("heading", { name: "e2e_flaky" })).toBeTruthy();
    expect(screen.getByRole("switch", { name: "Pause e2e_flaky" })).toBeTruthy();
    const header = document.querySelector<HTMLElement>(".dag-header")!;
    expect(within(header).getByRole("link", { name: "Trigger" }).getAttribute("href")).toBe("/dags/e2e_flaky/trigger");
    expect(within(header).getByRole("link", { name: "Backfill" }).getAttribute("href")).toBe("/dags/e2e_flaky/backfills");
    expect(screen.getByText("At 00:00")).toBeTruthy();
    const grid = calls.find((call) => call.url.pathname === "/ui/grid/e2e_flaky")!;
    expect(grid.url.searchParams.get("limit")).toBe("100");
    fireEvent.change(screen.getByLabelText("Run state"), { target: { value: "failed" } });
    await waitFor(() =>
      expect(calls.some((call) => call.url.pathname === "/ui/grid/e2e_flaky" && call.url.searchParams.get("state") === "failed")).toBe(true),
    );
  });

  it("opens a run's details from its bar, keeping the grid and its filters", async () => {
    mockFetch(routes());
    renderDag("/dags/e2e_flaky?limit=50");
    await screen.findByTestId("grid");
    fireEvent.click(screen.getByRole("button", { name: "Run run_mid: failed" }));
    expect(screen.getByTestId("where").textContent).toBe("/dags/e2e_flaky/runs/run_mid?limit=50");
    const details = await screen.findByRole("region", { name: "Details" });
    await within(details).findByText("rest_api · admin");
    expect(within(details).getByRole("link", { name: "v2" }).getAttribute("href")).toBe("/dags/e2e_flaky/code?version=2");
    expect(within(details).getByText(/"answer": 42/)).toBeTruthy();
    await within(details).findByRole("link", { name: "checks.flaky" });
    expect(screen.getByTestId("grid")).toBeTruthy();
    fireEvent.click(within(details).getByRole("button", { name: "Clear run" }));
    expect(screen.getByRole("dialog", { name: "Clear DAG run" })).toBeTruthy();
  });

  it("shows a mapped task instance with its instances, tries and log", async () => {
    const calls = mockFetch(
      routes({
        "GET /api/v2/dags/e2e_flaky/dagRuns/run_mid/taskInstances/square/logs/2": {
          body: { content: [{ timestamp: null, event: "try 2 of index 1" }], continuation_token: null },
        },
        "GET /api/v2/dags/e2e_flaky/dagRuns/run_mid/taskInstances/square/logs/1": {
          body: { content: [{ timestamp: null, event: "try 1 of index 1" }], continuation_token: null },
        },
      }),
    );
    renderDag("/dags/e2e_flaky/runs/run_mid/tasks/square?map_index=1");
    const details = await screen.findByRole("region", { name: "Details" });
    await within(details).findByText("try 2 of index 1");
    expect(within(details).getByRole("heading", { name: "square [1]" })).toBeTruthy();
    expect(within(details).getAllByRole("tab").map((tab) => tab.textContent)).toEqual(["Try 1", "Try 2"]);
    const log = calls.find((call) => call.url.pathname.endsWith("/logs/2"))!;
    expect(log.url.searchParams.get("map_index")).toBe("1");
    fireEvent.click(within(details).getByRole("tab", { name: "Try 1" }));
    await within(details).findByText("try 1 of index 1");
    // Pick another mapped instance.
    fireEvent.click(within(details).getByRole("button", { name: /success 0/ }));
    expect(screen.getByTestId("where").textContent).toBe("/dags/e2e_flaky/runs/run_mid/tasks/square?map_index=0");
    fireEvent.click(within(details).getByRole("button", { name: "Clear task instance" }));
    expect(screen.getByRole("dialog", { name: "Clear task instance" })).toBeTruthy();
  });

  it("selects a cell into the task instance route and shows load errors", async () => {
    mockFetch(
      routes({
        "GET /api/v2/dags/e2e_flaky/dagRuns/run_mid/taskInstances/checks.flaky/logs/1": {
          status: 404, body: { detail: "Log not available: nope" },
        },
      }),
    );
    renderDag("/dags/e2e_flaky");
    await screen.findByTestId("grid");
    const flaky = document.querySelector<HTMLElement>('.grid-col[data-run-id="run_mid"] .gc[data-task-id="checks.flaky"]')!;
    fireEvent.click(flaky);
    expect(screen.getByTestId("where").textContent).toBe("/dags/e2e_flaky/runs/run_mid/tasks/checks.flaky");
    expect((await screen.findByRole("alert")).textContent).toContain("Log not available: nope");
  });

  it("shows the code of the latest version", async () => {
    mockFetch(
      routes(codeRoutes()),
    );
    renderDag("/dags/e2e_flaky/code");
    await screen.findByText("b = 3");
    expect(screen.queryByRole("button", { name: /active backfill/ })).toBeNull();
  });

  it("offers to compare the active backfill's version with the latest", async () => {
    const calls = mockFetch(
      routes({
        ...codeRoutes(),
        "GET /ui/backfills": {
          body: {
            backfills: [
              {
                id: 4, dag_id: "e2e_flaky", from_date: "2026-09-01T00:00:00Z", to_date: "2026-09-10T00:00:00Z",
                completed_at: null, is_paused: false, keep_dag_paused: false,
                progress: { total: 10, done: 3, by_state: { success: 3, running: 1, queued: 6 } },
              },
            ],
            total_entries: 1,
          },
        },
        "GET /api/v2/dags/e2e_flaky/dagRuns": { body: { dag_runs: [{ ...run, dag_versions: [version(1)] }], total_entries: 1 } },
      }),
    );
    renderDag("/dags/e2e_flaky/code");
    fireEvent.click(await screen.findByRole("button", { name: "Compare the active backfill's version (v1) with latest" }));
    expect(screen.getByTestId("where").textContent).toBe("/dags/e2e_flaky/code?version=2&compare=1");
    const runsQuery = calls.find((call) => call.url.pathname.endsWith("/dagRuns"))!.url.searchParams;
    expect(runsQuery.get("run_type")).toBe("backfill");
    expect(runsQuery.get("logical_date_gte")).toBe("2026-09-01T00:00:00Z");
    expect(calls.find((call) => call.url.pathname === "/ui/backfills")!.url.searchParams.get("active")).toBe("true");
  });

  it("compares two versions side by side", async () => {
    mockFetch(routes(codeRoutes()));
    renderDag("/dags/e2e_flaky/code");
    await screen.findByText("b = 3");
    fireEvent.click(screen.getByRole("button", { name: "Compare previous with latest" }));
    expect(screen.getByTestId("where").textContent).toBe("/dags/e2e_flaky/code?version=2&compare=1");
    const table = await screen.findByRole("table", { name: "Compare v1 with v2" });
    expect(within(table).getByText("b = 2").className).toBe("diff-del");
    expect(within(table).getByText("b = 3").className).toBe("diff-add");
    expect(within(table).getAllByText("a = 1").every((cell) => cell.className === "")).toBe(true);
    expect(screen.getByText("1 changed line")).toBeTruthy();
  });
});
