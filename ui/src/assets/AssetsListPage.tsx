// The asset list (/assets; docs/airflow-rest-api.md D.7, Airflow 3's AssetsList): a page of
// GET /api/v2/assets (name search, 25 a page, sorted by name) with each asset's group, last
// event, the DAGs it schedules and the tasks that produce it. Search and page are in the URL
// query (`name_pattern`, `page`), so the graph's asset links land on a filtered list.
import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, seg } from "../api/client";
import type { AssetCollection, AssetResponse } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { formatDate } from "../format";
import { usePoll } from "../hooks/usePoll";

export const ASSETS_PAGE_SIZE = 25;

function AssetRow({ asset }: { asset: AssetResponse }) {
  const last = asset.last_asset_event?.timestamp ?? null;
  return (
    <tr data-asset-id={asset.id}>
      <td>
        <strong>{asset.name}</strong>
        {asset.uri !== asset.name ? <div className="muted mono">{asset.uri}</div> : null}
      </td>
      <td>{asset.group}</td>
      <td>{last ? <time dateTime={last}>{formatDate(last)}</time> : <span className="muted">—</span>}</td>
      <td>
        {asset.scheduled_dags.length ? (
          <ul className="plain-list">
            {asset.scheduled_dags.map((dag) => (
              <li key={dag.dag_id}>
                <Link to={`/dags/${seg(dag.dag_id)}/assets`}>{dag.dag_id}</Link>
              </li>
            ))}
          </ul>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>
        {asset.producing_tasks.length ? (
          <ul className="plain-list">
            {asset.producing_tasks.map((task) => (
              <li key={`${task.dag_id}.${task.task_id}`}>
                <Link to={`/dags/${seg(task.dag_id)}/assets`}>{task.dag_id}</Link>
                <span className="muted">.{task.task_id}</span>
              </li>
            ))}
          </ul>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
    </tr>
  );
}

export function AssetsListPage() {
  const [params, setParams] = useSearchParams();
  const pattern = params.get("name_pattern") ?? "";
  const parsedPage = Number.parseInt(params.get("page") ?? "1", 10);
  const page = Number.isFinite(parsedPage) && parsedPage > 0 ? parsedPage : 1;
  const query = {
    limit: ASSETS_PAGE_SIZE,
    offset: (page - 1) * ASSETS_PAGE_SIZE,
    order_by: "name",
    name_pattern: pattern || undefined,
  };
  const list = usePoll(
    (signal) => api.get<AssetCollection>("/api/v2/assets", query, signal),
    [pattern, page],
    15_000,
  );
  const shown = useRef<AssetCollection | undefined>(undefined);
  if (list.data) shown.current = list.data;
  const data = list.data ?? shown.current;

  const go = (next: { pattern?: string; page?: number }) => {
    const out = new URLSearchParams();
    const text = next.pattern ?? pattern;
    if (text) out.set("name_pattern", text);
    const target = next.page ?? 1;
    if (target > 1) out.set("page", String(target));
    setParams(out);
  };

  // The search box follows the URL and pushes to it 300 ms after typing stops.
  const [searchText, setSearchText] = useState(pattern);
  const pushed = useRef(pattern);
  useEffect(() => {
    if (pattern !== pushed.current) {
      pushed.current = pattern;
      setSearchText(pattern);
    }
  }, [pattern]);
  useEffect(() => {
    if (searchText === pushed.current) return;
    const timer = setTimeout(() => {
      pushed.current = searchText;
      go({ pattern: searchText, page: 1 });
    }, 300);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [searchText]);

  const total = data?.total_entries ?? 0;
  const lastPage = Math.max(1, Math.ceil(total / ASSETS_PAGE_SIZE));
  return (
    <div className="assets-list">
      <h1>{data ? `${total.toLocaleString("en-US")} ${total === 1 ? "Asset" : "Assets"}` : "Assets"}</h1>
      <div className="row list-filters" role="search">
        <input
          type="search"
          placeholder="Search assets by name"
          aria-label="Search assets"
          value={searchText}
          onChange={(event) => setSearchText(event.target.value)}
        />
      </div>
      <ErrorAlert error={list.error} />
      {data ? (
        data.assets.length ? (
          <table className="table" aria-label="Assets">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Group</th>
                <th scope="col">Last event</th>
                <th scope="col">Scheduled DAGs</th>
                <th scope="col">Producing tasks</th>
              </tr>
            </thead>
            <tbody>
              {data.assets.map((asset) => (
                <AssetRow key={asset.id} asset={asset} />
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">{pattern ? `No asset matches “${pattern}”.` : "No assets yet."}</p>
        )
      ) : list.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
      {total > ASSETS_PAGE_SIZE ? (
        <nav className="row pager" aria-label="Pages">
          <button type="button" disabled={page <= 1} onClick={() => go({ page: page - 1 })}>
            Previous
          </button>
          <span>
            Page {page} of {lastPage}
          </span>
          <button type="button" disabled={page >= lastPage} onClick={() => go({ page: page + 1 })}>
            Next
          </button>
        </nav>
      ) : null}
    </div>
  );
}
