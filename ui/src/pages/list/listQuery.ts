// The DAG list's filters live in the URL query (reload and back keep them): this module reads
// them from URLSearchParams and turns them into the `/ui/dags` request query.
import type { Query } from "../../api/client";

export const PAGE_SIZE = 50;
export const RUN_BARS = 10;

export type PausedFilter = "all" | "active" | "paused";

export interface ListFilters {
  search: string;
  tags: string[];
  tagsMode: "any" | "all";
  paused: PausedFilter;
  lastRunState: string;
  orderBy: string;
  page: number;
}

export const SORTS: { value: string; label: string }[] = [
  { value: "dag_display_name", label: "Name (A–Z)" },
  { value: "-dag_display_name", label: "Name (Z–A)" },
  { value: "next_dagrun", label: "Next run (soonest)" },
  { value: "-next_dagrun", label: "Next run (latest)" },
  { value: "-last_run_start_date", label: "Last run (newest)" },
  { value: "last_run_start_date", label: "Last run (oldest)" },
  { value: "last_run_state", label: "Last run state" },
];

export const RUN_STATES = ["queued", "running", "success", "failed"];

export function readFilters(params: URLSearchParams): ListFilters {
  const paused = params.get("paused");
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  return {
    search: params.get("search") ?? "",
    tags: params.getAll("tags"),
    tagsMode: params.get("tags_match_mode") === "all" ? "all" : "any",
    paused: paused === "active" || paused === "paused" ? paused : "all",
    lastRunState: params.get("last_run_state") ?? "",
    orderBy: params.get("order_by") ?? "dag_display_name",
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

/** The URL query for `filters` (defaults left out, so the plain URL is `/dags`). */
export function writeFilters(filters: ListFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.search) params.set("search", filters.search);
  filters.tags.forEach((tag) => params.append("tags", tag));
  if (filters.tags.length > 1 && filters.tagsMode === "all") params.set("tags_match_mode", "all");
  if (filters.paused !== "all") params.set("paused", filters.paused);
  if (filters.lastRunState) params.set("last_run_state", filters.lastRunState);
  if (filters.orderBy !== "dag_display_name") params.set("order_by", filters.orderBy);
  if (filters.page > 1) params.set("page", String(filters.page));
  return params;
}

/** The `/ui/dags` query of one page. */
export function requestQuery(filters: ListFilters): Query {
  return {
    limit: PAGE_SIZE,
    offset: (filters.page - 1) * PAGE_SIZE,
    dag_display_name_pattern: filters.search || undefined,
    tags: filters.tags.length ? filters.tags : undefined,
    tags_match_mode: filters.tags.length > 1 ? filters.tagsMode : undefined,
    paused: filters.paused === "all" ? undefined : filters.paused === "paused",
    last_dag_run_state: filters.lastRunState || undefined,
    order_by: filters.orderBy,
    dag_runs_limit: RUN_BARS,
  };
}

const numberFormat = new Intl.NumberFormat("en-US");

/** "1–50 of 1,000" (or "0 of 0"). */
export function pageRange(page: number, shown: number, total: number): string {
  if (!shown) return `0 of ${numberFormat.format(total)}`;
  const first = (page - 1) * PAGE_SIZE + 1;
  return `${numberFormat.format(first)}–${numberFormat.format(first + shown - 1)} of ${numberFormat.format(total)}`;
}
