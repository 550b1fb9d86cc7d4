import { describe, expect, it } from "vitest";
import { diffLines, sideBySide, splitLines } from "./diff";

describe("diffLines", () => {
  it("keeps equal texts as one run of unchanged lines", () => {
    const ops = diffLines(["a", "b"], ["a", "b"]);
    expect(ops).toEqual([
      { kind: "same", left: 1, right: 1, text: "a" },
      { kind: "same", left: 2, right: 2, text: "b" },
    ]);
  });

  it("finds a changed line between common prefix and suffix, with both sides' numbers", () => {
    const ops = diffLines(["a", "b", "c", "d"], ["a", "B", "c", "d", "e"]);
    expect(ops).toEqual([
      { kind: "same", left: 1, right: 1, text: "a" },
      { kind: "del", left: 2, text: "b" },
      { kind: "add", right: 2, text: "B" },
      { kind: "same", left: 3, right: 3, text: "c" },
      { kind: "same", left: 4, right: 4, text: "d" },
      { kind: "add", right: 5, text: "e" },
    ]);
  });

  it("is a minimal edit (longest common subsequence) in the middle", () => {
    const before = ["x", "1", "2", "3", "4", "y"];
    const after = ["x", "0", "1", "3", "4", "5", "y"];
    const ops = diffLines(before, after);
    expect(ops.filter((op) => op.kind === "same").map((op) => op.text)).toEqual(["x", "1", "3", "4", "y"]);
    expect(ops.filter((op) => op.kind === "del").map((op) => op.text)).toEqual(["2"]);
    expect(ops.filter((op) => op.kind === "add").map((op) => op.text)).toEqual(["0", "5"]);
    // Replaying the ops rebuilds both texts.
    expect(ops.filter((op) => op.kind !== "add").map((op) => op.text)).toEqual(before);
    expect(ops.filter((op) => op.kind !== "del").map((op) => op.text)).toEqual(after);
  });

  it("handles empty sides", () => {
    expect(diffLines([], ["a"])).toEqual([{ kind: "add", right: 1, text: "a" }]);
    expect(diffLines(["a"], [])).toEqual([{ kind: "del", left: 1, text: "a" }]);
  });
});

describe("sideBySide", () => {
  it("pairs a removed block with the added block that replaces it", () => {
    const rows = sideBySide(diffLines(["a", "b", "c", "z"], ["a", "B", "z"]));
    expect(rows).toEqual([
      { left: { number: 1, text: "a", changed: false }, right: { number: 1, text: "a", changed: false } },
      { left: { number: 2, text: "b", changed: true }, right: { number: 2, text: "B", changed: true } },
      { left: { number: 3, text: "c", changed: true }, right: null },
      { left: { number: 4, text: "z", changed: false }, right: { number: 3, text: "z", changed: false } },
    ]);
  });

  it("splits text into lines without a trailing empty line", () => {
    expect(splitLines("a\nb\n")).toEqual(["a", "b"]);
    expect(splitLines("")).toEqual([]);
    expect(splitLines(null)).toEqual([]);
  });
});
