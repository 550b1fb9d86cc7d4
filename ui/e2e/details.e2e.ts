// Run and task instance details and the code tab against a real server: a failed e2e_flaky run
// shows its fields, DAG version and task instances; checks.flaky's log says why it failed; the
// mapped task lists its instances; a DAG edited on disk gets a second version to compare.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { apiCall, launchBrowser, screenshot, signedIn } from "./browser";

let browser: Browser;
const runId = `views_details_${Date.now()}`;

beforeAll(async () => {
  browser = await launchBrowser();
  await apiCall("POST", "/api/v2/dags/e2e_flaky/dagRuns", { logical_date: null, dag_run_id: runId });
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const run = await apiCall<{ state: string }>("GET", `/api/v2/dags/e2e_flaky/dagRuns/${runId}`);
    if (run.state === "failed") return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`run ${runId} did not fail within 90 s`);
});
afterAll(async () => {
  await browser?.close();
});

describe("details", () => {
  it("shows a run's details beside the grid", async () => {
    const { context, page } = await signedIn(browser);
    await page.goto(`/dags/e2e_flaky/runs/${runId}`);
    const details = page.getByRole("region", { name: "Details" });
    await details.getByRole("heading", { name: `Run ${runId}` }).waitFor();
    await details.getByRole("link", { name: "checks.flaky" }).waitFor();
    expect(await details.locator('.facts [data-state="failed"]').count()).toBe(1);
    expect(await details.getByRole("link", { name: /^v\d+$/ }).first().getAttribute("href")).toMatch(
      /\/dags\/e2e_flaky\/code\?version=\d+$/,
    );
    expect(await details.getByRole("button", { name: "Clear run" }).isVisible()).toBe(true);
    // The grid loads on its own request beside the details: wait for it, then for the bar of
    // the selected run.
    await page.getByTestId("grid").waitFor();
    await page.locator(".gbar-selected").waitFor();
    expect(await page.locator(".gbar-selected").getAttribute("data-run-id")).toBe(runId);
    await screenshot(page, "run-details");
    await context.close();
  });

  it("shows a failed task instance's log and a mapped task's instances", async () => {
    const { context, page } = await signedIn(browser);
    await page.goto(`/dags/e2e_flaky/runs/${runId}/tasks/checks.flaky`);
    const details = page.getByRole("region", { name: "Details" });
    const log = details.getByTestId("log");
    await expect.poll(() => log.textContent(), { timeout: 30_000 }).toContain("fails on purpose");
    expect(await details.getByRole("button", { name: "Clear task instance" }).isVisible()).toBe(true);
    expect(await details.getByRole("tab", { name: "Try 1" }).getAttribute("aria-selected")).toBe("true");
    await screenshot(page, "ti-details-log");

    await page.goto(`/dags/e2e_flaky/runs/${runId}/tasks/square`);
    const chips = details.getByRole("list", { name: "Mapped instances" }).getByRole("button");
    await expect.poll(() => chips.count()).toBe(3);
    await chips.nth(2).click();
    await page.waitForURL(/map_index=2/);
    await details.getByRole("heading", { name: "square [2]" }).waitFor();
    await context.close();
  });

  it("shows the code and compares the previous version with the latest", async () => {
    // A version that task instances used is kept; the edit then makes a new one (an unused
    // latest version is updated in place, docs/airflow-behaviour.md 1.3).
    const codeRun = `views_code_${Date.now()}`;
    await apiCall("POST", "/api/v2/dags/e2e_views_code/dagRuns", { logical_date: null, dag_run_id: codeRun });
    for (const start = Date.now(); ; ) {
      const run = await apiCall<{ state: string }>("GET", `/api/v2/dags/e2e_views_code/dagRuns/${codeRun}`);
      if (run.state === "success") break;
      if (Date.now() - start > 60_000) throw new Error(`run ${codeRun} did not succeed within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const file = path.join(inject("home"), "dags", "e2e_views_code.py");
    writeFileSync(file, readFileSync(file, "utf8").replace('"first version"', '"second version"'));
    const deadline = Date.now() + 90_000;
    for (;;) {
      const versions = await apiCall<{ total_entries: number }>("GET", "/api/v2/dags/e2e_views_code/dagVersions");
      if (versions.total_entries >= 2) break;
      if (Date.now() > deadline) throw new Error("no second version of e2e_views_code within 90 s");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const { context, page } = await signedIn(browser);
    await page.goto("/dags/e2e_views_code/code");
    await page.getByText('description="second version",').waitFor();
    await page.getByRole("button", { name: "Compare previous with latest" }).click();
    const table = page.getByRole("table", { name: /^Compare v\d+ with v\d+$/ });
    await table.waitFor();
    expect(await table.locator(".diff-del").textContent()).toContain("first version");
    expect(await table.locator(".diff-add").textContent()).toContain("second version");
    await screenshot(page, "code-compare");
    await context.close();
  }, 200_000);
});
