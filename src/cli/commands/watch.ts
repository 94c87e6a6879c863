import fs from 'node:fs';
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import { defineCommand } from '../args.js';
import { UsageError, errorMessage } from '../../engine/errors.js';
import { LOCK_FILE, isAlive, readHolder } from '../../engine/lock.js';
import type { Store } from '../../store/store.js';
import { ExitCode } from '../exit-codes.js';
import { progressModeFor } from '../progress.js';
import { openRunDir } from '../run-lookup.js';
import { changesToRebuild, isIgnoredPath, runRelative, type FileChange } from '../watch-filter.js';
import { startRebuild, type Rebuild } from '../watch-rebuild.js';
import { createWatchView, type WatchView } from '../watch-view.js';
import { DB_OPTION } from '../run-resolution.js';

interface WatchArgs {
  runDir: string;
  db?: string;
  json: boolean;
  buildFirst: boolean;
}

/** Quiet time after the last settled event before a rebuild starts: one save of several files is one rebuild. */
const DEBOUNCE_MS = 300;
/** chokidar's awaitWriteFinish: a file counts as written once its size has held still this long. */
const WRITE_SETTLE_MS = 200;
/** How often to look again while another `plan build` holds the run dir. */
const LOCK_POLL_MS = 1_000;

export const watchCommand = defineCommand({
  usage: 'watch <run-dir>',
  describe: 'rebuild what depends on the files of a run dir whenever they are edited or deleted',
  positionals: { 'run-dir': { describe: 'the run directory' } },
  options: {
    db: DB_OPTION,
    'build-first': { type: 'boolean', default: false, describe: 'build once on start, before watching' },
    json: { type: 'boolean', default: false, describe: 'print watch events as JSON lines' },
  },
  run: runWatch,
});

async function runWatch(args: WatchArgs): Promise<number> {
  const { store, run, runDir, location } = await openRunDir(args.runDir, args.db);
  try {
    if (!fs.existsSync(runDir)) throw new UsageError(`run dir ${args.runDir} does not exist: write it back with plan restore ${args.runDir}`);
    const view = createWatchView(progressModeFor(args.json, process.stderr), args.runDir, process.stdout, process.stderr);
    const session = new WatchSession({ store, runId: run.id, runDir, db: args.db, location, view });
    return await session.run(args.buildFirst);
  } finally {
    await store.close();
  }
}

interface SessionOptions {
  store: Store;
  runId: string;
  runDir: string;
  /** `--db` as given, passed on to each rebuild (which otherwise finds the same database the same way). */
  db: string | undefined;
  location: string;
  view: WatchView;
}

/**
 * Settled file events pile up in `pending`; after a quiet spell they are checked against the database and, if any
 * still matters, one rebuild runs. Only one check or rebuild runs at a time: events arriving meanwhile wait for
 * the next round, where a rebuild's own writes are found equal to what it stored and dropped.
 */
class WatchSession {
  private readonly pending = new Set<string>();
  private debounce: NodeJS.Timeout | undefined;
  private busy = false;
  private waitingForLock = false;
  private rebuild: Rebuild | null = null;
  private stopReason: 'interrupted' | 'terminated' | null = null;
  private stopping = false;
  private watcher: FSWatcher | undefined;
  private finish!: (code: number) => void;
  private readonly stopped = new Promise<number>((resolve) => (this.finish = resolve));
  private removeSignals: () => void = () => {};

  constructor(private readonly options: SessionOptions) {}

  async run(buildFirst: boolean): Promise<number> {
    this.removeSignals = this.handleSignals();
    const { runDir, view } = this.options;
    const watcher = chokidar.watch(runDir, {
      ignoreInitial: true,
      ignored: (file) => isIgnoredPath(runDir, file),
      awaitWriteFinish: { stabilityThreshold: WRITE_SETTLE_MS, pollInterval: 50 },
    });
    this.watcher = watcher;
    for (const kind of ['add', 'change', 'unlink'] as const) watcher.on(kind, (file) => this.onFileEvent(file));
    watcher.on('error', (error) => view.note(`watch: ${errorMessage(error)}`));

    const ready = new Promise<void>((resolve) => watcher.once('ready', resolve));
    await Promise.race([ready, this.stopped]);
    if (this.stopReason !== null) return this.stopped;

    view.watch({ type: 'watch-started', runId: this.options.runId, runDir, db: this.options.location, files: this.countFiles(), at: Date.now() });
    if (buildFirst) void this.round('start');
    return this.stopped;
  }

  private onFileEvent(absolutePath: string): void {
    if (this.stopReason !== null) return;
    this.pending.add(runRelative(this.options.runDir, absolutePath));
    this.scheduleRound();
  }

  private scheduleRound(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.round('change');
    }, DEBOUNCE_MS);
  }

  /** One check of the pending changes and, when something matters (or on start), one rebuild. */
  private async round(trigger: 'start' | 'change'): Promise<void> {
    if (this.busy || this.stopReason !== null) return;
    if (trigger === 'change' && this.pending.size === 0) return;
    if (trigger === 'change' && this.waitForOtherBuild()) return;
    this.busy = true;
    try {
      let changes: FileChange[] = [];
      if (trigger === 'change') {
        const batch = [...this.pending];
        this.pending.clear();
        changes = await changesToRebuild(this.options.store, this.options.runId, this.options.runDir, batch);
      }
      if ((trigger === 'start' || changes.length > 0) && this.stopReason === null) await this.runRebuild(trigger, changes);
    } catch (error) {
      this.options.view.note(`watch: ${errorMessage(error)}`);
    } finally {
      this.busy = false;
      if (this.stopReason !== null) void this.stop();
      else if (this.pending.size > 0 && this.debounce === undefined) this.scheduleRound();
    }
  }

  private async runRebuild(trigger: 'start' | 'change', changes: FileChange[]): Promise<void> {
    const { view, runDir, db } = this.options;
    const started = Date.now();
    view.watch({
      type: 'rebuild-started',
      trigger,
      changed: changes.map((c) => c.path),
      removed: changes.filter((c) => c.kind === 'removed').map((c) => c.path),
      at: started,
    });
    this.rebuild = startRebuild({ runDir, db, onEvent: (event) => view.build(event), onStderrLine: (line) => view.note(line) });
    const result = await this.rebuild.done;
    this.rebuild = null;
    view.watch({ type: 'rebuild-finished', ...result, durationMs: Date.now() - started, files: this.countFiles(), at: Date.now() });
    // Another build took the run dir first: these changes are still to do (checked again once it ends).
    if (result.summary === null && /is being built by|could not take the lock/.test(result.error ?? '')) {
      for (const change of changes) this.pending.add(change.path);
    }
  }

  /**
   * While another process builds the run dir (a `plan build` in another terminal), wait for it instead of
   * failing against its lock: its writes may settle some of the pending changes, which the next check drops.
   */
  private waitForOtherBuild(): boolean {
    const holder = readHolder(path.join(this.options.runDir, LOCK_FILE));
    if (holder === null || !isAlive(holder)) {
      this.waitingForLock = false;
      return false;
    }
    if (!this.waitingForLock)
      this.options.view.note(`another build (pid ${holder.pid} on ${holder.host}) holds the run dir: rebuilding once it ends`);
    this.waitingForLock = true;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.round('change');
    }, LOCK_POLL_MS);
    return true;
  }

  /**
   * The first SIGINT/SIGTERM stops watching: a rebuild in progress gets the same signal (and, like `plan build`,
   * cancels its running tasks and records them), then the watcher closes. A second signal exits at once.
   */
  private handleSignals(): () => void {
    let received = 0;
    const handler = (signal: NodeJS.Signals): void => {
      received++;
      this.rebuild?.kill(signal);
      if (received > 1) process.exit(ExitCode.interrupted);
      this.stopReason = signal === 'SIGTERM' ? 'terminated' : 'interrupted';
      clearTimeout(this.debounce);
      this.debounce = undefined;
      if (!this.busy) void this.stop();
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  }

  private async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    try {
      await this.watcher?.close();
    } finally {
      this.removeSignals();
      this.options.view.watch({ type: 'watch-stopped', reason: this.stopReason ?? 'interrupted', at: Date.now() });
      this.finish(ExitCode.interrupted);
    }
  }

  /** Files in the run dir, leaving out the engine's own. */
  private countFiles(): number {
    let count = 0;
    try {
      for (const entry of fs.readdirSync(this.options.runDir, { recursive: true, withFileTypes: true })) {
        if (entry.isFile() && !isIgnoredPath(this.options.runDir, path.join(entry.parentPath, entry.name))) count++;
      }
    } catch {
      // The dir is gone (wiped while watched): nothing to count; the next rebuild makes it again.
    }
    return count;
  }
}
