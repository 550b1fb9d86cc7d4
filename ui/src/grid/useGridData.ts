// The grid's data: GET /ui/grid/{dag_id}, refreshed every 3 s while a shown run is queued or
// running and every 15 s otherwise (the interval adapts without dropping the data shown).
// Marks performance "dagcore:grid-data" when an answer is parsed (see Grid.tsx).
import { useCallback, useEffect, useRef, useState } from "react";
import { api, seg } from "../api/client";
import type { GridData } from "../api/types";

export const FAST_POLL_MS = 3000;
export const SLOW_POLL_MS = 15_000;

export interface GridQuery {
  limit: number;
  runType: string;
  state: string;
}

export function pollDelay(data: GridData | undefined): number {
  return data?.runs.some((run) => run.state === "queued" || run.state === "running") ? FAST_POLL_MS : SLOW_POLL_MS;
}

export function useGridData(dagId: string, query: GridQuery) {
  const [data, setData] = useState<GridData>();
  const [error, setError] = useState<Error>();
  const generation = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const key = `${dagId}\n${query.limit}\n${query.runType}\n${query.state}`;

  const load = useCallback(async (mine: number) => {
    clearTimeout(timer.current);
    let next: GridData | undefined;
    try {
      next = await api.get<GridData>(`/ui/grid/${seg(dagId)}`, {
        limit: query.limit,
        run_type: query.runType || undefined,
        state: query.state || undefined,
      });
      if (mine !== generation.current) return;
      performance.mark("dagcore:grid-data");
      setData(next);
      setError(undefined);
    } catch (caught) {
      if (mine !== generation.current) return;
      setError(caught as Error);
    }
    if (mine !== generation.current) return;
    timer.current = setTimeout(() => {
      if (document.visibilityState === "hidden") {
        // Try again later; the visibility listener reloads as soon as the page is shown.
        timer.current = setTimeout(() => void load(mine), SLOW_POLL_MS);
        return;
      }
      void load(mine);
    }, pollDelay(next));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  useEffect(() => {
    generation.current += 1;
    const mine = generation.current;
    void load(mine);
    const onVisible = () => {
      if (document.visibilityState === "visible") void load(mine);
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      generation.current += 1;
      clearTimeout(timer.current);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [load]);

  const reload = useCallback(() => load(generation.current), [load]);
  return { data, error, reload };
}
