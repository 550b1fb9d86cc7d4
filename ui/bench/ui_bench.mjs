// The browser half of benchmarks/ui_bench.py: headless Debian Chromium (playwright-core) against
// a running `dagcore api-server` whose database the Python half filled. Prints one JSON object.
//   node ui/bench/ui_bench.mjs --url URL --user U --password P --grid-dag ID --runs 500
//     --list-loads 7 --scroll-ms 2000
// Figures (milliseconds unless named otherwise):
// - grid: the page's own performance.measure "dagcore:grid-render" (data arrival -> rendered
//   after paint) on /dags/<id>?limit=<runs>, the grid's data-rendered-runs/data-task-count, then
//   ~scroll-ms of scrolling of the grid's scroll container driven by requestAnimationFrame
//   (horizontal, then vertical): the frame intervals' p95 and the dropped-frame share.
// - grid anchor: the same /ui/grid JSON rendered naively in the same page (a plain <table> of
//   runs x tasks coloured cells made with document.createElement), to the next frame after paint.
// - list: time from navigation start to the first rendered page of /dags rows (the page's
//   "dagcore:dag-list-rendered" mark, else the first [data-testid="dag-row"] seen by a
//   MutationObserver, at the next frame), median of several loads; and, in the same page, fetch
//   timings of GET /ui/dags?limit=50 and of the anchor: GET /api/v2/dags?limit=50 then one
//   GET /api/v2/dags/{id}/dagRuns?limit=1&order_by=-run_after per DAG (in parallel).
import { launch, options, signIn } from "./browser.mjs";

const opts = options(process.argv.slice(2), { runs: "500", "list-loads": "7", "scroll-ms": "2000" });
for (const key of ["url", "user", "password", "grid-dag"]) {
  if (!opts[key]) throw new Error(`ui_bench.mjs: --${key} is required`);
}
const RUNS = Number(opts.runs);
const LOADS = Number(opts["list-loads"]);
const SCROLL_MS = Number(opts["scroll-ms"]);
const result = { notes: [] };

const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// In every document of the context: when a watched selector first matches, record
// performance.now() at the next frame (window.__benchFirst[selector]).
const WATCH = ['[data-testid="dag-row"]', '[data-testid="grid"]'];
const initScript = `(() => {
  const watch = ${JSON.stringify(WATCH)};
  window.__benchFirst = {};
  const check = () => {
    for (const sel of watch) {
      if (window.__benchFirst[sel] === undefined && document.querySelector(sel)) {
        window.__benchFirst[sel] = null;
        requestAnimationFrame(() => { window.__benchFirst[sel] = performance.now(); });
      }
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, attributes: true });
})();`;

const browser = await launch();
try {
  const { context, page } = await signIn(browser, opts.url, opts.user, opts.password);
  await context.addInitScript(initScript);
  page.on("pageerror", (err) => result.notes.push(`page error: ${err.message}`));

  // --- Grid ------------------------------------------------------------------------------------
  const gridRoute = `/dags/${encodeURIComponent(opts["grid-dag"])}?limit=${RUNS}`;
  result.grid = { route: gridRoute, fetched: [] };
  // What the page asked the server for: the runs and tasks in each /ui/grid answer it read.
  const onResponse = async (response) => {
    if (!new URL(response.url()).pathname.startsWith("/ui/grid/") || !response.ok()) return;
    try {
      const data = await response.json();
      result.grid.fetched.push({ url: response.url(), runs: data.runs.length, tasks: data.task_ids.length });
    } catch {
      /* not JSON: not the grid's data */
    }
  };
  page.on("response", onResponse);
  await page.goto(gridRoute);
  const found = await page
    .waitForFunction(
      () => performance.getEntriesByName("dagcore:grid-render", "measure").length > 0,
      null,
      { timeout: 30_000, polling: 50 },
    )
    .then(() => true)
    .catch(() => false);
  const grid = await page.evaluate(() => {
    const root = document.querySelector('[data-testid="grid"]');
    const measure = performance.getEntriesByName("dagcore:grid-render", "measure")[0];
    return {
      present: Boolean(root),
      render_ms: measure ? measure.duration : null,
      rendered_runs: root ? Number(root.getAttribute("data-rendered-runs")) : null,
      task_count: root ? Number(root.getAttribute("data-task-count")) : null,
      dom_nodes: root ? root.getElementsByTagName("*").length : null,
    };
  });
  Object.assign(result.grid, grid);
  page.off("response", onResponse);
  if (!found) {
    result.notes.push(
      grid.present
        ? 'grid: [data-testid="grid"] is there but no "dagcore:grid-render" measure within 30 s'
        : `grid: no [data-testid="grid"] on ${gridRoute} within 30 s`,
    );
  }

  if (grid.present) {
    // Scrolling: the grid's scroll container (the grid itself, a scrollable descendant, or the
    // nearest scrollable ancestor), scrolled by rAF for SCROLL_MS: first across, then down.
    result.scroll = await page.evaluate(async (durationMs) => {
      const root = document.querySelector('[data-testid="grid"]');
      const scrollable = (el) => {
        const style = getComputedStyle(el);
        const x = el.scrollWidth > el.clientWidth + 1 && /(auto|scroll)/.test(style.overflowX);
        const y = el.scrollHeight > el.clientHeight + 1 && /(auto|scroll)/.test(style.overflowY);
        return x || y;
      };
      let box = scrollable(root) ? root : [...root.querySelectorAll("*")].find(scrollable);
      for (let el = root.parentElement; !box && el; el = el.parentElement) if (scrollable(el)) box = el;
      if (!box) box = document.scrollingElement;
      const maxX = box.scrollWidth - box.clientWidth;
      const maxY = box.scrollHeight - box.clientHeight;
      const stamps = [];
      await new Promise((resolve) => {
        let start;
        const step = (now) => {
          if (start === undefined) start = now;
          const t = (now - start) / durationMs;
          stamps.push(now);
          if (t >= 1) return resolve();
          // There and back in each half: 0 -> max -> 0.
          const phase = t < 0.5 ? t * 2 : (t - 0.5) * 2;
          const pos = phase < 0.5 ? phase * 2 : 2 - phase * 2;
          if (t < 0.5) box.scrollLeft = pos * maxX;
          else box.scrollTop = pos * maxY;
          requestAnimationFrame(step);
        };
        requestAnimationFrame(step);
      });
      const gaps = stamps.slice(1).map((s, i) => s - stamps[i]).sort((a, b) => a - b);
      const frame = 1000 / 60;
      const dropped = gaps.reduce((n, g) => n + Math.max(0, Math.round(g / frame) - 1), 0);
      return {
        container: box === document.scrollingElement ? "document" : box.tagName.toLowerCase() +
          (box.getAttribute("data-testid") ? `[data-testid=${box.getAttribute("data-testid")}]` : ""),
        scroll_x_px: maxX,
        scroll_y_px: maxY,
        frames: gaps.length,
        p95_frame_ms: gaps.length ? gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * 0.95))] : null,
        max_frame_ms: gaps.length ? gaps[gaps.length - 1] : null,
        dropped_share: gaps.length ? dropped / (gaps.length + dropped) : null,
      };
    }, SCROLL_MS);
    if (result.scroll.scroll_x_px <= 0 && result.scroll.scroll_y_px <= 0) {
      result.notes.push("scroll: nothing to scroll (the grid fits in the 1400x900 viewport)");
    }
  }

  // Anchor: the same JSON as a naive table, to the frame after it is painted (3 tries, median).
  result.grid_anchor = await page.evaluate(async ({ dagId, runs }) => {
    const token = sessionStorage.getItem("dagcore.token");
    const answer = await fetch(`/ui/grid/${encodeURIComponent(dagId)}?limit=${runs}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (!answer.ok) return { error: `GET /ui/grid: HTTP ${answer.status} ${await answer.text()}` };
    const data = await answer.json();
    const colours = {
      success: "green", failed: "red", running: "lime", queued: "gray", scheduled: "tan",
      up_for_retry: "gold", up_for_reschedule: "turquoise", upstream_failed: "orange",
      skipped: "hotpink", deferred: "mediumpurple", removed: "lightgrey", restarting: "violet",
    };
    const times = [];
    let cells = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const t0 = performance.now();
      const table = document.createElement("table");
      table.style.cssText = "position:fixed;top:0;left:0;z-index:9999;border-collapse:collapse;background:white";
      cells = 0;
      data.task_ids.forEach((taskId, t) => {
        const tr = document.createElement("tr");
        const th = document.createElement("th");
        th.textContent = taskId;
        tr.appendChild(th);
        data.runs.forEach((run, r) => {
          const td = document.createElement("td");
          const cell = data.cells[r][t];
          const state = cell && typeof cell === "object" ? cell.state : cell;
          td.style.cssText = `width:10px;height:10px;padding:0;background:${colours[state] ?? "lightblue"}`;
          td.title = `${run.run_id} ${taskId} ${state ?? "no status"}`;
          tr.appendChild(td);
          cells++;
        });
        table.appendChild(tr);
      });
      document.body.appendChild(table);
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
      times.push(performance.now() - t0);
      table.remove();
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    }
    times.sort((a, b) => a - b);
    return { cells, runs: data.runs.length, tasks: data.task_ids.length, render_ms: times[1], all_ms: times };
  }, { dagId: opts["grid-dag"], runs: RUNS });

  // --- DAG list ----------------------------------------------------------------------------------
  const loads = [];
  let markSeen = 0;
  let rows = null;
  for (let i = 0; i < LOADS + 1; i++) {
    await page.goto("/dags");
    const ok = await page
      .waitForFunction(
        () =>
          performance.getEntriesByName("dagcore:dag-list-rendered").length > 0 ||
          typeof window.__benchFirst?.['[data-testid="dag-row"]'] === "number",
        null,
        { timeout: 30_000, polling: 20 },
      )
      .then(() => true)
      .catch(() => false);
    if (!ok) {
      result.notes.push('list: no [data-testid="dag-row"] on /dags within 30 s');
      break;
    }
    const load = await page.evaluate(() => {
      const mark = performance.getEntriesByName("dagcore:dag-list-rendered")[0];
      return {
        mark: Boolean(mark),
        ms: mark ? mark.startTime : window.__benchFirst['[data-testid="dag-row"]'],
        rows: document.querySelectorAll('[data-testid="dag-row"]').length,
      };
    });
    rows = load.rows;
    if (i === 0) continue; // the first load warms the server's caches and the browser's
    loads.push(load.ms);
    if (load.mark) markSeen++;
  }
  result.list = {
    loads: loads.length,
    first_page_ms: median(loads),
    all_ms: loads,
    rows,
    source: !loads.length
      ? null
      : markSeen === loads.length
        ? "mark dagcore:dag-list-rendered"
        : "first dag-row (MutationObserver)",
  };

  // The data alone, fetched in the same page: the UI route versus a client of /api/v2 only.
  result.list_fetch = await page.evaluate(async (loadsWanted) => {
    const token = sessionStorage.getItem("dagcore.token");
    const get = async (url) => {
      const answer = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
      if (!answer.ok) throw new Error(`GET ${url}: HTTP ${answer.status} ${await answer.text()}`);
      return answer.json();
    };
    const med = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);
    const out = {};
    const ui = [];
    try {
      for (let i = 0; i < loadsWanted + 1; i++) {
        const t0 = performance.now();
        await get("/ui/dags?limit=50");
        if (i) ui.push(performance.now() - t0);
      }
    } catch (err) {
      out.ui_error = String(err.message ?? err);
    }
    const anchor = [];
    try {
      for (let i = 0; i < loadsWanted + 1; i++) {
        const t0 = performance.now();
        const page = await get("/api/v2/dags?limit=50");
        await Promise.all(
          page.dags.map((dag) =>
            get(`/api/v2/dags/${encodeURIComponent(dag.dag_id)}/dagRuns?limit=1&order_by=-run_after`),
          ),
        );
        if (i) anchor.push(performance.now() - t0);
        out.anchor_requests = 1 + page.dags.length;
      }
    } catch (err) {
      out.anchor_error = String(err.message ?? err);
    }
    return { ...out, ui_dags_ms: med(ui), anchor_ms: med(anchor) };
  }, LOADS);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
