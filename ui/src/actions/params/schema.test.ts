import { describe, expect, it } from "vitest";
import type { ParamSpec } from "../../api/types";
import { defaultConf, fieldInfo, pyRepr, validateParam } from "./schema";

const spec = (schema: Record<string, unknown>, value: unknown = null): ParamSpec => ({
  value,
  description: null,
  schema,
});

describe("fieldInfo", () => {
  it("picks the input from the schema, else from the default's type", () => {
    expect(fieldInfo(spec({ type: ["null", "integer"] })).kind).toBe("integer");
    expect(fieldInfo(spec({ type: ["null", "integer"] })).nullable).toBe(true);
    expect(fieldInfo(spec({ type: "number" })).kind).toBe("number");
    expect(fieldInfo(spec({ enum: [1, 2] })).kind).toBe("enum");
    expect(fieldInfo(spec({ enum: ["a", null] })).nullable).toBe(true);
    expect(fieldInfo(spec({ const: 3 })).kind).toBe("const");
    expect(fieldInfo(spec({ type: "string", format: "date-time" })).kind).toBe("date-time");
    expect(fieldInfo(spec({ type: "array", items: { type: "string" } })).kind).toBe("string-list");
    expect(fieldInfo(spec({ type: "array", items: { type: "object" } })).kind).toBe("json");
    expect(fieldInfo(spec({ type: "object" })).kind).toBe("json");
    expect(fieldInfo(spec({}, true)).kind).toBe("boolean");
    expect(fieldInfo(spec({}, 2.5)).kind).toBe("number");
    expect(fieldInfo(spec({}, "x")).kind).toBe("string");
  });
});

describe("validateParam", () => {
  it("speaks jsonschema's words", () => {
    const int = spec({ type: "integer", minimum: 1, maximum: 10 });
    expect(validateParam(int, 99)).toBe("99 is greater than the maximum of 10");
    expect(validateParam(int, 0)).toBe("0 is less than the minimum of 1");
    expect(validateParam(int, 1.5)).toBe("1.5 is not of type 'integer'");
    expect(validateParam(int, undefined)).toBe("Field required");
    expect(validateParam(int, null)).toBe("Field required");
    expect(validateParam(int, 5)).toBeNull();
    expect(validateParam(spec({ type: "number", exclusiveMinimum: 0 }), 0)).toBe(
      "0 is less than or equal to the minimum of 0",
    );
    expect(validateParam(spec({ type: ["null", "integer"] }), null)).toBeNull();
    const str = spec({ type: "string", minLength: 2, maxLength: 4, pattern: "^[a-z]+$" });
    expect(validateParam(str, "a")).toBe("'a' is too short");
    expect(validateParam(str, "abcde")).toBe("'abcde' is too long");
    expect(validateParam(str, "AB")).toBe("'AB' does not match '^[a-z]+$'");
    expect(validateParam(spec({ enum: ["red", "blue"] }), "x")).toBe(
      "'x' is not one of ['red', 'blue']",
    );
    expect(validateParam(spec({ const: "x" }), "y")).toBe("'x' was expected");
    expect(validateParam(spec({ type: "string", format: "date" }), "2026-13-01")).toBe(
      "'2026-13-01' is not a 'date'",
    );
    expect(validateParam(spec({ type: "string", format: "date-time" }), "2026-01-02T03:04:05Z")).toBeNull();
    expect(validateParam(spec({ type: "array", minItems: 2 }), [1])).toBe("[1] is too short");
    expect(validateParam(spec({ type: "boolean" }), "yes")).toBe("'yes' is not of type 'boolean'");
  });

  it("fills the defaults and reprs like Python", () => {
    expect(defaultConf({ a: spec({}, 1), b: spec({}) })).toEqual({ a: 1, b: null });
    expect(pyRepr({ a: [true, null, "it's"] })).toBe(`{'a': [True, None, "it's"]}`);
  });
});
