// Small pieces shared by the run and task instance details.
import type { ReactNode } from "react";
import { Link, useOutletContext } from "react-router";
import { seg } from "../../api/client";
import type { DagVersion } from "../../api/types";

/** A definition list of label → value, empty values shown as "—". */
export function Facts({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value === null || value === undefined || value === "" ? "—" : value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** "v3" linking to the Code tab at that version. */
export function VersionLink({ dagId, version }: { dagId: string; version: DagVersion | null | undefined }) {
  if (!version) return <span className="muted">—</span>;
  return (
    <Link to={`/dags/${seg(dagId)}/code?version=${version.version_number}`} title={version.bundle_version ?? undefined}>
      v{version.version_number}
    </Link>
  );
}

export interface GridOutlet {
  reloadGrid: () => Promise<void>;
}

/** The grid's reload (when shown beside it), else a no-op. */
export function useReloadGrid(): () => void {
  const context = useOutletContext<GridOutlet | undefined>();
  return () => void context?.reloadGrid();
}
