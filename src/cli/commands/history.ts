import fs from 'node:fs';
import path from 'node:path';
import { defineCommand } from '../args.js';
import { UsageError } from '../../engine/errors.js';
import { sha256 } from '../../engine/hasher.js';
import { ExitCode } from '../exit-codes.js';
import { styleFor } from '../output.js';
import { formatCount, formatTime, isoTime, printJson, shortSha } from '../format.js';
import { renderTable } from '../table.js';
import { openRunDir } from '../run-lookup.js';
import { runRelativePath } from '../task-names.js';
import { DB_OPTION } from '../run-resolution.js';

interface HistoryArgs {
  runDir: string;
  file: string;
  db?: string;
  json: boolean;
}

export const historyCommand = defineCommand({
  usage: 'history <run-dir> <file>',
  describe: "a file's stored versions (rebuilds and edits) with source, size and time",
  positionals: { 'run-dir': { describe: 'the run directory' }, file: { describe: 'a file of the run' } },
  options: { db: DB_OPTION, json: { type: 'boolean', default: false } },
  run: runHistory,
});

async function runHistory(args: HistoryArgs): Promise<number> {
  const { store, run, runDir } = await openRunDir(args.runDir, args.db);
  try {
    const all = await store.listContentVersions(run.id);
    const known = new Set(all.map((v) => v.path));
    const filePath = runRelativePath(runDir, args.file, (p) => known.has(p));
    if (filePath === null) throw new UsageError(`no stored versions of '${args.file}' in run ${run.id} (see plan show for its files)`);
    const versions = all.filter((v) => v.path === filePath);
    const diskSha = shaOnDisk(path.join(runDir, filePath));
    const onDiskVersion = diskSha === null ? null : (versions.filter((v) => v.sha256 === diskSha).at(-1)?.version ?? null);

    if (args.json) {
      printJson({
        runId: run.id,
        path: filePath,
        onDisk: diskSha === null ? null : { sha256: diskSha, version: onDiskVersion },
        versions: versions.map((v) => ({
          version: v.version,
          source: v.source,
          size: v.size,
          sha256: v.sha256,
          taskId: v.taskId,
          attemptId: v.attemptId,
          createdAt: isoTime(v.createdAt),
        })),
      });
      return ExitCode.ok;
    }
    const style = styleFor(process.stdout);
    const rows = versions.map((v) => [
      `${v.version}${v.version === onDiskVersion ? '*' : ''}`,
      v.source,
      formatCount(v.size),
      shortSha(v.sha256),
      v.taskId,
      v.attemptId === null ? '-' : String(v.attemptId),
      formatTime(v.createdAt, true),
    ]);
    process.stdout.write(
      renderTable(
        [
          { header: 'VERSION', align: 'right' },
          { header: 'SOURCE' },
          { header: 'SIZE', align: 'right' },
          { header: 'SHA256' },
          { header: 'TASK' },
          { header: 'ATTEMPT', align: 'right' },
          { header: 'CREATED' },
        ],
        rows,
        style,
      ),
    );
    const disk =
      diskSha === null
        ? 'missing'
        : onDiskVersion === null
          ? `edited (${shortSha(diskSha)}, not stored yet: the next build records it)`
          : `version ${onDiskVersion} (*)`;
    process.stdout.write(style.dim(`${filePath} on disk: ${disk}\n`));
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

function shaOnDisk(absolute: string): string | null {
  try {
    return fs.statSync(absolute).isFile() ? sha256(fs.readFileSync(absolute)) : null;
  } catch {
    return null;
  }
}
