import fs from 'node:fs';
import path from 'node:path';
import { FileTarget, checkTargetPath } from './target.js';
import type { TaskContext } from './context.js';
import type { Task } from './task.js';
import type { BuildEvent } from './events.js';

/**
 * The ctx of one attempt: reads go to the run dir, writes collect in `written` until the engine persists them.
 * A task may read only what its stamp is made of — the outputs of the tasks it requires, and the files outside
 * the run dir it names in `externalInputs()` — since a read the engine cannot see would never make it stale.
 */
export class AttemptContext implements TaskContext {
  readonly written = new Map<string, Buffer>();
  private inputSet: ReadonlySet<string> | undefined;

  constructor(
    readonly task: Task,
    readonly runId: string,
    readonly runDir: string,
    readonly attemptId: number,
    readonly signal: AbortSignal,
    private readonly emit: (event: BuildEvent) => void,
    /** The run-dir files the task's stamp holds (made on the first read). */
    private readonly inputs: () => Iterable<string>,
  ) {}

  async read(target: FileTarget | string): Promise<string> {
    return (await this.readBytes(target)).toString('utf8');
  }

  async readBytes(target: FileTarget | string): Promise<Buffer> {
    // Synchronous on purpose: inputs are small local files, and the promise API's open/fstat/read/close round
    // trips through the thread pool cost more than the read (a third of a 10k-task build).
    if (typeof target === 'string' && path.isAbsolute(target)) {
      if (!this.task.externalInputs().includes(target)) {
        throw new UndeclaredInputError(`undeclared input ${target}: a file outside the run dir must be named in externalInputs() of ${this.task.id}`);
      }
      return fs.readFileSync(target);
    }
    const relativePath = safePath(target);
    this.inputSet ??= new Set(this.inputs());
    if (!this.inputSet.has(relativePath)) {
      throw new UndeclaredInputError(
        `undeclared input ${relativePath}: add the task that writes it to requires() of ${this.task.id} (a read the engine cannot see would never make the task stale)`,
      );
    }
    return fs.readFileSync(path.join(this.runDir, relativePath));
  }

  write(target: FileTarget | string, content: string | Uint8Array): void {
    if (this.signal.aborted) throw this.signal.reason ?? new Error('the attempt was cancelled');
    const relativePath = safePath(target);
    this.written.set(relativePath, typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content));
  }

  log(message: string): void {
    this.emit({ type: 'task-log', taskId: this.task.id, attemptId: this.attemptId, message });
  }
}

/** A task read a file its stamp does not hold: a mistake in the pipeline, not worth a retry. */
export class UndeclaredInputError extends Error {
  override name = 'UndeclaredInputError';
}

function safePath(target: FileTarget | string): string {
  const relativePath = target instanceof FileTarget ? target.path : target;
  const problem = checkTargetPath(relativePath);
  if (problem !== null) throw new Error(`path '${relativePath}' ${problem}`);
  return relativePath;
}
