// The trigger form at /dags/:dagId/trigger (Airflow 3's TriggerDAGForm, docs/airflow-rest-api.md
// D.3): the params form, an "Advanced" section with the raw JSON conf
// (kept in sync), logical date (empty: a run without one), run id and note, and "Unpause on
// trigger" for a paused DAG. The browser checks params with the server's words, but the
// server is the judge: its 400 detail is shown when it refuses.
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { api, seg } from "../api/client";
import type { DagDetails, DagRun } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { fromLocalInput, toLocalInput } from "../format";
import { usePoll } from "../hooks/usePoll";
import { ConfJsonEditor, ParamsForm } from "./params/ParamsForm";
import { useConfForm } from "./params/useConfForm";

export function TriggerPage({ dagId }: { dagId: string }) {
  const details = usePoll(
    (signal) => api.get<DagDetails>(`/api/v2/dags/${seg(dagId)}/details`, undefined, signal),
    [dagId],
    null,
  );
  if (details.error) return <ErrorAlert error={details.error} />;
  if (!details.data) return <p className="muted">Loading…</p>;
  return <TriggerForm key={dagId} dag={details.data} onUnpaused={() => void details.reload()} />;
}

export interface TriggerBody {
  logical_date: string | null;
  dag_run_id?: string;
  conf: Record<string, unknown>;
  note?: string;
}

function TriggerForm({ dag, onUnpaused }: { dag: DagDetails; onUnpaused: () => void }) {
  const dagId = dag.dag_id;
  // URL parameters pre-fill the form, as Airflow's: ?run_id=&logical_date=&note=&conf=
  const [search] = useSearchParams();
  const form = useConfForm(dag.params, search.get("conf"));
  const [logicalDate, setLogicalDate] = useState(() => {
    const given = search.get("logical_date");
    const date = given ? new Date(given) : null;
    return date && !Number.isNaN(date.getTime()) ? toLocalInput(date) : "";
  });
  const [runId, setRunId] = useState(() => search.get("run_id") ?? "");
  const [note, setNote] = useState(() => search.get("note") ?? "");
  const prefilled = ["run_id", "logical_date", "note", "conf"].some((key) => search.has(key));
  const [unpause, setUnpause] = useState(true);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<DagRun>();

  const dateError =
    logicalDate && fromLocalInput(logicalDate) === null ? `Invalid date: ${logicalDate}` : null;
  const errorCount = Object.keys(form.fieldErrors).length + Object.keys(form.parseErrors).length;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (pending || !form.valid || dateError !== null) return;
    setPending(true);
    setError(undefined);
    setCreated(undefined);
    try {
      if (dag.is_paused && unpause) {
        await api.patch(`/api/v2/dags/${seg(dagId)}`, { is_paused: false });
        onUnpaused();
      }
      const body: TriggerBody = { logical_date: fromLocalInput(logicalDate), conf: form.conf };
      if (runId.trim()) body.dag_run_id = runId.trim();
      if (note.trim()) body.note = note;
      const run = await api.post<DagRun>(`/api/v2/dags/${seg(dagId)}/dagRuns`, body);
      setCreated(run);
    } catch (caught) {
      setError(caught);
    } finally {
      setPending(false);
    }
  };

  return (
    <form className="stack trigger-form" onSubmit={submit} aria-label={`Trigger ${dagId}`} noValidate>
      <div className="row spread">
        <h2>Trigger {dag.dag_display_name}</h2>
        <Link className="button" to={`/dags/${seg(dagId)}/backfills`}>
          Run this DAG for a range of dates
        </Link>
      </div>
      {created ? (
        <div className="ok-alert" role="status">
          Dag Run Triggered: <Link to={`/dags/${seg(dagId)}/runs/${seg(created.dag_run_id)}`}>
            {created.dag_run_id}
          </Link>
        </div>
      ) : null}
      <ErrorAlert error={error} title="Failed to Trigger Dag" />
      <div className="card stack">
        <ParamsForm form={form} />
        <details className="advanced" open={prefilled || undefined}>
          <summary>Advanced options</summary>
          <div className="stack">
            <div className="field">
              <label>
                Logical date
                <input
                  type="datetime-local"
                  value={logicalDate}
                  onChange={(event) => setLogicalDate(event.target.value)}
                  aria-invalid={dateError ? true : undefined}
                />
              </label>
              <span className="field-help">
                Optional - leave empty for a run without a logical date.
              </span>
              {dateError ? <span className="field-error">{dateError}</span> : null}
            </div>
            <label>
              Run ID
              <input
                value={runId}
                placeholder="Optional - will be generated if not provided"
                onChange={(event) => setRunId(event.target.value)}
              />
            </label>
            <ConfJsonEditor form={form} />
            <label>
              Note
              <textarea rows={2} value={note} onChange={(event) => setNote(event.target.value)} />
            </label>
          </div>
        </details>
        {dag.is_paused ? (
          <label className="inline">
            <input type="checkbox" checked={unpause} onChange={(event) => setUnpause(event.target.checked)} />
            Unpause {dag.dag_display_name} on trigger
          </label>
        ) : null}
        <div className="row">
          <button
            type="submit"
            className="primary"
            disabled={pending || !form.valid || dateError !== null}
          >
            {pending ? "Triggering…" : "Trigger"}
          </button>
          <button type="button" onClick={form.reset} disabled={pending}>
            Reset params
          </button>
          {errorCount ? (
            <span className="field-error" role="status">
              {errorCount === 1 ? "1 param is invalid." : `${errorCount} params are invalid.`}
            </span>
          ) : null}
        </div>
      </div>
    </form>
  );
}
