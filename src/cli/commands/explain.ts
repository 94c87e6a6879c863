import { defineCommand } from '../args.js';
import { ExitCode } from '../exit-codes.js';
import { styleFor } from '../output.js';
import { printJson } from '../format.js';
import { describeTask } from '../explain-text.js';
import { openRunDir } from '../run-lookup.js';
import { decideRun, loadRunGraph } from '../run-graph.js';
import { matchTasks, resolveOneTask, runRelativePath, unknownTask } from '../task-names.js';
import { RunExplainer, type FileExplanation } from '../explanation.js';
import { DB_OPTION } from '../run-resolution.js';

interface ExplainArgs {
  runDir: string;
  taskOrFile: string;
  db?: string;
  json: boolean;
}

export const explainCommand = defineCommand({
  usage: 'explain <run-dir> <task-or-file>',
  describe: 'why a task (or the task that writes a file) would or would not run',
  positionals: {
    'run-dir': { describe: 'the run directory' },
    'task-or-file': { describe: 'a task id, a class name, or a file of the run' },
  },
  options: { db: DB_OPTION, json: { type: 'boolean', default: false } },
  run: runExplain,
});

async function runExplain(args: ExplainArgs): Promise<number> {
  const { store, run, runDir } = await openRunDir(args.runDir, args.db);
  try {
    const { roots, graph } = await loadRunGraph(run);
    const decisions = await decideRun(run, runDir, store, roots);
    const explainer = new RunExplainer(runDir, graph, decisions, await store.listAttempts(run.id), await store.listContentVersions(run.id));

    let file: FileExplanation | null = null;
    let taskId: string | null = null;
    if (graph.tasks.has(args.taskOrFile)) {
      taskId = args.taskOrFile;
    } else {
      const filePath = runRelativePath(runDir, args.taskOrFile, (p) => explainer.knowsFile(p));
      if (filePath !== null) {
        file = explainer.explainFile(filePath);
        taskId = file.owner;
      } else if (matchTasks(args.taskOrFile, graph.order).length > 0) {
        taskId = resolveOneTask(args.taskOrFile, graph.order, run.id);
      } else {
        throw unknownTask(args.taskOrFile, run.id, true);
      }
    }
    const task = taskId === null ? null : explainer.explainTask(taskId);

    if (args.json) {
      printJson({ runId: run.id, runDir, subject: file === null ? 'task' : 'file', file, task });
      return ExitCode.ok;
    }
    const style = styleFor(process.stdout);
    if (file !== null) process.stdout.write(describeFile(file));
    if (task !== null) process.stdout.write(describeTask(task, style));
    else process.stdout.write('  no task of the current pipeline writes it: the next build leaves it alone\n');
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

function describeFile(file: FileExplanation): string {
  const owner = file.owner === null ? 'written by no task of the run now' : `${file.declared ? 'output' : 'extra file'} of ${file.owner}`;
  const newest =
    file.newest === null
      ? 'never stored'
      : `${file.versions} version${file.versions === 1 ? '' : 's'}, newest v${file.newest.version} (${file.newest.source})`;
  const disk: Record<FileExplanation['onDisk'], string> = {
    present: 'matches the newest version',
    missing: 'missing',
    edited: 'edited: differs from the newest version (the next build records it as a version)',
    invalid: 'not a regular file',
  };
  return `${file.path}  ${owner} · ${newest} · on disk: ${disk[file.onDisk]}\n`;
}
