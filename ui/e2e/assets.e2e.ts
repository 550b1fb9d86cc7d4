// Assets against a real server: the producer's run records an event of e2e_orders; the
// consumer's Assets tab shows its condition with that event, and the asset graph with the
// producer DAG → e2e_orders → the consumer; the graph's producer node links to its DAG page and
// the top navigation's Assets page lists the asset, the graph's asset node opens the list filtered
// to it (docs/airflow-rest-api.md D.7).
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { apiCall, launchBrowser, screenshot, signedIn } from "./browser";

let browser: Browser;
const runId = `assets_${Date.now()}`;
// GET /api/v2/assets (docs/airflow-rest-api.md B.4) comes from another branch: the list test runs
// once the server has it (an unknown API path is 404; without a token a known one is 401).
const hasAssetsApi = (await fetch(`${inject("baseURL")}/api/v2/assets`)).status !== 404;

beforeAll(async () => {
  browser = await launchBrowser();
  await apiCall("POST", "/api/v2/dags/e2e_asset_producer/dagRuns", { logical_date: null, dag_run_id: runId });
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const run = await apiCall<{ state: string }>("GET", `/api/v2/dags/e2e_asset_producer/dagRuns/${runId}`);
    if (run.state === "success") return;
    if (run.state === "failed") throw new Error(`run ${runId} failed`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`run ${runId} did not succeed within 90 s`);
});
afterAll(async () => {
  await browser?.close();
});

describe("assets", () => {
  it("shows a consumer's condition and its producer and asset in the graph", async () => {
    const { context, page } = await signedIn(browser);
    await page.goto("/dags/e2e_asset_consumer");
    await page.getByRole("navigation", { name: "DAG" }).getByRole("link", { name: "Assets" }).click();
    await page.waitForURL(/\/dags\/e2e_asset_consumer\/assets$/);

    const leaf = page.getByRole("group", { name: "Asset e2e_orders" }).first();
    await leaf.waitFor();
    await expect.poll(() => leaf.textContent(), { timeout: 30_000 }).toContain("from e2e_asset_producer");
    expect(await leaf.getByRole("link", { name: "e2e_asset_producer" }).getAttribute("href")).toBe(
      `/dags/e2e_asset_producer/runs/${runId}`,
    );

    const graph = page.getByRole("figure", { name: "Asset graph" });
    const producer = graph.getByRole("link", { name: "DAG e2e_asset_producer" });
    await producer.waitFor();
    await graph.getByRole("link", { name: "Asset e2e_orders" }).waitFor();
    expect(await graph.getByRole("link", { name: "DAG e2e_asset_consumer" }).getAttribute("aria-current")).toBe("page");
    // Producer left of the asset, the asset left of the consumer.
    const x = (id: string) => page.locator(`[data-node-id="${id}"] rect`).getAttribute("x").then(Number);
    const assetNode = await page.locator('[data-node-type="asset"]').getAttribute("data-node-id");
    expect(await x("dag:e2e_asset_producer")).toBeLessThan(await x(assetNode ?? ""));
    expect(await x(assetNode ?? "")).toBeLessThan(await x("dag:e2e_asset_consumer"));
    expect(await page.locator(`path[data-edge="dag:e2e_asset_producer -> ${assetNode}"]`).count()).toBe(1);
    expect(await page.locator(`path[data-edge="${assetNode} -> dag:e2e_asset_consumer"]`).count()).toBe(1);
    await screenshot(page, "dag-assets-tab");

    await producer.click();
    await page.waitForURL(/\/dags\/e2e_asset_producer$/);
    await page.getByRole("heading", { name: "e2e_asset_producer" }).waitFor();
    await context.close();
  });

  it("opens the Assets page from the top navigation and after a reload", async () => {
    const { context, page } = await signedIn(browser);
    await page.goto("/dags");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Assets" }).click();
    await page.waitForURL(/\/assets$/);
    await page.getByRole("heading", { name: /^([\d,]+ )?Assets?$/ }).waitFor();
    // /assets is a client route: a reload gets the app, not a file under /assets/.
    await page.reload();
    await page.getByRole("heading", { name: /^([\d,]+ )?Assets?$/ }).waitFor();
    expect(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Assets" }).getAttribute("class")).toContain("active");
    await context.close();
  });

  it.skipIf(!hasAssetsApi)("lists the asset with its consumer and producer, and the graph links to it", async () => {
    const { context, page } = await signedIn(browser);
    await page.goto("/assets");
    const table = page.getByRole("table", { name: "Assets" });
    const row = table.getByRole("row").filter({ hasText: "e2e_orders" });
    await row.waitFor();
    expect(await row.getByRole("link", { name: "e2e_asset_consumer" }).getAttribute("href")).toBe(
      "/dags/e2e_asset_consumer/assets",
    );
    expect(await row.textContent()).toContain("e2e_asset_producer.load_orders");
    expect(await row.locator("time").count()).toBe(1);
    await page.getByRole("searchbox", { name: "Search assets" }).fill("nothing-like-this");
    await page.getByText("No asset matches").waitFor();

    await page.goto("/dags/e2e_asset_consumer/assets");
    await page.getByRole("figure", { name: "Asset graph" }).getByRole("link", { name: "Asset e2e_orders" }).click();
    await page.waitForURL(/\/assets\?name_pattern=e2e_orders$/);
    await row.waitFor();
    await screenshot(page, "assets-list");
    await context.close();
  });
});
