import { defineCommand } from '../args.js';
import { ExitCode } from '../exit-codes.js';
import { formatDuration, plural, styleFor } from '../output.js';
import { formatCost, formatCount, formatTime, isoTime, jsonCost, printJson, truncate } from '../format.js';
import { renderTable } from '../table.js';
import { openRunDirOrId } from '../run-lookup.js';
import { promptOf, runDurationMs, shownRunOf } from '../run-facts.js';
import { pipelineParams, settingsOf } from '../run-settings.js';
import type { AttemptRecord, AttemptStatus, SpendRow } from '../../store/store.js';

interface ShowArgs {
  run: string;
  db?: string;
  json: boolean;
}

export const showCommand = defineCommand({
  usage: 'show <run>',
  describe: "one run's summary: tasks with durations and costs, failures with their errors",
  positionals: { run: { describe: 'a run dir or a run id' } },
  options: {
    db: { type: 'string', describe: 'database file (default: plan.db beside the run dir, or ./runs/plan.db for a run id; env PLAN_DB)' },
    json: { type: 'boolean', default: false },
  },
  run: runShow,
});

interface TaskLine {
  id: string;
  /** Status of the task's newest attempt; `interrupted` for one still `running` in an interrupted run. */
  status: AttemptStatus | 'interrupted';
  attempts: number;
  /** How long the newest built attempt took (start to complete). */
  durationMs: number | null;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  unpricedCalls: number;
}

export interface Failure {
  taskId: string;
  attemptId: number;
  status: AttemptStatus;
  error: string | null;
  at: string | null;
}

async function runShow(args: ShowArgs): Promise<number> {
  const { store, location, run: record } = await openRunDirOrId(args.run, args.db);
  try {
    const run = await shownRunOf(store, record);
    const totals = await store.runTotals(run.id);
    const attempts = await store.listAttempts(run.id);
    const spend = new Map((await store.summarizeSpend('task', { runId: run.id })).map((row) => [row.key, row]));
    const tasks = taskLines(attempts, spend, run.status === 'interrupted');
    const failures = currentFailures(attempts);
    const { runId: _runId, unpricedCalls: _unpriced, ...jsonCounts } = totals;

    if (args.json) {
      printJson({
        run: {
          id: run.id,
          runDir: run.runDir,
          db: location,
          pipeline: run.pipeline,
          params: pipelineParams(run.params),
          settings: settingsOf(run.params),
          status: run.status,
          statusReason: run.statusReason,
          createdAt: isoTime(run.createdAt),
          updatedAt: isoTime(run.updatedAt),
        },
        totals: {
          ...jsonCounts,
          costUsd: jsonCost(totals.costUsd, totals.unpricedCalls),
          firstActivityAt: isoTime(totals.firstActivityAt),
          lastActivityAt: isoTime(totals.lastActivityAt),
          durationMs: runDurationMs(totals),
        },
        tasks: tasks.map(({ unpricedCalls, ...task }) => ({ ...task, costUsd: jsonCost(task.costUsd, unpricedCalls) })),
        failures,
      });
      return ExitCode.ok;
    }

    const style = styleFor(process.stdout);
    const out: string[] = [];
    out.push(`${style.bold(`run ${run.id}`)}  ${run.status}${run.statusReason ? ` (${run.statusReason})` : ''}`);
    out.push(`dir       ${run.runDir}`);
    out.push(`pipeline  ${run.pipeline}`);
    const prompt = promptOf(run);
    if (prompt !== null) out.push(`prompt    ${truncate(prompt, 100)}`);
    out.push(`created   ${formatTime(run.createdAt, true)}   updated ${formatTime(run.updatedAt, true)}`);
    const duration = runDurationMs(totals);
    out.push(
      `tasks     ${totals.tasksBuilt} built, ${totals.tasksFailed} failed · ${plural(totals.attempts, 'attempt')} · ${plural(totals.files, 'file')} (${plural(totals.versions, 'version')})` +
        (duration === null ? '' : ` · ${formatDuration(duration)}`),
    );
    out.push(
      `calls     ${totals.calls}${totals.failedCalls > 0 ? ` (${totals.failedCalls} failed)` : ''} · ${formatCount(totals.inputTokens)} in / ${formatCount(totals.outputTokens)} out tokens · ${totals.unpricedCalls === 0 ? '' : 'cost '}${formatCost(totals.costUsd, totals.unpricedCalls)}` +
        (totals.models.length > 0 ? ` · ${totals.models.join(', ')}` : ''),
    );
    process.stdout.write(`${out.join('\n')}\n\n`);
    if (tasks.length > 0) {
      const rows = tasks.map((t) => [
        t.id,
        t.status,
        String(t.attempts),
        t.durationMs === null ? '-' : formatDuration(t.durationMs),
        String(t.calls),
        formatCount(t.inputTokens + t.outputTokens),
        formatCost(t.costUsd, t.unpricedCalls),
      ]);
      process.stdout.write(
        renderTable(
          [
            { header: 'TASK' },
            { header: 'STATUS' },
            { header: 'TRIES', align: 'right' },
            { header: 'DURATION', align: 'right' },
            { header: 'CALLS', align: 'right' },
            { header: 'TOKENS', align: 'right' },
            { header: 'COST', align: 'right' },
          ],
          rows,
          style,
        ),
      );
    } else {
      process.stdout.write('no task has run yet\n');
    }
    if (failures.length > 0) {
      process.stdout.write(`\n${style.red('failures')}\n`);
      for (const f of failures) process.stdout.write(`  ${f.taskId}  attempt ${f.attemptId} ${f.status}${f.error ? `: ${f.error}` : ''}\n`);
    }
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

function taskLines(attempts: readonly AttemptRecord[], spend: ReadonlyMap<string, SpendRow>, interrupted: boolean): TaskLine[] {
  const byTask = new Map<string, AttemptRecord[]>();
  for (const attempt of attempts) byTask.set(attempt.taskId, [...(byTask.get(attempt.taskId) ?? []), attempt]);
  return [...byTask].map(([id, list]) => {
    const built = list.filter((a) => a.status === 'complete').at(-1);
    const cost = spend.get(id);
    const status = list.at(-1)!.status;
    return {
      id,
      status: interrupted && status === 'running' ? 'interrupted' : status,
      attempts: list.length,
      durationMs: built?.finishedAt == null ? null : built.finishedAt - built.startedAt,
      calls: cost?.calls ?? 0,
      inputTokens: cost?.inputTokens ?? 0,
      outputTokens: cost?.outputTokens ?? 0,
      costUsd: cost?.costUsd ?? 0,
      unpricedCalls: cost?.unpricedCalls ?? 0,
    };
  });
}

/** Attempts that failed (or were cancelled or abandoned) after their task's newest built attempt: the open failures. */
export function currentFailures(attempts: readonly AttemptRecord[]): Failure[] {
  const lastBuilt = new Map<string, number>();
  for (const a of attempts) if (a.status === 'persisted' || a.status === 'complete') lastBuilt.set(a.taskId, a.id);
  return attempts
    .filter((a) => (a.status === 'failed' || a.status === 'cancelled' || a.status === 'abandoned') && a.id > (lastBuilt.get(a.taskId) ?? 0))
    .map((a) => ({ taskId: a.taskId, attemptId: a.id, status: a.status, error: a.error, at: isoTime(a.finishedAt ?? a.startedAt) }));
}
