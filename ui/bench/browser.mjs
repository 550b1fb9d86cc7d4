// Headless Debian Chromium through playwright-core (never a downloaded browser) for the scripts
// of ui/bench/: the demo's screenshots (screenshot.mjs) and the UI benchmark (ui_bench.mjs).
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

/** A new context at baseURL, signed in through the UI's login form; returns { context, page }. */
export async function signIn(browser, baseURL, username, password, viewport = { width: 1400, height: 900 }) {
  const context = await browser.newContext({ baseURL, viewport });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"), { timeout: 30_000 });
  return { context, page };
}

/** `--name value` command-line options as an object (every option is required unless defaulted). */
export function options(argv, defaults = {}) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || argv[i + 1] === undefined) {
      throw new Error(`bad argument ${JSON.stringify(argv[i])}: expected --name value pairs`);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}
