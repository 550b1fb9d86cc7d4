// The tag filter of the DAG list: pick tags (from GET /api/v2/dagTags) into chips; with two or
// more, match any or all of them.
import { api } from "../../api/client";
import { usePoll } from "../../hooks/usePoll";

interface TagCollection {
  tags: string[];
  total_entries: number;
}

export interface TagFilterProps {
  tags: string[];
  mode: "any" | "all";
  onChange: (tags: string[], mode: "any" | "all") => void;
}

export function TagFilter({ tags, mode, onChange }: TagFilterProps) {
  const known = usePoll(
    (signal) => api.get<TagCollection>("/api/v2/dagTags", { limit: 100 }, signal),
    [],
    30_000,
  );
  const choices = (known.data?.tags ?? []).filter((tag) => !tags.includes(tag));
  return (
    <div className="row tag-filter">
      <label className="inline">
        Tags
        <select
          value=""
          onChange={(event) => {
            if (event.target.value) onChange([...tags, event.target.value], mode);
          }}
        >
          <option value="">Add tag…</option>
          {choices.map((tag) => (
            <option key={tag} value={tag}>
              {tag}
            </option>
          ))}
        </select>
      </label>
      {known.error ? (
        <span role="alert" className="field-error">
          Tags: {known.error.message}
        </span>
      ) : null}
      {tags.map((tag) => (
        <span key={tag} className="tag">
          {tag}{" "}
          <button
            type="button"
            className="chip-remove"
            aria-label={`Remove tag filter ${tag}`}
            onClick={() => onChange(tags.filter((other) => other !== tag), mode)}
          >
            ×
          </button>
        </span>
      ))}
      {tags.length > 1 ? (
        <label className="inline">
          Match
          <select value={mode} onChange={(event) => onChange(tags, event.target.value as "any" | "all")}>
            <option value="any">any</option>
            <option value="all">all</option>
          </select>
        </label>
      ) : null}
    </div>
  );
}
