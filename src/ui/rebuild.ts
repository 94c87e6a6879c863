import type { RunRecord } from '../store/store.js';
import { isoTime, type UiContext } from './context.js';
import type { RebuildPreview, RebuildProcess, RebuildRequest, RebuildScope } from './engine-callbacks.js';
import { HttpError, notFound } from './http.js';
import type { LiveFeed } from './live.js';
import { scrub, scrubText } from './scrub.js';
import { loadRun } from './api/run.js';

/**
 * The dashboard's one engine action: rebuild a task (`plan build <run-dir> --force T --until T`) or a task and
 * everything downstream of it (`--from T`). First the dry run, then, once confirmed, the real build as a child
 * process of the dashboard; its `--json` events reach the pages watching the run as `rebuild` events, and the
 * run's page shows its progress and how it exited. One build of a run at a time: one already running — started
 * here, from a terminal, or on another machine sharing the database — is reason to refuse.
 */

/** Lines of output kept per rebuild (the newest); a page that connects late gets these. */
const KEPT_ENTRIES = 2_000;
/** How long `close` waits for running rebuilds to stop (they were asked to with SIGTERM). */
const STOP_WAIT_MS = 5_000;

export interface RebuildEntry {
  seq: number;
  at: string;
  kind: 'event' | 'stdout' | 'stderr';
  event?: Record<string, unknown>;
  text?: string;
}

interface Job {
  id: number;
  runId: string;
  taskId: string;
  scope: RebuildScope;
  command: string;
  pid: number | null;
  startedAt: number;
  finishedAt: number | null;
  exitCode: number | null;
  signal: string | null;
  entries: RebuildEntry[];
  seq: number;
  dropped: number;
  process: RebuildProcess | null;
  exited: Promise<void>;
}

export function parseScope(text: string | null): RebuildScope {
  if (text === null || text === '' || text === 'downstream') return 'downstream';
  if (text === 'task') return 'task';
  throw new HttpError(400, `scope must be task or downstream, not '${text}'`);
}

export class Rebuilds {
  private nextId = 1;
  /** Per run: its newest rebuild started from here (running or ended). */
  private readonly jobs = new Map<string, Job>();
  /** Runs whose rebuild is being started (checked and reserved before the first await: no two at once). */
  private readonly starting = new Set<string>();

  constructor(
    private readonly ctx: UiContext,
    private readonly live: LiveFeed,
  ) {}

  private async checkTask(run: RunRecord, taskId: string): Promise<void> {
    const graph = await this.ctx.engine.graph(run).catch(() => null);
    if (graph === null) throw new HttpError(409, `the pipeline ${run.pipeline} of run ${run.id} cannot be loaded here: nothing to rebuild`);
    if (!graph.some((t) => t.id === taskId)) throw notFound(`run ${run.id} has no task ${taskId}`);
  }

  /** Why a rebuild cannot start now, or null. `reserved`: the caller is the one starting it. */
  private async busy(run: RunRecord, reserved = false): Promise<string | null> {
    const job = this.jobs.get(run.id);
    if ((!reserved && this.starting.has(run.id)) || (job !== undefined && job.finishedAt === null)) {
      return `a rebuild of run ${run.id} started from this dashboard is running${job?.pid ? ` (pid ${job.pid})` : ''}: wait for it to end`;
    }
    const [shown] = await this.ctx.engine.shownStatuses([run]);
    if (shown!.status === 'running') return `a build of run ${run.id} is running now: wait for it to end (or cancel it) before rebuilding`;
    return null;
  }

  async preview(runId: string, taskId: string, scope: RebuildScope): Promise<{ preview: RebuildPreview; busy: string | null }> {
    const run = await loadRun(this.ctx, runId);
    await this.checkTask(run, taskId);
    const preview = await this.ctx.engine.previewRebuild(run, { taskId, scope });
    if (preview === null) throw notOnThisMachine(run);
    return { preview: scrub(preview), busy: await this.busy(run) };
  }

  async start(runId: string, taskId: string, scope: RebuildScope) {
    if (this.starting.has(runId) || this.jobs.get(runId)?.finishedAt === null) {
      throw new HttpError(409, `a rebuild of run ${runId} started from this dashboard is running: wait for it to end`);
    }
    this.starting.add(runId);
    try {
      const run = await loadRun(this.ctx, runId);
      await this.checkTask(run, taskId);
      const busy = await this.busy(run, true);
      if (busy !== null) throw new HttpError(409, busy);
      let settle = (): void => undefined;
      const job: Job = {
        id: this.nextId++,
        runId: run.id,
        taskId,
        scope,
        command: '',
        pid: null,
        startedAt: Date.now(),
        finishedAt: null,
        exitCode: null,
        signal: null,
        entries: [],
        seq: 0,
        dropped: 0,
        process: null,
        exited: new Promise<void>((resolve) => {
          settle = resolve;
        }),
      };
      const request: RebuildRequest = { taskId, scope };
      const child = await this.ctx.engine.startRebuild(run, request, {
        event: (event) => {
          // Each task's decision is on the page already (the dry run, the graph): not worth a line each.
          if (event.type !== 'task-decided') this.add(job, { kind: 'event', event: scrub(event) });
        },
        line: (stream, text) => this.add(job, { kind: stream, text: scrubText(text) }),
        exit: (code, signal) => {
          job.finishedAt = Date.now();
          job.exitCode = code;
          job.signal = signal;
          this.live.publish(job.runId, 'rebuild', { jobId: job.id, exit: { code, signal, finishedAt: isoTime(job.finishedAt) } });
          this.live.notify(job.runId, { topic: 'run', runId: job.runId, rebuild: job.id });
          settle();
        },
      });
      if (child === null) throw notOnThisMachine(run);
      job.process = child;
      job.pid = child.pid;
      job.command = child.command;
      this.jobs.set(run.id, job);
      this.live.publish(run.id, 'rebuild', { jobId: job.id, started: view(job) });
      return view(job);
    } finally {
      this.starting.delete(runId);
    }
  }

  /** The run's newest rebuild started from this dashboard, with its output so far; null when none was. */
  async current(runId: string) {
    const run = await loadRun(this.ctx, runId);
    const job = this.jobs.get(run.id);
    return { job: job === undefined ? null : view(job) };
  }

  /** Stops every running rebuild (SIGTERM) and waits a while for them to end. */
  async close(): Promise<void> {
    const running = [...this.jobs.values()].filter((j) => j.finishedAt === null);
    for (const job of running) job.process?.stop();
    await Promise.race([Promise.all(running.map((j) => j.exited)), new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
  }

  private add(job: Job, entry: Omit<RebuildEntry, 'seq' | 'at'>): void {
    const full: RebuildEntry = { seq: ++job.seq, at: new Date().toISOString(), ...entry };
    job.entries.push(full);
    if (job.entries.length > KEPT_ENTRIES) {
      job.entries.shift();
      job.dropped++;
    }
    this.live.publish(job.runId, 'rebuild', { jobId: job.id, entry: full });
  }
}

function notOnThisMachine(run: RunRecord): HttpError {
  return new HttpError(409, `the run dir ${run.runDir} is not on this machine: a rebuild runs where the run's files are`);
}

function view(job: Job) {
  return {
    id: job.id,
    runId: job.runId,
    taskId: job.taskId,
    scope: job.scope,
    command: job.command,
    pid: job.pid,
    running: job.finishedAt === null,
    startedAt: isoTime(job.startedAt),
    finishedAt: isoTime(job.finishedAt),
    exitCode: job.exitCode,
    signal: job.signal,
    dropped: job.dropped,
    entries: job.entries,
  };
}
