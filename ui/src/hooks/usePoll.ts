// Data that stays fresh without a reload: load once, then again every `intervalMs` while the
// page is visible (and at once when it becomes visible again). A newer answer replaces an older
// one; an answer that arrives after the inputs changed is dropped. `reload()` refetches now
// (after an action) and resolves when the new data is in.
import { useCallback, useEffect, useRef, useState } from "react";

export interface Poll<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => Promise<void>;
}

export function usePoll<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  intervalMs: number | null = 3000,
): Poll<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const fetchNow = useCallback(async () => {
    const mine = generation.current;
    const controller = new AbortController();
    try {
      const value = await loadRef.current(controller.signal);
      if (mine !== generation.current) return;
      setData(value);
      setError(undefined);
    } catch (caught) {
      if (mine !== generation.current) return;
      if ((caught as Error).name === "AbortError") return;
      setError(caught as Error);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    generation.current += 1;
    setLoading(true);
    setData(undefined);
    setError(undefined);
    void fetchNow();
    if (intervalMs === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = async () => {
      if (stopped) return;
      if (document.visibilityState !== "hidden") await fetchNow();
      if (!stopped) timer = setTimeout(tick, intervalMs);
    };
    timer = setTimeout(tick, intervalMs);
    const onVisible = () => {
      if (document.visibilityState === "visible") void fetchNow();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, intervalMs, fetchNow]);

  return { data, error, loading, reload: fetchNow };
}
