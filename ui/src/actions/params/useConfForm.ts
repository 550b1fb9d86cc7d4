// The state behind a params form and its raw JSON editor, kept in sync: the conf object is the
// truth; editing a field rewrites the JSON text, and editing the JSON text (when it parses to
// an object) rewrites the fields. Invalid JSON keeps the fields as they were and reports
// "Invalid JSON format: …" (the trigger form, docs/airflow-rest-api.md D.3).
import { useCallback, useMemo, useRef, useState } from "react";
import type { ParamSpec } from "../../api/types";
import { defaultConf, validateConf } from "./schema";

export interface ConfForm {
  params: Record<string, ParamSpec>;
  conf: Record<string, unknown>;
  jsonText: string;
  jsonError: string | null;
  /** Each param's validation message. */
  fieldErrors: Record<string, string>;
  /** A field whose text cannot be read (bad JSON in an array/object field). */
  parseErrors: Record<string, string>;
  /** No JSON, parse or validation error. */
  valid: boolean;
  setField: (name: string, value: unknown) => void;
  setParseError: (name: string, message: string | null) => void;
  setJsonText: (text: string) => void;
  reset: () => void;
}

const pretty = (conf: Record<string, unknown>) => JSON.stringify(conf, null, 2);

export function jsonErrorText(text: string): string | null {
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      return "Invalid JSON format: the configuration must be a JSON object";
    }
    return null;
  } catch (caught) {
    return `Invalid JSON format: ${(caught as Error).message}`;
  }
}

/** `initialJson` (e.g. a `conf` URL parameter) is laid over the params' defaults; when it is
 * not a JSON object it stays in the editor with its error. */
export function useConfForm(
  params: Record<string, ParamSpec> | null | undefined,
  initialJson?: string | null,
): ConfForm {
  const specs = useMemo(() => params ?? {}, [params]);
  const [start] = useState(() => {
    const defaults = defaultConf(specs);
    if (!initialJson) return { conf: defaults, text: pretty(defaults), error: null };
    const problem = jsonErrorText(initialJson);
    if (problem) return { conf: defaults, text: initialJson, error: problem };
    const conf = { ...defaults, ...(JSON.parse(initialJson) as Record<string, unknown>) };
    return { conf, text: pretty(conf), error: null };
  });
  const [conf, setConf] = useState<Record<string, unknown>>(start.conf);
  const [jsonText, setText] = useState(start.text);
  const [jsonError, setJsonError] = useState<string | null>(start.error);
  const [parseErrors, setParseErrors] = useState<Record<string, string>>({});

  const confRef = useRef(conf);
  confRef.current = conf;

  const setField = useCallback((name: string, value: unknown) => {
    const next = { ...confRef.current };
    if (value === undefined) delete next[name];
    else next[name] = value;
    confRef.current = next;
    setConf(next);
    setText(pretty(next));
    setJsonError(null);
  }, []);

  const setParseError = useCallback((name: string, message: string | null) => {
    setParseErrors((previous) => {
      if ((previous[name] ?? null) === message) return previous;
      const next = { ...previous };
      if (message === null) delete next[name];
      else next[name] = message;
      return next;
    });
  }, []);

  const setJsonText = useCallback((text: string) => {
    setText(text);
    const problem = jsonErrorText(text);
    setJsonError(problem);
    if (problem === null) {
      setConf(JSON.parse(text) as Record<string, unknown>);
      setParseErrors({});
    }
  }, []);

  const reset = useCallback(() => {
    const initial = defaultConf(specs);
    setConf(initial);
    setText(pretty(initial));
    setJsonError(null);
    setParseErrors({});
  }, [specs]);

  const fieldErrors = useMemo(() => validateConf(specs, conf), [specs, conf]);
  const valid =
    jsonError === null &&
    Object.keys(fieldErrors).length === 0 &&
    Object.keys(parseErrors).length === 0;
  return {
    params: specs,
    conf,
    jsonText,
    jsonError,
    fieldErrors,
    parseErrors,
    valid,
    setField,
    setParseError,
    setJsonText,
    reset,
  };
}
