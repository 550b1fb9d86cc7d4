// A try's log in a monospace panel (GET .../logs/{try}?map_index=): the first request reads from
// the start; while more can come (the try is still running, or the answer was a chunk) the panel
// polls with the answer's `continuation_token` and appends the new lines. It follows the end
// while scrolled to the bottom. Lines can be wrapped and the log downloaded as text.
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { api, seg } from "../../api/client";
import type { LogChunk } from "../../api/types";
import { ErrorAlert } from "../../components/ErrorAlert";

export const LOG_POLL_MS = 2000;

export interface LogPanelProps {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  /** True while the try can still write (the panel keeps polling). */
  live: boolean;
}

export function LogPanel({ dagId, runId, taskId, mapIndex, tryNumber, live }: LogPanelProps) {
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<Error>();
  const [wrap, setWrap] = useState(true);
  const [loaded, setLoaded] = useState(false);
  const liveRef = useRef(live);
  liveRef.current = live;
  const boxRef = useRef<HTMLPreElement>(null);
  const atBottom = useRef(true);
  const path =
    `/api/v2/dags/${seg(dagId)}/dagRuns/${seg(runId)}/taskInstances/${seg(taskId)}` + `/logs/${seg(tryNumber)}`;

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let token: string | null = null;
    setLines([]);
    setLoaded(false);
    setError(undefined);
    const step = async () => {
      let more = false;
      try {
        const chunk = await api.get<LogChunk>(path, { map_index: mapIndex >= 0 ? mapIndex : undefined, token: token ?? undefined });
        if (stopped) return;
        const events = chunk.content.map((line) => line.event);
        if (token === null) setLines(events);
        else if (events.length) setLines((old) => [...old, ...events]);
        more = Boolean(chunk.continuation_token) && events.length > 0;
        token = chunk.continuation_token ?? null;
        setError(undefined);
        setLoaded(true);
      } catch (caught) {
        if (stopped) return;
        setError(caught as Error);
      }
      if (stopped) return;
      if (more) timer = setTimeout(step, 0);
      else if (liveRef.current) timer = setTimeout(step, LOG_POLL_MS);
      else timer = setTimeout(step, LOG_POLL_MS * 5); // a cleared try may start writing again
    };
    void step();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [path, mapIndex]);

  useLayoutEffect(() => {
    const box = boxRef.current;
    if (box && atBottom.current) box.scrollTop = box.scrollHeight;
  }, [lines]);

  const download = () => {
    const blob = new Blob([lines.join("\n") + "\n"], { type: "text/plain" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${dagId}__${runId}__${taskId}${mapIndex >= 0 ? `__${mapIndex}` : ""}__try${tryNumber}.log`;
    link.click();
    URL.revokeObjectURL(link.href);
  };

  return (
    <div className="log-panel">
      <div className="row">
        <label className="inline">
          <input type="checkbox" checked={wrap} onChange={(event) => setWrap(event.target.checked)} />
          Wrap lines
        </label>
        <button type="button" onClick={download} disabled={!lines.length}>
          Download
        </button>
        {live ? <span className="muted">following…</span> : null}
      </div>
      <ErrorAlert error={error} />
      <pre
        ref={boxRef}
        className={"log" + (wrap ? " log-wrap" : "")}
        aria-label={`Log of try ${tryNumber}`}
        data-testid="log"
        tabIndex={0}
        onScroll={(event) => {
          const box = event.currentTarget;
          atBottom.current = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
        }}
      >
        {loaded ? (lines.length ? lines.join("\n") : "(empty log)") : "Loading…"}
      </pre>
    </div>
  );
}
