// Clear one task instance (Airflow 3's ClearTaskInstanceDialog, docs/airflow-rest-api.md
// D.4): past / future (disabled without a logical date), upstream,
// downstream (on by default) and only failed; the live dry-run list; Confirm clears them.
import { useState } from "react";
import { api, seg } from "../api/client";
import type { TaskInstanceCollection } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { ClearActions, ClearPreview, affectedCount } from "./ClearPreview";
import { Modal } from "./Modal";
import { useDryRun } from "./useDryRun";

export interface ClearTaskInstanceDialogProps {
  dagId: string;
  runId: string;
  taskId: string;
  /** -1 for an unmapped task. */
  mapIndex: number;
  /** False when the run has no logical date: past/future are then disabled. */
  hasLogicalDate: boolean;
  onClose: () => void;
  onDone: () => void;
}

interface Options {
  include_past: boolean;
  include_future: boolean;
  include_upstream: boolean;
  include_downstream: boolean;
  only_failed: boolean;
}

const LABELS: [keyof Options, string][] = [
  ["include_past", "Past"],
  ["include_future", "Future"],
  ["include_upstream", "Upstream"],
  ["include_downstream", "Downstream"],
  ["only_failed", "Only failed"],
];

export function ClearTaskInstanceDialog(props: ClearTaskInstanceDialogProps) {
  const [options, setOptions] = useState<Options>({
    include_past: false,
    include_future: false,
    include_upstream: false,
    include_downstream: true,
    only_failed: false,
  });
  const [working, setWorking] = useState(false);
  const [error, setError] = useState<unknown>();
  const path = `/api/v2/dags/${seg(props.dagId)}/clearTaskInstances`;
  const body = (dryRun: boolean) => ({
    dry_run: dryRun,
    dag_run_id: props.runId,
    task_ids: props.mapIndex >= 0 ? [[props.taskId, props.mapIndex]] : [props.taskId],
    ...options,
    include_past: props.hasLogicalDate && options.include_past,
    include_future: props.hasLogicalDate && options.include_future,
  });
  const preview = useDryRun(JSON.stringify(body(true)), () =>
    api.post<TaskInstanceCollection>(path, body(true)),
  );
  const count = affectedCount(preview);

  const confirm = async () => {
    setWorking(true);
    setError(undefined);
    try {
      await api.post(path, body(false));
      props.onDone();
      props.onClose();
    } catch (caught) {
      setError(caught);
      setWorking(false);
    }
  };

  const name = props.mapIndex >= 0 ? `${props.taskId} [${props.mapIndex}]` : props.taskId;
  return (
    <Modal title={`Clear Task Instance: ${name}`} label="Clear task instance" onClose={props.onClose}>
      <div className="stack">
        <fieldset className="segmented">
          <legend className="sr-only">Also clear</legend>
          {LABELS.map(([key, label]) => {
            const dated = key === "include_past" || key === "include_future";
            const disabled = dated && !props.hasLogicalDate;
            return (
              <label key={key} className="inline" title={disabled ? "The run has no logical date" : undefined}>
                <input
                  type="checkbox"
                  checked={options[key] && !disabled}
                  disabled={disabled}
                  onChange={(event) => setOptions({ ...options, [key]: event.target.checked })}
                />
                {label}
              </label>
            );
          })}
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
