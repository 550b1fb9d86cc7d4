// A line diff for the Code tab's "Compare": the longest common subsequence of the two texts'
// lines (common prefix and suffix trimmed first, so a small edit of a big file stays cheap),
// then paired into side-by-side rows (a removed block beside the added block that replaces it).

export type DiffOp =
  | { kind: "same"; left: number; right: number; text: string }
  | { kind: "del"; left: number; text: string }
  | { kind: "add"; right: number; text: string };

/** Line numbers are 1-based. */
export function diffLines(before: string[], after: string[]): DiffOp[] {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start += 1;
  let endA = before.length;
  let endB = after.length;
  while (endA > start && endB > start && before[endA - 1] === after[endB - 1]) {
    endA -= 1;
    endB -= 1;
  }
  const a = before.slice(start, endA);
  const b = after.slice(start, endB);
  const n = a.length;
  const m = b.length;
  // lcs[i][j] = LCS length of a[i:] and b[j:].
  const width = m + 1;
  const lcs = new Int32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lcs[i * width + j] =
        a[i] === b[j] ? lcs[(i + 1) * width + j + 1] + 1 : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
    }
  }
  const ops: DiffOp[] = [];
  for (let k = 0; k < start; k += 1) ops.push({ kind: "same", left: k + 1, right: k + 1, text: before[k] });
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: "same", left: start + i + 1, right: start + j + 1, text: a[i] });
      i += 1;
      j += 1;
    } else if (i < n && (j >= m || lcs[(i + 1) * width + j] >= lcs[i * width + j + 1])) {
      ops.push({ kind: "del", left: start + i + 1, text: a[i] });
      i += 1;
    } else {
      ops.push({ kind: "add", right: start + j + 1, text: b[j] });
      j += 1;
    }
  }
  for (let k = 0; k < before.length - endA; k += 1) {
    ops.push({ kind: "same", left: endA + k + 1, right: endB + k + 1, text: before[endA + k] });
  }
  return ops;
}

export interface SideLine {
  number: number;
  text: string;
  changed: boolean;
}

export interface SideRow {
  left: SideLine | null;
  right: SideLine | null;
}

/** Side-by-side rows: unchanged lines on both sides, each removed block beside its added block. */
export function sideBySide(ops: DiffOp[]): SideRow[] {
  const rows: SideRow[] = [];
  let dels: SideLine[] = [];
  let adds: SideLine[] = [];
  const flush = () => {
    for (let k = 0; k < Math.max(dels.length, adds.length); k += 1) {
      rows.push({ left: dels[k] ?? null, right: adds[k] ?? null });
    }
    dels = [];
    adds = [];
  };
  for (const op of ops) {
    if (op.kind === "same") {
      flush();
      rows.push({
        left: { number: op.left, text: op.text, changed: false },
        right: { number: op.right, text: op.text, changed: false },
      });
    } else if (op.kind === "del") dels.push({ number: op.left, text: op.text, changed: true });
    else adds.push({ number: op.right, text: op.text, changed: true });
  }
  flush();
  return rows;
}

export function splitLines(text: string | null | undefined): string[] {
  if (!text) return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}
