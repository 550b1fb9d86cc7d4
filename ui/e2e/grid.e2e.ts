// The grid against a real scheduler: a triggered e2e_flaky run's cells move from queued/running
// to their final states without a reload; the mapped task shows its counts. A synthetic
// 500 runs x 50 tasks answer (routed by the browser) checks the windowed render and prints the
// render time the page measured (not asserted: timings are not test results).
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, launchBrowser, screenshot, signedIn } from "./browser";

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

const cellState = (page: Page, runId: string, taskId: string) =>
  page
    .locator(`.grid-col[data-run-id="${runId}"] .gc[data-task-id="${taskId}"]`)
    .getAttribute("data-state", { timeout: 1000 })
    .catch(() => "(absent)");

const renderTimes = (page: Page) =>
  page.evaluate(() => performance.getEntriesByName("dagcore:grid-render").map((entry) => Math.round(entry.duration)));

describe("grid", () => {
  it("follows a run of e2e_flaky as the scheduler moves it", async () => {
    const runId = `views_grid_${Date.now()}`;
    await apiCall("POST", "/api/v2/dags/e2e_flaky/dagRuns", { logical_date: null, dag_run_id: runId });
    const { context, page } = await signedIn(browser);
    await page.goto("/dags/e2e_flaky");
    await page.locator(`.gbar[data-run-id="${runId}"]`).waitFor();
    // Newest run on the left: ours is the first bar.
    expect(await page.locator(".gbar").first().getAttribute("data-run-id")).toBe(runId);
    const seen = new Set<string | null>();
    await expect
      .poll(
        async () => {
          const state = await cellState(page, runId, "checks.flaky");
          seen.add(state);
          return state;
        },
        { timeout: 90_000, interval: 300 },
      )
      .toBe("failed");
    expect(await cellState(page, runId, "done")).toBe("upstream_failed");
    const square = page.locator(`.grid-col[data-run-id="${runId}"] .gc[data-task-id="square"]`);
    await expect.poll(() => square.getAttribute("title"), { timeout: 30_000 }).toBe("3 success");
    expect(await square.textContent()).toBe("3");
    expect(await cellState(page, runId, "checks")).toBe("failed");
    console.log(`grid: states seen for checks.flaky: ${[...seen].join(" → ")}`);

    // Collapse the group: its row shows the summary; the state survives polling.
    await page.getByRole("button", { name: "checks", exact: true }).click();
    expect(await page.locator(`.grid-col[data-run-id="${runId}"] .gc[data-task-id="checks.flaky"]`).count()).toBe(0);
    await page.getByRole("button", { name: "Expand all" }).click();

    await page.locator(`.grid-col[data-run-id="${runId}"] .gc[data-task-id="checks.flaky"]`).hover();
    expect(await page.getByRole("tooltip").textContent()).toContain("checks.flaky");
    await screenshot(page, "grid");

    await page.locator(`.grid-col[data-run-id="${runId}"] .gc[data-task-id="checks.flaky"]`).click();
    await page.waitForURL(new RegExp(`/runs/${runId}/tasks/checks.flaky$`));
    expect(await page.locator(".gc-selected").getAttribute("data-task-id")).toBe("checks.flaky");
    console.log(`grid: render times (ms) of e2e_flaky's grid: ${(await renderTimes(page)).join(", ")}`);
    await context.close();
  });

  it("renders a 500 runs x 50 tasks grid windowed, and scrolls", async () => {
    const { context, page } = await signedIn(browser);
    const runs = Array.from({ length: 500 }, (_, r) => ({
      run_id: `synthetic_${r}`, state: r % 9 ? "success" : "failed", run_type: "scheduled",
      logical_date: null, run_after: "2026-10-01T00:00:00Z", start_date: "2026-10-01T00:00:00Z",
      end_date: "2026-10-01T00:01:00Z", duration: 30 + (r % 40), dag_version_number: 1, note: null,
    }));
    const taskIds = Array.from({ length: 50 }, (_, t) => `task_${t}`);
    const body = {
      dag_id: "e2e_daily",
      structure: taskIds.map((id) => ({ id, label: id, type: "task", is_mapped: false, operator: "EmptyOperator", children: null })),
      task_ids: taskIds,
      runs,
      cells: runs.map((_, r) => taskIds.map((_, t) => ((r * 7 + t) % 11 ? "success" : "failed"))),
      total_runs: 500,
    };
    await page.route(/\/ui\/grid\/e2e_daily/, (route) =>
      route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) }),
    );
    await page.goto("/dags/e2e_daily?limit=500");
    const grid = page.getByTestId("grid");
    await grid.waitFor();
    expect(await grid.getAttribute("data-rendered-runs")).toBe("500");
    expect(await grid.getAttribute("data-task-count")).toBe("50");
    await expect.poll(() => renderTimes(page)).not.toEqual([]);
    const rendered = await page.locator(".gc").count();
    expect(rendered).toBeGreaterThan(100);
    expect(rendered).toBeLessThan(25_000);
    expect(await cellState(page, "synthetic_0", "task_0")).toBe("failed");
    // Scroll to the far end: the oldest runs and last tasks appear.
    await page.locator(".grid-scroll").evaluate((box) => {
      box.scrollLeft = box.scrollWidth;
      box.scrollTop = box.scrollHeight;
    });
    await expect.poll(() => cellState(page, "synthetic_499", "task_49")).toBe(((499 * 7 + 49) % 11) ? "success" : "failed");
    console.log(`grid: 500x50 synthetic grid: ${rendered} cells in the DOM, render times (ms): ${(await renderTimes(page)).join(", ")}`);
    await screenshot(page, "grid-500");
    await context.close();
  });
});
