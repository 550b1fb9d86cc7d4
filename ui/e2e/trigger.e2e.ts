// The trigger form against a real server: a changed param reaches the run's conf; a bad value
// is refused (by the browser's check or the server's), and no run is created.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, launchBrowser, screenshot, signedIn } from "./browser";

interface Runs {
  dag_runs: { dag_run_id: string; conf: Record<string, unknown> }[];
  total_entries: number;
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe("trigger", () => {
  it("triggers e2e_params with a changed param and a run id", async () => {
    const { context, page } = await signedIn(browser);
    const runId = `e2e_trigger_${Date.now()}`;
    await page.goto("/dags/e2e_params/trigger");
    const count = page.getByLabel("count", { exact: true });
    await expect.poll(() => count.inputValue()).toBe("3");
    await count.fill("7");
    await page.getByLabel("colour", { exact: true }).selectOption({ label: "blue" });
    await page.getByText("Advanced options").click();
    await page.getByLabel("Run ID").fill(runId);
    await expect.poll(async () => JSON.parse(await page.getByLabel("Configuration JSON").inputValue()))
      .toMatchObject({ count: 7, colour: "blue" });
    await screenshot(page, "trigger-form");
    await page.getByRole("button", { name: "Trigger", exact: true }).click();
    await page.getByRole("link", { name: runId }).waitFor();
    const run = await apiCall<{ conf: Record<string, unknown>; logical_date: string | null }>(
      "GET",
      `/api/v2/dags/e2e_params/dagRuns/${runId}`,
    );
    expect(run.conf).toEqual({ count: 7, colour: "blue", label: "hello", dry_run: false });
    expect(run.logical_date).toBeNull();
    await context.close();
  });

  it("refuses count=99 with the form's message (jsonschema's words) and creates no run", async () => {
    const { context, page } = await signedIn(browser);
    const before = await apiCall<Runs>("GET", "/api/v2/dags/e2e_params/dagRuns?limit=1");
    await page.goto("/dags/e2e_params/trigger");
    const count = page.getByLabel("count", { exact: true });
    await count.fill("99");
    await page.getByText("99 is greater than the maximum of 10").waitFor();
    const trigger = page.getByRole("button", { name: "Trigger", exact: true });
    expect(await trigger.isDisabled()).toBe(true);
    await count.press("Enter");
    await screenshot(page, "trigger-bad-value");
    await context.close();
    const after = await apiCall<Runs>("GET", "/api/v2/dags/e2e_params/dagRuns?limit=1");
    expect(after.total_entries).toBe(before.total_entries);
  });

  it("shows the server's refusal when the form lets the request through (a run id in use)", async () => {
    const runId = `e2e_trigger_dup_${Date.now()}`;
    await apiCall("POST", "/api/v2/dags/e2e_params/dagRuns", { logical_date: null, dag_run_id: runId });
    const before = await apiCall<Runs>("GET", "/api/v2/dags/e2e_params/dagRuns?limit=1");
    const { context, page } = await signedIn(browser);
    await page.goto("/dags/e2e_params/trigger");
    await page.getByLabel("count", { exact: true }).fill("5");
    await page.getByText("Advanced options").click();
    await page.getByLabel("Run ID").fill(runId);
    await page.getByRole("button", { name: "Trigger", exact: true }).click();
    const alert = page.getByRole("alert").filter({ hasText: "Failed to Trigger Dag" });
    await alert.waitFor();
    expect(await alert.textContent()).toContain("Unique constraint violation");
    const after = await apiCall<Runs>("GET", "/api/v2/dags/e2e_params/dagRuns?limit=1");
    expect(after.total_entries).toBe(before.total_entries);
    await context.close();
  });
});
