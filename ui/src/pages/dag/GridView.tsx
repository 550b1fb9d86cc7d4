// The Grid tab: the grid with its "runs shown", run type and state filters (URL query `limit`,
// `run_type`, `state`), and beside it the details of the selected run or task instance (the
// nested route's element). Selecting keeps the filters in the URL.
import { Outlet, useNavigate, useParams, useSearchParams } from "react-router";
import { seg } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { Grid } from "../../grid/Grid";
import { useGridData } from "../../grid/useGridData";

export const LIMITS = [10, 25, 50, 100, 365, 500, 1000];
const RUN_TYPES = ["scheduled", "manual", "backfill", "asset_triggered"];
const RUN_STATES = ["queued", "running", "success", "failed"];

function readLimit(value: string | null): number {
  const limit = Number(value ?? 25);
  return LIMITS.includes(limit) ? limit : 25;
}

export function GridView({ dagId }: { dagId: string }) {
  const [params, setParams] = useSearchParams();
  const { runId, taskId } = useParams();
  const navigate = useNavigate();
  const limit = readLimit(params.get("limit"));
  const runType = params.get("run_type") ?? "";
  const state = params.get("state") ?? "";
  const grid = useGridData(dagId, { limit, runType, state });

  const setParam = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next);
  };
  // Keep the grid's filters when moving between runs and tasks (not the TI's map_index/try).
  const keep = () => {
    const kept = new URLSearchParams();
    for (const name of ["limit", "run_type", "state"]) {
      const value = params.get(name);
      if (value) kept.set(name, value);
    }
    const text = kept.toString();
    return text ? `?${text}` : "";
  };
  const base = `/dags/${seg(dagId)}`;
  const hasDetails = runId !== undefined;

  return (
    <div className={"grid-view" + (hasDetails ? " with-details" : "")}>
      <section className="grid-pane" aria-label="Grid">
        <div className="row grid-filters">
          <FilterSelect
            label="Runs shown"
            value={limit}
            options={LIMITS}
            onChange={(value) => setParam("limit", value === "25" ? "" : value)}
          />
          <FilterSelect label="Run type" value={runType} options={RUN_TYPES} all onChange={(value) => setParam("run_type", value)} />
          <FilterSelect label="Run state" value={state} options={RUN_STATES} all onChange={(value) => setParam("state", value)} />
        </div>
        <ErrorAlert error={grid.error} />
        {grid.data ? (
          grid.data.runs.length ? (
            <Grid
              data={grid.data}
              selectedRunId={runId}
              selectedTaskId={taskId}
              onSelectRun={(id) => navigate(`${base}/runs/${seg(id)}${keep()}`)}
              onSelectTask={(id, task) => navigate(`${base}/runs/${seg(id)}/tasks/${seg(task)}${keep()}`)}
            />
          ) : (
            <p className="muted">No runs{runType || state ? " match these filters" : " yet"}.</p>
          )
        ) : grid.error ? null : (
          <p className="muted">Loading…</p>
        )}
      </section>
      {hasDetails ? (
        <section className="details-pane card" aria-label="Details">
          <Outlet context={{ reloadGrid: grid.reload }} />
        </section>
      ) : null}
    </div>
  );
}

/** One of the grid's filters: a labelled select over `options`, with an "All" choice ("") when
 * `all` is set. */
function FilterSelect(props: {
  label: string;
  value: string | number;
  options: readonly (string | number)[];
  all?: boolean;
  onChange: (value: string) => void;
}) {
  return (
    <label className="inline">
      {props.label}
      <select value={props.value} onChange={(event) => props.onChange(event.target.value)}>
        {props.all ? <option value="">All</option> : null}
        {props.options.map((value) => (
          <option key={value} value={value}>
            {value}
          </option>
        ))}
      </select>
    </label>
  );
}
