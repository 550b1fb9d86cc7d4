// A DAG's asset condition as a tree (docs/airflow-rest-api.md D.7; Airflow 3's AssetExpression):
// "All of" / "Any of" groups with AND / OR between their parts, and leaves for assets, aliases
// (with the assets they resolved to) and references (`Asset.ref`). Each asset shows its last
// event and a "Queued" mark when an event waits for this DAG (a queue row, docs/airflow-behaviour.md
// 12.2); a queued leaf has a green frame, as Airflow marks a received event.
import { Fragment } from "react";
import { Link } from "react-router";
import { seg } from "../api/client";
import type { AliasLeaf, AssetLeaf, ConditionNode, ProducedAsset, RefLeaf } from "../api/types";
import { formatDate } from "../format";

export function assetListHref(name: string): string {
  return `/assets?name_pattern=${encodeURIComponent(name)}`;
}

function QueuedMark({ since }: { since: string | null }) {
  return (
    <span className="badge badge-queued" title={since ? `Queued since ${formatDate(since)}` : undefined}>
      Queued
    </span>
  );
}

function LastEvent({ asset }: { asset: AssetLeaf }) {
  const event = asset.last_event;
  if (!event) return <span className="muted">No event yet</span>;
  return (
    <span>
      Last event <time dateTime={event.timestamp}>{formatDate(event.timestamp)}</time>
      {event.source_dag_id ? (
        <>
          {" "}
          from{" "}
          {event.source_run_id ? (
            <Link to={`/dags/${seg(event.source_dag_id)}/runs/${seg(event.source_run_id)}`}>{event.source_dag_id}</Link>
          ) : (
            <Link to={`/dags/${seg(event.source_dag_id)}`}>{event.source_dag_id}</Link>
          )}
        </>
      ) : null}
    </span>
  );
}

/** One asset: name (a link to the asset list), URI, last event, queued mark. */
export function AssetCard({ asset }: { asset: AssetLeaf }) {
  const queued = asset.queued_at !== null;
  return (
    <div
      className={`asset-card${queued ? " asset-card-queued" : ""}`}
      role="group"
      aria-label={`Asset ${asset.name}`}
      data-asset-name={asset.name}
    >
      <div className="row asset-card-head">
        <span className="asset-icon" aria-hidden="true">
          ◆
        </span>
        <Link to={assetListHref(asset.name)} className="asset-name">
          {asset.name}
        </Link>
        {queued ? <QueuedMark since={asset.queued_at} /> : null}
      </div>
      {asset.uri !== asset.name ? <div className="muted mono asset-uri">{asset.uri}</div> : null}
      <div className="asset-event">
        <LastEvent asset={asset} />
      </div>
    </div>
  );
}

function Resolved({ assets, what }: { assets: AssetLeaf[]; what: string }) {
  if (!assets.length) return <p className="muted asset-resolved-none">{what} resolves to no asset yet</p>;
  return (
    <div className="asset-resolved">
      {assets.map((asset) => (
        <AssetCard key={asset.id ?? asset.name} asset={asset} />
      ))}
    </div>
  );
}

/** A leaf that stands for other assets: an alias or an `Asset.ref`. */
function IndirectCard({ node }: { node: AliasLeaf | RefLeaf }) {
  const title =
    node.type === "alias"
      ? `Alias ${node.name}`
      : node.name !== null
        ? `Asset ref name=${node.name}`
        : `Asset ref uri=${node.uri ?? ""}`;
  return (
    <div
      className={`asset-card asset-card-indirect${node.queued ? " asset-card-queued" : ""}`}
      role="group"
      aria-label={title}
    >
      <div className="row asset-card-head">
        <span className="asset-icon" aria-hidden="true">
          {node.type === "alias" ? "◇" : "↗"}
        </span>
        <strong>{title}</strong>
        {node.queued ? <QueuedMark since={null} /> : null}
      </div>
      <Resolved assets={node.assets} what={node.type === "alias" ? "The alias" : "The reference"} />
    </div>
  );
}

export function AssetExpression({ node }: { node: ConditionNode }) {
  if (node.type === "asset") return <AssetCard asset={node} />;
  if (node.type === "alias" || node.type === "asset_ref") return <IndirectCard node={node} />;
  const word = node.type === "all" ? "AND" : "OR";
  const label = node.type === "all" ? "All of" : "Any of";
  return (
    <div className={`asset-group asset-group-${node.type}`} role="group" aria-label={label}>
      <div className="asset-group-title">{label}</div>
      <div className="asset-group-body">
        {node.children.map((child, index) => (
          <Fragment key={index}>
            {index > 0 ? (
              <span className={`asset-gate asset-gate-${node.type}`} aria-hidden="true">
                {word}
              </span>
            ) : null}
            <AssetExpression node={child} />
          </Fragment>
        ))}
        {node.children.length === 0 ? (
          <span className="muted">{node.type === "all" ? "Nothing (always true)" : "Nothing (never true)"}</span>
        ) : null}
      </div>
    </div>
  );
}

/** What a DAG's tasks produce: each asset, alias or reference with its tasks. */
export function ProducedList({ items }: { items: ProducedAsset[] }) {
  if (!items.length) return <p className="muted">This DAG's tasks produce no assets.</p>;
  return (
    <ul className="produced-list" aria-label="Produced assets">
      {items.map((item, index) => (
        <li key={index}>
          {item.type === "asset" ? <AssetCard asset={item} /> : <IndirectCard node={item} />}
          <div className="muted produced-tasks">
            by {item.task_ids.length === 1 ? "task" : "tasks"} {item.task_ids.join(", ")}
          </div>
        </li>
      ))}
    </ul>
  );
}
