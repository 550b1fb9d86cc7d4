// The demo's screenshots (scripts/demo.sh): the DAG list, a DAG's grid and an asset-scheduled
// DAG's Assets tab, signed in through the login form, in headless Debian Chromium. Prints each
// file's path.
//   node ui/bench/screenshot.mjs --url http://127.0.0.1:8080 --user demo --password pw \
//     --dag airflow_tutorial --assets-dag airflow_assets_consumer --out .demo
import path from "node:path";
import { mkdirSync } from "node:fs";
import { launch, options, signIn } from "./browser.mjs";

const opts = options(process.argv.slice(2), { dag: "airflow_tutorial", "assets-dag": "airflow_assets_consumer", out: "." });
for (const key of ["url", "user", "password"]) {
  if (!opts[key]) throw new Error(`screenshot.mjs: --${key} is required`);
}
mkdirSync(opts.out, { recursive: true });

const browser = await launch();
try {
  const { page } = await signIn(browser, opts.url, opts.user, opts.password);
  const shots = [
    { name: "ui-dags.png", route: "/dags", ready: '[data-testid="dag-row"]' },
    { name: "ui-grid.png", route: `/dags/${encodeURIComponent(opts.dag)}`, ready: '[data-testid="grid"]' },
    {
      name: "ui-assets.png",
      route: `/dags/${encodeURIComponent(opts["assets-dag"])}/assets`,
      ready: '[data-testid="asset-graph"]',
    },
  ];
  for (const shot of shots) {
    await page.goto(shot.route);
    await page.waitForLoadState("networkidle");
    // The page's own marker when it has one; a page without it is still photographed.
    await page.waitForSelector(shot.ready, { timeout: 10_000 }).catch(() => {
      console.error(`screenshot.mjs: ${shot.ready} did not appear on ${shot.route}; taking the page as it is`);
    });
    const file = path.resolve(opts.out, shot.name);
    await page.screenshot({ path: file, fullPage: true });
    console.log(file);
  }
} finally {
  await browser.close();
}
