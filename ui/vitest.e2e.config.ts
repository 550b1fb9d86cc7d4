// End-to-end tests: Debian's Chromium driven by playwright-core against a real
// `dagcore standalone` (API server + scheduler + DAG processor) on loopback, started by
// e2e/global-setup.ts with a temporary DAGCORE_HOME. One file at a time: they share the server.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    globals: true,
    include: ["e2e/**/*.e2e.ts"],
    globalSetup: ["e2e/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
