// The Code tab (?version=N&compare=M): the DAG's versions (GET /dags/{d}/dagVersions), the source
// of the chosen one (GET /dagSources/{d}?version_number=N) with line numbers, and "Compare": a
// second version side by side with the changed lines highlighted (diff.ts). "Previous vs latest"
// is one click.
import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { api, seg } from "../../api/client";
import type {
  BackfillCollection,
  DagRunCollection,
  DagSource,
  DagVersion,
  DagVersionCollection,
} from "../../api/types";
import { ErrorAlert } from "../../components/ErrorAlert";
import { formatDate } from "../../format";
import { usePoll } from "../../hooks/usePoll";
import { diffLines, sideBySide, splitLines } from "./diff";

function useSource(dagId: string, version: number | null) {
  return usePoll(
    (signal) =>
      version === null
        ? Promise.resolve(undefined)
        : api.get<DagSource>(`/api/v2/dagSources/${seg(dagId)}`, { version_number: version }, signal),
    [dagId, version],
    null,
  );
}

/** The DAG version of the oldest run of the DAG's active backfill (null when there is none). */
function useBackfillVersion(dagId: string) {
  return usePoll(
    async (signal) => {
      const active = await api.get<BackfillCollection>(
        "/ui/backfills",
        { dag_id: dagId, active: true, limit: 1 },
        signal,
      );
      const backfill = active.backfills[0];
      if (!backfill) return null;
      const runs = await api.get<DagRunCollection>(
        `/api/v2/dags/${seg(dagId)}/dagRuns`,
        {
          run_type: "backfill",
          logical_date_gte: backfill.from_date,
          logical_date_lte: backfill.to_date,
          order_by: "id",
          limit: 1,
        },
        signal,
      );
      const versions = runs.dag_runs[0]?.dag_versions ?? [];
      return versions.length ? Math.min(...versions.map((version) => version.version_number)) : null;
    },
    [dagId],
    30_000,
  );
}

function versionLabel(version: DagVersion): string {
  const bundle = version.bundle_version ? ` · ${version.bundle_version}` : "";
  return `v${version.version_number} · ${formatDate(version.created_at)}${bundle}`;
}

function Code({ text }: { text: string | null | undefined }) {
  const lines = splitLines(text);
  return (
    <pre className="code" aria-label="Source code">
      <table className="code-lines">
        <tbody>
          {lines.map((line, index) => (
            <tr key={index}>
              <td className="line-no">{index + 1}</td>
              <td>{line}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </pre>
  );
}

function Compare({ left, right, leftLabel, rightLabel }: { left: string; right: string; leftLabel: string; rightLabel: string }) {
  const rows = useMemo(() => sideBySide(diffLines(splitLines(left), splitLines(right))), [left, right]);
  const changed = rows.filter((row) => row.left?.changed || row.right?.changed).length;
  return (
    <div className="code-compare">
      <p className="muted">{changed ? `${changed} changed line${changed === 1 ? "" : "s"}` : "No differences."}</p>
      <pre className="code">
        <table className="code-lines diff" aria-label={`Compare ${leftLabel} with ${rightLabel}`}>
          <thead>
            <tr>
              <th colSpan={2}>{leftLabel}</th>
              <th colSpan={2}>{rightLabel}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row, index) => (
              <tr key={index}>
                <td className="line-no">{row.left?.number ?? ""}</td>
                <td className={row.left?.changed ? "diff-del" : row.left ? "" : "diff-none"}>{row.left?.text ?? ""}</td>
                <td className="line-no">{row.right?.number ?? ""}</td>
                <td className={row.right?.changed ? "diff-add" : row.right ? "" : "diff-none"}>{row.right?.text ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </pre>
    </div>
  );
}

export function CodeTab({ dagId }: { dagId: string }) {
  const [params, setParams] = useSearchParams();
  const versions = usePoll(
    (signal) =>
      api.get<DagVersionCollection>(`/api/v2/dags/${seg(dagId)}/dagVersions`, { limit: 100, order_by: "-version_number" }, signal),
    [dagId],
    30_000,
  );
  const list = useMemo(
    () => [...(versions.data?.dag_versions ?? [])].sort((a, b) => b.version_number - a.version_number),
    [versions.data],
  );
  const latest = list[0]?.version_number ?? null;
  const asked = params.get("version");
  const version = asked !== null && Number.isFinite(Number(asked)) ? Number(asked) : latest;
  const compareAsked = params.get("compare");
  const compare = compareAsked !== null && Number.isFinite(Number(compareAsked)) ? Number(compareAsked) : null;
  const source = useSource(dagId, version);
  const other = useSource(dagId, compare);

  const set = (change: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [name, value] of Object.entries(change)) {
      if (value === null) next.delete(name);
      else next.set(name, value);
    }
    setParams(next);
  };
  const previous = list[1]?.version_number;
  const backfill = useBackfillVersion(dagId);
  const backfillVersion = backfill.data ?? null;

  return (
    <div className="stack code-tab">
      <ErrorAlert error={versions.error} />
      <div className="row">
        <label className="inline">
          Version
          <select value={version ?? ""} onChange={(event) => set({ version: event.target.value })}>
            {list.map((item) => (
              <option key={item.version_number} value={item.version_number}>
                {versionLabel(item)}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Compare with
          <select value={compare ?? ""} onChange={(event) => set({ compare: event.target.value || null })}>
            <option value="">(no comparison)</option>
            {list.map((item) => (
              <option key={item.version_number} value={item.version_number}>
                {versionLabel(item)}
              </option>
            ))}
          </select>
        </label>
        {previous !== undefined && latest !== null ? (
          <button type="button" onClick={() => set({ version: String(latest), compare: String(previous) })}>
            Compare previous with latest
          </button>
        ) : null}
        {backfillVersion !== null && latest !== null && backfillVersion !== latest ? (
          <button
            type="button"
            onClick={() => set({ version: String(latest), compare: String(backfillVersion) })}
          >
            Compare the active backfill's version (v{backfillVersion}) with latest
          </button>
        ) : null}
        {versions.data && list.length === 0 ? <span className="muted">No versions yet.</span> : null}
      </div>
      <ErrorAlert error={backfill.error} title="Active backfill" />
      <ErrorAlert error={source.error} />
      <ErrorAlert error={other.error} />
      {compare !== null && version !== null ? (
        source.data && other.data ? (
          <Compare
            left={other.data.content ?? ""}
            right={source.data.content ?? ""}
            leftLabel={`v${compare}`}
            rightLabel={`v${version}`}
          />
        ) : (
          <p className="muted">Loading…</p>
        )
      ) : source.data ? (
        <Code text={source.data.content} />
      ) : version !== null && !source.error ? (
        <p className="muted">Loading…</p>
      ) : null}
    </div>
  );
}
