import fs from 'node:fs';
import path from 'node:path';
import { FileHasher, sha256, type FileState } from './hasher.js';
import { UsageError } from './errors.js';
import { stampHead, stampText, type Stamp } from './stamp.js';
import type { TaskGraph } from './graph.js';
import type { AttemptRecord, RunSnapshot } from '../store/store.js';

/**
 * What a build knows of its run as it goes: the snapshot read from the store (updated as tasks complete), the
 * hash cache, the sha256 of every known file (what dependents' stamps are made of), and who owns which file.
 */
export class RunState<S extends object> {
  readonly hasher: FileHasher;
  /** sha256 of every known file of the run, as the build goes. */
  readonly currentSha = new Map<string, string>();
  private readonly outputPathsCache = new Map<string, readonly string[]>();
  private readonly stampHeads = new Map<string, string>();
  /** Owner of every file a task of the pipeline has built (declared or extra), made on first need. */
  private builtOwners: Map<string, string> | undefined;
  /** Extra files tasks running now have written, until they complete or fail. */
  private readonly claims = new Map<string, string>();

  constructor(
    readonly graph: TaskGraph<S>,
    /** Every task of the pipeline (more than `graph` under `--until`). */
    private readonly all: TaskGraph<S>,
    runDir: string,
    readonly snapshot: RunSnapshot,
  ) {
    this.hasher = new FileHasher(runDir, snapshot.fileStats);
  }

  /** The task's outputs (declared, or extra of its build) that a person pinned. */
  pinnedOutputs(taskId: string): string[] {
    const { pinned } = this.snapshot;
    if (pinned.size === 0) return NONE;
    const paths = [...this.graph.outputs.get(taskId)!, ...Object.keys(this.snapshot.built.get(taskId)?.outputs ?? {})];
    return [...new Set(paths.filter((p) => pinned.has(p)))];
  }

  /** Declared outputs plus the extra files the built attempt wrote. */
  outputStates(taskId: string, built: AttemptRecord | undefined): Map<string, FileState> {
    const states = new Map<string, FileState>();
    for (const filePath of this.graph.outputs.get(taskId)!) states.set(filePath, this.hasher.state(filePath));
    for (const filePath of Object.keys(built?.outputs ?? {})) {
      if (!states.has(filePath)) states.set(filePath, this.hasher.state(filePath));
    }
    return states;
  }

  currentStamp(taskId: string): Stamp {
    const task = this.graph.tasks.get(taskId)!;
    const inputs: Record<string, string> = {};
    for (const filePath of this.knownInputs(taskId)) inputs[filePath] = this.currentSha.get(filePath)!;
    return { version: task.version, params: task.stampParams(), inputs };
  }

  /** The text of `currentStamp(taskId)`, built without the record (the head is cached: it holds no input). */
  stampText(taskId: string): string {
    let head = this.stampHeads.get(taskId);
    if (head === undefined) {
      const task = this.graph.tasks.get(taskId)!;
      head = stampHead(task.version, task.stampParams());
      this.stampHeads.set(taskId, head);
    }
    const paths = this.knownInputs(taskId);
    if (paths.length > 1) paths.sort();
    return stampText(head, paths, (filePath) => this.currentSha.get(filePath)!);
  }

  /**
   * Outputs of a task that hold something else than its built attempt wrote — a person's edit (stored as a
   * version when the build met it) — which running the task would write over. Needs the outputs decided first.
   */
  editedOutputs(taskId: string): { path: string; sha256: string }[] {
    const built = this.snapshot.built.get(taskId)?.outputs;
    if (built == null) return [];
    const edited: { path: string; sha256: string }[] = [];
    for (const [filePath, sha] of Object.entries(built)) {
      const now = this.currentSha.get(filePath);
      if (now !== undefined && now !== sha) edited.push({ path: filePath, sha256: now });
    }
    return edited;
  }

  /** Outputs of a task on disk (their sha known) that the database holds no version of. */
  unseenOutputs(taskId: string): string[] {
    const built = this.snapshot.built.get(taskId)?.outputs ?? {};
    const paths = [...new Set([...this.graph.outputs.get(taskId)!, ...Object.keys(built)])];
    return paths.filter((p) => this.currentSha.has(p) && !this.snapshot.latestContent.has(p));
  }

  /** A task's attempt reached `complete` (it ran, or was adopted): what it wrote is now the run's. */
  noteBuilt(taskId: string, attempt: AttemptRecord): void {
    const before = this.snapshot.built.get(taskId)?.outputs ?? {};
    this.snapshot.built.set(taskId, attempt);
    this.outputPathsCache.delete(taskId);
    this.snapshot.replayable.delete(taskId);
    const outputs = attempt.outputs ?? {};
    for (const [filePath, sha] of Object.entries(outputs)) {
      this.currentSha.set(filePath, sha);
      this.snapshot.latestContent.set(filePath, sha);
      this.builtOwners?.set(filePath, taskId);
      if (this.claims.get(filePath) === taskId) this.claims.delete(filePath);
    }
    for (const filePath of Object.keys(before)) {
      if (!(filePath in outputs) && this.builtOwners?.get(filePath) === taskId) this.builtOwners.delete(filePath);
    }
  }

  /**
   * A file belongs to one task. Before a task's undeclared (extra) files are persisted: the first file that
   * another task of the pipeline declares, has built, or is writing in this build, with that task; else the
   * files are claimed for this task until it completes or `releaseClaims` is called.
   */
  claimExtras(taskId: string, paths: readonly string[]): { path: string; owner: string } | null {
    for (const filePath of paths) {
      const owner = this.all.ownerOf.get(filePath) ?? this.claims.get(filePath) ?? this.ownerFromBuilds(filePath);
      if (owner !== undefined && owner !== taskId) return { path: filePath, owner };
    }
    for (const filePath of paths) this.claims.set(filePath, taskId);
    return null;
  }

  releaseClaims(taskId: string): void {
    for (const [filePath, owner] of this.claims) if (owner === taskId) this.claims.delete(filePath);
  }

  /** The task of the pipeline whose built attempt wrote this file, if any (tasks that left it do not count). */
  private ownerFromBuilds(filePath: string): string | undefined {
    if (this.builtOwners === undefined) {
      this.builtOwners = new Map();
      for (const [taskId, attempt] of this.snapshot.built) {
        if (!this.all.tasks.has(taskId)) continue;
        for (const path of Object.keys(attempt.outputs ?? {})) this.builtOwners.set(path, taskId);
      }
    }
    return this.builtOwners.get(filePath);
  }

  /** The run-dir files a task may read: its dependencies' outputs whose sha256 is known (what its stamp holds). */
  runDirInputs(taskId: string): string[] {
    const paths: string[] = [];
    for (const dep of this.graph.requires.get(taskId)!) {
      for (const filePath of this.outputPaths(dep)) if (this.currentSha.has(filePath)) paths.push(filePath);
    }
    return paths;
  }

  /** What its stamp is made of: the run-dir inputs, and its external inputs (absolute paths, hashed once a build). */
  private knownInputs(taskId: string): string[] {
    const paths = this.runDirInputs(taskId);
    const external = this.graph.tasks.get(taskId)!.externalInputs();
    for (const filePath of external) {
      if (!path.isAbsolute(filePath)) throw new UsageError(`${taskId}: externalInputs() must name absolute paths, not '${filePath}'`);
      if (!this.currentSha.has(filePath)) this.currentSha.set(filePath, externalSha(filePath));
      paths.push(filePath);
    }
    return paths;
  }

  /** A task's declared outputs and the extra files its current build wrote; cached until it builds again. */
  private outputPaths(taskId: string): readonly string[] {
    let paths = this.outputPathsCache.get(taskId);
    if (paths === undefined) {
      const declared = this.graph.outputs.get(taskId)!;
      const extras = Object.keys(this.snapshot.built.get(taskId)?.outputs ?? {}).filter((p) => !declared.includes(p));
      paths = extras.length === 0 ? declared : [...declared, ...extras];
      this.outputPathsCache.set(taskId, paths);
    }
    return paths;
  }
}

const NONE: string[] = [];

/** The sha256 of a file outside the run dir, or 'missing' (a stamp that changes once the file appears). */
function externalSha(filePath: string): string {
  try {
    return sha256(fs.readFileSync(filePath));
  } catch {
    return 'missing';
  }
}
