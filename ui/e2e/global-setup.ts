// The server every end-to-end test talks to: `dagcore standalone` (API server, DAG processor,
// scheduler with the LocalExecutor) in a temporary DAGCORE_HOME holding e2e/dags, on a free
// loopback port. The UI it serves is this checkout's build (python/dagcore/server/static, made
// by `npm run build`, which `npm run e2e` runs first). Tests read the address and credentials
// with `inject("baseURL")` etc. Set E2E_KEEP_HOME=1 to keep the home (and logs) after the run.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";

const UI_DIR = path.resolve(import.meta.dirname, "..");
const REPO = path.resolve(UI_DIR, "..");
export const ADMIN = { username: "admin", password: "admin-e2e-password" };
export const VIEWER = { username: "viewer", password: "viewer-e2e-password" };

declare module "vitest" {
  export interface ProvidedContext {
    baseURL: string;
    home: string;
    admin: { username: string; password: string };
    viewer: { username: string; password: string };
  }
}

function python(): string {
  if (process.env.DAGCORE_PYTHON) return process.env.DAGCORE_PYTHON;
  const venv = path.join(REPO, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, log: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = existsSync(log) ? readFileSync(log, "utf8").slice(-4000) : "(no log)";
  throw new Error(`e2e setup: ${what} did not happen within ${timeoutMs} ms; server log:\n${tail}`);
}

let child: ChildProcess | undefined;
let home: string | undefined;

export async function setup(project: TestProject) {
  if (!existsSync(path.join(REPO, "python", "dagcore", "server", "static", "index.html"))) {
    throw new Error("e2e: the UI is not built (run `npm run build` in ui/, or `npm run e2e`)");
  }
  home = mkdtempSync(path.join(tmpdir(), "dagcore-e2e-"));
  cpSync(path.join(UI_DIR, "e2e", "dags"), path.join(home, "dags"), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DAGCORE__"))),
    DAGCORE_HOME: home,
    PYTHONPATH: [path.join(REPO, "python"), process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
    DAGCORE__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME: "0.2",
    DAGCORE__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL: "0",
    DAGCORE__CORE__PARALLELISM: "4",
    DAGCORE__CORE__DAGS_ARE_PAUSED_AT_CREATION: "False",
  };
  const py = python();
  const cli = (...args: string[]) =>
    execFileSync(py, ["-m", "dagcore", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  cli("db", "migrate");
  cli("users", "create", "--username", ADMIN.username, "--password", ADMIN.password, "--role", "admin");
  cli("users", "create", "--username", VIEWER.username, "--password", VIEWER.password, "--role", "viewer");
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const log = path.join(home, "standalone.log");
  const out = openSync(log, "w");
  child = spawn(py, ["-m", "dagcore", "standalone", "--api-port", String(port)], {
    env,
    stdio: ["ignore", out, out],
    detached: true,
  });
  child.unref();
  await waitFor("the API server answering", async () => {
    const answer = await fetch(`${baseURL}/api/v2/monitor/health`);
    return answer.ok;
  }, 90_000, log);
  const token = (await (
    await fetch(`${baseURL}/auth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(ADMIN),
    })
  ).json()) as { access_token: string };
  const wanted = readdirPy(path.join(UI_DIR, "e2e", "dags"));
  await waitFor(`the e2e DAGs (${wanted.join(", ")}) parsed`, async () => {
    const answer = await fetch(`${baseURL}/api/v2/dags?limit=100`, {
      headers: { Authorization: `Bearer ${token.access_token}` },
    });
    const body = (await answer.json()) as { dags: { dag_id: string }[] };
    const ids = new Set(body.dags.map((dag) => dag.dag_id));
    return wanted.every((id) => ids.has(id));
  }, 90_000, log);
  project.provide("baseURL", baseURL);
  project.provide("home", home);
  project.provide("admin", ADMIN);
  project.provide("viewer", VIEWER);
}

/** The DAG ids the e2e folder defines: every `dag_id="..."`/`DAG("...")` of its files. */
function readdirPy(folder: string): string[] {
  const ids: string[] = [];
  for (const name of execFileSync("ls", [folder]).toString().split("\n")) {
    if (!name.endsWith(".py")) continue;
    const text = readFileSync(path.join(folder, name), "utf8");
    for (const match of text.matchAll(/(?:DAG\(|dag_id=)\s*"([A-Za-z0-9_.-]+)"/g)) ids.push(match[1]);
  }
  return ids;
}

export async function teardown() {
  if (child?.pid) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      /* already gone */
    }
    const exited = await new Promise<boolean>((resolve) => {
      if (child?.exitCode !== null) return resolve(true);
      const timer = setTimeout(() => resolve(false), 15_000);
      child?.once("exit", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!exited) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  }
  if (home && !process.env.E2E_KEEP_HOME) rmSync(home, { recursive: true, force: true });
}
