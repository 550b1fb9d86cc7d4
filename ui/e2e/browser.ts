// Debian's Chromium driven by playwright-core (never a downloaded browser), a page signed in
// through the real login form, and screenshots saved under e2e/screenshots/ (gitignored).
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { inject } from "vitest";

export const SCREENSHOTS = path.resolve(import.meta.dirname, "screenshots");
const EXECUTABLE = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

export interface Session {
  context: BrowserContext;
  page: Page;
}

/** A new browser context at the server's address (1400×900), signed in as `who` through the form. */
export async function signedIn(
  browser: Browser,
  who: { username: string; password: string } = inject("admin"),
): Promise<Session> {
  const context = await browser.newContext({
    baseURL: inject("baseURL"),
    viewport: { width: 1400, height: 900 },
  });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  return { context, page };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** A bearer token for API calls made by a test itself (arranging data, checking results). */
export async function apiToken(who = inject("admin")): Promise<string> {
  const answer = await fetch(`${inject("baseURL")}/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(who),
  });
  if (answer.status !== 201) throw new Error(`token: HTTP ${answer.status}`);
  return ((await answer.json()) as { access_token: string }).access_token;
}

/** JSON from the API as the admin (for arranging and checking, not for what the UI shows). */
export async function apiCall<T>(method: string, route: string, body?: unknown): Promise<T> {
  const answer = await fetch(`${inject("baseURL")}${route}`, {
    method,
    headers: {
      Authorization: `Bearer ${await apiToken()}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.text();
  if (!answer.ok) throw new Error(`${method} ${route}: HTTP ${answer.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
