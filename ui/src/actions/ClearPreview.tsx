// The task instances a clear would reset (its dry run): count, then task id, map index and
// current state of each.
import type { TaskInstance, TaskInstanceCollection } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { StateBadge } from "../components/StateBadge";
import type { DryRun } from "./useDryRun";

export function affectedCount(preview: DryRun<TaskInstanceCollection>): number {
  return preview.data?.task_instances.length ?? 0;
}

export function ClearPreview({ preview }: { preview: DryRun<TaskInstanceCollection> }) {
  const tis: TaskInstance[] = preview.data?.task_instances ?? [];
  return (
    <section className="clear-preview" aria-label="Task instances to clear" aria-busy={preview.pending}>
      <ErrorAlert error={preview.error} />
      {preview.pending && !preview.data ? (
        <p className="muted">Calculating…</p>
      ) : preview.data ? (
        <>
          <p className={tis.length ? "" : "muted"} role="status">
            {tis.length === 0
              ? "No task instances to clear."
              : tis.length === 1
                ? "1 task instance will be cleared."
                : `${tis.length} task instances will be cleared.`}
          </p>
          {tis.length ? (
            <div className="clear-preview-list">
              <table className="table">
                <thead>
                  <tr>
                    <th>Task ID</th>
                    <th>Map index</th>
                    <th>State</th>
                  </tr>
                </thead>
                <tbody>
                  {tis.map((ti) => (
                    <tr key={`${ti.task_id}:${ti.map_index}`}>
                      <td className="mono">{ti.task_id}</td>
                      <td>{ti.map_index >= 0 ? ti.map_index : "—"}</td>
                      <td>
                        <StateBadge state={ti.state} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

/** The buttons under a clear dialog: Cancel, and Confirm (disabled while working, while the
 * dry run is pending, and when it would clear nothing). */
export function ClearActions(props: {
  onCancel: () => void;
  onConfirm: () => void;
  working: boolean;
  pending: boolean;
  count: number;
}) {
  return (
    <div className="dialog-actions">
      <button type="button" onClick={props.onCancel} disabled={props.working}>
        Cancel
      </button>
      <button
        type="button"
        className="primary"
        onClick={props.onConfirm}
        disabled={props.working || props.pending || props.count === 0}
      >
        {props.working ? "Clearing…" : "Confirm"}
      </button>
    </div>
  );
}
