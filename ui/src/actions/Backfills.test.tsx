import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { BackfillWithProgress, DagDetails } from "../api/types";
import { mockFetch, type MockRoute } from "../test/fetchMock";
import { BackfillBanner } from "./BackfillBanner";
import { BackfillsPage } from "./BackfillsPage";

const NOW = new Date("2026-11-20T15:00:00Z");

function dag(over: Partial<DagDetails> = {}): DagDetails {
  return {
    dag_id: "d1",
    dag_display_name: "d1",
    is_paused: false,
    max_active_runs: 16,
    params: { n: { value: 1, description: null, schema: { type: "integer", minimum: 1 } } },
    ...over,
  } as DagDetails;
}

function backfill(over: Partial<BackfillWithProgress> = {}): BackfillWithProgress {
  return {
    id: 1,
    dag_id: "d1",
    from_date: "2026-11-01T00:00:00Z",
    to_date: "2026-11-05T00:00:00Z",
    dag_run_conf: {},
    is_paused: false,
    reprocess_behavior: "none",
    max_active_runs: 2,
    created_at: "2026-11-19T10:00:00Z",
    completed_at: null,
    updated_at: "2026-11-19T10:00:00Z",
    dag_display_name: "d1",
    keep_dag_paused: false,
    progress: { total: 5, done: 2, by_state: { success: 2, running: 1, queued: 2 } },
    ...over,
  };
}

const dates = (n: number) => ({
  body: {
    backfills: Array.from({ length: n }, (_, i) => ({
      logical_date: new Date(Date.UTC(2026, 10, 1 + i)).toISOString(),
    })),
    total_entries: n,
  },
});

function routes(over: Record<string, MockRoute> = {}): Record<string, MockRoute> {
  return {
    "GET /api/v2/dags/d1/details": { body: dag() },
    "GET /ui/backfills": { body: { backfills: [], total_entries: 0 } },
    "POST /api/v2/backfills/dry_run": dates(3),
    ...over,
  };
}

function renderPage() {
  return render(
    <MemoryRouter>
      <BackfillsPage dagId="d1" />
    </MemoryRouter>,
  );
}

const settle = async () => {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(400);
  });
};

beforeEach(() => {
  vi.useFakeTimers({ shouldAdvanceTime: true, toFake: ["setTimeout", "clearTimeout", "Date"] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("BackfillsPage form", () => {
  it("defaults to the last 7 days and previews with exactly the body create sends", async () => {
    const calls = mockFetch(routes({ "POST /api/v2/backfills": { body: backfill({ id: 9 }) } }));
    renderPage();
    const from = (await screen.findByLabelText("From")) as HTMLInputElement;
    expect(from.value).not.toBe("");
    expect((screen.getByLabelText("To") as HTMLInputElement).value).not.toBe("");
    expect(screen.getByLabelText("Max active runs")).toHaveProperty("value", "1");
    expect(screen.getByLabelText("Missing Runs")).toHaveProperty("checked", true);
    fireEvent.change(from, { target: { value: "2026-11-01T00:00" } });
    fireEvent.change(screen.getByLabelText("To"), { target: { value: "2026-11-03T00:00" } });
    fireEvent.click(screen.getByLabelText("Run backwards"));
    fireEvent.click(screen.getByLabelText("Missing and Errored Runs"));
    fireEvent.change(screen.getByLabelText("Max active runs"), { target: { value: "3" } });
    fireEvent.change(screen.getByLabelText("n"), { target: { value: "4" } });
    expect(screen.getByText("Calculating…")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Run backfill" })).toHaveProperty("disabled", true);
    await settle();
    expect(await screen.findByText("3 runs will be triggered.")).toBeTruthy();
    const dryRuns = calls.filter((c) => c.url.pathname === "/api/v2/backfills/dry_run");
    // debounced: one dry run for the burst of changes above
    expect(dryRuns.length).toBe(1);
    const expected = {
      dag_id: "d1",
      from_date: new Date("2026-11-01T00:00").toISOString(),
      to_date: new Date("2026-11-03T00:00").toISOString(),
      reprocess_behavior: "failed",
      max_active_runs: 3,
      run_backwards: true,
      dag_run_conf: { n: 4 },
    };
    expect(dryRuns[0].body).toEqual(expected);
    const run = screen.getByRole("button", { name: "Run backfill" });
    expect(run).toHaveProperty("disabled", false);
    fireEvent.click(run);
    expect(await screen.findByText(/Backfill 9 created/)).toBeTruthy();
    const create = calls.find((c) => c.method === "POST" && c.url.pathname === "/api/v2/backfills")!;
    expect(create.body).toEqual(expected);
    // the preview is asked again: the created runs now exist
    await settle();
    await waitFor(() =>
      expect(calls.filter((c) => c.url.pathname === "/api/v2/backfills/dry_run").length).toBe(2),
    );
  });

  it("says one run, lists at most 20 dates and '…and N more'", async () => {
    let n = 1;
    mockFetch(routes({ "POST /api/v2/backfills/dry_run": () => dates(n) }));
    renderPage();
    await screen.findByLabelText("From");
    await settle();
    expect(await screen.findByText("1 run will be triggered.")).toBeTruthy();
    n = 25;
    fireEvent.change(screen.getByLabelText("Max active runs"), { target: { value: "2" } });
    await settle();
    expect(await screen.findByText("25 runs will be triggered.")).toBeTruthy();
    expect(screen.getByRole("region", { name: "Dry run" }).querySelectorAll("li").length).toBe(20);
    expect(screen.getByText("…and 5 more")).toBeTruthy();
  });

  it("disables Run backfill at 0 runs and on the server's refusal (shown)", async () => {
    let answer: MockRoute = dates(0);
    mockFetch(routes({ "POST /api/v2/backfills/dry_run": () => answer as { body: unknown } }));
    renderPage();
    await screen.findByLabelText("From");
    await settle();
    expect(await screen.findByText("No runs matching selected criteria.")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Run backfill" })).toHaveProperty("disabled", true);
    answer = { status: 422, body: { detail: "Dag d1 has a non-periodic schedule" } };
    fireEvent.change(screen.getByLabelText("Max active runs"), { target: { value: "2" } });
    await settle();
    expect((await screen.findByRole("alert")).textContent).toContain(
      "Dag d1 has a non-periodic schedule",
    );
    expect(screen.getByRole("button", { name: "Run backfill" })).toHaveProperty("disabled", true);
  });

  it("validates dates and max active runs without calling the server", async () => {
    const calls = mockFetch(routes());
    renderPage();
    const from = await screen.findByLabelText("From");
    fireEvent.change(from, { target: { value: "2026-11-10T00:00" } });
    fireEvent.change(screen.getByLabelText("To"), { target: { value: "2026-11-05T00:00" } });
    expect(screen.getByText("Start Date must be before the End Date")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("To"), { target: { value: "2026-12-05T00:00" } });
    expect(screen.getByText("End Date cannot be in the future")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("To"), { target: { value: "" } });
    expect(screen.getByText("End Date is required")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("To"), { target: { value: "2026-11-12T00:00" } });
    fireEvent.change(screen.getByLabelText("Max active runs"), { target: { value: "0" } });
    expect(screen.getByText("Max Active Runs must be at least 1")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Max active runs"), { target: { value: "17" } });
    expect(screen.getByText("Max Active Runs must be at most 16 (the DAG's max_active_runs)")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Run backfill" })).toHaveProperty("disabled", true);
    await settle();
    expect(calls.filter((c) => c.url.pathname.endsWith("dry_run"))).toHaveLength(0);
  });

  it("sends keep_dag_paused for a paused DAG, or unpauses it first", async () => {
    const calls = mockFetch(
      routes({
        "GET /api/v2/dags/d1/details": { body: dag({ is_paused: true }) },
        "PATCH /api/v2/dags/d1": { body: dag() },
        "POST /api/v2/backfills": { body: backfill({ id: 4 }) },
      }),
    );
    renderPage();
    expect(await screen.findByLabelText("Unpause DAG")).toHaveProperty("checked", true);
    await settle();
    await screen.findByText("3 runs will be triggered.");
    expect(calls.find((c) => c.url.pathname.endsWith("dry_run"))!.body).toMatchObject({
      keep_dag_paused: false,
    });
    fireEvent.click(screen.getByLabelText("Keep DAG paused"));
    await settle();
    await screen.findByText("3 runs will be triggered.");
    const dry = calls.filter((c) => c.url.pathname.endsWith("dry_run")).at(-1)!;
    expect(dry.body).toMatchObject({ keep_dag_paused: true });
    fireEvent.click(screen.getByRole("button", { name: "Run backfill" }));
    await screen.findByText(/Backfill 4 created/);
    const create = calls.find((c) => c.method === "POST" && c.url.pathname === "/api/v2/backfills")!;
    expect(create.body).toEqual(dry.body);
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
  });

  it("unpauses first when 'Unpause DAG' is chosen", async () => {
    const calls = mockFetch(
      routes({
        "GET /api/v2/dags/d1/details": { body: dag({ is_paused: true }) },
        "PATCH /api/v2/dags/d1": { body: dag() },
        "POST /api/v2/backfills": { body: backfill({ id: 4 }) },
      }),
    );
    renderPage();
    await screen.findByLabelText("Unpause DAG");
    await settle();
    await screen.findByText("3 runs will be triggered.");
    fireEvent.click(screen.getByRole("button", { name: "Run backfill" }));
    await screen.findByText(/Backfill 4 created/);
    const writes = calls.filter((c) => c.method !== "GET" && !c.url.pathname.endsWith("dry_run"));
    expect(writes.map((c) => `${c.method} ${c.url.pathname}`)).toEqual([
      "PATCH /api/v2/dags/d1",
      "POST /api/v2/backfills",
    ]);
    expect(writes[0].body).toEqual({ is_paused: false });
  });

  it("shows the create error from the server", async () => {
    mockFetch(
      routes({
        "POST /api/v2/backfills": {
          status: 409,
          body: { detail: "Dag d1 already has an active backfill 3" },
        },
      }),
    );
    renderPage();
    await screen.findByLabelText("From");
    await settle();
    await screen.findByText("3 runs will be triggered.");
    fireEvent.click(screen.getByRole("button", { name: "Run backfill" }));
    expect((await screen.findByRole("alert")).textContent).toContain(
      "Dag d1 already has an active backfill 3",
    );
  });
});

describe("BackfillsPage list", () => {
  it("lists backfills with state, progress and the controls", async () => {
    const calls = mockFetch(
      routes({
        "GET /ui/backfills": {
          body: {
            backfills: [
              backfill({ id: 3, is_paused: true }),
              backfill({ id: 2, completed_at: "2026-11-19T11:00:00Z", is_paused: true }),
              backfill({
                id: 1,
                completed_at: "2026-11-19T11:00:00Z",
                progress: { total: 5, done: 5, by_state: { success: 4, failed: 1 } },
              }),
            ],
            total_entries: 3,
          },
        },
        "PUT /api/v2/backfills/3/unpause": { body: backfill({ id: 3 }) },
        "PUT /api/v2/backfills/3/cancel": {
          status: 409,
          body: { detail: "Backfill 3 is already completed." },
        },
      }),
    );
    renderPage();
    const row3 = await screen.findByText("paused");
    const tr3 = row3.closest("tr")!;
    expect(tr3.textContent).toContain("2/5 done");
    expect(tr3.querySelector('[data-state="success"]')).toBeTruthy();
    expect(tr3.querySelector('[data-state="running"]')).toBeTruthy();
    expect(screen.getByText("cancelled").closest("tr")!.querySelector("button")).toBeNull();
    expect(screen.getByText("completed").closest("tr")!.textContent).toContain("5/5 done");
    expect(tr3.textContent).toContain("Missing Runs");
    fireEvent.click(screen.getByRole("button", { name: "Unpause backfill" }));
    await waitFor(() =>
      expect(calls.some((c) => c.method === "PUT" && c.url.pathname.endsWith("/3/unpause"))).toBe(true),
    );
    await waitFor(() =>
      expect(screen.getByRole("button", { name: "Cancel backfill" })).toHaveProperty("disabled", false),
    );
    fireEvent.click(screen.getByRole("button", { name: "Cancel backfill" }));
    expect(screen.getByRole("dialog", { name: "Cancel backfill 3?" })).toBeTruthy();
    expect(calls.some((c) => c.url.pathname.endsWith("/cancel"))).toBe(false);
    fireEvent.click(screen.getByRole("button", { name: "Yes, cancel backfill" }));
    expect(await screen.findByText("Backfill 3 is already completed.")).toBeTruthy();
    expect(calls.filter((c) => c.url.pathname === "/ui/backfills")[0].url.searchParams.get("dag_id")).toBe("d1");
  });
});

describe("BackfillBanner", () => {
  it("shows the active backfill, not the first one, with pause", async () => {
    const calls = mockFetch({
      "GET /ui/backfills": {
        body: {
          backfills: [
            backfill({ id: 1, completed_at: "2026-11-19T11:00:00Z" }),
            backfill({ id: 2, progress: { total: 31, done: 12, by_state: { success: 12 } } }),
          ],
          total_entries: 2,
        },
      },
      "PUT /api/v2/backfills/2/pause": { body: backfill({ id: 2, is_paused: true }) },
    });
    render(
      <MemoryRouter>
        <BackfillBanner dagId="d1" />
      </MemoryRouter>,
    );
    const banner = await screen.findByRole("region", { name: "Backfill in progress" });
    expect(banner.textContent).toContain("Backfill in progress: 12/31 runs done");
    expect(screen.getByRole("link", { name: "View backfills" }).getAttribute("href")).toBe(
      "/dags/d1/backfills",
    );
    const query = calls[0].url.searchParams;
    expect(query.get("dag_id")).toBe("d1");
    expect(query.get("active")).toBe("true");
    fireEvent.click(screen.getByRole("button", { name: "Pause backfill" }));
    await waitFor(() => expect(calls.some((c) => c.url.pathname.endsWith("/2/pause"))).toBe(true));
  });

  it("shows why it could not load the backfills", async () => {
    mockFetch({ "GET /ui/backfills": { status: 403, body: { detail: "Forbidden: no access" } } });
    render(
      <MemoryRouter>
        <BackfillBanner dagId="d1" />
      </MemoryRouter>,
    );
    expect((await screen.findByRole("status")).textContent).toBe(
      "Backfills could not be loaded: Forbidden: no access",
    );
  });

  it("renders nothing without an active backfill", async () => {
    const calls = mockFetch({ "GET /ui/backfills": { body: { backfills: [], total_entries: 0 } } });
    const { container } = render(
      <MemoryRouter>
        <BackfillBanner dagId="d1" />
      </MemoryRouter>,
    );
    await waitFor(() => expect(calls.length).toBe(1));
    await act(async () => {});
    expect(container.textContent).toBe("");
  });
});
