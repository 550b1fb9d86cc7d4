// A task instance's details beside the grid (runs/:runId/tasks/:taskId?map_index=&try=): its
// fields and DAG version, for a mapped task the list of its instances to pick one, its tries as
// tabs with the log of the chosen try, and "Clear task instance".
import { useState } from "react";
import { useParams, useSearchParams } from "react-router";
import { api, seg } from "../../api/client";
import type { DagRun, TaskInstance, TaskInstanceCollection } from "../../api/types";
import { ClearTaskInstanceDialog } from "../../actions/ClearTaskInstanceDialog";
import { ErrorAlert } from "../../components/ErrorAlert";
import { StateBadge } from "../../components/StateBadge";
import { formatDate, formatDuration } from "../../format";
import { usePoll } from "../../hooks/usePoll";
import { Facts, VersionLink, useReloadGrid } from "./common";
import { LogPanel } from "./LogPanel";

const FINISHED = new Set(["success", "failed", "skipped", "upstream_failed", "removed"]);

export function TaskInstanceDetails({ dagId }: { dagId: string }) {
  const { runId = "", taskId = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const [clearing, setClearing] = useState(false);
  const reloadGrid = useReloadGrid();
  const runPath = `/api/v2/dags/${seg(dagId)}/dagRuns/${seg(runId)}`;
  const instances = usePoll(
    (signal) => api.get<TaskInstanceCollection>(`${runPath}/taskInstances`, { task_id: taskId, limit: 100 }, signal),
    [runPath, taskId],
    3000,
  );
  const run = usePoll((signal) => api.get<DagRun>(runPath, undefined, signal), [runPath], null);

  const list = instances.data?.task_instances ?? [];
  const mapped = list.some((ti) => ti.map_index >= 0);
  const wanted = Number(params.get("map_index") ?? (mapped ? list[0]?.map_index ?? -1 : -1));
  const ti: TaskInstance | undefined = list.find((item) => item.map_index === wanted) ?? (mapped ? undefined : list[0]);
  const tries = ti ? Math.max(1, ti.try_number) : 1;
  const chosenTry = Math.min(tries, Math.max(1, Number(params.get("try") ?? tries) || tries));

  const setParam = (change: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [name, value] of Object.entries(change)) {
      if (value === null) next.delete(name);
      else next.set(name, value);
    }
    setParams(next);
  };

  return (
    <div className="stack ti-details">
      <div className="row">
        <h2>
          {taskId}
          {ti && ti.map_index >= 0 ? ` [${ti.rendered_map_index ?? ti.map_index}]` : ""}
        </h2>
        <button type="button" className="push-right" disabled={!ti} onClick={() => setClearing(true)}>
          Clear task instance
        </button>
      </div>
      <div className="muted">Run {runId}</div>
      <ErrorAlert error={instances.error} />
      {instances.data && !list.length ? <p className="muted">This run has no instance of {taskId}.</p> : null}
      {mapped ? (
        <div className="mapped-list">
          <label className="inline">
            Map index
            <select
              value={wanted}
              onChange={(event) => setParam({ map_index: event.target.value, try: null })}
            >
              {list.map((item) => (
                <option key={item.map_index} value={item.map_index}>
                  {item.rendered_map_index ?? item.map_index} — {item.state ?? "none"}
                </option>
              ))}
            </select>
          </label>
          <ul className="mapped-chips" aria-label="Mapped instances">
            {list.map((item) => (
              <li key={item.map_index}>
                <button
                  type="button"
                  aria-pressed={item.map_index === wanted}
                  onClick={() => setParam({ map_index: String(item.map_index), try: null })}
                >
                  <StateBadge state={item.state} /> {item.rendered_map_index ?? item.map_index}
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {ti ? (
        <>
          <Facts
            items={[
              ["State", <StateBadge state={ti.state} />],
              ["Try", `${ti.try_number} of ${ti.max_tries + 1}`],
              ["Operator", ti.operator_name ?? ti.operator],
              ["Started", formatDate(ti.start_date)],
              ["Ended", formatDate(ti.end_date)],
              ["Duration", formatDuration(ti.duration)],
              ["Queued at", formatDate(ti.queued_when)],
              ["Pool", ti.pool],
              ["Queue", ti.queue],
              ["Hostname", ti.hostname],
              ["PID", ti.pid],
              ["DAG version", <VersionLink dagId={dagId} version={ti.dag_version} />],
              ...(ti.map_index >= 0 ? ([["Map index", ti.rendered_map_index ?? String(ti.map_index)]] as [string, string][]) : []),
            ]}
          />
          <nav className="tabs try-tabs" aria-label="Tries">
            {Array.from({ length: tries }, (_, index) => index + 1).map((number) => (
              <button
                type="button"
                key={number}
                role="tab"
                aria-selected={number === chosenTry}
                className={number === chosenTry ? "active" : ""}
                onClick={() => setParam({ try: String(number) })}
              >
                Try {number}
              </button>
            ))}
          </nav>
          <LogPanel
            dagId={dagId}
            runId={runId}
            taskId={taskId}
            mapIndex={ti.map_index}
            tryNumber={chosenTry}
            live={chosenTry === ti.try_number && !FINISHED.has(ti.state ?? "none")}
          />
        </>
      ) : null}
      {clearing && ti ? (
        <ClearTaskInstanceDialog
          dagId={dagId}
          runId={runId}
          taskId={taskId}
          mapIndex={ti.map_index}
          hasLogicalDate={Boolean(run.data?.logical_date ?? ti.logical_date)}
          onClose={() => setClearing(false)}
          onDone={() => {
            setClearing(false);
            void instances.reload();
            reloadGrid();
          }}
        />
      ) : null}
    </div>
  );
}
