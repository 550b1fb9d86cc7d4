// The backfill form and list against a real server: a 5-day range previews 5 runs (what the
// dry-run API says), runs to done with progress in the list; a second backfill is cancelled
// from the list; a range with no runs disables "Run backfill".
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

/** A `datetime-local` value for a UTC date (the browser runs in the machine's time zone). */
function local(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

async function setRange(page: Page, from: Date, to: Date) {
  await page.getByLabel("From").fill(local(from));
  await page.getByLabel("To").fill(local(to));
}

const utcDay = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d));

interface DryRun {
  total_entries: number;
}

describe("backfill", () => {
  it("previews, runs, shows progress to done, and cancels another from the list", async () => {
    const { context, page } = await signedIn(browser);
    await page.goto("/dags/e2e_daily/backfills");
    // e2e_daily is @daily from 2026-10-01: 2026-10-02 … 2026-10-06 are 5 runs
    const from = utcDay(2026, 10, 2);
    const to = utcDay(2026, 10, 6);
    await setRange(page, from, to);
    const expected = await apiCall<DryRun>("POST", "/api/v2/backfills/dry_run", {
      dag_id: "e2e_daily",
      from_date: from.toISOString(),
      to_date: to.toISOString(),
      reprocess_behavior: "none",
      max_active_runs: 1,
      run_backwards: false,
      dag_run_conf: {},
    });
    expect(expected.total_entries).toBe(5);
    await page.getByText("5 runs will be triggered.").waitFor();
    await screenshot(page, "backfill-form");
    await page.getByLabel("Max active runs").fill("5");
    await page.getByText("5 runs will be triggered.").waitFor();
    await page.getByRole("button", { name: "Run backfill" }).click();
    const created = page.getByText(/^Backfill \d+ created/);
    await created.waitFor();
    const id = Number((await created.textContent())!.match(/Backfill (\d+)/)![1]);
    const row = page.locator(`tr[data-backfill-id="${id}"]`);
    await row.waitFor();
    await expect
      .poll(() => row.textContent(), { timeout: 120_000, interval: 1000 })
      .toContain("5/5 done");
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toContain("completed");
    expect(await row.locator('[data-state="success"]').count()).toBe(1);
    await screenshot(page, "backfill-list");

    // another one, one run at a time, cancelled from the list at once
    await setRange(page, utcDay(2026, 10, 10), utcDay(2026, 10, 14));
    await page.getByLabel("Max active runs").fill("1");
    await page.getByText("5 runs will be triggered.").waitFor();
    await page.getByRole("button", { name: "Run backfill" }).click();
    const status = page.getByText(/^Backfill \d+ created/);
    await expect.poll(() => status.textContent()).not.toContain(`Backfill ${id} `);
    const second = Number((await status.textContent())!.match(/Backfill (\d+)/)![1]);
    const row2 = page.locator(`tr[data-backfill-id="${second}"]`);
    await row2.getByRole("button", { name: "Cancel backfill" }).click();
    const confirm = page.getByRole("dialog", { name: `Cancel backfill ${second}?` });
    await confirm.getByRole("button", { name: "Yes, cancel backfill" }).click();
    await row2.locator('[data-backfill-state="cancelled"]').waitFor({ timeout: 30_000 });
    expect(await row2.getByRole("button").count()).toBe(0);
    const banner = page.getByRole("region", { name: "Backfill in progress" });
    // the range just backfilled has no missing run left
    await setRange(page, from, to);
    await page.getByText("No runs matching selected criteria.").waitFor();
    expect(await page.getByRole("button", { name: "Run backfill" }).isDisabled()).toBe(true);
    const state = await apiCall<{ completed_at: string | null; is_paused: boolean }>(
      "GET",
      `/api/v2/backfills/${second}`,
    );
    expect(state.completed_at).not.toBeNull();
    await expect.poll(() => banner.count(), { timeout: 30_000 }).toBe(0);
    await context.close();
  });

  it("disables Run backfill for a range without a daily run", async () => {
    const { context, page } = await signedIn(browser);
    await page.goto("/dags/e2e_daily/backfills");
    // a few hours inside one day: no midnight (no @daily run) in between
    const day = utcDay(2026, 10, 20);
    await setRange(page, new Date(day.getTime() + 3_600_000), new Date(day.getTime() + 5 * 3_600_000));
    const preview = page.getByRole("region", { name: "Dry run" });
    await preview.getByText("Calculating…").waitFor({ state: "detached" });
    await screenshot(page, "backfill-no-runs");
    expect(await preview.textContent()).toBe("No runs matching selected criteria.");
    expect(await page.getByRole("button", { name: "Run backfill" }).isDisabled()).toBe(true);
    await context.close();
  });
});
