// Grid test data: e2e_flaky's shape (a mapped task, a group `checks` with two tasks, a leaf).
import type { GridData, GridRun } from "../api/types";

export function gridRun(id: string, state: string, duration: number | null = 10): GridRun {
  return {
    run_id: id,
    state,
    run_type: "manual",
    logical_date: null,
    run_after: "2026-10-01T00:00:00Z",
    start_date: "2026-10-01T00:00:00Z",
    end_date: null,
    duration,
    dag_version_number: 1,
    note: null,
  };
}

export function flakyGrid(): GridData {
  return {
    dag_id: "e2e_flaky",
    structure: [
      { id: "numbers", label: "numbers", type: "task", is_mapped: false, operator: "PythonOperator", children: null },
      { id: "square", label: "square", type: "task", is_mapped: true, operator: "PythonOperator", children: null },
      {
        id: "checks", label: "checks", type: "group", is_mapped: false, operator: null,
        children: [
          { id: "checks.lint", label: "lint", type: "task", is_mapped: false, operator: "EmptyOperator", children: null },
          { id: "checks.flaky", label: "flaky", type: "task", is_mapped: false, operator: "PythonOperator", children: null },
        ],
      },
      { id: "done", label: "done", type: "task", is_mapped: false, operator: "EmptyOperator", children: null },
    ],
    task_ids: ["numbers", "square", "checks.lint", "checks.flaky", "done"],
    // newest first
    runs: [gridRun("run_new", "running", 5), gridRun("run_mid", "failed", 20), gridRun("run_old", "success", 10)],
    cells: [
      ["success", { state: "running", counts: { success: 2, running: 1 } }, null, null, null],
      ["success", { state: "success", counts: { success: 3 } }, "success", "failed", "upstream_failed"],
      ["success", { state: "success", counts: { success: 3 } }, "success", "success", "success"],
    ],
    total_runs: 7,
  };
}
