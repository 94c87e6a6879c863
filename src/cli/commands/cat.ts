import { defineCommand } from '../args.js';
import { UsageError } from '../../engine/errors.js';
import { ExitCode } from '../exit-codes.js';
import { isoTime, printJson } from '../format.js';
import { openRunDir } from '../run-lookup.js';
import { loadRunGraph } from '../run-graph.js';
import { matchTasks, resolveOneTask, runRelativePath, unknownTask } from '../task-names.js';
import type { ContentVersion, RunRecord, Store } from '../../store/store.js';
import { DB_OPTION } from '../run-resolution.js';

interface CatArgs {
  runDir: string;
  taskOrFile: string;
  version?: number;
  db?: string;
  json: boolean;
}

export const catCommand = defineCommand({
  usage: 'cat <run-dir> <task-or-file>',
  describe: "print a file's content from the database, any version (a task name prints each of its files)",
  positionals: {
    'run-dir': { describe: 'the run directory' },
    'task-or-file': { describe: 'a file of the run, or a task id or class name' },
  },
  options: {
    // An option of the command's own: `plan cat --version` is no request for plan's version.
    version: { type: 'number', describe: 'which version (1 = the first; see plan history); default the newest' },
    db: DB_OPTION,
    json: { type: 'boolean', default: false, describe: 'content and its metadata as JSON (utf8 text, or base64 for binary content)' },
  },
  run: runCat,
});

async function runCat(args: CatArgs): Promise<number> {
  if (args.version !== undefined && (!Number.isInteger(args.version) || args.version < 1)) {
    throw new UsageError(`--version takes a whole number ≥ 1 (got ${args.version})`);
  }
  const { store, run, runDir } = await openRunDir(args.runDir, args.db);
  try {
    const versions = await store.listContentVersions(run.id);
    const byPath = new Map<string, ContentVersion[]>();
    for (const v of versions) byPath.set(v.path, [...(byPath.get(v.path) ?? []), v]);

    const filePath = runRelativePath(runDir, args.taskOrFile, (p) => byPath.has(p));
    const paths = filePath !== null ? [filePath] : await taskFiles(store, run, args.taskOrFile, versions);
    if (args.version !== undefined && paths.length > 1) {
      throw new UsageError(`${args.taskOrFile} has ${paths.length} files (${paths.join(', ')}): name one to pick a --version`);
    }
    const picked = paths.map((p) => pickVersion(byPath.get(p)!, args.version, run.id));
    const files = await Promise.all(picked.map(async (v) => ({ version: v, bytes: (await store.readContent(run.id, v.path, v.version))! })));

    if (args.json) {
      printJson({
        runId: run.id,
        files: files.map(({ version: v, bytes }) => {
          const text = bytes.toString('utf8');
          const utf8 = Buffer.from(text, 'utf8').equals(bytes);
          return {
            path: v.path,
            version: v.version,
            versions: byPath.get(v.path)!.length,
            source: v.source,
            taskId: v.taskId,
            attemptId: v.attemptId,
            sha256: v.sha256,
            size: v.size,
            createdAt: isoTime(v.createdAt),
            encoding: utf8 ? 'utf8' : 'base64',
            content: utf8 ? text : bytes.toString('base64'),
          };
        }),
      });
      return ExitCode.ok;
    }
    if (files.length === 1) {
      process.stdout.write(files[0]!.bytes);
      return ExitCode.ok;
    }
    files.forEach(({ version: v, bytes }, i) => {
      process.stdout.write(`${i > 0 ? '\n' : ''}==> ${v.path} (v${v.version}, ${v.source}) <==\n`);
      process.stdout.write(bytes);
      if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) process.stdout.write('\n');
    });
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

/**
 * The stored files of a task: its declared outputs and the extra files it wrote. Names are matched against the
 * stored tasks first; the pipeline's graph is loaded only to tell an unknown name from a task never built.
 */
async function taskFiles(store: Store, run: RunRecord, name: string, versions: readonly ContentVersion[]): Promise<string[]> {
  const storedTasks = new Set(versions.map((v) => v.taskId));
  let taskId: string;
  if (matchTasks(name, storedTasks).length > 0) {
    taskId = resolveOneTask(name, storedTasks, run.id);
  } else {
    const { graph } = await loadRunGraph(run);
    if (matchTasks(name, graph.order).length === 0) throw unknownTask(name, run.id, true);
    taskId = resolveOneTask(name, graph.order, run.id);
  }
  const newestOwner = new Map<string, string>();
  for (const v of versions) newestOwner.set(v.path, v.taskId);
  const paths = [...newestOwner].filter(([, owner]) => owner === taskId).map(([p]) => p);
  if (paths.length === 0) {
    const last = (await store.listAttempts(run.id, taskId)).at(-1);
    const why = last === undefined ? 'never ran' : `its newest attempt ${last.status}${last.error ? `: ${last.error}` : ''}`;
    throw new UsageError(`${taskId} has no stored files yet (${why})`);
  }
  return paths.sort();
}

function pickVersion(list: readonly ContentVersion[], version: number | undefined, runId: string): ContentVersion {
  if (version === undefined) return list.at(-1)!;
  const hit = list.find((v) => v.version === version);
  if (hit === undefined) {
    const range = list.length === 1 ? 'only version 1' : `versions 1–${list.length}`;
    throw new UsageError(`${list[0]!.path} has ${range} in run ${runId}, not ${version}`);
  }
  return hit;
}
