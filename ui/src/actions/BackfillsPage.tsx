// The backfills tab at /dags/:dagId/backfills: the form to run the DAG over a range of dates
// with its live dry-run preview, and the DAG's backfills with progress and controls
// (Airflow 3's RunBackfillForm and backfill management, docs/airflow-rest-api.md D.5/D.6).
import { api, seg } from "../api/client";
import type { BackfillCollection, DagDetails } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { stateColor } from "../components/state";
import { formatDate } from "../format";
import { usePoll } from "../hooks/usePoll";
import { BackfillForm } from "./BackfillForm";
import {
  BackfillActions,
  BackfillProgressBar,
  REPROCESS_LABELS,
  backfillState,
  progressText,
} from "./backfillParts";

export function BackfillsPage({ dagId }: { dagId: string }) {
  const details = usePoll(
    (signal) => api.get<DagDetails>(`/api/v2/dags/${seg(dagId)}/details`, undefined, signal),
    [dagId],
    10_000,
  );
  const list = usePoll(
    (signal) => api.get<BackfillCollection>("/ui/backfills", { dag_id: dagId, limit: 50 }, signal),
    [dagId],
    3000,
  );
  return (
    <div className="stack backfills-page">
      <ErrorAlert error={details.error} />
      {details.data ? (
        <BackfillForm
          key={dagId}
          dag={details.data}
          onCreated={() => {
            void list.reload();
            void details.reload();
          }}
        />
      ) : details.error ? null : (
        <p className="muted">Loading…</p>
      )}
      <section className="card stack" aria-label="Backfills">
        <h3>Backfills{list.data ? ` (${list.data.total_entries})` : ""}</h3>
        <ErrorAlert error={list.error} />
        {list.data && list.data.backfills.length === 0 ? (
          <p className="muted">No backfills yet.</p>
        ) : null}
        {list.data && list.data.backfills.length ? (
          <table className="table backfill-table">
            <thead>
              <tr>
                <th>ID</th>
                <th>From</th>
                <th>To</th>
                <th>Reprocess</th>
                <th>Max active</th>
                <th>Created</th>
                <th>State</th>
                <th>Progress</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.backfills.map((backfill) => (
                <tr key={backfill.id} data-backfill-id={backfill.id}>
                  <td>{backfill.id}</td>
                  <td>{formatDate(backfill.from_date)}</td>
                  <td>{formatDate(backfill.to_date)}</td>
                  <td>{REPROCESS_LABELS[backfill.reprocess_behavior] ?? backfill.reprocess_behavior}</td>
                  <td>{backfill.max_active_runs}</td>
                  <td>{formatDate(backfill.created_at)}</td>
                  <td>
                    <BackfillStateBadge state={backfillState(backfill)} />
                  </td>
                  <td className="progress-cell">
                    <BackfillProgressBar backfill={backfill} />
                    <span className="muted">{progressText(backfill)}</span>
                  </td>
                  <td>
                    <BackfillActions backfill={backfill} onChanged={() => void list.reload()} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
    </div>
  );
}

const BADGE_COLOUR: Record<string, string> = {
  running: "running",
  paused: "queued",
  completed: "success",
  cancelled: "failed",
};

function BackfillStateBadge({ state }: { state: string }) {
  return (
    <span className="state-badge" data-backfill-state={state}>
      <span
        className="state-dot"
        style={{ background: stateColor(BADGE_COLOUR[state] ?? "none") }}
        aria-hidden="true"
      />
      {state}
    </span>
  );
}
