import { render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it } from "vitest";
import type { ConditionNode } from "../api/types";
import { AssetExpression, ProducedList } from "./AssetExpression";
import { CONDITION, leaf } from "./fixtures";

function show(node: ConditionNode) {
  return render(
    <MemoryRouter>
      <AssetExpression node={node} />
    </MemoryRouter>,
  );
}

describe("AssetExpression", () => {
  it("renders AND/OR groups with their parts in order", () => {
    show(CONDITION);
    const any = screen.getByRole("group", { name: "Any of" });
    const all = within(any).getByRole("group", { name: "All of" });
    expect(within(all).getAllByRole("group").map((g) => g.getAttribute("aria-label"))).toEqual([
      "Asset clean",
      "Asset raw",
    ]);
    expect(all.textContent).toContain("AND");
    // Two OR gates between the three parts of the "any".
    expect(any.querySelectorAll(":scope > .asset-group-body > .asset-gate-any")).toHaveLength(2);
    expect(within(any).getByRole("group", { name: "Asset ref name=external" })).toBeTruthy();
    expect(within(any).getByRole("group", { name: "Alias exports" }).textContent).toContain(
      "The alias resolves to no asset yet",
    );
  });

  it("shows each asset's last event (linked to the producing run) and a queued mark", () => {
    show(CONDITION);
    const raw = screen.getByRole("group", { name: "Asset raw" });
    expect(within(raw).getByText("Queued")).toBeTruthy();
    expect(raw.className).toContain("asset-card-queued");
    expect(within(raw).getByRole("link", { name: "producer" }).getAttribute("href")).toBe(
      "/dags/producer/runs/manual__1",
    );
    expect(within(raw).getByRole("link", { name: "raw" }).getAttribute("href")).toBe("/assets?name_pattern=raw");
    expect(raw.querySelector("time")?.getAttribute("dateTime")).toBe("2024-03-01T13:00:00Z");
    const clean = screen.getByRole("group", { name: "Asset clean" });
    expect(within(clean).queryByText("Queued")).toBeNull();
    expect(within(clean).getByText("No event yet")).toBeTruthy();
  });

  it("renders a bare asset and an alias with its resolved assets", () => {
    show({ type: "alias", name: "exports", group: "asset", queued: true, assets: [leaf(4, "exported", { queued_at: "2024-03-01T12:00:00Z" })] });
    const alias = screen.getByRole("group", { name: "Alias exports" });
    expect(within(alias).getAllByText("Queued")).toHaveLength(2);
    expect(within(alias).getByRole("group", { name: "Asset exported" })).toBeTruthy();
  });

  it("lists what a DAG produces with its tasks", () => {
    render(
      <MemoryRouter>
        <ProducedList items={[{ ...leaf(5, "report"), task_ids: ["a", "b"] }]} />
      </MemoryRouter>,
    );
    const list = screen.getByRole("list", { name: "Produced assets" });
    expect(within(list).getByRole("group", { name: "Asset report" })).toBeTruthy();
    expect(list.textContent).toContain("by tasks a, b");
  });
});
