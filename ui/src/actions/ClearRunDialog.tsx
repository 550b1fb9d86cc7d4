// Clear a DAG run (Airflow 3's ClearRunDialog, docs/airflow-rest-api.md D.4):
// "Clear existing tasks" or "Clear only failed tasks", the live dry-run list of the task
// instances that will be cleared, and Confirm (disabled when there are none).
import { useState } from "react";
import { api, seg } from "../api/client";
import type { TaskInstanceCollection } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { ClearActions, ClearPreview, affectedCount } from "./ClearPreview";
import { Modal } from "./Modal";
import { useDryRun } from "./useDryRun";

export interface ClearRunDialogProps {
  dagId: string;
  runId: string;
  onClose: () => void;
  /** Called after the clear was done (the caller refreshes). */
  onDone: () => void;
}

export function ClearRunDialog(props: ClearRunDialogProps) {
  const [onlyFailed, setOnlyFailed] = useState(false);
  const [working, setWorking] = useState(false);
  const [error, setError] = useState<unknown>();
  const path = `/api/v2/dags/${seg(props.dagId)}/dagRuns/${seg(props.runId)}/clear`;
  const preview = useDryRun(String(onlyFailed), () =>
    api.post<TaskInstanceCollection>(path, { dry_run: true, only_failed: onlyFailed }),
  );
  const count = affectedCount(preview);

  const confirm = async () => {
    setWorking(true);
    setError(undefined);
    try {
      await api.post(path, { dry_run: false, only_failed: onlyFailed });
      props.onDone();
      props.onClose();
    } catch (caught) {
      setError(caught);
      setWorking(false);
    }
  };

  return (
    <Modal title={`Clear Dag Run: ${props.runId}`} label="Clear DAG run" onClose={props.onClose}>
      <div className="stack">
        <fieldset className="segmented">
          <legend className="sr-only">Which tasks</legend>
          <label className="inline">
            <input type="radio" name="clear-run-mode" checked={!onlyFailed} onChange={() => setOnlyFailed(false)} />
            Clear existing tasks
          </label>
          <label className="inline">
            <input type="radio" name="clear-run-mode" checked={onlyFailed} onChange={() => setOnlyFailed(true)} />
            Clear only failed tasks
          </label>
        </fieldset>
        <ClearPreview preview={preview} />
        <ErrorAlert error={error} />
      </div>
      <ClearActions
        onCancel={props.onClose}
        onConfirm={() => void confirm()}
        working={working}
        pending={preview.pending}
        count={count}
      />
    </Modal>
  );
}
