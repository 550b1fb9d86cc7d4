import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { describe, expect, it } from "vitest";
import { Layout } from "../components/Layout";
import { mockFetch } from "../test/fetchMock";
import { AssetsListPage } from "./AssetsListPage";
import { asset } from "./fixtures";

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname + location.search}</output>;
}

function renderList(url = "/assets") {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <Routes>
        <Route element={<Layout />}>
          <Route path="/assets" element={<><AssetsListPage /><Where /></>} />
          <Route path="/dags/:dagId/*" element={<Where />} />
        </Route>
      </Routes>
    </MemoryRouter>,
  );
}

const RAW = asset(1, "raw", {
  scheduled_dags: [{ dag_id: "cleaner" }, { dag_id: "reporter" }],
  producing_tasks: [{ dag_id: "producer", task_id: "extract" }],
  last_asset_event: { id: 9, timestamp: "2024-03-01T13:00:00Z" },
});

describe("AssetsListPage", () => {
  it("lists assets with group, last event, consumers and producers", async () => {
    const calls = mockFetch({
      "GET /api/v2/assets": { body: { assets: [RAW, asset(2, "lonely", { uri: "lonely" })], total_entries: 2 } },
    });
    renderList();
    expect(await screen.findByRole("heading", { name: "2 Assets" })).toBeTruthy();
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("link", { name: "Assets" }).className).toContain("active");
    const table = screen.getByRole("table", { name: "Assets" });
    const [, rawRow, lonelyRow] = within(table).getAllByRole("row");
    expect(rawRow.textContent).toContain("s3://lake/raw");
    expect(rawRow.querySelector("time")?.getAttribute("dateTime")).toBe("2024-03-01T13:00:00Z");
    expect(within(rawRow).getByRole("link", { name: "reporter" }).getAttribute("href")).toBe("/dags/reporter/assets");
    expect(within(rawRow).getByRole("link", { name: "producer" }).getAttribute("href")).toBe("/dags/producer/assets");
    expect(rawRow.textContent).toContain(".extract");
    expect(lonelyRow.textContent).not.toContain("s3://");
    const query = calls[0].url.searchParams;
    expect(Object.fromEntries(query)).toEqual({ limit: "25", offset: "0", order_by: "name" });
  });

  it("searches by name through the URL and pages", async () => {
    const calls = mockFetch({
      "GET /api/v2/assets": (url) => ({
        body: {
          assets: [asset(Number(url.searchParams.get("offset")) + 1, url.searchParams.get("name_pattern") ?? "any")],
          total_entries: 60,
        },
      }),
    });
    renderList("/assets?name_pattern=raw");
    await screen.findByRole("heading", { name: "60 Assets" });
    expect(calls[0].url.searchParams.get("name_pattern")).toBe("raw");
    expect((screen.getByRole("searchbox", { name: "Search assets" }) as HTMLInputElement).value).toBe("raw");
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    await waitFor(() => expect(screen.getByTestId("where").textContent).toBe("/assets?name_pattern=raw&page=2"));
    await waitFor(() => expect(calls.at(-1)?.url.searchParams.get("offset")).toBe("25"));
    expect(screen.getByText("Page 2 of 3")).toBeTruthy();
    fireEvent.change(screen.getByRole("searchbox", { name: "Search assets" }), { target: { value: "clean" } });
    await waitFor(() => expect(screen.getByTestId("where").textContent).toBe("/assets?name_pattern=clean"));
    await waitFor(() => expect(calls.at(-1)?.url.searchParams.get("name_pattern")).toBe("clean"));
    expect(calls.at(-1)?.url.searchParams.get("offset")).toBe("0");
  });

  it("says 1 Asset and when nothing matches", async () => {
    mockFetch({
      "GET /api/v2/assets": (url) =>
        url.searchParams.get("name_pattern")
          ? { body: { assets: [], total_entries: 0 } }
          : { body: { assets: [RAW], total_entries: 1 } },
    });
    renderList();
    expect(await screen.findByRole("heading", { name: "1 Asset" })).toBeTruthy();
    fireEvent.change(screen.getByRole("searchbox", { name: "Search assets" }), { target: { value: "zzz" } });
    expect(await screen.findByText("No asset matches “zzz”.")).toBeTruthy();
  });

  it("shows the API's error", async () => {
    mockFetch({ "GET /api/v2/assets": { status: 400, body: { detail: "Ordering with 'name' is disallowed" } } });
    renderList();
    expect((await screen.findByRole("alert")).textContent).toContain("Ordering with 'name' is disallowed");
  });
});
