import { stateColor } from "./state";

/** A state as a coloured dot and its name. */
export function StateBadge({ state }: { state: string | null | undefined }) {
  const name = state ?? "none";
  return (
    <span className="state-badge" data-state={name}>
      <span className="state-dot" style={{ background: stateColor(name) }} aria-hidden="true" />
      {name}
    </span>
  );
}
