import { render, screen, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { describe, expect, it } from "vitest";
import { flakyGrid } from "../grid/fixtures";
import { uiDag } from "../pages/list/fixtures";
import { DagPage } from "../pages/dag/DagPage";
import { mockFetch, type MockRoute } from "../test/fetchMock";
import { reporterAssets, reporterGraph } from "./fixtures";

function routes(extra: Record<string, MockRoute> = {}): Record<string, MockRoute> {
  return {
    "GET /api/v2/dags/reporter/details": { body: { ...uiDag("reporter"), params: null } },
    "GET /ui/grid/reporter": { body: flakyGrid() },
    "GET /ui/backfills": { body: { backfills: [], total_entries: 0 } },
    "GET /ui/dags/reporter/assets": { body: reporterAssets },
    "GET /ui/dependencies": { body: reporterGraph },
    ...extra,
  };
}

function renderTab() {
  return render(
    <MemoryRouter initialEntries={["/dags/reporter/assets"]}>
      <Routes>
        <Route path="/dags/:dagId/*" element={<DagPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe("DAG Assets tab", () => {
  it("shows the condition, what the DAG produces and the graph around it", async () => {
    const calls = mockFetch(routes());
    renderTab();
    const tab = screen.getByRole("link", { name: "Assets" });
    expect(tab.className).toContain("active");
    const any = await screen.findByRole("group", { name: "Any of" });
    expect(within(any).getByRole("group", { name: "Asset raw" }).textContent).toContain("Queued");
    expect(within(screen.getByRole("list", { name: "Produced assets" })).getByRole("group", { name: "Asset report" })).toBeTruthy();
    const graph = await screen.findByRole("figure", { name: "Asset graph" });
    expect(within(graph).getByRole("link", { name: "DAG producer" })).toBeTruthy();
    const graphCall = calls.find((call) => call.url.pathname === "/ui/dependencies");
    expect(graphCall?.url.searchParams.get("node_id")).toBe("dag:reporter");
    // The grid is not loaded on this tab.
    expect(calls.some((call) => call.url.pathname === "/ui/grid/reporter")).toBe(false);
  });

  it("says when the DAG is not scheduled on assets and produces none", async () => {
    mockFetch(
      routes({
        "GET /ui/dags/reporter/assets": { body: { ...reporterAssets, condition: null, produces: [] } },
        "GET /ui/dependencies": { body: { nodes: [{ id: "dag:reporter", label: "reporter", type: "dag" }], edges: [] } },
      }),
    );
    renderTab();
    expect(await screen.findByText("This DAG is not scheduled on assets.")).toBeTruthy();
    expect(screen.getByText("This DAG's tasks produce no assets.")).toBeTruthy();
    expect(await screen.findByText("No asset dependencies.")).toBeTruthy();
  });

  it("shows the server's error text", async () => {
    mockFetch(
      routes({
        "GET /ui/dags/reporter/assets": { status: 404, body: { detail: "The Dag with ID: `reporter` was not found" } },
        "GET /ui/dependencies": { status: 400, body: { detail: "Invalid node_id: `dag:`" } },
      }),
    );
    renderTab();
    expect((await screen.findByText("Invalid node_id: `dag:`")).getAttribute("role")).toBe("alert");
    expect((await screen.findByText("The Dag with ID: `reporter` was not found")).getAttribute("role")).toBe("alert");
  });
});
