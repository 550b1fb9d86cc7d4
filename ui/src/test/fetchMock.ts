// A fetch stand-in for component tests: answers by "METHOD /path" (query ignored unless the
// key has one), records every call, and fails the test loudly for an unexpected request.
import { vi } from "vitest";

export interface MockAnswer {
  status?: number;
  body?: unknown;
  /** Sent as text/plain instead of JSON. */
  text?: string;
}

export type MockRoute = MockAnswer | ((url: URL, init: RequestInit) => MockAnswer);

export interface Recorded {
  method: string;
  url: URL;
  body: unknown;
}

export function mockFetch(routes: Record<string, MockRoute>): Recorded[] {
  const calls: Recorded[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: string, init: RequestInit = {}) => {
      const url = new URL(input, "http://localhost");
      const method = (init.method ?? "GET").toUpperCase();
      const body = typeof init.body === "string" ? JSON.parse(init.body) : undefined;
      calls.push({ method, url, body });
      const route =
        routes[`${method} ${url.pathname}${url.search}`] ?? routes[`${method} ${url.pathname}`];
      if (!route) throw new Error(`unexpected request: ${method} ${url.pathname}${url.search}`);
      const answer = typeof route === "function" ? route(url, init) : route;
      const status = answer.status ?? 200;
      if (answer.text !== undefined) {
        return new Response(answer.text, { status, headers: { "content-type": "text/plain" } });
      }
      return new Response(answer.body === undefined ? "" : JSON.stringify(answer.body), {
        status,
        headers: { "content-type": "application/json" },
      });
    }),
  );
  return calls;
}
