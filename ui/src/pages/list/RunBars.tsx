// The small bar chart of a DAG's latest runs in the list: oldest left, newest right, height by
// duration, colour by state; each bar links to its run.
import { Link } from "react-router";
import { seg } from "../../api/client";
import type { LatestRun } from "../../api/types";
import { stateColor } from "../../components/state";
import { formatDate, formatDuration } from "../../format";

function runSeconds(run: LatestRun): number {
  if (run.duration !== null) return run.duration;
  if (!run.start_date) return 0;
  return Math.max(0, (Date.now() - new Date(run.start_date).getTime()) / 1000);
}

export function RunBars({ runs }: { runs: LatestRun[] }) {
  if (!runs.length) return null;
  const ordered = [...runs].reverse();
  const longest = Math.max(1, ...ordered.map(runSeconds));
  return (
    <span className="run-bars" aria-label="Latest runs">
      {ordered.map((run) => (
        <Link
          key={run.run_id}
          to={`/dags/${seg(run.dag_id)}/runs/${seg(run.run_id)}`}
          className="run-bar"
          title={`${run.run_id}: ${run.state}, ${formatDate(run.run_after)}, ${formatDuration(run.duration)}`}
          aria-label={`Run ${run.run_id}: ${run.state}`}
          style={{
            height: `${Math.max(3, Math.round((runSeconds(run) / longest) * 22))}px`,
            background: stateColor(run.state),
          }}
        />
      ))}
    </span>
  );
}
