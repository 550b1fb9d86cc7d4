// Answers of the asset endpoints for component tests (shapes of docs/airflow-rest-api.md
// "UI endpoints" 10-11 and Airflow 3's GET /api/v2/assets).
import type { AssetLeaf, AssetResponse, ConditionNode, DagAssets, DependencyGraph } from "../api/types";

export const leaf = (id: number, name: string, extra: Partial<AssetLeaf> = {}): AssetLeaf => ({
  type: "asset",
  id,
  name,
  uri: `s3://lake/${name}`,
  group: "asset",
  last_event: null,
  queued_at: null,
  ...extra,
});

export const RAW = leaf(1, "raw", {
  last_event: {
    id: 7,
    timestamp: "2024-03-01T13:00:00Z",
    source_dag_id: "producer",
    source_task_id: "extract",
    source_run_id: "manual__1",
    source_map_index: -1,
  },
  queued_at: "2024-03-01T13:00:00Z",
});

export const CONDITION: ConditionNode = {
  type: "any",
  children: [
    { type: "all", children: [leaf(2, "clean"), RAW] },
    { type: "asset_ref", name: "external", uri: null, queued: false, assets: [leaf(3, "external")] },
    { type: "alias", name: "exports", group: "asset", queued: false, assets: [] },
  ],
};

export const reporterAssets: DagAssets = {
  dag_id: "reporter",
  dag_display_name: "reporter",
  condition: CONDITION,
  produces: [{ ...leaf(5, "report"), task_ids: ["report"] }],
};

export const reporterGraph: DependencyGraph = {
  nodes: [
    { id: "asset:1", label: "raw", type: "asset" },
    { id: "asset:2", label: "clean", type: "asset" },
    { id: "asset:5", label: "report", type: "asset" },
    { id: "dag:cleaner", label: "cleaner", type: "dag" },
    { id: "dag:producer", label: "producer", type: "dag" },
    { id: "dag:reporter", label: "reporter", type: "dag" },
  ],
  edges: [
    { source_id: "asset:1", target_id: "dag:cleaner" },
    { source_id: "asset:1", target_id: "dag:reporter" },
    { source_id: "asset:2", target_id: "dag:reporter" },
    { source_id: "dag:cleaner", target_id: "asset:2" },
    { source_id: "dag:producer", target_id: "asset:1" },
    { source_id: "dag:reporter", target_id: "asset:5" },
  ],
};

export const asset = (id: number, name: string, extra: Partial<AssetResponse> = {}): AssetResponse => ({
  id,
  name,
  uri: `s3://lake/${name}`,
  group: "asset",
  extra: {},
  created_at: "2024-01-01T00:00:00Z",
  updated_at: "2024-01-01T00:00:00Z",
  scheduled_dags: [],
  producing_tasks: [],
  aliases: [],
  last_asset_event: null,
  ...extra,
});
