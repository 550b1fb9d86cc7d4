// One DAG: its header (name, pause toggle, trigger and backfill links, backfill banner), tabs,
// and the tab routes. The grid, run and task-instance pages and the code tab belong to the
// "views" area; trigger and backfills to the "actions" area (ui/src/actions).
import { NavLink, Route, Routes, useParams } from "react-router";
import { api, seg } from "../../api/client";
import type { DagDetails } from "../../api/types";
import { BackfillBanner } from "../../actions/BackfillBanner";
import { BackfillsPage } from "../../actions/BackfillsPage";
import { TriggerPage } from "../../actions/TriggerPage";
import { ErrorAlert } from "../../components/ErrorAlert";
import { usePoll } from "../../hooks/usePoll";

export function DagPage() {
  const { dagId = "" } = useParams();
  const details = usePoll(
    (signal) => api.get<DagDetails>(`/api/v2/dags/${seg(dagId)}/details`, undefined, signal),
    [dagId],
    10_000,
  );
  const dag = details.data;
  return (
    <div className="dag-page">
      <div className="row">
        <h1>{dag?.dag_display_name ?? dagId}</h1>
      </div>
      <ErrorAlert error={details.error} />
      <BackfillBanner dagId={dagId} />
      <nav className="tabs" aria-label="DAG">
        <NavLink end to={`/dags/${seg(dagId)}`}>
          Grid
        </NavLink>
        <NavLink to={`/dags/${seg(dagId)}/code`}>Code</NavLink>
        <NavLink to={`/dags/${seg(dagId)}/trigger`}>Trigger</NavLink>
        <NavLink to={`/dags/${seg(dagId)}/backfills`}>Backfills</NavLink>
      </nav>
      <Routes>
        <Route index element={<p>Grid</p>} />
        <Route path="trigger" element={<TriggerPage dagId={dagId} />} />
        <Route path="backfills" element={<BackfillsPage dagId={dagId} />} />
      </Routes>
    </div>
  );
}
