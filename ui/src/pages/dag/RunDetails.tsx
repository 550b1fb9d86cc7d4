// A DAG run's details beside the grid (runs/:runId): its fields, the DAG version it ran with
// (linked to the Code tab), its task instances (paged), and "Clear run".
import { useState } from "react";
import { Link, useParams } from "react-router";
import { api, seg } from "../../api/client";
import type { DagRun, TaskInstanceCollection } from "../../api/types";
import { ClearRunDialog } from "../../actions/ClearRunDialog";
import { ErrorAlert } from "../../components/ErrorAlert";
import { StateBadge } from "../../components/StateBadge";
import { formatDate, formatDuration } from "../../format";
import { usePoll } from "../../hooks/usePoll";
import { Facts, VersionLink, useReloadGrid } from "./common";

const TI_PAGE = 100;

export function RunDetails({ dagId }: { dagId: string }) {
  const { runId = "" } = useParams();
  const [offset, setOffset] = useState(0);
  const [clearing, setClearing] = useState(false);
  const reloadGrid = useReloadGrid();
  const runPath = `/api/v2/dags/${seg(dagId)}/dagRuns/${seg(runId)}`;
  const run = usePoll((signal) => api.get<DagRun>(runPath, undefined, signal), [runPath], 5000);
  const tis = usePoll(
    (signal) =>
      api.get<TaskInstanceCollection>(`${runPath}/taskInstances`, { limit: TI_PAGE, offset, order_by: "map_index" }, signal),
    [runPath, offset],
    5000,
  );
  const data = run.data;
  const total = tis.data?.total_entries ?? 0;
  return (
    <div className="stack run-details">
      <div className="row">
        <h2>Run {runId}</h2>
        <button type="button" className="push-right" onClick={() => setClearing(true)}>
          Clear run
        </button>
      </div>
      <ErrorAlert error={run.error} />
      {data ? (
        <Facts
          items={[
            ["State", <StateBadge state={data.state} />],
            ["Run type", data.run_type],
            ["Run ID", <span className="mono">{data.dag_run_id}</span>],
            ["Logical date", formatDate(data.logical_date)],
            [
              "Data interval",
              data.data_interval_start ? `${formatDate(data.data_interval_start)} – ${formatDate(data.data_interval_end)}` : null,
            ],
            ["Run after", formatDate(data.run_after)],
            ["Queued at", formatDate(data.queued_at)],
            ["Started", formatDate(data.start_date)],
            ["Ended", formatDate(data.end_date)],
            ["Duration", formatDuration(data.duration)],
            ["Triggered by", [data.triggered_by, data.triggering_user_name].filter(Boolean).join(" · ")],
            [
              "DAG version",
              data.dag_versions.length ? (
                <span className="row">
                  {data.dag_versions.map((version) => (
                    <VersionLink key={version.id} dagId={dagId} version={version} />
                  ))}
                </span>
              ) : null,
            ],
            ["Note", data.note],
          ]}
        />
      ) : null}
      {data?.conf && Object.keys(data.conf).length ? (
        <div>
          <h3>Conf</h3>
          <pre className="conf">{JSON.stringify(data.conf, null, 2)}</pre>
        </div>
      ) : null}
      <h3>Task instances</h3>
      <ErrorAlert error={tis.error} />
      <table className="table compact">
        <thead>
          <tr>
            <th>Task</th>
            <th>Map index</th>
            <th>State</th>
            <th>Try</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {tis.data?.task_instances.map((ti) => (
            <tr key={`${ti.task_id}:${ti.map_index}`}>
              <td>
                <Link
                  to={`/dags/${seg(dagId)}/runs/${seg(runId)}/tasks/${seg(ti.task_id)}${ti.map_index >= 0 ? `?map_index=${ti.map_index}` : ""}`}
                >
                  {ti.task_display_name || ti.task_id}
                </Link>
              </td>
              <td>{ti.map_index >= 0 ? ti.map_index : ""}</td>
              <td>
                <StateBadge state={ti.state} />
              </td>
              <td>{ti.try_number}</td>
              <td>{formatDuration(ti.duration)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {total > TI_PAGE ? (
        <div className="row">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - TI_PAGE))}>
            Previous
          </button>
          <span>
            {offset + 1}–{Math.min(offset + TI_PAGE, total)} of {total}
          </span>
          <button type="button" disabled={offset + TI_PAGE >= total} onClick={() => setOffset(offset + TI_PAGE)}>
            Next
          </button>
        </div>
      ) : null}
      {clearing ? (
        <ClearRunDialog
          dagId={dagId}
          runId={runId}
          onClose={() => setClearing(false)}
          onDone={() => {
            setClearing(false);
            void run.reload();
            void tis.reload();
            reloadGrid();
          }}
        />
      ) : null}
    </div>
  );
}
