import type { BuildEvent } from '../engine/events.js';
import { formatDuration, plural, styleFor, type Style } from './output.js';
import { BuildTally, LiveLine } from './live-line.js';
import { createProgressView, summaryLine, type ProgressMode } from './progress.js';
import type { RebuildResult } from './watch-rebuild.js';

/**
 * What `plan watch` tells its consumers. `--json` prints these objects as they are, one per line; a terminal
 * gets one live status line; a pipe or CI log gets plain lines.
 */
export type WatchEvent =
  | { type: 'watch-started'; runId: string; runDir: string; db: string; files: number; at: number }
  | {
      type: 'rebuild-started';
      /** `start`: the build `--build-first` asks for; `change`: files of the run dir changed. */
      trigger: 'start' | 'change';
      /** Every changed path (relative to the run dir), and those of them that were deleted. */
      changed: string[];
      removed: string[];
      at: number;
    }
  | (RebuildResult & {
      type: 'rebuild-finished';
      durationMs: number;
      /** Files in the run dir now. */
      files: number;
      at: number;
    })
  | { type: 'watch-stopped'; reason: 'interrupted' | 'terminated'; at: number };

export interface WatchView {
  watch(event: WatchEvent): void;
  /** An event of the rebuild in progress. */
  build(event: BuildEvent): void;
  /** A line the rebuild printed on stderr. */
  note(line: string): void;
}

/** `shownDir` is the run dir as the user typed it. */
export function createWatchView(mode: ProgressMode, shownDir: string, out: NodeJS.WriteStream, err: NodeJS.WriteStream): WatchView {
  if (mode === 'json') {
    return {
      watch: (event) => out.write(`${JSON.stringify(event)}\n`),
      build: () => {},
      note: (line) => err.write(`${line}\n`),
    };
  }
  return mode === 'tty' ? liveView(shownDir, err) : plainView(shownDir, out, err);
}

function plainView(shownDir: string, out: NodeJS.WriteStream, err: NodeJS.WriteStream): WatchView {
  const style = styleFor(err);
  // The build's own plain lines (run / done / FAIL …): the same words as `plan build` prints in a log.
  const buildLines = createProgressView('plain', out, err);
  return {
    watch: (event) => {
      for (const line of watchLines(event, shownDir, style, false)) err.write(`${line}\n`);
    },
    build: (event) => buildLines(event),
    note: (line) => {
      if (!line.startsWith('plan: ')) err.write(`${line}\n`);
    },
  };
}

function liveView(shownDir: string, err: NodeJS.WriteStream): WatchView {
  const style = styleFor(err);
  let files = 0;
  let rebuild: { cause: string; tally: BuildTally } | null = null;
  const line = new LiveLine(err, () => {
    if (rebuild === null) return `watching ${plural(files, 'file')} in ${shownDir} · Ctrl-C stops`;
    const { tally } = rebuild;
    const progress = tally.total > 0 ? ` [${tally.done}/${tally.total}]` : '';
    const failed = tally.failed > 0 ? ` · ${tally.failed} failed` : '';
    const running = tally.running.size > 0 ? ` ${tally.runningText()}` : '';
    return `rebuilding (${rebuild.cause})${progress}${running}${failed} · ${tally.elapsed()}`;
  });

  return {
    watch: (event) => {
      switch (event.type) {
        case 'watch-started':
          files = event.files;
          break;
        case 'rebuild-started':
          rebuild = { cause: describeCause(event), tally: new BuildTally() };
          rebuild.tally.started = event.at;
          line.startClock();
          break;
        case 'rebuild-finished':
          line.stop(false);
          rebuild = null;
          files = event.files;
          break;
        case 'watch-stopped':
          line.stop(true);
          break;
      }
      const lines = watchLines(event, shownDir, style, true);
      if (event.type === 'watch-stopped') for (const text of lines) err.write(`${text}\n`);
      else if (lines.length > 0) for (const text of lines) line.print(text);
      else line.draw();
    },
    build: (event) => {
      if (rebuild === null) return;
      // The rebuild's own start time is the watch event's; its other events keep the tally.
      if (event.type !== 'build-started') rebuild.tally.apply(event);
      else rebuild.tally.total = event.tasks;
      const text = notableBuildLine(event, style);
      if (text !== null) line.print(text);
      else line.update();
    },
    note: (text) => {
      if (!text.startsWith('plan: ')) line.print(text);
    },
  };
}

/** Permanent lines for a watch event; `live`: the status line already says what is being watched. */
function watchLines(event: WatchEvent, shownDir: string, style: Style, live: boolean): string[] {
  switch (event.type) {
    case 'watch-started':
      return live ? [] : [`watching ${plural(event.files, 'file')} in ${shownDir} (Ctrl-C stops)`];
    case 'rebuild-started':
      return [event.trigger === 'start' ? `building ${shownDir}` : `${describeCause(event)}: rebuilding`];
    case 'rebuild-finished': {
      const lines: string[] = [];
      if (event.summary !== null) {
        const built = event.ran.filter((id) => !event.failed.includes(id) && !event.cancelled.includes(id));
        const ran = built.length > 0 ? ` (${built.join(', ')})` : '';
        const line = `${summaryLine(event.status === 'error' ? 'failed' : event.status, event.summary, false)}${ran}`;
        lines.push(event.status === 'success' ? style.green(line) : event.status === 'cancelled' ? style.yellow(line) : style.red(line));
        if (event.error !== null) lines.push(style.yellow(event.error));
      } else {
        lines.push(style.red(`rebuild did not run: ${event.error ?? `plan build exited with code ${event.exitCode}`}`));
      }
      if (!live && event.status !== 'cancelled') lines.push(`watching ${plural(event.files, 'file')} in ${shownDir}`);
      return lines;
    }
    case 'watch-stopped':
      return [`stopped watching ${shownDir}`];
  }
}

/** `seed.txt changed`, `upper/upper.txt deleted`, `3 files changed: a, b (+1)`. */
function describeCause(event: Extract<WatchEvent, { type: 'rebuild-started' }>): string {
  if (event.trigger === 'start') return 'first build';
  const [only] = event.changed;
  if (event.changed.length === 1 && only !== undefined) return `${only} ${event.removed.includes(only) ? 'deleted' : 'changed'}`;
  const shown = event.changed.slice(0, 2).join(', ') + (event.changed.length > 2 ? ` (+${event.changed.length - 2})` : '');
  return `${plural(event.changed.length, 'file')} changed: ${shown}`;
}

/** Build events worth a line of their own on a terminal; the rest only move the live line. */
function notableBuildLine(event: BuildEvent, style: Style): string | null {
  switch (event.type) {
    case 'file-edited':
      return `edited ${event.path}: kept, stored as a new version`;
    case 'task-recovered':
      return `recovered ${event.taskId}: wrote ${plural(event.files.length, 'file')} from the database`;
    case 'task-failed':
      return event.retryInMs === null
        ? style.red(`FAIL  ${event.taskId}: ${event.error}`)
        : style.yellow(`retry ${event.taskId} in ${formatDuration(event.retryInMs)}: ${event.error}`);
    case 'task-cancelled':
      return style.yellow(`cancelled ${event.taskId}`);
    default:
      return null;
  }
}
