// PLACEHOLDER (owned by the "actions" helper): clear a DAG run, with the dry-run list first.
export interface ClearRunDialogProps {
  dagId: string;
  runId: string;
  onClose: () => void;
  /** Called after the clear was done (the caller refreshes). */
  onDone: () => void;
}

export function ClearRunDialog(props: ClearRunDialogProps) {
  return (
    <div role="dialog" aria-label="Clear DAG run">
      <button type="button" onClick={props.onClose}>
        Close
      </button>
    </div>
  );
}
