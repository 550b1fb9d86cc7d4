import { act, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mockFetch } from "../../test/fetchMock";
import { LogPanel } from "./LogPanel";

const LOG = "/api/v2/dags/d/dagRuns/r%2B1/taskInstances/t.x/logs/2";

afterEach(() => {
  vi.useRealTimers();
});

describe("LogPanel", () => {
  it("reads the log, then polls with the continuation token and appends new lines", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const chunks = [
      { content: [{ timestamp: null, event: "line 1" }, { timestamp: null, event: "line 2" }], continuation_token: "T1" },
      { content: [], continuation_token: "T1" },
      { content: [{ timestamp: null, event: "line 3 fails on purpose" }], continuation_token: "T2" },
      { content: [], continuation_token: "T2" },
    ];
    const calls = mockFetch({ [`GET ${LOG}`]: () => ({ body: chunks.shift() ?? { content: [], continuation_token: "T2" } }) });
    render(<LogPanel dagId="d" runId="r+1" taskId="t.x" mapIndex={3} tryNumber={2} live />);
    const log = await screen.findByTestId("log");
    await waitFor(() => expect(log.textContent).toBe("line 1\nline 2"));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2100);
    });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2100);
    });
    await waitFor(() => expect(log.textContent).toBe("line 1\nline 2\nline 3 fails on purpose"));
    const queries = calls.map((call) => call.url.searchParams);
    expect(queries[0].get("token")).toBeNull();
    expect(queries[0].get("map_index")).toBe("3");
    expect(queries[1].get("token")).toBe("T1");
    expect(queries[2].get("token")).toBe("T1");
    expect(queries[3].get("token")).toBe("T2");
  });

  it("reads the next chunk at once when an answer was a full chunk", async () => {
    const chunks = [
      { content: [{ timestamp: null, event: "a" }], continuation_token: "T1" },
      { content: [{ timestamp: null, event: "b" }], continuation_token: "T2" },
      { content: [], continuation_token: "T2" },
    ];
    mockFetch({ [`GET ${LOG}`]: () => ({ body: chunks.shift() ?? { content: [], continuation_token: "T2" } }) });
    render(<LogPanel dagId="d" runId="r+1" taskId="t.x" mapIndex={-1} tryNumber={2} live={false} />);
    const log = await screen.findByTestId("log");
    await waitFor(() => expect(log.textContent).toBe("a\nb"));
  });

  it("replaces (not appends) a tokenless answer and shows errors", async () => {
    let answer: { status?: number; body: unknown } = {
      body: { content: [{ timestamp: null, event: "*** Log file does not exist: /x" }], continuation_token: null },
    };
    mockFetch({ [`GET ${LOG}`]: () => answer });
    vi.useFakeTimers({ shouldAdvanceTime: true });
    render(<LogPanel dagId="d" runId="r+1" taskId="t.x" mapIndex={-1} tryNumber={2} live />);
    const log = await screen.findByTestId("log");
    await waitFor(() => expect(log.textContent).toBe("*** Log file does not exist: /x"));
    answer = { status: 404, body: { detail: "The Task Instance with dag_id: `d` was not found" } };
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2100);
    });
    expect((await screen.findByRole("alert")).textContent).toContain("The Task Instance with dag_id: `d` was not found");
    answer = { body: { content: [{ timestamp: null, event: "started" }], continuation_token: "T" } };
    const started = answer;
    mockFetch({
      [`GET ${LOG}`]: (url) => (url.searchParams.get("token") ? { body: { content: [], continuation_token: "T" } } : started),
    });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2100);
    });
    await waitFor(() => expect(log.textContent).toBe("started"));
  });
});
