// PLACEHOLDER (owned by the "actions" helper): clear a task instance (upstream, downstream,
// only failed, past, future), with the dry-run list first.
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

export function ClearTaskInstanceDialog(props: ClearTaskInstanceDialogProps) {
  return (
    <div role="dialog" aria-label="Clear task instance">
      <button type="button" onClick={props.onClose}>
        Close
      </button>
    </div>
  );
}
