import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { describe, expect, it } from "vitest";
import type { DagDetails, ParamSpec } from "../api/types";
import { mockFetch } from "../test/fetchMock";
import { TriggerPage } from "./TriggerPage";

const PARAMS: Record<string, ParamSpec> = {
  count: {
    value: 3,
    description: "How many items",
    schema: { type: "integer", minimum: 1, maximum: 10 },
  },
  colour: {
    value: "red",
    description: null,
    schema: { enum: ["red", "green", "blue"], values_display: { red: "Red!" } },
  },
  label: { value: "hello", description: null, schema: { type: "string", minLength: 2 } },
  dry_run: { value: false, description: null, schema: { type: "boolean" } },
  day: { value: "2026-01-02", description: null, schema: { type: "string", format: "date" } },
  at: { value: "12:30:00", description: null, schema: { type: "string", format: "time" } },
  when: {
    value: "2026-01-02T03:04:05Z",
    description: null,
    schema: { type: "string", format: "date-time" },
  },
  names: { value: ["a", "b"], description: null, schema: { type: "array" } },
  nums: { value: [1, 2], description: null, schema: { type: "array", items: { type: "integer" } } },
  extra: { value: { k: 1 }, description: null, schema: { type: "object" } },
  maybe: { value: null, description: null, schema: { type: ["null", "integer"] } },
  fixed: { value: "x", description: null, schema: { const: "x" } },
};

function details(over: Partial<DagDetails> = {}): DagDetails {
  return {
    dag_id: "d1",
    dag_display_name: "d1",
    is_paused: false,
    params: PARAMS,
    ...over,
  } as DagDetails;
}

function run(id = "manual__1") {
  return { dag_run_id: id, dag_id: "d1", state: "queued", conf: {} };
}

function renderPage(url = "/") {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <TriggerPage dagId="d1" />
    </MemoryRouter>,
  );
}

describe("TriggerPage", () => {
  it("renders one input of the right kind per param, defaults filled in", async () => {
    mockFetch({ "GET /api/v2/dags/d1/details": { body: details() } });
    renderPage();
    const count = await screen.findByLabelText("count");
    expect(count).toHaveProperty("type", "number");
    expect(count).toHaveProperty("value", "3");
    expect(count.getAttribute("min")).toBe("1");
    expect(count.getAttribute("max")).toBe("10");
    expect(screen.getByText("How many items")).toBeTruthy();
    const colour = screen.getByLabelText("colour") as HTMLSelectElement;
    expect(colour.tagName).toBe("SELECT");
    expect([...colour.options].map((o) => o.textContent)).toEqual(["Red!", "green", "blue"]);
    expect(screen.getByLabelText("label")).toHaveProperty("value", "hello");
    expect(screen.getByLabelText("dry_run")).toHaveProperty("type", "checkbox");
    expect(screen.getByLabelText("day")).toHaveProperty("type", "date");
    expect(screen.getByLabelText("at")).toHaveProperty("type", "time");
    expect(screen.getByLabelText("when")).toHaveProperty("type", "datetime-local");
    expect(screen.getByLabelText("names")).toHaveProperty("value", "a\nb");
    expect(JSON.parse((screen.getByLabelText("nums") as HTMLTextAreaElement).value)).toEqual([1, 2]);
    expect(JSON.parse((screen.getByLabelText("extra") as HTMLTextAreaElement).value)).toEqual({ k: 1 });
    expect(screen.getByLabelText("maybe")).toHaveProperty("value", "");
    expect(screen.getByLabelText("fixed")).toHaveProperty("readOnly", true);
    expect(screen.queryByText(/Unpause/)).toBeNull();
  });

  it("shows jsonschema-like messages and disables Trigger until the values are fixed", async () => {
    mockFetch({ "GET /api/v2/dags/d1/details": { body: details() } });
    renderPage();
    const count = await screen.findByLabelText("count");
    const trigger = screen.getByRole("button", { name: "Trigger" });
    fireEvent.change(count, { target: { value: "99" } });
    expect(screen.getByText("99 is greater than the maximum of 10")).toBeTruthy();
    expect(trigger).toHaveProperty("disabled", true);
    fireEvent.change(count, { target: { value: "0" } });
    expect(screen.getByText("0 is less than the minimum of 1")).toBeTruthy();
    fireEvent.change(count, { target: { value: "" } });
    expect(screen.getByText("Field required")).toBeTruthy();
    fireEvent.change(count, { target: { value: "4" } });
    fireEvent.change(screen.getByLabelText("label"), { target: { value: "h" } });
    expect(screen.getByText("'h' is too short")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("label"), { target: { value: "hi" } });
    fireEvent.change(screen.getByLabelText("nums"), { target: { value: "[1," } });
    expect(screen.getByText(/^Invalid JSON format:/)).toBeTruthy();
    expect(trigger).toHaveProperty("disabled", true);
    fireEvent.change(screen.getByLabelText("nums"), { target: { value: "[1, 5]" } });
    expect(trigger).toHaveProperty("disabled", false);
  });

  it("keeps the form and the raw JSON conf in sync both ways", async () => {
    mockFetch({ "GET /api/v2/dags/d1/details": { body: details() } });
    renderPage();
    const count = await screen.findByLabelText("count");
    const json = screen.getByLabelText("Configuration JSON") as HTMLTextAreaElement;
    fireEvent.change(count, { target: { value: "7" } });
    expect(JSON.parse(json.value).count).toBe(7);
    const conf = JSON.parse(json.value);
    conf.count = 5;
    conf.label = "from json";
    fireEvent.change(json, { target: { value: JSON.stringify(conf) } });
    expect(count).toHaveProperty("value", "5");
    expect(screen.getByLabelText("label")).toHaveProperty("value", "from json");
    fireEvent.change(json, { target: { value: "{oops" } });
    expect(screen.getByRole("alert").textContent).toMatch(/^Invalid JSON format: /);
    expect(screen.getByRole("button", { name: "Trigger" })).toHaveProperty("disabled", true);
    expect(count).toHaveProperty("value", "5");
  });

  it("posts logical_date null when empty, the conf, run id and note", async () => {
    const calls = mockFetch({
      "GET /api/v2/dags/d1/details": { body: details() },
      "POST /api/v2/dags/d1/dagRuns": { body: run("my_run") },
    });
    renderPage();
    const count = await screen.findByLabelText("count");
    fireEvent.change(count, { target: { value: "8" } });
    fireEvent.click(screen.getByLabelText("dry_run"));
    fireEvent.change(screen.getByLabelText("names"), { target: { value: "x\ny\n" } });
    fireEvent.change(screen.getByLabelText("Run ID"), { target: { value: "my_run" } });
    fireEvent.change(screen.getByLabelText("Note"), { target: { value: "hi" } });
    await userEvent.click(screen.getByRole("button", { name: "Trigger" }));
    const link = await screen.findByRole("link", { name: "my_run" });
    expect(link.getAttribute("href")).toBe("/dags/d1/runs/my_run");
    const post = calls.find((c) => c.method === "POST")!;
    expect(post.body).toEqual({
      logical_date: null,
      dag_run_id: "my_run",
      note: "hi",
      conf: {
        count: 8,
        colour: "red",
        label: "hello",
        dry_run: true,
        day: "2026-01-02",
        at: "12:30:00",
        when: "2026-01-02T03:04:05Z",
        names: ["x", "y"],
        nums: [1, 2],
        extra: { k: 1 },
        maybe: null,
        fixed: "x",
      },
    });
  });

  it("sends the logical date in UTC when one is given", async () => {
    const calls = mockFetch({
      "GET /api/v2/dags/d1/details": { body: details({ params: {} }) },
      "POST /api/v2/dags/d1/dagRuns": { body: run() },
    });
    renderPage();
    fireEvent.change(await screen.findByLabelText("Logical date"), {
      target: { value: "2026-03-04T05:06" },
    });
    await userEvent.click(screen.getByRole("button", { name: "Trigger" }));
    await screen.findByRole("status");
    const post = calls.find((c) => c.method === "POST")!;
    expect((post.body as { logical_date: string }).logical_date).toBe(
      new Date("2026-03-04T05:06").toISOString(),
    );
    expect((post.body as { conf: unknown }).conf).toEqual({});
  });

  it("shows the server's detail when it refuses", async () => {
    const detail = "Invalid input for param count: 99 is greater than the maximum of 10";
    mockFetch({
      "GET /api/v2/dags/d1/details": {
        body: details({ params: { count: { value: 3, description: null, schema: {} } } }),
      },
      "POST /api/v2/dags/d1/dagRuns": { status: 400, body: { detail } },
    });
    renderPage();
    fireEvent.change(await screen.findByLabelText("count"), { target: { value: "99" } });
    await userEvent.click(screen.getByRole("button", { name: "Trigger" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain(detail);
    expect(screen.queryByRole("link", { name: /manual/ })).toBeNull();
  });

  it("unpauses a paused DAG first when asked, and not when unticked", async () => {
    const calls = mockFetch({
      "GET /api/v2/dags/d1/details": { body: details({ is_paused: true, params: {} }) },
      "PATCH /api/v2/dags/d1": { body: details({ is_paused: false }) },
      "POST /api/v2/dags/d1/dagRuns": { body: run() },
    });
    renderPage();
    const box = await screen.findByLabelText("Unpause d1 on trigger");
    expect(box).toHaveProperty("checked", true);
    await userEvent.click(screen.getByRole("button", { name: "Trigger" }));
    await screen.findByRole("status");
    const methods = calls.filter((c) => c.method !== "GET").map((c) => `${c.method} ${c.url.pathname}`);
    expect(methods).toEqual(["PATCH /api/v2/dags/d1", "POST /api/v2/dags/d1/dagRuns"]);
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ is_paused: false });
  });

  it("does not unpause when the box is unticked", async () => {
    const calls = mockFetch({
      "GET /api/v2/dags/d1/details": { body: details({ is_paused: true, params: {} }) },
      "POST /api/v2/dags/d1/dagRuns": { body: run() },
    });
    renderPage();
    fireEvent.click(await screen.findByLabelText("Unpause d1 on trigger"));
    await userEvent.click(screen.getByRole("button", { name: "Trigger" }));
    await screen.findByRole("status");
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
  });

  it("links to the backfill form", async () => {
    mockFetch({ "GET /api/v2/dags/d1/details": { body: details() } });
    renderPage();
    const link = await screen.findByRole("link", { name: "Run this DAG for a range of dates" });
    expect(link.getAttribute("href")).toBe("/dags/d1/backfills");
    await waitFor(() => expect(screen.getByLabelText("count")).toBeTruthy());
  });

  it("pre-fills run id, logical date, note and conf from the URL", async () => {
    const calls = mockFetch({
      "GET /api/v2/dags/d1/details": { body: details() },
      "POST /api/v2/dags/d1/dagRuns": { body: run("again") },
    });
    const query = new URLSearchParams({
      run_id: "again",
      logical_date: "2026-05-06T07:08:00Z",
      note: "rerun",
      conf: JSON.stringify({ count: 9, other: "x" }),
    });
    renderPage(`/?${query}`);
    expect(await screen.findByLabelText("count")).toHaveProperty("value", "9");
    expect(screen.getByLabelText("Run ID")).toHaveProperty("value", "again");
    expect(screen.getByLabelText("Note")).toHaveProperty("value", "rerun");
    await userEvent.click(screen.getByRole("button", { name: "Trigger" }));
    await screen.findByRole("link", { name: "again" });
    const body = calls.find((c) => c.method === "POST")!.body as Record<string, unknown>;
    expect(body.logical_date).toBe("2026-05-06T07:08:00.000Z");
    expect(body.note).toBe("rerun");
    expect((body.conf as Record<string, unknown>).count).toBe(9);
    expect((body.conf as Record<string, unknown>).other).toBe("x");
  });

  it("keeps a bad conf URL parameter in the editor with its error", async () => {
    mockFetch({ "GET /api/v2/dags/d1/details": { body: details() } });
    renderPage("/?conf=%7Bnope");
    await screen.findByLabelText("count");
    expect(screen.getByLabelText("Configuration JSON")).toHaveProperty("value", "{nope");
    expect(screen.getByRole("alert").textContent).toMatch(/^Invalid JSON format: /);
    expect(screen.getByRole("button", { name: "Trigger" })).toHaveProperty("disabled", true);
  });
});
