import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser, screenshot, signedIn } from "./browser";

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe("login", () => {
  it("sends an anonymous visitor to the login page and back after signing in", async () => {
    const context = await browser.newContext({ baseURL: inject("baseURL") });
    const page = await context.newPage();
    await page.goto("/dags");
    await page.waitForURL(/\/login\?next=%2Fdags/);
    await screenshot(page, "login");
    await page.getByLabel("Username").fill(inject("admin").username);
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Invalid credentials");
    await page.getByLabel("Password").fill(inject("admin").password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/dags$/);
    await context.close();
  });

  it("logs out and forgets the token", async () => {
    const { context, page } = await signedIn(browser);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/\/login/);
    await page.goto("/dags");
    await page.waitForURL(/\/login/);
    expect(await page.evaluate(() => sessionStorage.getItem("dagcore.token"))).toBeNull();
    await context.close();
  });
});
