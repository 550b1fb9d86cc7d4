// A DAG param's JSON schema as a form field: which input it gets and the client-side check of
// its value. The messages follow the jsonschema library's wording, which the server repeats in
// its 400 ("Invalid input for param <name>: <message>", docs/airflow-behaviour.md 8.1), so the
// user reads the same words whether the browser or the server catches a bad value. The server
// stays the judge: anything this check lets through is still validated there.
import type { ParamSpec } from "../../api/types";

export type FieldKind =
  | "const"
  | "enum"
  | "boolean"
  | "integer"
  | "number"
  | "date"
  | "date-time"
  | "time"
  | "string"
  | "string-list"
  | "json";

export interface FieldInfo {
  kind: FieldKind;
  /** The schema allows null ("type": ["null", ...] or a null in an enum). */
  nullable: boolean;
  schema: Record<string, unknown>;
}

function typeNames(schema: Record<string, unknown>): string[] {
  const type = schema.type;
  if (typeof type === "string") return [type];
  if (Array.isArray(type)) return type.filter((item): item is string => typeof item === "string");
  return [];
}

function inferred(value: unknown): string | undefined {
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (typeof value === "string") return "string";
  if (Array.isArray(value)) return "array";
  if (value && typeof value === "object") return "object";
  return undefined;
}

/** The field a param gets: its schema's (first non-null) type, else the type of its default. */
export function fieldInfo(spec: ParamSpec): FieldInfo {
  const schema = spec.schema ?? {};
  const names = typeNames(schema);
  const nullable =
    names.includes("null") || (Array.isArray(schema.enum) && schema.enum.includes(null));
  if ("const" in schema) return { kind: "const", nullable, schema };
  if (Array.isArray(schema.enum)) return { kind: "enum", nullable, schema };
  const type = names.find((name) => name !== "null") ?? inferred(spec.value) ?? "string";
  switch (type) {
    case "boolean":
      return { kind: "boolean", nullable, schema };
    case "integer":
    case "number":
      return { kind: type, nullable, schema };
    case "string": {
      const format = schema.format;
      if (format === "date" || format === "date-time" || format === "time") {
        return { kind: format, nullable, schema };
      }
      return { kind: "string", nullable, schema };
    }
    case "array": {
      const items = schema.items as Record<string, unknown> | undefined;
      const itemTypes = items ? typeNames(items) : [];
      const plain = !items || (itemTypes.length === 1 && itemTypes[0] === "string");
      return { kind: plain ? "string-list" : "json", nullable, schema };
    }
    default:
      return { kind: "json", nullable, schema };
  }
}

/** A value as Python's repr shows it in jsonschema's messages ('text', True, None, [1, 2]). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") {
    const text = value.replace(/\\/g, "\\\\");
    if (value.includes("'") && !value.includes('"')) return `"${text}"`;
    return `'${text.replace(/'/g, "\\'")}'`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (typeof value === "object") {
    const items = Object.entries(value as Record<string, unknown>).map(
      ([key, item]) => `${pyRepr(key)}: ${pyRepr(item)}`,
    );
    return `{${items.join(", ")}}`;
  }
  return String(value);
}

function isType(value: unknown, type: string): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "string":
      return typeof value === "string";
    case "array":
      return Array.isArray(value);
    case "object":
      return value !== null && typeof value === "object" && !Array.isArray(value);
    default:
      return true;
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const DATE_TIME =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)?$/;

/** The first problem with `value` for a param, in jsonschema's words, or null when it passes.
 * `undefined` means the key is missing from the conf. */
export function validateParam(spec: ParamSpec, value: unknown): string | null {
  const schema = spec.schema ?? {};
  if (value === undefined) return "Field required";
  const types = typeNames(schema);
  if (value === null && !types.includes("null")) {
    if (Array.isArray(schema.enum) && schema.enum.includes(null)) return null;
    if (!types.length && !Array.isArray(schema.enum) && !("const" in schema)) return null;
    return "Field required";
  }
  if ("const" in schema && !deepEqual(schema.const, value)) {
    return `${pyRepr(schema.const)} was expected`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((item) => deepEqual(item, value))) {
    return `${pyRepr(value)} is not one of ${pyRepr(schema.enum)}`;
  }
  if (types.length && !types.some((type) => isType(value, type))) {
    const expected = types.length === 1 ? `'${types[0]}'` : pyRepr(types);
    return `${pyRepr(value)} is not of type ${expected}`;
  }
  if (typeof value === "number") {
    const { minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf } = schema;
    if (typeof minimum === "number" && value < minimum) {
      return `${value} is less than the minimum of ${minimum}`;
    }
    if (typeof maximum === "number" && value > maximum) {
      return `${value} is greater than the maximum of ${maximum}`;
    }
    if (typeof exclusiveMinimum === "number" && value <= exclusiveMinimum) {
      return `${value} is less than or equal to the minimum of ${exclusiveMinimum}`;
    }
    if (typeof exclusiveMaximum === "number" && value >= exclusiveMaximum) {
      return `${value} is greater than or equal to the maximum of ${exclusiveMaximum}`;
    }
    if (typeof multipleOf === "number" && multipleOf > 0 && value % multipleOf !== 0) {
      return `${value} is not a multiple of ${multipleOf}`;
    }
  }
  if (typeof value === "string") {
    const { minLength, maxLength, pattern, format } = schema;
    const length = [...value].length;
    if (typeof minLength === "number" && length < minLength) {
      return minLength === 1 && length === 0
        ? `${pyRepr(value)} should be non-empty`
        : `${pyRepr(value)} is too short`;
    }
    if (typeof maxLength === "number" && length > maxLength) return `${pyRepr(value)} is too long`;
    if (typeof pattern === "string") {
      let matches = true;
      try {
        matches = new RegExp(pattern, "u").test(value);
      } catch {
        matches = true; // a pattern JavaScript cannot read: the server judges it
      }
      if (!matches) return `${pyRepr(value)} does not match ${pyRepr(pattern)}`;
    }
    const checks: Record<string, RegExp> = { date: DATE, "date-time": DATE_TIME, time: TIME };
    if (typeof format === "string" && checks[format] && !checks[format].test(value)) {
      return `${pyRepr(value)} is not a ${pyRepr(format)}`;
    }
  }
  if (Array.isArray(value)) {
    const { minItems, maxItems } = schema;
    if (typeof minItems === "number" && value.length < minItems) {
      return `${pyRepr(value)} is too short`;
    }
    if (typeof maxItems === "number" && value.length > maxItems) {
      return `${pyRepr(value)} is too long`;
    }
  }
  return null;
}

/** The conf a form starts with: every param's default. */
export function defaultConf(params: Record<string, ParamSpec> | null | undefined) {
  const conf: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(params ?? {})) conf[name] = spec.value ?? null;
  return conf;
}

/** Each param's problem with `conf` (params without one are left out). */
export function validateConf(
  params: Record<string, ParamSpec> | null | undefined,
  conf: Record<string, unknown>,
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [name, spec] of Object.entries(params ?? {})) {
    const problem = validateParam(spec, conf[name]);
    if (problem) errors[name] = problem;
  }
  return errors;
}
