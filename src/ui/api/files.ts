import path from 'node:path';
import { isoTime, type UiContext } from '../context.js';
import { diffLines, MAX_DIFF_LINES } from '../diff.js';
import { HttpError, notFound } from '../http.js';
import { loadRun } from './run.js';

/**
 * A stored version of a file: as JSON for the page, which renders it itself (Markdown, JSON, CSV as text
 * nodes), or as its bytes (`raw`), which an HTML file is shown from inside a sandboxed frame.
 */

export type FileKind = 'markdown' | 'json' | 'csv' | 'html' | 'text' | 'binary';

const KINDS: Record<string, FileKind> = {
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.json': 'json',
  '.csv': 'csv',
  '.html': 'html',
  '.htm': 'html',
};

export function kindOf(filePath: string, bytes: Buffer): FileKind {
  if (!isText(bytes)) return 'binary';
  return KINDS[path.extname(filePath).toLowerCase()] ?? 'text';
}

function isText(bytes: Buffer): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

async function findVersion(ctx: UiContext, runId: string, filePath: string, version: number | undefined) {
  if (filePath === '') throw new HttpError(400, 'name a file: ?path=…');
  const run = await loadRun(ctx, runId);
  const versions = await ctx.store.listContentVersions(run.id, filePath);
  if (versions.length === 0) throw notFound(`run ${run.id} has no stored file ${filePath}`);
  const chosen = version === undefined ? versions.at(-1)! : versions.find((v) => v.version === version);
  if (chosen === undefined) throw notFound(`${filePath} has no version ${version} (versions 1–${versions.length})`);
  const bytes = await ctx.store.readContent(run.id, filePath, chosen.version);
  if (bytes === null) throw notFound(`the bytes of ${filePath} v${chosen.version} are not stored`);
  return { run, versions, chosen, bytes };
}

export async function fileVersion(ctx: UiContext, runId: string, filePath: string, version: number | undefined) {
  const { run, versions, chosen, bytes } = await findVersion(ctx, runId, filePath, version);
  const kind = kindOf(filePath, bytes);
  return {
    runId: run.id,
    path: filePath,
    taskId: chosen.taskId,
    attemptId: chosen.attemptId,
    version: chosen.version,
    versions: versions.map((v) => ({ version: v.version, source: v.source, size: v.size, createdAt: isoTime(v.createdAt) })),
    source: chosen.source,
    size: chosen.size,
    sha256: chosen.sha256,
    createdAt: isoTime(chosen.createdAt),
    kind,
    encoding: kind === 'binary' ? 'base64' : 'utf8',
    content: kind === 'binary' ? bytes.toString('base64') : bytes.toString('utf8'),
  };
}

/** The bytes, with the type a browser may show them as: HTML only for an HTML file (served sandboxed), text for the rest. */
export async function rawFile(ctx: UiContext, runId: string, filePath: string, version: number | undefined) {
  const { bytes } = await findVersion(ctx, runId, filePath, version);
  const kind = kindOf(filePath, bytes);
  const contentType = kind === 'html' ? 'text/html; charset=utf-8' : kind === 'binary' ? 'application/octet-stream' : 'text/plain; charset=utf-8';
  return { bytes, contentType };
}

/** Each side of a diff at most this many bytes: a bigger file is not diffed (the page says so). */
export const MAX_DIFF_BYTES = 1024 * 1024;

/**
 * Two stored versions of a file, line by line. Without `from` and `to`: the newest version a task wrote
 * against the newest person's edit when there is one (what the person changed), else the two newest.
 */
export async function fileDiff(ctx: UiContext, runId: string, filePath: string, from: number | undefined, to: number | undefined) {
  if (filePath === '') throw new HttpError(400, 'name a file: ?path=…');
  if ((from === undefined) !== (to === undefined)) throw new HttpError(400, 'give both from and to, or neither');
  const run = await loadRun(ctx, runId);
  const versions = await ctx.store.listContentVersions(run.id, filePath);
  if (versions.length === 0) throw notFound(`run ${run.id} has no stored file ${filePath}`);
  const listed = versions.map((v) => ({ version: v.version, source: v.source, size: v.size, createdAt: isoTime(v.createdAt) }));
  let pair: [number, number] | null;
  if (from !== undefined && to !== undefined) pair = [from, to];
  else {
    const task = versions.findLast((v) => v.source === 'task');
    const edit = versions.findLast((v) => v.source === 'edit');
    pair =
      task !== undefined && edit !== undefined
        ? [task.version, edit.version]
        : versions.length >= 2
          ? [versions.at(-2)!.version, versions.at(-1)!.version]
          : null;
  }
  const base = { runId: run.id, path: filePath, versions: listed };
  if (pair === null) return { ...base, from: null, to: null, diff: null, note: `${filePath} has one version only: nothing to compare` };
  const side = async (version: number) => {
    const v = versions.find((x) => x.version === version);
    if (v === undefined) throw notFound(`${filePath} has no version ${version} (versions 1–${versions.length})`);
    const bytes = await ctx.store.readContent(run.id, filePath, version);
    if (bytes === null) throw notFound(`the bytes of ${filePath} v${version} are not stored`);
    return { meta: { version, source: v.source, size: v.size, sha256: v.sha256, createdAt: isoTime(v.createdAt), taskId: v.taskId }, bytes };
  };
  const [a, b] = await Promise.all([side(pair[0]), side(pair[1])]);
  const sides = { from: a.meta, to: b.meta };
  if (kindOf(filePath, a.bytes) === 'binary' || kindOf(filePath, b.bytes) === 'binary')
    return { ...base, ...sides, diff: null, note: 'a binary version: no line diff' };
  const big = [a, b].find((s) => s.bytes.length > MAX_DIFF_BYTES);
  if (big !== undefined)
    return {
      ...base,
      ...sides,
      diff: null,
      note: `v${big.meta.version} is ${big.bytes.length} bytes: files over ${MAX_DIFF_BYTES} bytes (1 MiB) are not diffed here`,
    };
  const [oldText, newText] = [a.bytes.toString('utf8'), b.bytes.toString('utf8')];
  const lineCount = (t: string): number => t.split('\n').length;
  const long = [oldText, newText].findIndex((t) => lineCount(t) > MAX_DIFF_LINES + 1);
  if (long >= 0)
    return { ...base, ...sides, diff: null, note: `v${pair[long]} has more than ${MAX_DIFF_LINES} lines: longer files are not diffed here` };
  const diff = diffLines(oldText, newText);
  const note = diff.approximate
    ? 'the versions differ in too many lines for the shortest diff: the changed middle is shown removed, then added'
    : null;
  return { ...base, ...sides, diff, note };
}
