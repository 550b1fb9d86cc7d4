// The DAG list against a real server: the e2e DAGs with their tags, search and tag filters in
// the URL, and pausing/unpausing from the list (checked through the API).
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, launchBrowser, screenshot, signedIn } from "./browser";

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

const rowIds = (page: import("playwright-core").Page) =>
  page.$$eval('[data-testid="dag-row"]', (rows) => rows.map((row) => (row as HTMLElement).dataset.dagId));

describe("DAG list", () => {
  it("shows the e2e DAGs with their tags and filters by search and by tag", async () => {
    const { context, page } = await signedIn(browser);
    await page.goto("/dags");
    await page.locator('[data-testid="dag-row"][data-dag-id="e2e_flaky"]').waitFor();
    const ids = await rowIds(page);
    for (const id of ["e2e_flaky", "e2e_daily", "e2e_params", "e2e_views_pausable"]) expect(ids).toContain(id);
    const daily = page.locator('[data-testid="dag-row"][data-dag-id="e2e_daily"]');
    expect(await daily.getByRole("button", { name: "daily" }).isVisible()).toBe(true);
    expect(await page.evaluate(() => performance.getEntriesByName("dagcore:dag-list-rendered").length)).toBe(1);
    await screenshot(page, "dag-list");

    await page.getByLabel("Search DAGs").fill("dail");
    await page.waitForURL(/search=dail/);
    await expect.poll(() => rowIds(page)).toEqual(["e2e_daily"]);
    await page.reload();
    await expect.poll(() => rowIds(page)).toEqual(["e2e_daily"]);
    expect(await page.getByLabel("Search DAGs").inputValue()).toBe("dail");

    await page.goto("/dags");
    await page.locator('[data-testid="dag-row"][data-dag-id="e2e_views_pausable"]').getByRole("button", { name: "views" }).click();
    await page.waitForURL(/tags=views/);
    await expect.poll(() => rowIds(page)).toEqual(["e2e_views_code", "e2e_views_pausable"]);
    await page.goBack();
    await expect.poll(async () => (await rowIds(page)).length).toBeGreaterThan(2);
    await context.close();
  });

  it("pauses and unpauses a DAG from the list, and it persists", async () => {
    const { context, page } = await signedIn(browser);
    await page.goto("/dags?search=e2e_views_pausable");
    const toggle = page.getByRole("switch", { name: "Pause e2e_views_pausable" });
    await toggle.waitFor();
    expect(await toggle.isChecked()).toBe(false);
    await toggle.click({ force: true });
    await expect
      .poll(async () => (await apiCall<{ is_paused: boolean }>("GET", "/api/v2/dags/e2e_views_pausable")).is_paused)
      .toBe(true);
    await page.reload();
    await toggle.waitFor();
    await expect.poll(() => toggle.isChecked()).toBe(true);
    await page.getByLabel("Status").selectOption("paused");
    await page.waitForURL(/paused=paused/);
    await expect.poll(() => rowIds(page)).toEqual(["e2e_views_pausable"]);
    await toggle.click({ force: true });
    await expect
      .poll(async () => (await apiCall<{ is_paused: boolean }>("GET", "/api/v2/dags/e2e_views_pausable")).is_paused)
      .toBe(false);
    await context.close();
  });
});
