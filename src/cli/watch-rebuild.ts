import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BuildEvent, BuildSummary } from '../engine/events.js';
import { ExitCode } from './exit-codes.js';

/**
 * One rebuild of `plan watch`, run as the real `plan build <run-dir> --json` in a child process: the build's
 * logic (decide, lock, persist, cancel on a signal, record edits) stays in one place, and the watcher learns
 * what happened from the same JSON events any other consumer reads.
 */

export type RebuildStatus = 'success' | 'failed' | 'cancelled' | 'error';

export interface RebuildResult {
  status: RebuildStatus;
  /** The child's exit code (null when it died of a signal). */
  exitCode: number | null;
  /** Tasks started, in the order they first started. */
  ran: string[];
  failed: string[];
  cancelled: string[];
  /** Files the build wrote with new content (changed outputs, files written back from the database). */
  wrote: string[];
  /** The build's own summary; null when it stopped before it could give one (e.g. the run dir was locked). */
  summary: BuildSummary | null;
  /** Why the build could not run (its one-line `plan: …` error), or null. */
  error: string | null;
}

export interface Rebuild {
  readonly done: Promise<RebuildResult>;
  /** Passes a signal on: the build handles SIGINT/SIGTERM as on a terminal (cancel running tasks, exit 130). */
  kill(signal: NodeJS.Signals): void;
}

export interface RebuildOptions {
  runDir: string;
  db: string | undefined;
  onEvent(event: BuildEvent): void;
  /** Lines the build printed on stderr (errors, budget notes). */
  onStderrLine(line: string): void;
}

/** `bin/plan.js` of this installation, found from this module's place in `dist/cli/`. */
const PLAN_BIN = fileURLToPath(new URL('../../bin/plan.js', import.meta.url));

export function startRebuild(options: RebuildOptions): Rebuild {
  const args = [PLAN_BIN, 'build', options.runDir, '--json', ...(options.db === undefined ? [] : ['--db', options.db])];
  // Its own process group: a Ctrl-C on the terminal reaches only the watcher, which passes exactly one signal
  // on. Two would make the build exit at once, without recording its running tasks as cancelled.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });

  const ran: string[] = [];
  const failed: string[] = [];
  const cancelled: string[] = [];
  const wrote = new Set<string>();
  let finished: BuildFinished | null = null;
  let error: string | null = null;

  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const event = parseEvent(line);
    if (event === null) return;
    switch (event.type) {
      case 'task-started':
        if (!ran.includes(event.taskId)) ran.push(event.taskId);
        break;
      case 'task-complete':
        for (const file of event.changed) wrote.add(file);
        break;
      case 'task-failed':
        if (event.retryInMs === null) failed.push(event.taskId);
        break;
      case 'task-cancelled':
        cancelled.push(event.taskId);
        break;
      case 'task-recovered':
        for (const file of event.files) wrote.add(file);
        break;
      case 'file-restored':
        wrote.add(event.path);
        break;
      case 'build-finished':
        finished = event;
        break;
    }
    options.onEvent(event);
  });
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    if (line.startsWith('plan: ')) error = line.slice('plan: '.length);
    options.onStderrLine(line);
  });

  const done = new Promise<RebuildResult>((resolve) => {
    const settle = (exitCode: number | null, killedBy: NodeJS.Signals | null, spawnError?: Error): void => {
      const summary = finished?.summary ?? null;
      let status: RebuildStatus;
      if (finished !== null) status = finished.status;
      // Stopped by a signal before its build began (or by a second one): nothing ran that needs recording.
      else if (exitCode === ExitCode.interrupted || killedBy !== null) status = 'cancelled';
      else status = 'error';
      if (spawnError !== undefined) error = `cannot start plan build: ${spawnError.message}`;
      else if (status === 'error' && error === null) error = `plan build exited with code ${exitCode ?? 'null'}`;
      resolve({ status, exitCode, ran, failed, cancelled, wrote: [...wrote].sort(), summary, error });
    };
    child.once('error', (spawnError) => settle(null, null, spawnError));
    child.once('close', (code, killedBy) => settle(code, killedBy));
  });

  return {
    done,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

type BuildFinished = Extract<BuildEvent, { type: 'build-finished' }>;

function parseEvent(line: string): BuildEvent | null {
  if (!line.startsWith('{')) return null;
  try {
    const value = JSON.parse(line) as { type?: unknown };
    return typeof value.type === 'string' ? (value as BuildEvent) : null;
  } catch {
    return null;
  }
}
