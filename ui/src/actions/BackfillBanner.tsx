// "Backfill in progress" on every page of a DAG: the DAG's ACTIVE backfill (not merely its
// first one, Airflow #61811; docs/airflow-rest-api.md D.5/D.6) with its progress,
// Pause / Unpause / Cancel and a link to the backfills tab. Nothing when there is none.
import { Link } from "react-router";
import { api, seg } from "../api/client";
import type { BackfillCollection } from "../api/types";
import { usePoll } from "../hooks/usePoll";
import { BackfillActions, BackfillProgressBar } from "./backfillParts";

export function BackfillBanner({ dagId }: { dagId: string }) {
  const poll = usePoll(
    (signal) =>
      api.get<BackfillCollection>("/ui/backfills", { dag_id: dagId, active: true, limit: 10 }, signal),
    [dagId],
    3000,
  );
  // A background poll: its failure is shown as a quiet line, not an alert that would take the
  // place of the page's own errors.
  if (poll.error) {
    return (
      <p className="field-error backfill-banner-error" role="status">
        Backfills could not be loaded: {poll.error.message}
      </p>
    );
  }
  const active = poll.data?.backfills.find((item) => !item.completed_at && item.dag_id === dagId);
  if (!active) return null;
  const { done, total } = active.progress;
  return (
    <section className="info-alert backfill-banner" aria-label="Backfill in progress">
      <div className="row">
        <span>
          <strong>{active.is_paused ? "Backfill paused" : "Backfill in progress"}:</strong>{" "}
          {done}/{total} runs done
        </span>
        <div className="backfill-banner-bar">
          <BackfillProgressBar backfill={active} />
        </div>
        <BackfillActions backfill={active} onChanged={() => void poll.reload()} />
        <Link to={`/dags/${seg(dagId)}/backfills`}>View backfills</Link>
      </div>
    </section>
  );
}
