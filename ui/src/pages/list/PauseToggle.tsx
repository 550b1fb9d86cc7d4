// The pause switch of a DAG (list rows and the DAG page header): PATCH /api/v2/dags/{id}
// {is_paused}. Optimistic: the switch flips at once, and flips back with the server's error text
// shown when the PATCH fails.
import { useEffect, useState } from "react";
import { api, seg } from "../../api/client";
import type { Dag } from "../../api/types";

export interface PauseToggleProps {
  dagId: string;
  isPaused: boolean;
  /** Called with the DAG as the server answered (the caller may refresh its data). */
  onChanged?: (dag: Dag) => void;
}

export function PauseToggle({ dagId, isPaused, onChanged }: PauseToggleProps) {
  const [optimistic, setOptimistic] = useState<boolean | null>(null);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Once the polled data agrees with what we asked for, it is the truth again.
  useEffect(() => {
    if (!pending && optimistic !== null && optimistic === isPaused) setOptimistic(null);
  }, [isPaused, optimistic, pending]);
  const paused = optimistic ?? isPaused;

  const toggle = async () => {
    const wanted = !paused;
    setOptimistic(wanted);
    setPending(true);
    setError(null);
    try {
      const dag = await api.patch<Dag>(`/api/v2/dags/${seg(dagId)}`, { is_paused: wanted });
      onChanged?.(dag);
    } catch (caught) {
      setOptimistic(null);
      setError((caught as Error).message);
    } finally {
      setPending(false);
    }
  };

  return (
    <span className="pause-toggle">
      <label className="switch" title={paused ? "Paused: click to unpause" : "Active: click to pause"}>
        <input
          type="checkbox"
          role="switch"
          aria-label={`Pause ${dagId}`}
          checked={paused}
          disabled={pending}
          onChange={() => void toggle()}
        />
        <span className="switch-track" aria-hidden="true" />
      </label>
      {error ? (
        <span role="alert" className="field-error">
          {error}
        </span>
      ) : null}
    </span>
  );
}
