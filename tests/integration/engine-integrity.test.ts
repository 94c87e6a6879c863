import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { build } from '../../src/engine/build.js';
import { EventBus, type BuildEvent } from '../../src/engine/events.js';
import { Task } from '../../src/engine/task.js';
import { file, type Outputs } from '../../src/engine/target.js';
import type { AttemptScope, TaskContext } from '../../src/engine/context.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../support/cli.js';

// What the engine promises about a run's record, each scenario a way it used to break: nothing a person wrote
// or a build stored is lost or mixed up, and nothing is left running after the build returns.

let dir: string;
let runDir: string;
let dbFile: string;
let store: Store;
let runId: string;
beforeEach(async () => {
  dir = tempDir('plan-integrity-');
  runDir = path.join(dir, 'run');
  dbFile = path.join(dir, 'plan.db');
  store = await openStore(dbFile);
  runId = (await store.createRun({ runDir, pipeline: 'test', params: {} })).id;
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

function rows<T>(sql: string, ...args: unknown[]): T[] {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

/** Decodes a plan_content row's bytes (raw, or deflated) as the store stores them. */
function contentBytes(row: { encoding: string; data: Buffer }): Buffer {
  return row.encoding === 'deflate' ? inflateRawSync(row.data) : row.data;
}

class Writer extends Task<object, { name: string }> {
  constructor(
    name: string,
    private readonly files: Record<string, string>,
    private readonly deps: Task[] = [],
  ) {
    super({ name });
  }
  requires(): Task[] {
    return this.deps;
  }
  output(): Outputs {
    return file(`${this.params.name}.txt`);
  }
  async run(ctx: TaskContext): Promise<void> {
    ctx.write(`${this.params.name}.txt`, this.params.name);
    for (const [filePath, text] of Object.entries(this.files)) ctx.write(filePath, text);
  }
}

describe('a file belongs to one task', () => {
  it('two tasks writing the same undeclared extra path: the second fails, naming the owner, and the file keeps the first one bytes', async () => {
    const a = new Writer('a', { 'items/shared.txt': 'from a' });
    const b = new Writer('b', { 'items/shared.txt': 'from b' }, [a]);
    const result = await build({ roots: [b], runDir, runId, store, keepGoing: true });
    expect(result.status).toBe('failed');
    expect(result.summary.failed).toEqual(['Writer(name=b)']);
    expect(fs.readFileSync(path.join(runDir, 'items/shared.txt'), 'utf8')).toBe('from a');
    const again = await build({ roots: [b], runDir, runId, store, dryRun: true });
    expect(again.decisions.get('Writer(name=a)')?.state).toBe('fresh');
    expect(again.decisions.get('Writer(name=b)')?.state).not.toBe('fresh');
  });

  it('two tasks running at once that write the same extra path: only one of them stores it', async () => {
    const a = new Writer('a', { 'items/shared.txt': 'from a' });
    const b = new Writer('b', { 'items/shared.txt': 'from b' });
    const result = await build({ roots: [a, b], runDir, runId, store, keepGoing: true, concurrency: 2 });
    expect(result.summary.failed).toHaveLength(1);
    const owners = rows<{ task_id: string }>(`SELECT DISTINCT task_id FROM plan_content WHERE path = 'items/shared.txt'`);
    expect(owners).toHaveLength(1);
    expect(fs.readFileSync(path.join(runDir, 'items/shared.txt'), 'utf8')).toBe(owners[0]!.task_id === 'Writer(name=a)' ? 'from a' : 'from b');
  });
});

describe('stored content', () => {
  it('a stale hash-cache entry never stores one sha with other bytes: every row sha256 is the hash of its bytes', async () => {
    const a = new Writer('a', {});
    expect((await build({ roots: [a], runDir, runId, store })).status).toBe('success');
    // The cache says a.txt has another hash than the file holds (as a cache entry from another moment would).
    const stat = fs.statSync(path.join(runDir, 'a.txt'), { bigint: true });
    const wrong = sha256('something else');
    await store.saveFileStats(runId, [
      {
        path: 'a.txt',
        size: Number(stat.size),
        mtimeNs: stat.mtimeNs,
        ctimeNs: stat.ctimeNs,
        ino: stat.ino,
        sha256: wrong,
        statAtNs: stat.ctimeNs + 10n ** 9n,
      },
    ]);
    await build({ roots: [a], runDir, runId, store });
    const stored = rows<{ sha256: string; encoding: string; data: Buffer; source: string }>(
      'SELECT sha256, encoding, data, source FROM plan_content',
    );
    for (const row of stored) expect(sha256(contentBytes(row))).toBe(row.sha256);
    expect(stored.map((r) => r.source)).toEqual(['task']);
  });
});

describe('an error of the build itself', () => {
  it('stops every running task, waits for all of them, and only then rejects', async () => {
    const log: string[] = [];
    class Failing extends Task {
      output(): Outputs {
        return file('failing.txt');
      }
      async run(): Promise<void> {
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('on purpose');
      }
    }
    class Slow extends Task {
      output(): Outputs {
        return file('slow.txt');
      }
      async run(ctx: TaskContext): Promise<void> {
        try {
          // A long model call, say: it goes on until the build aborts it.
          await new Promise((resolve, reject) => {
            const timer = setTimeout(resolve, 3_000);
            ctx.signal.addEventListener(
              'abort',
              () => {
                clearTimeout(timer);
                reject(ctx.signal.reason);
              },
              { once: true },
            );
          });
          log.push('slow finished its call');
        } finally {
          log.push('slow settled');
        }
        ctx.write('slow.txt', 'slow');
      }
    }
    // The database fails when the failing task's attempt is ended (SQLITE_BUSY past the timeout, say).
    const faulty = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'endAttempt') {
          return async (id: number, status: string, error: string | null) => {
            if (error === 'on purpose') throw new Error('database is locked');
            return target.endAttempt(id, status as 'failed', error);
          };
        }
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    await expect(build({ roots: [new Failing(), new Slow()], runDir, runId, store: faulty, concurrency: 2 })).rejects.toThrow('database is locked');
    log.push('build rejected');
    expect(log).toEqual(['slow settled', 'build rejected']);
    // And the run dir's lock is free: the next build can start.
    const next = await build({ roots: [new Writer('after', {})], runDir, runId, store });
    expect(next.status).toBe('success');
  });
});

describe('cancel requests', () => {
  it('a cancel requested while the build is starting is not erased by the start', async () => {
    const startedAt = Date.now() - 5;
    // `plan cancel` lands while the build recovers (after it was asked for, before it marks the run running).
    const racing = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'abandonRunningAttempts') {
          return async (id: string) => {
            await target.updateRun(id, { cancelRequested: true });
            return target.abandonRunningAttempts(id);
          };
        }
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    await build({ roots: [new Writer('a', {})], runDir, runId, store: racing, startedAt });
    expect((await store.getRun(runId))?.cancelRequestedAt).not.toBeNull();
  });

  it('a cancel request older than the build is cleared when it starts', async () => {
    await store.updateRun(runId, { cancelRequested: true });
    await new Promise((r) => setTimeout(r, 5));
    await build({ roots: [new Writer('a', {})], runDir, runId, store });
    expect((await store.getRun(runId))?.cancelRequestedAt).toBeNull();
  });
});

describe('an error after persist', () => {
  it('is stored on the attempt, which stays persisted, is not replayed from, and the next build writes its files', async () => {
    const seen: AttemptScope[] = [];
    class Nested extends Task {
      override readonly retries = 0;
      output(): Outputs {
        return file('sub/out.txt');
      }
      async run(ctx: TaskContext): Promise<void> {
        ctx.write('sub/out.txt', 'nested');
      }
    }
    fs.mkdirSync(runDir, { recursive: true });
    // A file where the output's folder should be: persisting works, writing the file cannot.
    fs.writeFileSync(path.join(runDir, 'sub'), 'in the way');
    const events: BuildEvent[] = [];
    const bus = new EventBus();
    bus.on((e) => events.push(e));
    const services = (scope: AttemptScope): object => {
      seen.push(scope);
      return {};
    };
    const first = await build({ roots: [new Nested()], runDir, runId, store, events: bus, services });
    expect(first.status).toBe('failed');
    const [attempt] = await store.listAttempts(runId, 'Nested');
    expect(attempt).toMatchObject({ status: 'persisted', error: expect.stringContaining('writing its files failed') });
    expect(events.find((e) => e.type === 'task-failed')).toMatchObject({ error: expect.stringContaining('ENOTDIR'), retryInMs: null });

    fs.rmSync(path.join(runDir, 'sub'));
    const second = await build({ roots: [new Nested()], runDir, runId, store, services });
    expect(second.status).toBe('success');
    expect(second.summary.recovered).toBe(1);
    expect(second.summary.ran).toBe(0);
    expect(fs.readFileSync(path.join(runDir, 'sub/out.txt'), 'utf8')).toBe('nested');
    expect(seen).toHaveLength(1);
  });
});

describe('dry run', () => {
  it('gives each decision a cause as data: a task downstream of one that will run is stale because of it', async () => {
    const a = new Writer('a', {});
    const b = new Writer('b', {}, [a]);
    await build({ roots: [b], runDir, runId, store });
    fs.rmSync(path.join(runDir, 'a.txt'));
    const dry = await build({ roots: [b], runDir, runId, store, dryRun: true });
    expect(dry.decisions.get('Writer(name=a)')?.cause).toEqual({ kind: 'output-missing', paths: ['a.txt'] });
    expect(dry.decisions.get('Writer(name=b)')?.cause).toEqual({ kind: 'upstream-will-run', upstream: 'Writer(name=a)' });
    expect(dry.decisions.get('Writer(name=b)')?.reason).toBe('upstream Writer(name=a) will run');
  });
});
