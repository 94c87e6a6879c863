import { formatTime, shortSha } from './format.js';
import type { Style } from './output.js';
import type { StampChange, TaskExplanation } from './explanation.js';

/** A style that paints nothing: the text as `plan explain` prints it into a file or pipe. */
export const PLAIN: Style = { bold: (t) => t, dim: (t) => t, red: (t) => t, green: (t) => t, yellow: (t) => t };

/**
 * The text `plan explain` prints for a task: state and reason, what changed, what upstream will do, its
 * outputs, who built it and what the next build does. The dashboard shows the very same text.
 */
export function describeTask(task: TaskExplanation, style: Style = PLAIN): string {
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
