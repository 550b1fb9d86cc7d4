// Shapes of the answers the UI reads: Airflow 3's /api/v2 models (as dagcore serves them) and
// dagcore's UI-only /ui routes (docs/airflow-rest-api.md D and "UI endpoints").

export type DateString = string;

export interface DagTag {
  name: string;
  dag_id: string;
}

export interface Dag {
  dag_id: string;
  dag_display_name: string;
  is_paused: boolean;
  is_stale: boolean;
  description: string | null;
  timetable_summary: string | null;
  timetable_description: string | null;
  tags: DagTag[];
  max_active_tasks: number;
  max_active_runs: number | null;
  has_import_errors: boolean;
  next_dagrun_logical_date: DateString | null;
  next_dagrun_data_interval_start: DateString | null;
  next_dagrun_data_interval_end: DateString | null;
  next_dagrun_run_after: DateString | null;
  owners: string[];
  fileloc: string | null;
  relative_fileloc: string | null;
  last_parsed_time: DateString | null;
}

/** One param of a DAG as `/dags/{id}/details` dumps it (Airflow's `Param.dump()`). */
export interface ParamSpec {
  value: unknown;
  description: string | null;
  schema: Record<string, unknown>;
}

export interface DagVersion {
  id: string;
  version_number: number;
  dag_id: string;
  bundle_name: string | null;
  bundle_version: string | null;
  created_at: DateString;
  dag_display_name: string;
  bundle_url: string | null;
}

export interface DagDetails extends Dag {
  catchup: boolean;
  doc_md: string | null;
  start_date: DateString | null;
  end_date: DateString | null;
  params: Record<string, ParamSpec> | null;
  timezone: string | null;
  owner_links: Record<string, string> | null;
  active_runs_count: number;
  latest_dag_version: DagVersion | null;
}

export interface DagRun {
  dag_run_id: string;
  dag_id: string;
  logical_date: DateString | null;
  queued_at: DateString | null;
  start_date: DateString | null;
  end_date: DateString | null;
  duration: number | null;
  data_interval_start: DateString | null;
  data_interval_end: DateString | null;
  run_after: DateString;
  run_type: string;
  state: string;
  triggered_by: string | null;
  triggering_user_name: string | null;
  conf: Record<string, unknown> | null;
  note: string | null;
  dag_versions: DagVersion[];
  bundle_version: string | null;
  dag_display_name: string;
}

export interface TaskInstance {
  id: string;
  task_id: string;
  dag_id: string;
  dag_run_id: string;
  map_index: number;
  logical_date: DateString | null;
  run_after: DateString | null;
  start_date: DateString | null;
  end_date: DateString | null;
  duration: number | null;
  state: string | null;
  try_number: number;
  max_tries: number;
  task_display_name: string;
  hostname: string | null;
  pool: string;
  queue: string | null;
  priority_weight: number | null;
  operator: string | null;
  operator_name: string | null;
  queued_when: DateString | null;
  scheduled_when: DateString | null;
  pid: number | null;
  note: string | null;
  rendered_map_index: string | null;
  dag_version: DagVersion | null;
}

export interface ImportError {
  import_error_id: number;
  timestamp: DateString;
  filename: string;
  bundle_name: string | null;
  stack_trace: string;
}

export interface Backfill {
  id: number;
  dag_id: string;
  from_date: DateString;
  to_date: DateString;
  dag_run_conf: Record<string, unknown>;
  is_paused: boolean;
  reprocess_behavior: "none" | "failed" | "completed";
  max_active_runs: number;
  created_at: DateString;
  completed_at: DateString | null;
  updated_at: DateString;
  dag_display_name: string;
}

export interface BackfillProgress {
  total: number;
  done: number;
  by_state: Record<string, number>;
}

/** `/ui/backfills`: a backfill with its progress. */
export interface BackfillWithProgress extends Backfill {
  keep_dag_paused: boolean;
  run_backwards?: boolean;
  progress: BackfillProgress;
}

export interface LatestRun {
  run_id: string;
  dag_id: string;
  state: string;
  run_type: string;
  logical_date: DateString | null;
  run_after: DateString;
  start_date: DateString | null;
  end_date: DateString | null;
  duration: number | null;
}

/** `/ui/dags`: a DAG with its latest runs (newest first). */
export interface UiDag extends Dag {
  latest_dag_runs: LatestRun[];
}

export interface UiDagCollection {
  dags: UiDag[];
  total_entries: number;
  import_errors_count: number;
}

export interface GridNode {
  id: string;
  label: string;
  type: "task" | "group";
  is_mapped: boolean;
  operator: string | null;
  children: GridNode[] | null;
}

export interface GridRun {
  run_id: string;
  state: string;
  run_type: string;
  logical_date: DateString | null;
  run_after: DateString;
  start_date: DateString | null;
  end_date: DateString | null;
  duration: number | null;
  dag_version_number: number | null;
  note: string | null;
}

export interface MappedCell {
  state: string;
  counts: Record<string, number>;
}

/** null: no task instance; a state ("none" for no state); a mapped task's summary. */
export type GridCell = string | MappedCell | null;

/** `/ui/grid/{dag_id}`: runs newest first, `cells[run][task]` aligned with `task_ids`. */
export interface GridData {
  dag_id: string;
  structure: GridNode[];
  task_ids: string[];
  runs: GridRun[];
  cells: GridCell[][];
  total_runs: number;
}

export interface LogChunk {
  content: { timestamp: DateString | null; event: string }[];
  continuation_token: string | null;
}

export interface DagSource {
  content: string | null;
  dag_id: string;
  version_number: number | null;
  dag_display_name: string;
}

export interface DagRunCollection {
  dag_runs: DagRun[];
  total_entries: number;
}

export interface TaskInstanceCollection {
  task_instances: TaskInstance[];
  total_entries: number;
}

export interface DagVersionCollection {
  dag_versions: DagVersion[];
  total_entries: number;
}

export interface BackfillCollection<T extends Backfill = BackfillWithProgress> {
  backfills: T[];
  total_entries: number;
}

export interface ImportErrorCollection {
  import_errors: ImportError[];
  total_entries: number;
}

// -- assets (docs/airflow-rest-api.md "UI endpoints" 10-11, D.7) --------------------------------

/** A node of the asset dependency graph (`GET /ui/dependencies`, Airflow 3's shape). */
export type GraphNodeType = "dag" | "asset" | "asset-alias" | "asset-name-ref" | "asset-uri-ref";

export interface GraphNode {
  id: string;
  label: string;
  type: GraphNodeType;
}

export interface GraphEdge {
  source_id: string;
  target_id: string;
}

export interface DependencyGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface AssetEventSummary {
  id: number;
  timestamp: DateString;
  source_dag_id: string | null;
  source_task_id: string | null;
  source_run_id: string | null;
  source_map_index: number | null;
}

/** One asset in a DAG's condition (id null: not stored yet, so no event). */
export interface AssetLeaf {
  type: "asset";
  id: number | null;
  name: string;
  uri: string;
  group: string;
  last_event: AssetEventSummary | null;
  /** When a queue row for this DAG was last updated (null: not queued for this DAG). */
  queued_at: DateString | null;
}

export interface AliasLeaf {
  type: "alias";
  name: string;
  group: string;
  assets: AssetLeaf[];
  queued: boolean;
}

export interface RefLeaf {
  type: "asset_ref";
  name: string | null;
  uri: string | null;
  assets: AssetLeaf[];
  queued: boolean;
}

export interface ConditionGroup {
  type: "all" | "any";
  children: ConditionNode[];
}

export type ConditionLeaf = AssetLeaf | AliasLeaf | RefLeaf;
export type ConditionNode = ConditionGroup | ConditionLeaf;
export type ProducedAsset = ConditionLeaf & { task_ids: string[] };

/** `GET /ui/dags/{dag_id}/assets`. */
export interface DagAssets {
  dag_id: string;
  dag_display_name: string;
  condition: ConditionNode | null;
  produces: ProducedAsset[];
}

/** `GET /api/v2/assets` (Airflow 3's AssetResponse, the fields the list shows). */
export interface AssetResponse {
  id: number;
  name: string;
  uri: string;
  group: string;
  extra?: Record<string, unknown> | null;
  created_at?: DateString;
  updated_at?: DateString;
  scheduled_dags: { dag_id: string }[];
  producing_tasks: { dag_id: string; task_id: string }[];
  aliases?: { id?: number; name: string; group?: string }[];
  last_asset_event?: { id: number | null; timestamp: DateString | null } | null;
}

export interface AssetCollection {
  assets: AssetResponse[];
  total_entries: number;
}
