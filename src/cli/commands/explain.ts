import { defineCommand } from '../args.js';
import { ExitCode } from '../exit-codes.js';
import { styleFor, type Style } from '../output.js';
import { formatTime, printJson, shortSha } from '../format.js';
import { openRunDir } from '../run-lookup.js';
import { decideRun, loadRunGraph } from '../run-graph.js';
import { matchTasks, resolveOneTask, runRelativePath, unknownTask } from '../task-names.js';
import { RunExplainer, type FileExplanation, type StampChange, type TaskExplanation } from '../explanation.js';
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

function describeTask(task: TaskExplanation, style: Style): string {
  const paint = { fresh: style.green, pinned: style.green, missing: style.yellow, stale: style.yellow, blocked: style.red }[task.state];
  const lines = [`${style.bold(task.id)}  ${paint(task.state)} — ${task.reason}`];
  for (const change of task.changes) lines.push(`  ${describeChange(change)}`);
  for (const up of task.upstream) lines.push(`  upstream ${up.id} will run: ${up.reason}`);
  const direct = new Set(task.upstream.map((u) => u.id));
  for (const cause of task.causes.filter((c) => !direct.has(c.id))) lines.push(`  … because ${cause.id} is ${cause.state}: ${cause.reason}`);
  for (const failed of task.failedUpstream) {
    lines.push(
      style.red(
        `  upstream ${failed.id} ${failed.status} last time (attempt ${failed.attemptId})${failed.error ? `: ${failed.error}` : ''}; this task is blocked if it fails again`,
      ),
    );
  }
  const outputs = task.outputs.map((o) => `${o.path} (${o.state})`).join(', ');
  if (outputs) lines.push(`  outputs: ${outputs}`);
  if (task.lastBuilt !== null)
    lines.push(
      style.dim(`  built by attempt ${task.lastBuilt.attemptId}${task.lastBuilt.at ? `, ${formatTime(Date.parse(task.lastBuilt.at))}` : ''}`),
    );
  else lines.push(style.dim('  never built'));
  if (task.lastAttempt !== null && task.lastAttempt.attemptId !== task.lastBuilt?.attemptId) {
    const last = task.lastAttempt;
    lines.push(style.dim(`  newest attempt ${last.attemptId}: ${last.status}${last.error ? ` — ${last.error}` : ''}`));
  }
  lines.push(task.wouldRun ? '  the next build runs it' : '  the next build leaves it as it is');
  return `${lines.join('\n')}\n`;
}

function describeChange(change: StampChange): string {
  switch (change.kind) {
    case 'version':
      return `version changed ${change.before} → ${change.after}`;
    case 'parameter':
      return `parameter ${change.name} changed ${JSON.stringify(change.before)} → ${JSON.stringify(change.after)}`;
    case 'input': {
      const from = change.owner === null ? '' : ` (output of ${change.owner})`;
      if (change.change === 'removed') return `input ${change.path}${from} is no longer there (was ${shortSha(change.before)})`;
      const what =
        change.change === 'added'
          ? `new input ${change.path}${from}`
          : `input ${change.path}${from} changed ${shortSha(change.before)} → ${shortSha(change.after)}`;
      return `${what}: ${describeCause(change)}`;
    }
  }
}

function describeCause(change: Extract<StampChange, { kind: 'input' }>): string {
  const when = change.at === null ? '' : `, ${formatTime(Date.parse(change.at))}`;
  switch (change.cause) {
    case 'edit':
      return `edited by a person (version ${change.version}${when})`;
    case 'unrecorded-edit':
      return 'edited by a person since the last build (the next build stores it as a version)';
    case 'rebuild':
      return `rebuilt by ${change.owner ?? 'its task'} (version ${change.version}${when})`;
    case 'restore':
      return `restored from the database (version ${change.version}${when})`;
    default:
      return 'changed';
  }
}
