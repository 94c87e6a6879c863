import fs from 'node:fs';
import path from 'node:path';
import { defineCommand, type OptionSpec } from '../args.js';
import { UsageError } from '../../engine/errors.js';
import { sha256 } from '../../engine/hasher.js';
import { ExitCode } from '../exit-codes.js';
import { printJson } from '../format.js';
import { openRunDir } from '../run-lookup.js';
import { runRelativePath } from '../task-names.js';
import { DB_OPTION } from '../run-resolution.js';

interface PinArgs {
  runDir: string;
  file: string;
  db?: string;
  json: boolean;
}

/**
 * `plan pin` fixes a file at what it holds now: no build replaces it, its task reports `pinned` and does not
 * run, and what reads it reads the pinned bytes. A pinned file that is deleted is written back at its pinned
 * content. `plan unpin` lets the build replace it again.
 */
const positionals = {
  'run-dir': { describe: 'the run directory' },
  file: { describe: 'a file of the run (relative to the run dir, or a path to it)' },
};

const options = {
  db: DB_OPTION,
  json: { type: 'boolean', default: false, describe: 'print the result as JSON' },
} as const satisfies Record<string, OptionSpec>;

export const pinCommand = defineCommand({
  usage: 'pin <run-dir> <file>',
  describe: 'pin a file at its content now: no build replaces it (its task reports pinned)',
  positionals,
  options,
  run: runPin,
});

export const unpinCommand = defineCommand({
  usage: 'unpin <run-dir> <file>',
  describe: 'unpin a file: the next build may replace it when its task has to run',
  positionals,
  options,
  run: runUnpin,
});

async function runPin(args: PinArgs): Promise<number> {
  const { store, run, runDir } = await openRunDir(args.runDir, args.db);
  try {
    const known = new Set((await store.listContentVersions(run.id)).map((v) => v.path));
    const filePath = runRelativePath(runDir, args.file, (p) => known.has(p));
    if (filePath === null) throw new UsageError(`${args.file} is not a file of run ${run.id} (see plan show ${args.runDir})`);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path.join(runDir, filePath));
    } catch {
      throw new UsageError(`${filePath} is not in the run dir: write it back first (plan restore ${args.runDir}), then pin it`);
    }
    // What is pinned is a stored version: content the database holds, whatever happens to the file.
    const sha = sha256(bytes);
    const versions = await store.listContentVersions(run.id, filePath);
    let version = versions.filter((v) => v.sha256 === sha).at(-1)?.version;
    if (version === undefined) {
      const taskId = versions.at(-1)!.taskId;
      version = (await store.recordEdit(run.id, taskId, filePath, bytes))!.version;
    }
    await store.pinFile(run.id, filePath, sha);
    if (args.json) printJson({ runId: run.id, path: filePath, pinned: true, version, sha256: sha });
    else process.stdout.write(`pinned ${filePath} at v${version}: no build replaces it (plan unpin ${args.runDir} ${filePath} lets it)\n`);
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

async function runUnpin(args: PinArgs): Promise<number> {
  const { store, run, runDir } = await openRunDir(args.runDir, args.db);
  try {
    const pinned = new Set((await store.listPinned(run.id)).map((p) => p.path));
    const filePath = runRelativePath(runDir, args.file, (p) => pinned.has(p));
    if (filePath === null) throw new UsageError(`${args.file} is not pinned in run ${run.id}`);
    await store.unpinFile(run.id, filePath);
    if (args.json) printJson({ runId: run.id, path: filePath, pinned: false });
    else process.stdout.write(`unpinned ${filePath}: the next build replaces it if its task has to run\n`);
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}
