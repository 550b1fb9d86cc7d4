// Clearing a failed task instance from its page: the dialog's dry-run list, confirm, and the
// task reruns to success (e2e_flaky's checks.flaky fails on each run's first try only).
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, launchBrowser, screenshot, signedIn } from "./browser";

interface Ti {
  task_id: string;
  state: string | null;
  try_number: number;
}

const tiState = async (runId: string, taskId: string) =>
  (await apiCall<Ti>("GET", `/api/v2/dags/e2e_flaky/dagRuns/${runId}/taskInstances/${taskId}`)).state;

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe("clear", () => {
  it("clears a failed task instance from its page and it reruns to success", async () => {
    const runId = `e2e_clear_${Date.now()}`;
    await apiCall("POST", "/api/v2/dags/e2e_flaky/dagRuns", { logical_date: null, dag_run_id: runId });
    await expect
      .poll(() => tiState(runId, "checks.flaky"), { timeout: 90_000, interval: 500 })
      .toBe("failed");
    const { context, page } = await signedIn(browser);
    await page.goto(`/dags/e2e_flaky/runs/${runId}/tasks/checks.flaky`);
    await page.getByRole("button", { name: "Clear task instance" }).click();
    const dialog = page.getByRole("dialog", { name: "Clear task instance" });
    // checks.flaky and its downstream `done` (downstream is on by default)
    await dialog.getByText("2 task instances will be cleared.").waitFor();
    await dialog.getByRole("cell", { name: "checks.flaky" }).waitFor();
    await dialog.getByRole("cell", { name: "done" }).waitFor();
    await screenshot(page, "clear-dialog");
    await dialog.getByRole("button", { name: "Confirm" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect
      .poll(() => tiState(runId, "checks.flaky"), { timeout: 90_000, interval: 500 })
      .toBe("success");
    const ti = await apiCall<Ti>("GET", `/api/v2/dags/e2e_flaky/dagRuns/${runId}/taskInstances/checks.flaky`);
    expect(ti.try_number).toBe(2);
    // the page shows the new state without a reload
    await expect
      .poll(() => page.locator('.ti-details [data-state="success"]').count(), { timeout: 30_000 })
      .toBeGreaterThan(0);
    await context.close();
  });
});
