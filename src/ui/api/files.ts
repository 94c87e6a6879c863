import path from 'node:path';
import { isoTime, type UiContext } from '../context.js';
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
