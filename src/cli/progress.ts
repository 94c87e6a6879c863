import { formatDuration, plural, styleFor, type Style } from './output.js';
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
  return (event) => {
    const line = describeEvent(event, style);
    if (line !== null) err.write(`${line}\n`);
  };
}

function liveView(err: NodeJS.WriteStream, style: Style): (event: BuildEvent) => void {
  let total = 0;
  let done = 0;
  let failed = 0;
  let started = Date.now();
  const running = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const draw = (): void => {
    const names = [...running];
    const shown = names.slice(0, 2).join(', ') + (names.length > 2 ? ` (+${names.length - 2})` : '');
    const text = `[${done}/${total}] ${running.size} running${shown ? `: ${shown}` : ''} · ${failed} failed · ${formatDuration(Date.now() - started)}`;
    const width = err.columns || 100;
    err.write(`\r\u001b[2K${text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text}`);
  };
  // Redraw at most every 50 ms: a 10,000-task build must not spend its time repainting one line.
  let pending: NodeJS.Timeout | undefined;
  const scheduleDraw = (): void => {
    pending ??= setTimeout(() => {
      pending = undefined;
      draw();
    }, 50);
  };
  const print = (line: string): void => {
    err.write(`\r\u001b[2K${line}\n`);
    scheduleDraw();
  };
  return (event) => {
    switch (event.type) {
      case 'build-started':
        total = event.tasks;
        started = event.at;
        timer = setInterval(draw, 1_000);
        timer.unref();
        break;
      case 'task-decided':
        if (event.state === 'fresh') done++;
        break;
      case 'task-started':
        running.add(event.taskId);
        break;
      case 'task-complete':
        running.delete(event.taskId);
        done++;
        break;
      case 'task-failed':
        if (event.retryInMs === null) {
          running.delete(event.taskId);
          failed++;
        }
        break;
      case 'task-cancelled':
        running.delete(event.taskId);
        break;
      case 'build-finished':
        if (timer) clearInterval(timer);
        if (pending) clearTimeout(pending);
        err.write('\r\u001b[2K');
        return;
    }
    const line = describeEvent(event, style, true);
    if (line !== null) print(line);
    else scheduleDraw();
  };
}

/** The line a person sees for an event, or null for events only the live line reflects. */
function describeEvent(event: BuildEvent, style: Style, quiet = false): string | null {
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
