import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { build } from '../../src/engine/build.js';
import { EventBus, type BuildEvent } from '../../src/engine/events.js';
import { Task, RetryableError } from '../../src/engine/task.js';
import { file, type Outputs } from '../../src/engine/target.js';
import type { TaskContext } from '../../src/engine/context.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../support/cli.js';

let dir: string;
let runDir: string;
let store: SqliteStore;
let runId: string;
beforeEach(async () => {
  dir = tempDir('plan-engine-');
  runDir = path.join(dir, 'run');
  store = await openSqliteStore(path.join(dir, 'plan.db'));
  runId = (await store.createRun({ runDir, pipeline: 'test', params: {} })).id;
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function recorder(): { bus: EventBus; events: BuildEvent[] } {
  const bus = new EventBus();
  const events: BuildEvent[] = [];
  bus.on((e) => events.push(e));
  return { bus, events };
}

/** Tracks how many tasks run at once. */
const gauge = { now: 0, max: 0 };

class Leaf extends Task<object, { n: number }> {
  override readonly resources: Record<string, number>;
  constructor(n: number, resources: Record<string, number> = {}) {
    super({ n });
    this.resources = resources;
  }
  output(): Outputs {
    return file(`leaf-${this.params.n}.txt`);
  }
  async run(ctx: TaskContext): Promise<void> {
    gauge.now++;
    gauge.max = Math.max(gauge.max, gauge.now);
    await new Promise((r) => setTimeout(r, 30));
    gauge.now--;
    ctx.write(this.output() as never, `leaf ${this.params.n}`);
  }
}

class Fan extends Task {
  constructor(private readonly leaves: Task[]) {
    super();
  }
  requires(): Task[] {
    return this.leaves;
  }
  output(): Outputs {
    return file('fan.txt');
  }
  async run(ctx: TaskContext): Promise<void> {
    ctx.write('fan.txt', String(this.leaves.length));
  }
}

describe('build (in process)', () => {
  beforeEach(() => {
    gauge.now = 0;
    gauge.max = 0;
  });

  it('runs at most -j tasks at once', async () => {
    const leaves = Array.from({ length: 8 }, (_, n) => new Leaf(n));
    const result = await build({ roots: [new Fan(leaves)], runDir, runId, store, concurrency: 3 });
    expect(result.status).toBe('success');
    expect(result.summary.ran).toBe(9);
    expect(gauge.max).toBe(3);
  });

  it('holds tasks back while their resource pool is full', async () => {
    const leaves = Array.from({ length: 6 }, (_, n) => new Leaf(n, { gpu: 1 }));
    await build({ roots: [new Fan(leaves)], runDir, runId, store, concurrency: 6, pools: { gpu: 2 } });
    expect(gauge.max).toBe(2);
  });

  it('cancels running tasks when the signal aborts: recorded cancelled, no files, resumable', async () => {
    const controller = new AbortController();
    const { bus, events } = recorder();
    bus.on((e) => {
      if (e.type === 'task-started' && events.filter((x) => x.type === 'task-started').length === 2) controller.abort();
    });
    const leaves = Array.from({ length: 4 }, (_, n) => new Leaf(n));
    const result = await build({ roots: [new Fan(leaves)], runDir, runId, store, concurrency: 2, signal: controller.signal, events: bus });
    expect(result.status).toBe('cancelled');
    expect(result.summary.cancelled).toHaveLength(2);
    expect(fs.readdirSync(runDir).filter((f) => f.endsWith('.txt'))).toEqual([]);
    const attempts = await store.listAttempts(runId);
    expect(attempts.map((a) => a.status)).toEqual(['cancelled', 'cancelled']);
    expect((await store.getRun(runId))?.status).toBe('cancelled');

    const resumed = await build({ roots: [new Fan(leaves)], runDir, runId, store });
    expect(resumed.status).toBe('success');
    expect(resumed.summary.ran).toBe(5);
  });

  it('hands services the ids of earlier attempts that never persisted, for replay', async () => {
    const seen: number[][] = [];
    let tries = 0;
    class Flaky extends Task<{ note: string }> {
      override readonly retries = 3;
      output(): Outputs {
        return file('flaky.txt');
      }
      async run(ctx: TaskContext & { note: string }): Promise<void> {
        tries++;
        if (tries < 3) throw new RetryableError(`try ${tries} failed`);
        ctx.write('flaky.txt', ctx.note);
      }
    }
    const result = await build({
      roots: [new Flaky()],
      runDir,
      runId,
      store,
      backoff: { baseDelayMs: 1, maxDelayMs: 2 },
      services: (scope) => {
        seen.push([...scope.replayableAttemptIds]);
        return { note: `attempt ${scope.attemptId}` };
      },
    });
    expect(result.status).toBe('success');
    const attempts = (await store.listAttempts(runId)).map((a) => a.id);
    expect(seen).toEqual([[], [attempts[0]], [attempts[0], attempts[1]]]);
    expect(fs.readFileSync(path.join(runDir, 'flaky.txt'), 'utf8')).toBe(`attempt ${attempts[2]}`);
  });

  it('removes extra files a rebuild no longer writes', async () => {
    let items = 3;
    class Items extends Task {
      override readonly version = String(items);
      output(): Outputs {
        return file('items.json');
      }
      async run(ctx: TaskContext): Promise<void> {
        for (let i = 1; i <= items; i++) ctx.write(`items/${i}.txt`, `item ${i}`);
        ctx.write('items.json', JSON.stringify(items));
      }
    }
    await build({ roots: [new Items()], runDir, runId, store });
    expect(fs.readdirSync(path.join(runDir, 'items')).sort()).toEqual(['1.txt', '2.txt', '3.txt']);
    items = 2;
    await build({ roots: [new Items()], runDir, runId, store });
    expect(fs.readdirSync(path.join(runDir, 'items')).sort()).toEqual(['1.txt', '2.txt']);
  });

  it('adopts outputs already in a dir it never built instead of overwriting them', async () => {
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(path.join(runDir, 'leaf-1.txt'), 'made by hand');
    const { bus, events } = recorder();
    const result = await build({ roots: [new Leaf(1)], runDir, runId, store, events: bus });
    expect(result.summary.ran).toBe(0);
    expect(events.find((e) => e.type === 'task-decided')).toMatchObject({ state: 'fresh', reason: 'adopted the files already in the run dir' });
    expect(fs.readFileSync(path.join(runDir, 'leaf-1.txt'), 'utf8')).toBe('made by hand');
    expect((await store.readContent(runId, 'leaf-1.txt'))?.toString()).toBe('made by hand');
  });

  it('fails a task whose output path is a directory, with a message saying what to do', async () => {
    fs.mkdirSync(path.join(runDir, 'leaf-2.txt'), { recursive: true });
    const { bus, events } = recorder();
    const result = await build({ roots: [new Leaf(2)], runDir, runId, store, events: bus });
    expect(result.status).toBe('failed');
    expect(events.find((e) => e.type === 'task-failed')).toMatchObject({
      error: 'output leaf-2.txt is a directory, not a file: remove it and build again',
    });
  });

  it('fails a task that does not write a declared output, persisting nothing', async () => {
    class Lazy extends Task {
      output(): Outputs {
        return { a: file('a.txt'), b: file('b.txt') };
      }
      async run(ctx: TaskContext): Promise<void> {
        ctx.write('a.txt', 'only a');
      }
    }
    const { bus, events } = recorder();
    const result = await build({ roots: [new Lazy()], runDir, runId, store, events: bus });
    expect(result.status).toBe('failed');
    expect(events.find((e) => e.type === 'task-failed')).toMatchObject({ error: 'did not write its declared output b.txt' });
    expect(await store.listContentVersions(runId)).toEqual([]);
    expect(fs.existsSync(path.join(runDir, 'a.txt'))).toBe(false);
  });
});
