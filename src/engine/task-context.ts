import fs from 'node:fs';
import path from 'node:path';
import { FileTarget, checkTargetPath } from './target.js';
import type { TaskContext } from './context.js';
import type { Task } from './task.js';
import type { BuildEvent } from './events.js';

/** The ctx of one attempt: reads go to the run dir, writes collect in `written` until the engine persists them. */
export class AttemptContext implements TaskContext {
  readonly written = new Map<string, Buffer>();

  constructor(
    readonly task: Task,
    readonly runId: string,
    readonly runDir: string,
    readonly attemptId: number,
    readonly signal: AbortSignal,
    private readonly emit: (event: BuildEvent) => void,
  ) {}

  async read(target: FileTarget | string): Promise<string> {
    return (await this.readBytes(target)).toString('utf8');
  }

  async readBytes(target: FileTarget | string): Promise<Buffer> {
    // Synchronous on purpose: inputs are small local files, and the promise API's open/fstat/read/close round
    // trips through the thread pool cost more than the read (a third of a 10k-task build).
    return fs.readFileSync(path.join(this.runDir, safePath(target)));
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

function safePath(target: FileTarget | string): string {
  const relativePath = target instanceof FileTarget ? target.path : target;
  const problem = checkTargetPath(relativePath);
  if (problem !== null) throw new Error(`path '${relativePath}' ${problem}`);
  return relativePath;
}
