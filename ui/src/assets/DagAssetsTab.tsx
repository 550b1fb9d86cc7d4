// A DAG's Assets tab (/dags/:dagId/assets; docs/airflow-rest-api.md D.7): what schedules the DAG
// (its asset condition as a tree, each asset with its last event and a "Queued" mark), what its
// tasks produce, and the asset graph around it (producer DAGs → assets → consumer DAGs).
// Two requests: GET /ui/dags/{dag_id}/assets and GET /ui/dependencies?node_id=dag:<id>.
import { api, seg } from "../api/client";
import type { DagAssets, DependencyGraph } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { usePoll } from "../hooks/usePoll";
import { AssetExpression, ProducedList } from "./AssetExpression";
import { AssetGraph } from "./AssetGraph";

export function DagAssetsTab({ dagId }: { dagId: string }) {
  const assets = usePoll(
    (signal) => api.get<DagAssets>(`/ui/dags/${seg(dagId)}/assets`, undefined, signal),
    [dagId],
    10_000,
  );
  const graph = usePoll(
    (signal) => api.get<DependencyGraph>("/ui/dependencies", { node_id: `dag:${dagId}` }, signal),
    [dagId],
    30_000,
  );
  const data = assets.data;
  return (
    <div className="dag-assets stack">
      <section aria-labelledby="dag-assets-schedule">
        <h2 id="dag-assets-schedule">Scheduled on</h2>
        <ErrorAlert error={assets.error} />
        {data ? (
          data.condition ? (
            <div className="asset-expression">
              <AssetExpression node={data.condition} />
            </div>
          ) : (
            <p className="muted">This DAG is not scheduled on assets.</p>
          )
        ) : assets.loading ? (
          <p className="muted">Loading…</p>
        ) : null}
      </section>
      <section aria-labelledby="dag-assets-produces">
        <h2 id="dag-assets-produces">Produces</h2>
        {data ? <ProducedList items={data.produces} /> : null}
      </section>
      <section aria-labelledby="dag-assets-graph">
        <h2 id="dag-assets-graph">Asset graph</h2>
        <ErrorAlert error={graph.error} />
        {graph.data ? (
          <div className="agraph-scroll">
            <AssetGraph graph={graph.data} currentId={`dag:${dagId}`} />
          </div>
        ) : graph.loading ? (
          <p className="muted">Loading…</p>
        ) : null}
      </section>
    </div>
  );
}
