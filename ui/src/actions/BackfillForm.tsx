// The backfill form (Airflow 3's RunBackfillForm, docs/airflow-rest-api.md
// D.5/D.6), with the fixes its users asked for: dates default to the last
// 7 days (#49541); the dry run is sent exactly the body create will send, dates in UTC
// (#49462) and run_backwards included (#52115); params/conf from the trigger form (#49653).
// Each change re-runs the dry run after 300 ms; "Run backfill" waits for it and is disabled
// on any error or when it found no run.
import { useState, type FormEvent } from "react";
import { api, seg } from "../api/client";
import type { Backfill, DagDetails } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { formatDate, fromLocalInput, toLocalInput } from "../format";
import { ConfJsonEditor, ParamsForm } from "./params/ParamsForm";
import { useConfForm } from "./params/useConfForm";
import { useDryRun } from "./useDryRun";
import { REPROCESS_LABELS } from "./backfillParts";

export interface BackfillBody {
  dag_id: string;
  from_date: string;
  to_date: string;
  reprocess_behavior: "none" | "failed" | "completed";
  max_active_runs: number;
  run_backwards: boolean;
  dag_run_conf: Record<string, unknown>;
  keep_dag_paused?: boolean;
}

interface DryRunAnswer {
  backfills: { logical_date: string }[];
  total_entries: number;
}

const PREVIEW_LIMIT = 20;
export const DRY_RUN_DELAY_MS = 300;

/** Today at midnight and 7 days before, as `datetime-local` values. */
function defaultRange(): { from: string; to: string } {
  const to = new Date();
  to.setHours(0, 0, 0, 0);
  const from = new Date(to);
  from.setDate(from.getDate() - 7);
  return { from: toLocalInput(from), to: toLocalInput(to) };
}

export function dateProblems(from: string, to: string, now: Date): string[] {
  const problems: string[] = [];
  const start = fromLocalInput(from);
  const end = fromLocalInput(to);
  if (!start) problems.push("Start Date is required");
  if (!end) problems.push("End Date is required");
  if (start && new Date(start) > now) problems.push("Start Date cannot be in the future");
  if (end && new Date(end) > now) problems.push("End Date cannot be in the future");
  if (start && end && new Date(start) > new Date(end)) {
    problems.push("Start Date must be before the End Date");
  }
  return problems;
}

export function BackfillForm({ dag, onCreated }: { dag: DagDetails; onCreated: () => void }) {
  const dagId = dag.dag_id;
  const [range, setRange] = useState(defaultRange);
  const [reprocess, setReprocess] = useState<BackfillBody["reprocess_behavior"]>("none");
  const [maxActive, setMaxActive] = useState("1");
  const [backwards, setBackwards] = useState(false);
  const [pausedChoice, setPausedChoice] = useState<"unpause" | "keep">("unpause");
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<Backfill>();
  // bumped after a create: the same form now plans other runs (the created ones exist)
  const [round, setRound] = useState(0);
  const form = useConfForm(dag.params);
  const wasPaused = dag.is_paused;

  const now = new Date();
  const dateErrors = dateProblems(range.from, range.to, now);
  const maxLimit = dag.max_active_runs ?? undefined;
  const maxNumber = Number(maxActive);
  const maxError =
    maxActive === "" || !Number.isInteger(maxNumber)
      ? "Max Active Runs must be a whole number"
      : maxNumber < 1
        ? "Max Active Runs must be at least 1"
        : maxLimit !== undefined && maxNumber > maxLimit
          ? `Max Active Runs must be at most ${maxLimit} (the DAG's max_active_runs)`
          : null;
  const formOk = dateErrors.length === 0 && maxError === null && form.valid;

  const body: BackfillBody | null = formOk
    ? {
        dag_id: dagId,
        from_date: fromLocalInput(range.from)!,
        to_date: fromLocalInput(range.to)!,
        reprocess_behavior: reprocess,
        max_active_runs: maxNumber,
        run_backwards: backwards,
        dag_run_conf: form.conf,
        ...(wasPaused ? { keep_dag_paused: pausedChoice === "keep" } : {}),
      }
    : null;
  const bodyKey = body ? JSON.stringify(body) : null;
  const preview = useDryRun(
    bodyKey === null ? null : `${round}:${bodyKey}`,
    () => api.post<DryRunAnswer>("/api/v2/backfills/dry_run", JSON.parse(bodyKey!)),
    DRY_RUN_DELAY_MS,
  );
  const runCount = preview.data?.total_entries ?? 0;
  const canRun = body !== null && !preview.pending && !preview.error && runCount > 0 && !creating;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!canRun || !bodyKey) return;
    setCreating(true);
    setError(undefined);
    setCreated(undefined);
    try {
      if (wasPaused && pausedChoice === "unpause") {
        await api.patch(`/api/v2/dags/${seg(dagId)}`, { is_paused: false });
      }
      setCreated(await api.post<Backfill>("/api/v2/backfills", JSON.parse(bodyKey)));
      setRound((value) => value + 1);
      onCreated();
    } catch (caught) {
      setError(caught);
    } finally {
      setCreating(false);
    }
  };

  return (
    <form className="card stack backfill-form" onSubmit={submit} aria-label="Run backfill" noValidate>
      <h3>Run this DAG for a range of dates</h3>
      <ErrorAlert error={error} title="Backfill failed" />
      {created ? (
        <div className="ok-alert" role="status">
          Backfill {created.id} created: {formatDate(created.from_date)} to{" "}
          {formatDate(created.to_date)}.
        </div>
      ) : null}
      <div className="row align-start">
        <label>
          From
          <input
            type="datetime-local"
            required
            max={toLocalInput(now)}
            value={range.from}
            aria-invalid={dateErrors.some((text) => text.startsWith("Start")) ? true : undefined}
            onChange={(event) => setRange({ ...range, from: event.target.value })}
          />
        </label>
        <label>
          To
          <input
            type="datetime-local"
            required
            max={toLocalInput(now)}
            value={range.to}
            aria-invalid={dateErrors.some((text) => text.startsWith("End")) ? true : undefined}
            onChange={(event) => setRange({ ...range, to: event.target.value })}
          />
        </label>
        <label>
          Max active runs
          <input
            type="number"
            min={1}
            max={maxLimit}
            step={1}
            value={maxActive}
            aria-invalid={maxError ? true : undefined}
            onChange={(event) => setMaxActive(event.target.value)}
          />
        </label>
      </div>
      {dateErrors.map((text) => (
        <span key={text} className="field-error">
          {text}
        </span>
      ))}
      {maxError ? <span className="field-error">{maxError}</span> : null}
      <fieldset className="radio-cards">
        <legend>Reprocess behavior</legend>
        {(["none", "failed", "completed"] as const).map((value) => (
          <label key={value} className="inline">
            <input
              type="radio"
              name="reprocess_behavior"
              value={value}
              checked={reprocess === value}
              onChange={() => setReprocess(value)}
            />
            {REPROCESS_LABELS[value]}
          </label>
        ))}
      </fieldset>
      <label className="inline">
        <input type="checkbox" checked={backwards} onChange={(event) => setBackwards(event.target.checked)} />
        Run backwards
      </label>
      {wasPaused ? (
        <fieldset className="radio-cards">
          <legend>{dag.dag_display_name} is paused</legend>
          <label className="inline">
            <input
              type="radio"
              name="paused_choice"
              checked={pausedChoice === "unpause"}
              onChange={() => setPausedChoice("unpause")}
            />
            Unpause DAG
          </label>
          <label className="inline">
            <input
              type="radio"
              name="paused_choice"
              checked={pausedChoice === "keep"}
              onChange={() => setPausedChoice("keep")}
            />
            Keep DAG paused
          </label>
        </fieldset>
      ) : null}
      {Object.keys(form.params).length ? <ParamsForm form={form} /> : null}
      <details className="advanced">
        <summary>Advanced options</summary>
        <ConfJsonEditor form={form} label="Run configuration JSON" />
      </details>
      <DryRunPreview
        enabled={body !== null}
        pending={preview.pending}
        error={preview.error}
        data={preview.data}
      />
      <div className="row">
        <button type="submit" className="primary" disabled={!canRun}>
          {creating ? "Creating…" : "Run backfill"}
        </button>
      </div>
    </form>
  );
}

function DryRunPreview(props: {
  enabled: boolean;
  pending: boolean;
  error: unknown;
  data: DryRunAnswer | undefined;
}) {
  if (!props.enabled) return null;
  let content;
  if (props.pending) content = <p className="muted">Calculating…</p>;
  else if (props.error) content = <ErrorAlert error={props.error} title="Dry Run Failed" />;
  else if (props.data) {
    const n = props.data.total_entries;
    const dates = props.data.backfills.map((item) => item.logical_date);
    content =
      n === 0 ? (
        <p className="field-error">No runs matching selected criteria.</p>
      ) : (
        <>
          <p className="ok-text">{n === 1 ? "1 run will be triggered." : `${n} runs will be triggered.`}</p>
          <ul className="dry-run-dates">
            {dates.slice(0, PREVIEW_LIMIT).map((date) => (
              <li key={date}>{formatDate(date)}</li>
            ))}
          </ul>
          {dates.length > PREVIEW_LIMIT ? (
            <p className="muted">…and {dates.length - PREVIEW_LIMIT} more</p>
          ) : null}
        </>
      );
  }
  return (
    <section className="dry-run" aria-label="Dry run" aria-live="polite" aria-busy={props.pending}>
      {content}
    </section>
  );
}
