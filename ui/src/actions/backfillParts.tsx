// Pieces shared by the backfills page and the "Backfill in progress" banner: a backfill's
// state, its progress bar (runs by state, Airflow's colours) and its Pause / Unpause / Cancel
// buttons (PUT /api/v2/backfills/{id}/pause|unpause|cancel, docs/airflow-rest-api.md B.3).
import { useState } from "react";
import { api, seg } from "../api/client";
import type { BackfillWithProgress } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { STATE_COLORS, stateColor } from "../components/state";
import { Modal } from "./Modal";

export type BackfillState = "running" | "paused" | "completed" | "cancelled";

/** Cancelling pauses and completes a backfill; one that ran to its end is completed unpaused. */
export function backfillState(backfill: BackfillWithProgress): BackfillState {
  if (backfill.completed_at) return backfill.is_paused ? "cancelled" : "completed";
  return backfill.is_paused ? "paused" : "running";
}

export const REPROCESS_LABELS: Record<string, string> = {
  none: "Missing Runs",
  failed: "Missing and Errored Runs",
  completed: "All Runs",
};

export function progressText(backfill: BackfillWithProgress): string {
  return `${backfill.progress.done}/${backfill.progress.total} done`;
}

export function BackfillProgressBar({ backfill }: { backfill: BackfillWithProgress }) {
  const { total, by_state: byState } = backfill.progress;
  const known = Object.keys(STATE_COLORS);
  const states = Object.keys(byState).sort((a, b) => {
    const ia = known.indexOf(a);
    const ib = known.indexOf(b);
    return (ia === -1 ? known.length : ia) - (ib === -1 ? known.length : ib);
  });
  const label = states.map((state) => `${state}: ${byState[state]}`).join(", ");
  return (
    <div
      className="progress backfill-progress"
      role="progressbar"
      aria-label={`Runs: ${label || "none"}`}
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={backfill.progress.done}
      title={label}
    >
      {states.map((state) =>
        total > 0 && byState[state] > 0 ? (
          <span
            key={state}
            data-state={state}
            style={{ width: `${(100 * byState[state]) / total}%`, background: stateColor(state) }}
          />
        ) : null,
      )}
    </div>
  );
}

export function BackfillActions({
  backfill,
  onChanged,
}: {
  backfill: BackfillWithProgress;
  onChanged: () => void;
}) {
  const [working, setWorking] = useState(false);
  const [error, setError] = useState<unknown>();
  const [confirming, setConfirming] = useState(false);
  if (backfill.completed_at) return null;

  const act = async (operation: "pause" | "unpause" | "cancel") => {
    setWorking(true);
    setError(undefined);
    try {
      await api.put(`/api/v2/backfills/${seg(backfill.id)}/${operation}`);
      setConfirming(false);
      onChanged();
    } catch (caught) {
      setError(caught);
      setConfirming(false);
    } finally {
      setWorking(false);
    }
  };

  return (
    <div className="backfill-actions">
      <div className="row">
        {backfill.is_paused ? (
          <button type="button" disabled={working} onClick={() => void act("unpause")}>
            Unpause backfill
          </button>
        ) : (
          <button type="button" disabled={working} onClick={() => void act("pause")}>
            Pause backfill
          </button>
        )}
        <button type="button" disabled={working} onClick={() => setConfirming(true)}>
          Cancel backfill
        </button>
      </div>
      <ErrorAlert error={error} />
      {confirming ? (
        <Modal title={`Cancel backfill ${backfill.id}?`} onClose={() => setConfirming(false)}>
          <p>
            Its queued and running runs will be failed and no further runs will start. A cancelled
            backfill cannot be resumed.
          </p>
          <div className="dialog-actions">
            <button type="button" onClick={() => setConfirming(false)} disabled={working}>
              Keep running
            </button>
            <button type="button" className="danger" onClick={() => void act("cancel")} disabled={working}>
              {working ? "Cancelling…" : "Yes, cancel backfill"}
            </button>
          </div>
        </Modal>
      ) : null}
    </div>
  );
}
