import { fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { describe, expect, it } from "vitest";
import { AssetGraph } from "./AssetGraph";
import { reporterGraph } from "./fixtures";

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname + location.search}</output>;
}

function show(currentId?: string) {
  return render(
    <MemoryRouter initialEntries={["/dags/reporter/assets"]}>
      <Routes>
        <Route path="*" element={<><AssetGraph graph={reporterGraph} currentId={currentId} /><Where /></>} />
      </Routes>
    </MemoryRouter>,
  );
}

describe("AssetGraph", () => {
  it("draws every node and edge, DAGs linking to their page and assets to the list", () => {
    show("dag:reporter");
    const figure = screen.getByRole("figure", { name: "Asset graph" });
    const svg = within(figure).getByTestId("asset-graph");
    expect(svg.querySelectorAll("[data-node-id]")).toHaveLength(6);
    expect([...svg.querySelectorAll("path[data-edge]")].map((p) => p.getAttribute("data-edge")).sort()).toEqual(
      reporterGraph.edges.map((e) => `${e.source_id} -> ${e.target_id}`).sort(),
    );
    const producer = within(figure).getByRole("link", { name: "DAG producer" });
    expect(producer.getAttribute("href")).toBe("/dags/producer");
    expect(within(figure).getByRole("link", { name: "Asset raw" }).getAttribute("href")).toBe(
      "/assets?name_pattern=raw",
    );
    expect(within(figure).getByRole("link", { name: "DAG reporter" }).getAttribute("aria-current")).toBe("page");
    expect(svg.querySelector('[data-node-id="dag:reporter"] rect')?.getAttribute("class")).toContain("agraph-current");
    fireEvent.click(producer);
    expect(screen.getByTestId("where").textContent).toBe("/dags/producer");
  });

  it("places producers left of their assets and consumers right of them", () => {
    show();
    const x = (id: string) =>
      Number(document.querySelector(`[data-node-id="${id}"] rect`)?.getAttribute("x") ?? Number.NaN);
    expect(x("dag:producer")).toBeLessThan(x("asset:1"));
    expect(x("asset:1")).toBeLessThan(x("dag:cleaner"));
    expect(x("dag:cleaner")).toBeLessThan(x("asset:2"));
    expect(x("asset:2")).toBeLessThan(x("dag:reporter"));
    expect(x("dag:reporter")).toBeLessThan(x("asset:5"));
  });

  it("says so when there are no dependencies", () => {
    render(
      <MemoryRouter>
        <AssetGraph graph={{ nodes: [{ id: "dag:etl", label: "etl", type: "dag" }], edges: [] }} currentId="dag:etl" />
      </MemoryRouter>,
    );
    expect(screen.getByText("No asset dependencies.")).toBeTruthy();
    expect(screen.queryByRole("figure")).toBeNull();
  });
});
