import { defineCommand } from '../args.js';
import { UsageError } from '../../engine/errors.js';
import { ExitCode } from '../exit-codes.js';
import { formatDuration, styleFor, type Style } from '../output.js';
import { formatCost, formatCount, formatTime, formatUsd, isoTime, isUnpriced, printJson } from '../format.js';
import { renderTable } from '../table.js';
import { openRunDir } from '../run-lookup.js';
import { matchTasks, unknownTask } from '../task-names.js';
import type { InteractionRecord, InteractionStatus, InteractionSummary } from '../../store/store.js';
import { DB_OPTION } from '../run-resolution.js';

const INTERACTION_STATUSES: readonly InteractionStatus[] = ['pending', 'completed', 'failed', 'cancelled', 'replayed', 'rejected', 'abandoned'];

interface LlmArgs {
  runDir: string;
  task?: string;
  status?: InteractionStatus;
  id?: number;
  db?: string;
  json: boolean;
}

export const llmCommand = defineCommand({
  usage: 'llm <run-dir>',
  describe: "a run's model calls: model, tokens, cost, latency, status; --id N prints one call's prompt and response",
  positionals: { 'run-dir': { describe: 'the run directory' } },
  options: {
    task: { type: 'string', describe: 'only calls of this task (id or class name)' },
    status: { type: 'string', choices: INTERACTION_STATUSES, describe: 'only calls with this status' },
    id: { type: 'number', describe: 'print this call in full: messages sent and the response' },
    db: DB_OPTION,
    json: { type: 'boolean', default: false },
  },
  run: runLlm,
});

async function runLlm(args: LlmArgs): Promise<number> {
  if (args.id !== undefined && (!Number.isInteger(args.id) || args.id < 1)) throw new UsageError(`--id takes a call's number (got ${args.id})`);
  const { store, run } = await openRunDir(args.runDir, args.db);
  try {
    if (args.id !== undefined) {
      const call = await store.getInteraction(args.id);
      if (call === null || call.runId !== run.id) throw new UsageError(`run ${run.id} has no model call ${args.id} (see plan llm ${args.runDir})`);
      if (args.json) printJson(fullJson(call));
      else process.stdout.write(describeCall(call, styleFor(process.stdout)));
      return ExitCode.ok;
    }

    let calls = await store.listInteractionSummaries(run.id, { status: args.status });
    if (args.task !== undefined) {
      const taskIds = new Set([...(await store.listAttempts(run.id)).map((a) => a.taskId), ...calls.map((c) => c.taskId)]);
      const wanted = new Set(matchTasks(args.task, taskIds));
      if (wanted.size === 0) throw unknownTask(args.task, run.id);
      calls = calls.filter((c) => wanted.has(c.taskId));
    }

    if (args.json) {
      printJson({ runId: run.id, interactions: calls.map(summaryJson) });
      return ExitCode.ok;
    }
    if (calls.length === 0) {
      process.stdout.write('no model calls match\n');
      return ExitCode.ok;
    }
    const style = styleFor(process.stdout);
    const rows = calls.map((c) => [
      String(c.id),
      c.taskId + (c.itemKey ? ` [${c.itemKey}]` : ''),
      c.answeredModel ?? c.requestedModel,
      c.status,
      `${c.inputTokens ?? '-'}/${c.outputTokens ?? '-'}${c.tokensEstimated ? '~' : ''}`,
      c.costUsd !== null ? formatUsd(c.costUsd) : isUnpriced(c) ? 'unknown' : '-',
      c.durationMs === null ? '-' : formatDuration(c.durationMs),
      formatTime(c.startedAt, true),
    ]);
    const table = renderTable(
      [
        { header: 'ID', align: 'right' },
        { header: 'TASK' },
        { header: 'MODEL' },
        { header: 'STATUS' },
        { header: 'TOKENS IN/OUT', align: 'right' },
        { header: 'COST', align: 'right' },
        { header: 'LATENCY', align: 'right' },
        { header: 'STARTED' },
      ],
      rows,
      style,
    );
    // Failed calls in red: whole lines, styled after alignment so colour codes never shift the columns.
    const lines = table.trimEnd().split('\n');
    process.stdout.write(`${lines.map((line, i) => (i > 0 && calls[i - 1]!.status === 'failed' ? style.red(line) : line)).join('\n')}\n`);
    const cost = calls.reduce((sum, c) => sum + (c.costUsd ?? 0), 0);
    const unpricedCalls = calls.filter(isUnpriced).length;
    const tokens = calls.reduce((sum, c) => sum + (c.inputTokens ?? 0) + (c.outputTokens ?? 0), 0);
    const total = `${unpricedCalls === 0 ? '' : 'cost '}${formatCost(cost, unpricedCalls)}`;
    process.stdout.write(style.dim(`${calls.length} calls · ${formatCount(tokens)} tokens · ${total}\n`));
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

function summaryJson(call: InteractionSummary): Record<string, unknown> {
  return {
    id: call.id,
    taskId: call.taskId,
    attemptId: call.attemptId,
    itemKey: call.itemKey,
    turn: call.turn,
    provider: call.provider,
    requestedModel: call.requestedModel,
    answeredModel: call.answeredModel,
    status: call.status,
    inputTokens: call.inputTokens,
    outputTokens: call.outputTokens,
    tokensEstimated: call.tokensEstimated,
    costUsd: call.costUsd,
    durationMs: call.durationMs,
    errorClass: call.errorClass,
    errorMessage: call.errorMessage,
    httpStatus: call.httpStatus,
    startedAt: isoTime(call.startedAt),
    finishedAt: isoTime(call.finishedAt),
  };
}

function fullJson(call: InteractionRecord): Record<string, unknown> {
  return {
    ...summaryJson(call),
    requestHash: call.requestHash,
    price: call.price,
    messages: call.messages,
    responseText: call.responseText,
    parsed: call.parsed,
  };
}

function describeCall(call: InteractionRecord, style: Style): string {
  const lines: string[] = [];
  const where = [
    call.taskId,
    `attempt ${call.attemptId}`,
    call.itemKey ? `item ${call.itemKey}` : null,
    call.turn === null ? null : `turn ${call.turn}`,
  ];
  lines.push(`${style.bold(`call ${call.id}`)} · ${where.filter(Boolean).join(' · ')} · ${call.status}`);
  const asked = call.answeredModel !== null && call.answeredModel !== call.requestedModel ? ` (asked ${call.requestedModel})` : '';
  lines.push(`model    ${call.answeredModel ?? call.requestedModel}${asked} via ${call.provider}`);
  const tokens = `${call.inputTokens ?? '-'} in, ${call.outputTokens ?? '-'} out${call.tokensEstimated ? ' (estimated)' : ''}`;
  lines.push(
    `tokens   ${tokens} · ${call.costUsd === null ? 'cost unknown' : formatUsd(call.costUsd)} · ${call.durationMs === null ? '-' : formatDuration(call.durationMs)}`,
  );
  lines.push(`started  ${formatTime(call.startedAt, true)}`);
  if (call.errorMessage !== null || call.errorClass !== null) {
    lines.push(
      style.red(
        `error    ${[call.errorClass, call.httpStatus === null ? null : `HTTP ${call.httpStatus}`, call.errorMessage].filter(Boolean).join(': ')}`,
      ),
    );
  }
  for (const message of messagesOf(call.messages)) lines.push('', style.dim(`── ${message.role} ──`), message.content);
  lines.push('', style.dim('── response ──'), call.responseText ?? style.dim('(none)'));
  return `${lines.join('\n')}\n`;
}

/** The messages as sent, when they are the usual `{ role, content }` list; anything else is shown as JSON. */
function messagesOf(messages: unknown): { role: string; content: string }[] {
  if (Array.isArray(messages) && messages.every((m) => typeof m === 'object' && m !== null && typeof (m as { role?: unknown }).role === 'string')) {
    return messages.map((m: { role: string; content?: unknown }) => ({
      role: m.role,
      content: typeof m.content === 'string' ? m.content : JSON.stringify(m.content, null, 2),
    }));
  }
  return [{ role: 'request', content: JSON.stringify(messages, null, 2) }];
}
