// A preview that follows its inputs: each change of `key` (debounced by `delayMs`) runs
// `load`; an answer to an older key is dropped, so the preview always matches what the form
// shows now. `pending` is true from the change until its answer (errors are kept to show).
import { useEffect, useRef, useState } from "react";

export interface DryRun<T> {
  data: T | undefined;
  error: unknown;
  pending: boolean;
}

export function useDryRun<T>(
  key: string | null,
  load: () => Promise<T>,
  delayMs = 0,
): DryRun<T> {
  const [state, setState] = useState<DryRun<T>>({ data: undefined, error: undefined, pending: key !== null });
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);

  useEffect(() => {
    generation.current += 1;
    const mine = generation.current;
    if (key === null) {
      setState({ data: undefined, error: undefined, pending: false });
      return;
    }
    setState((previous) => ({ ...previous, pending: true }));
    const timer = setTimeout(() => {
      loadRef.current().then(
        (data) => {
          if (mine === generation.current) setState({ data, error: undefined, pending: false });
        },
        (error: unknown) => {
          if (mine === generation.current) setState({ data: undefined, error, pending: false });
        },
      );
    }, delayMs);
    return () => clearTimeout(timer);
  }, [key, delayMs]);

  return state;
}
