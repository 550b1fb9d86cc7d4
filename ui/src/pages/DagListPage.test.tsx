import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { describe, expect, it } from "vitest";
import { mockFetch, type Recorded } from "../test/fetchMock";
import { DagListPage } from "./DagListPage";
import { uiDag } from "./list/fixtures";
import { pageRange, readFilters, requestQuery } from "./list/listQuery";

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname + location.search}</output>;
}

function renderList(url = "/dags") {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <Routes>
        <Route path="/dags" element={<><DagListPage /><Where /></>} />
        <Route path="/dags/:dagId/*" element={<Where />} />
      </Routes>
    </MemoryRouter>,
  );
}

const listCalls = (calls: Recorded[]) => calls.filter((call) => call.url.pathname === "/ui/dags");
const lastList = (calls: Recorded[]) => listCalls(calls).at(-1)!.url.searchParams;

const baseRoutes = {
  "GET /api/v2/dagTags": { body: { tags: ["e2e", "finance", "ml"], total_entries: 3 } },
};

describe("DAG list", () => {
  it("shows a row per DAG with schedule, tags, owners, last run and next run", async () => {
    mockFetch({
      ...baseRoutes,
      "GET /ui/dags": {
        body: {
          dags: [
            uiDag("alpha", {
              dag_display_name: "Alpha pipeline",
              latest_dag_runs: [
                {
                  run_id: "manual__1", dag_id: "alpha", state: "failed", run_type: "manual",
                  logical_date: null, run_after: "2026-10-01T00:00:00Z", start_date: "2026-10-01T00:00:00Z",
                  end_date: null, duration: 5,
                },
              ],
            }),
            uiDag("beta", { tags: [] }),
          ],
          total_entries: 2,
          import_errors_count: 0,
        },
      },
    });
    renderList();
    const rows = await screen.findAllByTestId("dag-row");
    expect(rows.map((row) => row.dataset.dagId)).toEqual(["alpha", "beta"]);
    expect(rows[0].textContent).toContain("Alpha pipeline");
    expect(rows[0].textContent).toContain("alpha"); // the id under a different display name
    expect(rows[0].textContent).toContain("At 00:00");
    expect(rows[0].textContent).toContain("airflow");
    expect(rows[0].querySelector('[data-state="failed"]')).not.toBeNull();
    expect(screen.getByRole("link", { name: "Run manual__1: failed" }).getAttribute("href")).toBe(
      "/dags/alpha/runs/manual__1",
    );
    expect(screen.getByText("1–2 of 2")).toBeTruthy();
    expect(screen.getByRole("heading", { name: "2 DAGs" })).toBeTruthy();
  });

  it("turns the URL filters into the /ui/dags query, one request per page", async () => {
    const calls = mockFetch({
      ...baseRoutes,
      "GET /ui/dags": { body: { dags: [uiDag("a")], total_entries: 1000, import_errors_count: 0 } },
    });
    renderList("/dags?search=fin&tags=finance&tags=ml&tags_match_mode=all&paused=paused&last_run_state=failed&order_by=-next_dagrun&page=3");
    await screen.findAllByTestId("dag-row");
    const query = lastList(calls);
    expect(query.get("limit")).toBe("50");
    expect(query.get("offset")).toBe("100");
    expect(query.get("dag_display_name_pattern")).toBe("fin");
    expect(query.getAll("tags")).toEqual(["finance", "ml"]);
    expect(query.get("tags_match_mode")).toBe("all");
    expect(query.get("paused")).toBe("true");
    expect(query.get("last_dag_run_state")).toBe("failed");
    expect(query.get("order_by")).toBe("-next_dagrun");
    expect(query.get("dag_runs_limit")).toBe("10");
    expect(screen.getByText("101–101 of 1,000")).toBeTruthy();
  });

  it("puts filter changes in the URL (page back to 1) and requests them", async () => {
    const calls = mockFetch({
      ...baseRoutes,
      "GET /ui/dags": { body: { dags: [uiDag("a")], total_entries: 120, import_errors_count: 0 } },
    });
    renderList("/dags?page=2");
    await screen.findAllByTestId("dag-row");
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "active" } });
    await waitFor(() => expect(lastList(calls).get("paused")).toBe("false"));
    expect(lastList(calls).get("offset")).toBe("0");
    expect(screen.getByTestId("where").textContent).toBe("/dags?paused=active");

    // A tag chip in a row filters by that tag.
    fireEvent.click(screen.getByRole("button", { name: "e2e" }));
    await waitFor(() => expect(lastList(calls).getAll("tags")).toEqual(["e2e"]));
    expect(screen.getByTestId("where").textContent).toBe("/dags?tags=e2e&paused=active");

    // Next page.
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    await waitFor(() => expect(lastList(calls).get("offset")).toBe("50"));
    expect(screen.getByTestId("where").textContent).toContain("page=2");
  });

  it("debounces the search box before it reaches the URL and the request", async () => {
    const calls = mockFetch({
      ...baseRoutes,
      "GET /ui/dags": { body: { dags: [uiDag("a")], total_entries: 1, import_errors_count: 0 } },
    });
    renderList();
    await screen.findAllByTestId("dag-row");
    const before = listCalls(calls).length;
    fireEvent.change(screen.getByLabelText("Search DAGs"), { target: { value: "al" } });
    fireEvent.change(screen.getByLabelText("Search DAGs"), { target: { value: "alp" } });
    expect(listCalls(calls).length).toBe(before);
    await waitFor(() => expect(lastList(calls).get("dag_display_name_pattern")).toBe("alp"));
    expect(listCalls(calls).filter((call) => call.url.searchParams.get("dag_display_name_pattern") === "al")).toEqual([]);
    expect(screen.getByTestId("where").textContent).toBe("/dags?search=alp");
  });

  it("pauses optimistically and rolls back with the server's detail on error", async () => {
    let answer: { status: number; body: unknown } = { status: 403, body: { detail: "Access denied: you may not pause DAGs" } };
    const calls = mockFetch({
      ...baseRoutes,
      "GET /ui/dags": { body: { dags: [uiDag("alpha")], total_entries: 1, import_errors_count: 0 } },
      "PATCH /api/v2/dags/alpha": () => answer,
    });
    renderList();
    const toggle = (await screen.findByRole("switch", { name: "Pause alpha" })) as HTMLInputElement;
    expect(toggle.checked).toBe(false);
    await act(async () => {
      fireEvent.click(toggle);
    });
    await screen.findByText("Access denied: you may not pause DAGs");
    expect(toggle.checked).toBe(false);
    const patch = calls.find((call) => call.method === "PATCH")!;
    expect(patch.body).toEqual({ is_paused: true });

    answer = { status: 200, body: { ...uiDag("alpha"), is_paused: true } };
    fireEvent.click(toggle);
    expect(toggle.checked).toBe(true); // at once, before the answer
    await waitFor(() => expect(calls.filter((call) => call.method === "PATCH")).toHaveLength(2));
    await waitFor(() => expect(screen.queryByText("Access denied: you may not pause DAGs")).toBeNull());
    expect(toggle.checked).toBe(true);
  });

  it("shows the import errors count and lists them when expanded", async () => {
    mockFetch({
      ...baseRoutes,
      "GET /ui/dags": { body: { dags: [], total_entries: 0, import_errors_count: 2 } },
      "GET /api/v2/importErrors": {
        body: {
          import_errors: [
            { import_error_id: 1, timestamp: "2026-10-01T00:00:00Z", filename: "broken.py", bundle_name: null, stack_trace: "SyntaxError: bad" },
          ],
          total_entries: 1,
        },
      },
    });
    renderList();
    const banner = await screen.findByRole("button", { name: /2 import errors/ });
    fireEvent.click(banner);
    await screen.findByText("broken.py");
    expect(screen.getByText("SyntaxError: bad")).toBeTruthy();
    expect(screen.getByText("No DAG matches these filters.")).toBeTruthy();
  });

  it("shows a list error's detail", async () => {
    mockFetch({
      ...baseRoutes,
      "GET /ui/dags": { status: 400, body: { detail: "Ordering with 'bogus' is disallowed" } },
    });
    renderList("/dags?order_by=bogus");
    expect((await screen.findByRole("alert")).textContent).toContain("Ordering with 'bogus' is disallowed");
  });
});

describe("listQuery", () => {
  it("defaults and bad values", () => {
    const filters = readFilters(new URLSearchParams("page=-4&paused=maybe"));
    expect(filters.page).toBe(1);
    expect(filters.paused).toBe("all");
    const query = requestQuery(filters);
    expect(query.offset).toBe(0);
    expect(query.paused).toBeUndefined();
    expect(query.order_by).toBe("dag_display_name");
  });
  it("formats the page range", () => {
    expect(pageRange(1, 50, 1000)).toBe("1–50 of 1,000");
    expect(pageRange(20, 50, 1000)).toBe("951–1,000 of 1,000");
    expect(pageRange(1, 0, 0)).toBe("0 of 0");
  });
});

describe("TagFilter", () => {
  it("adds tags from /api/v2/dagTags to the filter and shows a tag load error", async () => {
    const calls = mockFetch({
      "GET /api/v2/dagTags": { body: { tags: ["e2e", "finance", "ml"], total_entries: 3 } },
      "GET /ui/dags": { body: { dags: [uiDag("a")], total_entries: 1, import_errors_count: 0 } },
    });
    renderList("/dags?tags=ml");
    await screen.findAllByTestId("dag-row");
    const select = screen.getByLabelText("Tags") as HTMLSelectElement;
    await waitFor(() => expect([...select.options].map((option) => option.value)).toEqual(["", "e2e", "finance"]));
    fireEvent.change(select, { target: { value: "finance" } });
    await waitFor(() => expect(lastList(calls).getAll("tags")).toEqual(["ml", "finance"]));
    expect(lastList(calls).get("tags_match_mode")).toBe("any");
    fireEvent.change(screen.getByLabelText("Match"), { target: { value: "all" } });
    await waitFor(() => expect(lastList(calls).get("tags_match_mode")).toBe("all"));
    fireEvent.click(screen.getByRole("button", { name: "Remove tag filter ml" }));
    await waitFor(() => expect(lastList(calls).getAll("tags")).toEqual(["finance"]));
    expect(screen.getByTestId("where").textContent).toBe("/dags?tags=finance");
  });

  it("shows why the tags could not be loaded", async () => {
    mockFetch({
      "GET /api/v2/dagTags": { status: 403, body: { detail: "Forbidden: tags" } },
      "GET /ui/dags": { body: { dags: [uiDag("a")], total_entries: 1, import_errors_count: 0 } },
    });
    renderList();
    expect((await screen.findByRole("alert")).textContent).toBe("Tags: Forbidden: tags");
  });
});
