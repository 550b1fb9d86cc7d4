// The form generated from a DAG's params (one field per param, its description as help text,
// its validation message under it) and the raw JSON editor of the same conf. Used by the
// trigger form and the backfill form (Airflow's "FlexibleForm", UI notes D.3/D.5).
import { useId, useState } from "react";
import type { ParamSpec } from "../../api/types";
import { fieldInfo, type FieldInfo } from "./schema";
import type { ConfForm } from "./useConfForm";

export function ParamsForm({ form }: { form: ConfForm }) {
  const names = Object.keys(form.params);
  if (!names.length) return <p className="muted">This DAG has no params.</p>;
  return (
    <fieldset className="params-form">
      <legend>Params</legend>
      {names.map((name) => (
        <ParamField
          key={name}
          name={name}
          spec={form.params[name]}
          value={form.conf[name]}
          error={form.parseErrors[name] ?? form.fieldErrors[name] ?? null}
          onChange={(value) => form.setField(name, value)}
          onParseError={(message) => form.setParseError(name, message)}
        />
      ))}
    </fieldset>
  );
}

export function ConfJsonEditor({ form, label = "Configuration JSON" }: { form: ConfForm; label?: string }) {
  const errorId = useId();
  const inputId = useId();
  return (
    <div className="field">
      <label htmlFor={inputId}>{label}</label>
      <textarea
        id={inputId}
        className="mono conf-json"
        rows={Math.min(16, Math.max(4, form.jsonText.split("\n").length + 1))}
        value={form.jsonText}
        spellCheck={false}
        aria-invalid={form.jsonError ? true : undefined}
        aria-describedby={form.jsonError ? errorId : undefined}
        onChange={(event) => form.setJsonText(event.target.value)}
      />
      {form.jsonError ? (
        <span id={errorId} className="field-error" role="alert">
          {form.jsonError}
        </span>
      ) : null}
    </div>
  );
}

interface FieldProps {
  name: string;
  spec: ParamSpec;
  value: unknown;
  error: string | null;
  onChange: (value: unknown) => void;
  onParseError: (message: string | null) => void;
}

function ParamField(props: FieldProps) {
  const info = fieldInfo(props.spec);
  const helpId = useId();
  const errorId = useId();
  const inputId = useId();
  const title = (props.spec.schema?.title as string | undefined) ?? props.name;
  const describedBy = [props.spec.description ? helpId : "", props.error ? errorId : ""]
    .filter(Boolean)
    .join(" ");
  const aria = {
    "aria-invalid": props.error ? true : undefined,
    "aria-describedby": describedBy || undefined,
  } as const;
  const help = props.spec.description ? (
    <span id={helpId} className="field-help">
      {props.spec.description}
    </span>
  ) : null;
  const error = props.error ? (
    <span id={errorId} className="field-error">
      {props.error}
    </span>
  ) : null;
  if (info.kind === "boolean") {
    return (
      <div className="param-field">
        <label className="inline">
          <input
            type="checkbox"
            name={props.name}
            checked={props.value === true}
            onChange={(event) => props.onChange(event.target.checked)}
            {...aria}
          />
          {title}
        </label>
        {help}
        {error}
      </div>
    );
  }
  return (
    <div className="param-field">
      <label htmlFor={inputId}>{title}</label>
      <FieldInput {...props} info={info} aria={{ ...aria, id: inputId }} />
      {help}
      {error}
    </div>
  );
}

type Aria = {
  "aria-invalid": true | undefined;
  "aria-describedby": string | undefined;
  id?: string;
};

function FieldInput(props: FieldProps & { info: FieldInfo; aria: Aria }) {
  const { info, value, onChange, aria, name } = props;
  const schema = info.schema;
  const emptyValue = info.nullable ? null : undefined;
  switch (info.kind) {
    case "const":
      return <input name={name} value={JSON.stringify(schema.const)} readOnly {...aria} />;
    case "enum": {
      const options = schema.enum as unknown[];
      const display = (schema.values_display ?? {}) as Record<string, string>;
      const index = options.findIndex((item) => JSON.stringify(item) === JSON.stringify(value));
      return (
        <select
          name={name}
          value={index === -1 ? "" : String(index)}
          onChange={(event) =>
            onChange(event.target.value === "" ? emptyValue : options[Number(event.target.value)])
          }
          {...aria}
        >
          {index === -1 ? <option value="">—</option> : null}
          {options.map((item, i) => (
            <option key={i} value={String(i)}>
              {display[String(item)] ?? (item === null ? "None" : String(item))}
            </option>
          ))}
        </select>
      );
    }
    case "integer":
    case "number":
      return (
        <input
          type="number"
          name={name}
          value={typeof value === "number" ? String(value) : ""}
          min={typeof schema.minimum === "number" ? schema.minimum : undefined}
          max={typeof schema.maximum === "number" ? schema.maximum : undefined}
          step={info.kind === "integer" ? 1 : "any"}
          onChange={(event) => {
            const text = event.target.value;
            onChange(text === "" ? emptyValue : Number(text));
          }}
          {...aria}
        />
      );
    case "date":
    case "time":
      return (
        <input
          type={info.kind}
          name={name}
          step={info.kind === "time" ? 1 : undefined}
          value={typeof value === "string" ? value : ""}
          onChange={(event) => onChange(event.target.value === "" ? emptyValue : event.target.value)}
          {...aria}
        />
      );
    case "date-time":
      return <DateTimeInput {...props} />;
    case "string": {
      const long = typeof value === "string" && value.includes("\n");
      const common = {
        name,
        value: typeof value === "string" ? value : value == null ? "" : String(value),
        minLength: typeof schema.minLength === "number" ? schema.minLength : undefined,
        maxLength: typeof schema.maxLength === "number" ? schema.maxLength : undefined,
        ...aria,
      };
      const change = (text: string) => onChange(text === "" && info.nullable ? null : text);
      return long || schema.format === "multiline" ? (
        <textarea rows={4} {...common} onChange={(event) => change(event.target.value)} />
      ) : (
        <input type="text" {...common} onChange={(event) => change(event.target.value)} />
      );
    }
    case "string-list":
      return <ListInput {...props} />;
    default:
      return <JsonInput {...props} />;
  }
}

/** A date-time param: a local `datetime-local` input, stored as an ISO string in UTC. */
function DateTimeInput(props: FieldProps & { info: FieldInfo; aria: Aria }) {
  const { value, onChange, info, aria, name } = props;
  const date = typeof value === "string" ? new Date(value) : null;
  const shown = date && !Number.isNaN(date.getTime()) ? localSeconds(date) : "";
  return (
    <input
      type="datetime-local"
      name={name}
      step={1}
      value={shown}
      onChange={(event) => {
        const text = event.target.value;
        if (text === "") return onChange(info.nullable ? null : undefined);
        const parsed = new Date(text);
        onChange(Number.isNaN(parsed.getTime()) ? text : parsed.toISOString().replace(".000Z", "Z"));
      }}
      {...aria}
    />
  );
}

function localSeconds(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** Text that follows the conf, except while what the user typed already means the same value
 * (so typing "a⏎" or "[1, " is not rewritten under the cursor). */
function useDraft(value: unknown, show: (value: unknown) => string, read: (text: string) => unknown) {
  const [draft, setDraft] = useState(() => show(value));
  const key = JSON.stringify(value) ?? "";
  const [lastKey, setLastKey] = useState(key);
  if (key !== lastKey) {
    setLastKey(key);
    let same = false;
    try {
      same = (JSON.stringify(read(draft)) ?? "") === key;
    } catch {
      same = false;
    }
    if (!same) setDraft(show(value));
  }
  return [draft, setDraft] as const;
}

/** An array of strings: one item per line. */
function ListInput(props: FieldProps & { info: FieldInfo; aria: Aria }) {
  const { value, onChange, info, aria, name } = props;
  const show = (v: unknown) => (Array.isArray(v) ? v.map(String).join("\n") : "");
  const read = (text: string) => {
    const items = text.split("\n").filter((line) => line.trim() !== "");
    return items.length === 0 && info.nullable ? null : items;
  };
  const [draft, setDraft] = useDraft(value, show, read);
  return (
      <textarea
        name={name}
        placeholder="One item per line"
        rows={Math.max(3, draft.split("\n").length)}
        value={draft}
        onChange={(event) => {
          const text = event.target.value;
          setDraft(text);
          onChange(read(text));
        }}
        {...aria}
      />
  );
}

/** An object, or an array of non-strings: JSON text. */
function JsonInput(props: FieldProps & { info: FieldInfo; aria: Aria }) {
  const { value, onChange, onParseError, info, aria, name } = props;
  const show = (v: unknown) => (v === undefined ? "" : JSON.stringify(v, null, 2));
  const read = (text: string): unknown =>
    text.trim() === "" ? (info.nullable ? null : undefined) : JSON.parse(text);
  const [draft, setDraft] = useDraft(value, show, read);
  return (
    <textarea
      name={name}
      className="mono"
      rows={Math.min(10, Math.max(3, draft.split("\n").length))}
      value={draft}
      spellCheck={false}
      onChange={(event) => {
        const text = event.target.value;
        setDraft(text);
        if (text.trim() === "") {
          onParseError(null);
          onChange(info.nullable ? null : undefined);
          return;
        }
        try {
          const parsed: unknown = JSON.parse(text);
          onParseError(null);
          onChange(parsed);
        } catch (caught) {
          onParseError(`Invalid JSON format: ${(caught as Error).message}`);
        }
      }}
      {...aria}
    />
  );
}
