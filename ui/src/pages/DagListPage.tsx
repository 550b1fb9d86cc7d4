// The DAG list (/dags): one `/ui/dags` request per page of 50 (the server filters, sorts and
// pages, so 1,000 DAGs cost no more than 50), polled every few seconds. Filters, sort and page
// are in the URL query (pages/list/listQuery.ts) so reload and back keep them.
//
// Benchmark hooks (docs/airflow-rest-api.md, "UI endpoints"): the root has data-testid="dag-list",
// each row data-testid="dag-row" + data-dag-id, and performance.mark("dagcore:dag-list-rendered")
// is set in the animation frame after the first commit that shows rows (once per page load).
import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, seg } from "../api/client";
import type { UiDag, UiDagCollection } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { StateBadge } from "../components/StateBadge";
import { formatDate } from "../format";
import { usePoll } from "../hooks/usePoll";
import { ImportErrorsBanner } from "./list/ImportErrorsBanner";
import {
  PAGE_SIZE,
  RUN_STATES,
  SORTS,
  pageRange,
  readFilters,
  requestQuery,
  writeFilters,
  type ListFilters,
} from "./list/listQuery";
import { PauseToggle } from "./list/PauseToggle";
import { RunBars } from "./list/RunBars";
import { TagFilter } from "./list/TagFilter";

let listRenderedMarked = false;

const DagRow = ({ dag, onTag, onChanged }: { dag: UiDag; onTag: (tag: string) => void; onChanged: () => void }) => {
  const last = dag.latest_dag_runs[0];
  const next = dag.next_dagrun_logical_date ?? dag.next_dagrun_run_after;
  return (
    <tr data-testid="dag-row" data-dag-id={dag.dag_id}>
      <td>
        <PauseToggle dagId={dag.dag_id} isPaused={dag.is_paused} onChanged={onChanged} />
      </td>
      <td>
        <Link to={`/dags/${seg(dag.dag_id)}`} className="dag-name">
          {dag.dag_display_name}
        </Link>
        {dag.dag_display_name !== dag.dag_id ? <div className="muted mono">{dag.dag_id}</div> : null}
      </td>
      <td title={dag.timetable_summary ?? undefined}>
        {dag.timetable_description || dag.timetable_summary || <span className="muted">None</span>}
      </td>
      <td>
        {dag.tags.map((tag) => (
          <button
            type="button"
            key={tag.name}
            className="tag tag-button"
            title={`Show DAGs tagged ${tag.name}`}
            onClick={() => onTag(tag.name)}
          >
            {tag.name}
          </button>
        ))}
      </td>
      <td>{dag.owners.join(", ")}</td>
      <td>
        {last ? (
          <div className="last-run">
            <Link to={`/dags/${seg(dag.dag_id)}/runs/${seg(last.run_id)}`}>
              <StateBadge state={last.state} />
            </Link>
            <span className="muted">{formatDate(last.start_date ?? last.run_after)}</span>
          </div>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>
        <RunBars runs={dag.latest_dag_runs} />
      </td>
      <td>{next ? formatDate(next) : <span className="muted">—</span>}</td>
    </tr>
  );
};

export function DagListPage() {
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const query = requestQuery(filters);
  const key = JSON.stringify(query);
  const list = usePoll(
    (signal) => api.get<UiDagCollection>("/ui/dags", query, signal),
    [key],
    5000,
  );
  // Keep the previous page on screen while the next one loads (no flash of "Loading").
  const shown = useRef<UiDagCollection | undefined>(undefined);
  if (list.data) shown.current = list.data;
  const data = list.data ?? shown.current;

  const update = (change: Partial<ListFilters>) => {
    const next = { ...filters, page: 1, ...change };
    setParams(writeFilters(next));
  };

  // The search box is debounced: the URL (and the request) follow 300 ms after typing stops.
  const [searchText, setSearchText] = useState(filters.search);
  const lastPushed = useRef(filters.search);
  useEffect(() => {
    if (filters.search !== lastPushed.current) {
      lastPushed.current = filters.search;
      setSearchText(filters.search);
    }
  }, [filters.search]);
  useEffect(() => {
    if (searchText === lastPushed.current) return;
    const timer = setTimeout(() => {
      lastPushed.current = searchText;
      update({ search: searchText });
    }, 300);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [searchText]);

  const hasRows = Boolean(data?.dags.length);
  useEffect(() => {
    if (!hasRows || listRenderedMarked) return;
    listRenderedMarked = true;
    requestAnimationFrame(() => performance.mark("dagcore:dag-list-rendered"));
  }, [hasRows]);

  const total = data?.total_entries ?? 0;
  const lastPage = Math.max(1, Math.ceil(total / PAGE_SIZE));
  return (
    <div className="dag-list" data-testid="dag-list">
      <div className="row list-heading">
        <h1>{data ? `${total.toLocaleString("en-US")} DAGs` : "DAGs"}</h1>
      </div>
      <ImportErrorsBanner count={data?.import_errors_count ?? 0} />
      <div className="row list-filters" role="search">
        <label className="inline">
          <span className="sr-only">Search DAGs</span>
          <input
            type="search"
            placeholder="Search DAGs"
            aria-label="Search DAGs"
            value={searchText}
            onChange={(event) => setSearchText(event.target.value)}
          />
        </label>
        <label className="inline">
          Status
          <select
            value={filters.paused}
            onChange={(event) => update({ paused: event.target.value as ListFilters["paused"] })}
          >
            <option value="all">All</option>
            <option value="active">Active</option>
            <option value="paused">Paused</option>
          </select>
        </label>
        <label className="inline">
          Last run
          <select value={filters.lastRunState} onChange={(event) => update({ lastRunState: event.target.value })}>
            <option value="">Any state</option>
            {RUN_STATES.map((state) => (
              <option key={state} value={state}>
                {state}
              </option>
            ))}
          </select>
        </label>
        <TagFilter
          tags={filters.tags}
          mode={filters.tagsMode}
          onChange={(tags, tagsMode) => update({ tags, tagsMode })}
        />
        <label className="inline">
          Sort
          <select value={filters.orderBy} onChange={(event) => update({ orderBy: event.target.value })}>
            {SORTS.map((sort) => (
              <option key={sort.value} value={sort.value}>
                {sort.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorAlert error={list.error} />
      <table className="table dag-table">
        <thead>
          <tr>
            <th>
              <span className="sr-only">Paused</span>
            </th>
            <th>DAG</th>
            <th>Schedule</th>
            <th>Tags</th>
            <th>Owners</th>
            <th>Last run</th>
            <th>Runs</th>
            <th>Next run</th>
          </tr>
        </thead>
        <tbody>
          {data?.dags.map((dag) => (
            <DagRow
              key={dag.dag_id}
              dag={dag}
              onChanged={() => void list.reload()}
              onTag={(tag) => {
                if (!filters.tags.includes(tag)) update({ tags: [...filters.tags, tag] });
              }}
            />
          ))}
          {data && !data.dags.length ? (
            <tr>
              <td colSpan={8} className="muted">
                No DAG matches these filters.
              </td>
            </tr>
          ) : null}
          {!data && !list.error ? (
            <tr>
              <td colSpan={8} className="muted">
                Loading…
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <nav className="row pager" aria-label="Pages">
        <button type="button" disabled={filters.page <= 1} onClick={() => update({ page: filters.page - 1 })}>
          Previous
        </button>
        <span>{pageRange(filters.page, data?.dags.length ?? 0, total)}</span>
        <button
          type="button"
          disabled={filters.page >= lastPage}
          onClick={() => update({ page: filters.page + 1 })}
        >
          Next
        </button>
      </nav>
    </div>
  );
}
