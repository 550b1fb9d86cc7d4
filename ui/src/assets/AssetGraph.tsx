// The asset dependency graph as SVG (docs/airflow-rest-api.md D.7): producer DAGs → assets →
// consumer DAGs, left to right, laid out by graphLayout.ts. DAG nodes link to the DAG's page and
// assets to the asset list filtered by their name; aliases and references are plain boxes. The
// node `currentId` (the DAG whose page this is) is highlighted.
import { useMemo } from "react";
import { Link } from "react-router";
import { seg } from "../api/client";
import type { DependencyGraph, GraphNodeType } from "../api/types";
import { edgePath, layoutGraph, type PlacedNode } from "./graphLayout";

const KIND: Record<GraphNodeType, string> = {
  dag: "DAG",
  asset: "Asset",
  "asset-alias": "Alias",
  "asset-name-ref": "Asset ref (name)",
  "asset-uri-ref": "Asset ref (URI)",
};

const MAX_LABEL = 24; // at 12.5px bold, 24 characters fit the 200px node with its 10px inset

function shortLabel(label: string): string {
  return label.length > MAX_LABEL ? `${label.slice(0, MAX_LABEL - 1)}…` : label;
}

function nodeHref(node: PlacedNode): string | null {
  if (node.type === "dag") return `/dags/${seg(node.id.slice("dag:".length))}`;
  if (node.type === "asset") return `/assets?name_pattern=${encodeURIComponent(node.label)}`;
  return null;
}

function NodeBox({ node, current }: { node: PlacedNode; current: boolean }) {
  const body = (
    <>
      <title>{`${KIND[node.type]}: ${node.label}`}</title>
      <rect
        x={node.x}
        y={node.y}
        width={node.width}
        height={node.height}
        rx={node.type === "dag" ? 4 : 14}
        className={`agraph-box agraph-${node.type}${current ? " agraph-current" : ""}`}
      />
      <text x={node.x + 10} y={node.y + 15} className="agraph-kind">
        {KIND[node.type]}
      </text>
      <text x={node.x + 10} y={node.y + 31} className="agraph-label">
        {shortLabel(node.label)}
      </text>
    </>
  );
  const href = nodeHref(node);
  return (
    <g data-node-id={node.id} data-node-type={node.type}>
      {href ? (
        <Link to={href} aria-label={`${KIND[node.type]} ${node.label}`} aria-current={current ? "page" : undefined}>
          {body}
        </Link>
      ) : (
        <g role="img" aria-label={`${KIND[node.type]} ${node.label}`}>
          {body}
        </g>
      )}
    </g>
  );
}

export function AssetGraph({ graph, currentId }: { graph: DependencyGraph; currentId?: string }) {
  const layout = useMemo(() => layoutGraph(graph), [graph]);
  if (!layout.nodes.length || !layout.edges.length) return <p className="muted">No asset dependencies.</p>;
  return (
    <figure className="agraph" aria-label="Asset graph">
      <svg
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        data-testid="asset-graph"
      >
        <defs>
          <marker id="agraph-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" className="agraph-arrowhead" />
          </marker>
        </defs>
        {layout.edges.map((edge) => (
          <path
            key={`${edge.source}->${edge.target}`}
            d={edgePath(edge.points)}
            className={`agraph-edge${edge.back ? " agraph-back" : ""}`}
            markerEnd="url(#agraph-arrow)"
            data-edge={`${edge.source} -> ${edge.target}`}
          />
        ))}
        {layout.nodes.map((node) => (
          <NodeBox key={node.id} node={node} current={node.id === currentId} />
        ))}
      </svg>
      <figcaption className="sr-only">
        {graph.edges.map((edge) => `${edge.source_id} → ${edge.target_id}`).join("; ")}
      </figcaption>
    </figure>
  );
}
