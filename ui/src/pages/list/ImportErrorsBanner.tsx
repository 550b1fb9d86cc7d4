// "N import errors" above the DAG list; expanding it lists the files and their stack traces
// (GET /api/v2/importErrors, loaded when opened).
import { useState } from "react";
import { api } from "../../api/client";
import type { ImportErrorCollection } from "../../api/types";
import { ErrorAlert } from "../../components/ErrorAlert";
import { usePoll } from "../../hooks/usePoll";

function ImportErrorList() {
  const errors = usePoll(
    (signal) => api.get<ImportErrorCollection>("/api/v2/importErrors", { limit: 100 }, signal),
    [],
    15_000,
  );
  if (errors.error) return <ErrorAlert error={errors.error} />;
  if (!errors.data) return <p className="muted">Loading…</p>;
  return (
    <ul className="import-errors">
      {errors.data.import_errors.map((item) => (
        <li key={item.import_error_id}>
          <strong className="mono">{item.filename}</strong>
          <pre>{item.stack_trace}</pre>
        </li>
      ))}
    </ul>
  );
}

export function ImportErrorsBanner({ count }: { count: number }) {
  const [open, setOpen] = useState(false);
  if (!count) return null;
  return (
    <div className="error-alert import-errors-banner">
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
        {count === 1 ? "1 import error" : `${count} import errors`} {open ? "▾" : "▸"}
      </button>
      {open ? <ImportErrorList /> : null}
    </div>
  );
}
