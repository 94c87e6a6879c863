import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { build } from '../../src/engine/build.js';
import { EventBus, type BuildEvent } from '../../src/engine/events.js';
import { Task } from '../../src/engine/task.js';
import { file, type Outputs } from '../../src/engine/target.js';
import type { TaskContext } from '../../src/engine/context.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../support/cli.js';

// A task reads only what its stamp is made of: otherwise an edit of what it read would never make it stale.

let dir: string;
let runDir: string;
let store: Store;
let runId: string;
beforeEach(async () => {
  dir = tempDir('plan-inputs-');
  runDir = path.join(dir, 'run');
  store = await openStore(path.join(dir, 'plan.db'));
  runId = (await store.createRun({ runDir, pipeline: 'test', params: {} })).id;
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

class Source extends Task<object, { name: string }> {
  constructor(name: string) {
    super({ name });
  }
  output(): Outputs {
    return file(`${this.params.name}.txt`);
  }
  async run(ctx: TaskContext): Promise<void> {
    ctx.write(`${this.params.name}.txt`, `text of ${this.params.name}`);
  }
}

/** Reads `reads` (run-dir paths or absolute ones) and writes what it read. */
class Reader extends Task<object, { name: string }> {
  constructor(
    name: string,
    private readonly deps: Task[],
    private readonly reads: string[],
    private readonly external: string[] = [],
  ) {
    super({ name });
  }
  requires(): Task[] {
    return this.deps;
  }
  externalInputs(): readonly string[] {
    return this.external;
  }
  output(): Outputs {
    return file(`${this.params.name}.out`);
  }
  async run(ctx: TaskContext): Promise<void> {
    const parts = await Promise.all(this.reads.map((p) => ctx.read(p)));
    ctx.write(`${this.params.name}.out`, parts.join('\n'));
  }
}

function recorder(): { bus: EventBus; events: BuildEvent[] } {
  const bus = new EventBus();
  const events: BuildEvent[] = [];
  bus.on((e) => events.push(e));
  return { bus, events };
}

describe('inputs the engine can see', () => {
  it('a read of a file that is not an output of a required task fails the task, naming the file and what to do, without retries', async () => {
    const other = new Source('other');
    const reader = new Reader('reader', [new Source('mine')], ['mine.txt', 'other.txt']);
    const { bus, events } = recorder();
    const result = await build({ roots: [other, reader], runDir, runId, store, events: bus, concurrency: 1 });
    expect(result.status).toBe('failed');
    const failures = events.filter((e) => e.type === 'task-failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      taskId: 'Reader(name=reader)',
      retryInMs: null,
      error: expect.stringContaining('undeclared input other.txt: add the task that writes it to requires() of Reader(name=reader)'),
    });
  });

  it('reads the outputs of what it requires, declared and extra', async () => {
    const reader = new Reader('reader', [new Source('a'), new Source('b')], ['a.txt', 'b.txt']);
    expect((await build({ roots: [reader], runDir, runId, store })).status).toBe('success');
    expect(fs.readFileSync(path.join(runDir, 'reader.out'), 'utf8')).toBe('text of a\ntext of b');
  });

  it('a file outside the run dir named in externalInputs() is read, and editing it makes only that task stale', async () => {
    const outside = path.join(dir, 'glossary.md');
    fs.writeFileSync(outside, 'v1');
    const roots = (): Task[] => [new Reader('uses-it', [], [outside], [outside]), new Reader('plain', [new Source('a')], ['a.txt'])];
    expect((await build({ roots: roots(), runDir, runId, store })).status).toBe('success');
    expect(fs.readFileSync(path.join(runDir, 'uses-it.out'), 'utf8')).toBe('v1');

    fs.writeFileSync(outside, 'v2');
    const dry = await build({ roots: roots(), runDir, runId, store, dryRun: true });
    expect(dry.decisions.get('Reader(name=uses-it)')).toMatchObject({ state: 'stale', cause: { kind: 'input-changed', path: outside } });
    expect(dry.decisions.get('Reader(name=plain)')?.state).toBe('fresh');
    const rebuilt = await build({ roots: roots(), runDir, runId, store });
    expect(rebuilt.summary.ran).toBe(1);
    expect(fs.readFileSync(path.join(runDir, 'uses-it.out'), 'utf8')).toBe('v2');
  });

  it('an absolute path not named in externalInputs() is refused', async () => {
    const outside = path.join(dir, 'secret.txt');
    fs.writeFileSync(outside, 'no');
    const { bus, events } = recorder();
    await build({ roots: [new Reader('sneaky', [], [outside])], runDir, runId, store, events: bus });
    expect(events.find((e) => e.type === 'task-failed')).toMatchObject({ error: expect.stringContaining(`undeclared input ${outside}`) });
  });

  it('a relative path in externalInputs() is a usage error', async () => {
    await expect(build({ roots: [new Reader('bad', [], [], ['relative.txt'])], runDir, runId, store })).rejects.toThrow(
      "Reader(name=bad): externalInputs() must name absolute paths, not 'relative.txt'",
    );
  });
});
