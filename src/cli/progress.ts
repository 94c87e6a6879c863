import path from 'node:path';
import { formatDuration, plural, styleFor, type Style } from './output.js';
import { BuildTally, LiveLine } from './live-line.js';
import type { BuildEvent, BuildSummary, BuildStatus } from '../engine/events.js';

/**
 * Consumers of the build's event stream. None reaches into the scheduler: they only print what they are told.
 * `json`: every event as one JSON line on stdout. `tty`: one live status line plus lines for what matters.
 * `plain` (CI, pipes): one line per task start, finish and failure.
 */
export type ProgressMode = 'json' | 'tty' | 'plain';

export function progressModeFor(json: boolean, stream: NodeJS.WriteStream): ProgressMode {
  if (json) return 'json';
  return stream.isTTY === true && process.env.CI === undefined ? 'tty' : 'plain';
}

export function createProgressView(mode: ProgressMode, out: NodeJS.WriteStream, err: NodeJS.WriteStream): (event: BuildEvent) => void {
  if (mode === 'json') return (event) => out.write(`${JSON.stringify(event)}\n`);
  const style = styleFor(err);
  return mode === 'tty' ? liveView(err, style) : plainView(err, style);
}

function plainView(err: NodeJS.WriteStream, style: Style): (event: BuildEvent) => void {
  const where = { runDir: '<run-dir>' };
  return (event) => {
    if (event.type === 'build-started') where.runDir = shownRunDir(event.runDir);
    const line = describeEvent(event, style, false, where.runDir);
    if (line !== null) err.write(`${line}\n`);
  };
}

function liveView(err: NodeJS.WriteStream, style: Style): (event: BuildEvent) => void {
  const tally = new BuildTally();
  const line = new LiveLine(err, () => liveText(tally));
  let runDir = '<run-dir>';
  return (event) => {
    tally.apply(event);
    if (event.type === 'build-started') {
      line.startClock();
      runDir = shownRunDir(event.runDir);
    }
    if (event.type === 'build-finished') return line.stop(true);
    const text = describeEvent(event, style, true, runDir);
    if (text !== null) line.print(text);
    else line.update();
  };
}

/** The live line: tasks done of all, what runs, the model calls, tokens and cost so far, failures, time. */
export function liveText(tally: BuildTally): string {
  return `[${tally.done}/${tally.total} tasks] ${tally.runningText()} · ${tally.spendText()} · ${tally.failed} failed · ${tally.elapsed()}`;
}

/** The line a person sees for an event, or null for events only the live line reflects. */
function describeEvent(event: BuildEvent, style: Style, quiet = false, runDir = '<run-dir>'): string | null {
  switch (event.type) {
    case 'task-started':
      return quiet ? null : `run   ${event.taskId}${event.try > 1 ? ` (try ${event.try})` : ''} — ${event.reason}`;
    case 'task-complete':
      return quiet ? null : `done  ${event.taskId} ${style.dim(formatDuration(event.durationMs))}`;
    case 'task-recovered':
      return `recovered ${event.taskId}: wrote ${plural(event.files.length, 'file')} from the database`;
    case 'file-edited':
      return `edited ${event.path}: kept, stored as a new version`;
    case 'file-restored':
      return `restored ${event.path} from the database`;
    case 'edit-replaced':
      return style.yellow(
        `${event.taskId} replaces your edit of ${event.path}` +
          (event.version === null ? '' : `; your version is kept as v${event.version}: plan cat ${runDir} ${event.path} --version ${event.version}`),
      );
    case 'task-failed':
      return event.retryInMs === null
        ? style.red(`FAIL  ${event.taskId}: ${event.error}`)
        : style.yellow(`retry ${event.taskId} in ${formatDuration(event.retryInMs)}: ${event.error}`);
    case 'task-cancelled':
      return style.yellow(`cancelled ${event.taskId}`);
    case 'task-blocked':
      return quiet ? null : style.yellow(`blocked ${event.taskId}: ${event.by}`);
    case 'build-stopping':
      return event.reason === 'interrupted' ? style.yellow('stopping: cancelling running tasks…') : null;
    default:
      return null;
  }
}

/** The final line of `plan build`. */
export function summaryLine(status: BuildStatus, summary: BuildSummary, dryRun: boolean): string {
  const parts: string[] = [];
  if (dryRun) {
    const toRun = summary.tasks - summary.fresh;
    return `dry run: ${plural(toRun, 'task')} would run, ${summary.fresh} fresh, of ${summary.tasks}`;
  }
  parts.push(`ran ${plural(summary.ran, 'task')}`, `${summary.fresh} fresh`);
  if (summary.recovered > 0) parts.push(`${summary.recovered} recovered from the database`);
  if (summary.failed.length > 0) parts.push(`${summary.failed.length} failed (${summary.failed.join(', ')})`);
  if (summary.blocked.length > 0) parts.push(`${summary.blocked.length} blocked`);
  if (summary.cancelled.length > 0) parts.push(`${summary.cancelled.length} cancelled`);
  if (summary.notStarted > 0) parts.push(`${summary.notStarted} not started`);
  const verdict = status === 'success' ? 'build complete' : status === 'failed' ? 'build failed' : 'build interrupted (resume with plan build)';
  return `${verdict}: ${parts.join(', ')} of ${summary.tasks} in ${formatDuration(summary.durationMs)}`;
}

/** The run dir as the person would type it: relative to where they stand, when it is below it. */
function shownRunDir(runDir: string): string {
  const relative = path.relative(process.cwd(), runDir);
  return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? runDir : relative;
}
