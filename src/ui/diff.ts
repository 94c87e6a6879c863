/**
 * A line diff of two texts (Myers' O(ND) algorithm, after the common first and last lines are set aside), as
 * hunks with three lines of context, like `diff -u`. Bounded: each side at most MAX_DIFF_LINES lines, and at
 * most MAX_EDITS changed lines searched for; beyond that the middle is shown as its old lines removed and its
 * new ones added (still a correct diff, not the shortest), and the result says so.
 */

export const MAX_DIFF_LINES = 20_000;
export const MAX_EDITS = 2_000;
export const CONTEXT = 3;

export type DiffKind = 'context' | 'add' | 'del';

export interface DiffLine {
  kind: DiffKind;
  /** 1-based line numbers in the old and new text; null on the side the line is not in. */
  old: number | null;
  new: number | null;
  text: string;
  /** The last line of its text, without a newline after it. */
  noNewline?: true;
}

export interface Hunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: DiffLine[];
}

export interface LineDiff {
  identical: boolean;
  added: number;
  removed: number;
  hunks: Hunk[];
  /** The shortest diff was not searched for (too many changed lines): the changed middle is shown replaced. */
  approximate: boolean;
}

/** A text's lines; a last line without a newline is marked so that adding one shows as a change. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  else lines[lines.length - 1] = `${lines.at(-1)}\u0000`;
  return lines;
}

type Op = { kind: DiffKind; a: number; b: number };

/** The edit script of a[lo..] vs b[lo..] by Myers' greedy algorithm, or null past `maxEdits`. */
function myers(a: Int32Array, b: Int32Array, maxEdits: number): Op[] | null {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxEdits);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  outer: for (let d = 0; d <= max; d++) {
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break outer;
      }
    }
  }
  if (found < 0) return null;
  // Walk back through the saved frontiers: trace[d] holds v[-d-1 .. d+1] as it was before step d.
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const frame = trace[d]!;
    const at = (k: number): number => frame[k + d + 1]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) ops.push({ kind: 'context', a: --x, b: --y });
    if (x === prevX) ops.push({ kind: 'add', a: x, b: --y });
    else ops.push({ kind: 'del', a: --x, b: y });
  }
  while (x > 0 && y > 0) ops.push({ kind: 'context', a: --x, b: --y });
  return ops.reverse();
}

export function diffLines(oldText: string, newText: string): LineDiff {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  const ids = new Map<string, number>();
  const idOf = (line: string): number => {
    const known = ids.get(line);
    if (known !== undefined) return known;
    const id = ids.size;
    ids.set(line, id);
    return id;
  };
  const ai = Int32Array.from(a, idOf);
  const bi = Int32Array.from(b, idOf);
  let head = 0;
  while (head < ai.length && head < bi.length && ai[head] === bi[head]) head++;
  let tail = 0;
  while (tail < ai.length - head && tail < bi.length - head && ai[ai.length - 1 - tail] === bi[bi.length - 1 - tail]) tail++;
  const midA = ai.subarray(head, ai.length - tail);
  const midB = bi.subarray(head, bi.length - tail);
  let middle = midA.length === 0 && midB.length === 0 ? [] : myers(midA, midB, MAX_EDITS);
  const approximate = middle === null;
  if (middle === null) {
    middle = [];
    for (let i = 0; i < midA.length; i++) middle.push({ kind: 'del', a: i, b: 0 });
    for (let j = 0; j < midB.length; j++) middle.push({ kind: 'add', a: midA.length, b: j });
  }
  const ops: Op[] = [];
  for (let i = 0; i < head; i++) ops.push({ kind: 'context', a: i, b: i });
  for (const op of middle) ops.push({ kind: op.kind, a: op.a + head, b: op.b + head });
  for (let t = 0; t < tail; t++) ops.push({ kind: 'context', a: ai.length - tail + t, b: bi.length - tail + t });

  const lines: DiffLine[] = ops.map((op) => {
    const text = (op.kind === 'add' ? b[op.b] : a[op.a])!;
    const line: DiffLine = {
      kind: op.kind,
      old: op.kind === 'add' ? null : op.a + 1,
      new: op.kind === 'del' ? null : op.b + 1,
      text: text.endsWith('\u0000') ? text.slice(0, -1) : text,
    };
    if (text.endsWith('\u0000')) line.noNewline = true;
    return line;
  });
  const added = lines.filter((l) => l.kind === 'add').length;
  const removed = lines.filter((l) => l.kind === 'del').length;
  return { identical: added === 0 && removed === 0, added, removed, hunks: hunksOf(lines), approximate };
}

/** Changed lines with CONTEXT lines around them; hunks closer than twice that are joined. */
function hunksOf(lines: DiffLine[]): Hunk[] {
  const hunks: Hunk[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i]!.kind === 'context') {
      i++;
      continue;
    }
    const start = Math.max(0, i - CONTEXT);
    let end = i;
    // Extend while the next change is within 2·CONTEXT lines of this one.
    for (;;) {
      while (end < lines.length && lines[end]!.kind !== 'context') end++;
      let next = end;
      while (next < lines.length && lines[next]!.kind === 'context') next++;
      if (next < lines.length && next - end <= 2 * CONTEXT) end = next;
      else break;
    }
    const stop = Math.min(lines.length, end + CONTEXT);
    const chunk = lines.slice(start, stop);
    const firstOld = chunk.find((l) => l.old !== null)?.old ?? oldBefore(lines, start) + 1;
    const firstNew = chunk.find((l) => l.new !== null)?.new ?? newBefore(lines, start) + 1;
    hunks.push({
      oldStart: firstOld,
      oldLines: chunk.filter((l) => l.kind !== 'add').length,
      newStart: firstNew,
      newLines: chunk.filter((l) => l.kind !== 'del').length,
      lines: chunk,
    });
    i = stop;
  }
  return hunks;
}

function oldBefore(lines: DiffLine[], index: number): number {
  for (let i = index - 1; i >= 0; i--) if (lines[i]!.old !== null) return lines[i]!.old!;
  return 0;
}

function newBefore(lines: DiffLine[], index: number): number {
  for (let i = index - 1; i >= 0; i--) if (lines[i]!.new !== null) return lines[i]!.new!;
  return 0;
}
