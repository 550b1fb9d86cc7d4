// One DAG: its header (name, pause toggle, schedule, tags, next run, Trigger and Backfill links,
// the backfill banner), tabs (grid, assets, code, trigger, backfills), and the tab routes. The grid stays on screen for a run's and a task
// instance's details (GridView lays them out side by side). Trigger and backfills belong to the
// "actions" area (ui/src/actions).
import { Link, NavLink, Route, Routes, useLocation, useParams } from "react-router";
import { api, seg } from "../../api/client";
import type { DagDetails } from "../../api/types";
import { BackfillBanner } from "../../actions/BackfillBanner";
import { BackfillsPage } from "../../actions/BackfillsPage";
import { TriggerPage } from "../../actions/TriggerPage";
import { DagAssetsTab } from "../../assets/DagAssetsTab";
import { ErrorAlert } from "../../components/ErrorAlert";
import { formatDate } from "../../format";
import { usePoll } from "../../hooks/usePoll";
import { PauseToggle } from "../list/PauseToggle";
import { CodeTab } from "./CodeTab";
import { GridView } from "./GridView";
import { RunDetails } from "./RunDetails";
import { TaskInstanceDetails } from "./TaskInstanceDetails";

const OTHER_TABS = ["assets", "code", "trigger", "backfills"];

export function DagPage() {
  const { dagId = "" } = useParams();
  const location = useLocation();
  const details = usePoll(
    (signal) => api.get<DagDetails>(`/api/v2/dags/${seg(dagId)}/details`, undefined, signal),
    [dagId],
    10_000,
  );
  const dag = details.data;
  const base = `/dags/${seg(dagId)}`;
  const tail = location.pathname.slice(base.length).split("/")[1] ?? "";
  const onGrid = !OTHER_TABS.includes(tail);
  const next = dag?.next_dagrun_logical_date ?? dag?.next_dagrun_run_after;
  return (
    <div className="dag-page">
      <div className="row dag-header">
        {dag ? <PauseToggle dagId={dagId} isPaused={dag.is_paused} onChanged={() => void details.reload()} /> : null}
        <h1>{dag?.dag_display_name ?? dagId}</h1>
        {dag && dag.dag_display_name !== dagId ? <span className="muted mono">{dagId}</span> : null}
        <div className="dag-header-actions row">
          <Link className="button primary" to={`${base}/trigger`}>
            Trigger
          </Link>
          <Link className="button" to={`${base}/backfills`}>
            Backfill
          </Link>
        </div>
      </div>
      {dag ? (
        <dl className="dag-facts">
          <div>
            <dt>Schedule</dt>
            <dd title={dag.timetable_summary ?? undefined}>
              {dag.timetable_description || dag.timetable_summary || "None"}
            </dd>
          </div>
          <div>
            <dt>Next run</dt>
            <dd>{next ? formatDate(next) : "—"}</dd>
          </div>
          <div>
            <dt>Owners</dt>
            <dd>{dag.owners.join(", ") || "—"}</dd>
          </div>
          <div>
            <dt>Tags</dt>
            <dd>
              {dag.tags.length
                ? dag.tags.map((tag) => (
                    <Link key={tag.name} className="tag" to={`/dags?tags=${encodeURIComponent(tag.name)}`}>
                      {tag.name}
                    </Link>
                  ))
                : "—"}
            </dd>
          </div>
        </dl>
      ) : null}
      <ErrorAlert error={details.error} />
      <BackfillBanner dagId={dagId} />
      <nav className="tabs" aria-label="DAG">
        <NavLink to={base} className={onGrid ? "active" : ""} end>
          Grid
        </NavLink>
        <NavLink to={`${base}/assets`}>Assets</NavLink>
        <NavLink to={`${base}/code`}>Code</NavLink>
        <NavLink to={`${base}/trigger`}>Trigger</NavLink>
        <NavLink to={`${base}/backfills`}>Backfills</NavLink>
      </nav>
      <Routes>
        <Route element={<GridView dagId={dagId} />}>
          <Route index element={null} />
          <Route path="runs/:runId" element={<RunDetails dagId={dagId} />} />
          <Route path="runs/:runId/tasks/:taskId" element={<TaskInstanceDetails dagId={dagId} />} />
        </Route>
        <Route path="assets" element={<DagAssetsTab dagId={dagId} />} />
        <Route path="code" element={<CodeTab dagId={dagId} />} />
        <Route path="trigger" element={<TriggerPage dagId={dagId} />} />
        <Route path="backfills" element={<BackfillsPage dagId={dagId} />} />
      </Routes>
    </div>
  );
}
