import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { mockFetch, type MockAnswer } from "../test/fetchMock";
import { ClearRunDialog } from "./ClearRunDialog";
import { ClearTaskInstanceDialog } from "./ClearTaskInstanceDialog";

const ti = (task_id: string, state: string | null, map_index = -1) => ({ task_id, state, map_index });
const tis = (...items: ReturnType<typeof ti>[]): MockAnswer => ({
  body: { task_instances: items, total_entries: items.length },
});

describe("ClearRunDialog", () => {
  it("lists the dry run, switches to only failed, and confirms with dry_run false", async () => {
    const calls = mockFetch({
      "POST /api/v2/dags/d1/dagRuns/r%2B1/clear": (_url, init) => {
        const body = JSON.parse(String(init.body));
        if (!body.dry_run) return { body: { dag_run_id: "r+1" } };
        return body.only_failed
          ? tis(ti("b", "failed"))
          : tis(ti("a", "success"), ti("b", "failed"), ti("m", "success", 2));
      },
    });
    const onDone = vi.fn();
    const onClose = vi.fn();
    render(<ClearRunDialog dagId="d1" runId="r+1" onClose={onClose} onDone={onDone} />);
    expect(screen.getByRole("dialog", { name: "Clear DAG run" })).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Clear Dag Run: r+1" })).toBeTruthy();
    expect(await screen.findByText("3 task instances will be cleared.")).toBeTruthy();
    expect(screen.getByRole("cell", { name: "m" }).nextElementSibling?.textContent).toBe("2");
    expect(calls[0].body).toEqual({ dry_run: true, only_failed: false });
    fireEvent.click(screen.getByLabelText("Clear only failed tasks"));
    expect(await screen.findByText("1 task instance will be cleared.")).toBeTruthy();
    expect(calls[1].body).toEqual({ dry_run: true, only_failed: true });
    await userEvent.click(screen.getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(onDone).toHaveBeenCalledTimes(1));
    expect(calls[2].body).toEqual({ dry_run: false, only_failed: true });
    expect(onClose).toHaveBeenCalled();
  });

  it("disables Confirm when nothing would be cleared and closes on Escape", async () => {
    mockFetch({ "POST /api/v2/dags/d1/dagRuns/r1/clear": tis() });
    const onClose = vi.fn();
    render(<ClearRunDialog dagId="d1" runId="r1" onClose={onClose} onDone={() => {}} />);
    expect(await screen.findByText("No task instances to clear.")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Confirm" })).toHaveProperty("disabled", true);
    fireEvent.keyDown(screen.getByRole("dialog"), { key: "Escape" });
    expect(onClose).toHaveBeenCalled();
  });

  it("shows the server's error of the clear", async () => {
    mockFetch({
      "POST /api/v2/dags/d1/dagRuns/r1/clear": (_url, init) =>
        JSON.parse(String(init.body)).dry_run
          ? tis(ti("a", "failed"))
          : { status: 409, body: { detail: "the run is busy" } },
    });
    const onDone = vi.fn();
    render(<ClearRunDialog dagId="d1" runId="r1" onClose={() => {}} onDone={onDone} />);
    await screen.findByText("1 task instance will be cleared.");
    await userEvent.click(screen.getByRole("button", { name: "Confirm" }));
    expect((await screen.findByRole("alert")).textContent).toContain("the run is busy");
    expect(onDone).not.toHaveBeenCalled();
  });
});

describe("ClearTaskInstanceDialog", () => {
  it("sends the include flags in the dry run and the same body with dry_run false", async () => {
    const calls = mockFetch({
      "POST /api/v2/dags/d1/clearTaskInstances": (_url, init) =>
        JSON.parse(String(init.body)).include_upstream
          ? tis(ti("up", "success"), ti("checks.flaky", "failed"), ti("done", null))
          : tis(ti("checks.flaky", "failed"), ti("done", null)),
    });
    const onDone = vi.fn();
    render(
      <ClearTaskInstanceDialog
        dagId="d1"
        runId="r1"
        taskId="checks.flaky"
        mapIndex={-1}
        hasLogicalDate
        onClose={() => {}}
        onDone={onDone}
      />,
    );
    expect(await screen.findByText("2 task instances will be cleared.")).toBeTruthy();
    expect(calls[0].body).toEqual({
      dry_run: true,
      dag_run_id: "r1",
      task_ids: ["checks.flaky"],
      include_past: false,
      include_future: false,
      include_upstream: false,
      include_downstream: true,
      only_failed: false,
    });
    fireEvent.click(screen.getByLabelText("Upstream"));
    fireEvent.click(screen.getByLabelText("Past"));
    expect(await screen.findByText("3 task instances will be cleared.")).toBeTruthy();
    await userEvent.click(screen.getByRole("button", { name: "Confirm" }));
    await waitFor(() => expect(onDone).toHaveBeenCalled());
    const last = calls[calls.length - 1].body;
    expect(last).toEqual({
      dry_run: false,
      dag_run_id: "r1",
      task_ids: ["checks.flaky"],
      include_past: true,
      include_future: false,
      include_upstream: true,
      include_downstream: true,
      only_failed: false,
    });
  });

  it("sends [task_id, map_index] for a mapped task and disables past/future without a logical date", async () => {
    const calls = mockFetch({ "POST /api/v2/dags/d1/clearTaskInstances": tis() });
    render(
      <ClearTaskInstanceDialog
        dagId="d1"
        runId="r1"
        taskId="square"
        mapIndex={2}
        hasLogicalDate={false}
        onClose={() => {}}
        onDone={() => {}}
      />,
    );
    expect(await screen.findByText("No task instances to clear.")).toBeTruthy();
    expect(screen.getByRole("dialog", { name: "Clear task instance" })).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Clear Task Instance: square [2]" })).toBeTruthy();
    expect(screen.getByLabelText("Past")).toHaveProperty("disabled", true);
    expect(screen.getByLabelText("Future")).toHaveProperty("disabled", true);
    expect((calls[0].body as { task_ids: unknown }).task_ids).toEqual([["square", 2]]);
    expect(screen.getByRole("button", { name: "Confirm" })).toHaveProperty("disabled", true);
  });
});
