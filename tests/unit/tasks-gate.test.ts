import { describe, expect, it } from 'vitest';
import type { ZodType } from 'zod';
import { isRetryable } from '../../src/engine/task.js';
import { answerJsonSchema } from '../../src/llm/json-schema.js';
import { offlineAnswer } from '../../src/llm/index.js';
import type { Completion, CompletionRequest, LlmClient, TextRequest } from '../../src/llm/types.js';
import { PLAN_TASK_CLASSES } from '../../src/tasks/catalog.js';
import type { PlanTask } from '../../src/tasks/plan-task.js';
import { IdentifyPurposeTask, PremiseAttackTask, RedlineGateTask, SetupTask } from '../../src/tasks/setup.js';
import { FakeLlm, config, memoryContext } from './tasks-fake.js';

const REFUSED = { verdict: 'REFUSE', rationale: 'It asks for a way to hurt people.', violation_category: 'weapons', severity: 'high' };

/** The files SetupTask writes, which the gate reads. */
async function setupFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const setup = new SetupTask(config());
  await setup.run(memoryContext(setup, files, new FakeLlm()));
  return files;
}

/** A model that answers like FakeLlm but says it is another model (`offline`, say), and keeps every request. */
class NamedModel implements LlmClient {
  readonly requests: CompletionRequest<unknown>[] = [];
  constructor(
    private readonly inner: LlmClient,
    private readonly model: string,
  ) {}
  get offline(): boolean {
    return this.model === 'offline';
  }
  async complete<T>(request: CompletionRequest<T>): Promise<Completion<T>> {
    this.requests.push(request as CompletionRequest<unknown>);
    return { ...(await this.inner.complete(request)), model: this.model };
  }
  completeText(request: TextRequest): Promise<Completion<string>> {
    return this.inner.completeText(request);
  }
  reject(completion: Completion<unknown>, reason: string) {
    return this.inner.reject(completion, reason);
  }
}

describe('the safety gate (RedlineGateTask)', () => {
  it('a REFUSE verdict fails the task with a non-retryable error that names the verdict and --allow-refused; nothing is written', async () => {
    const files = await setupFiles();
    const gate = new RedlineGateTask(config());
    const ctx = memoryContext(gate, files, new FakeLlm({ overrides: { redline_gate: REFUSED } }));
    const failure = await gate.run(ctx).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    expect(message).toContain('refused by the safety gate: REFUSE');
    expect(message).toContain('It asks for a way to hurt people.');
    expect(message).toContain('--allow-refused');
    expect(message).not.toContain('\n');
    expect(isRetryable(failure)).toBe(false);
    expect(files.has('002-1-redline_gate.json')).toBe(false);
  });

  it('with allowRefused the refused verdict is written and the task succeeds', async () => {
    const files = await setupFiles();
    const gate = new RedlineGateTask(config());
    const ctx = { ...memoryContext(gate, files, new FakeLlm({ overrides: { redline_gate: REFUSED } })), allowRefused: true };
    await gate.run(ctx);
    expect(JSON.parse(files.get('002-1-redline_gate.json')!).response.verdict).toBe('REFUSE');
    expect(files.get('002-2-redline_gate.md')).toContain('REFUSE');
  });

  it("the offline model's REFUSE does not stop the build: it cannot judge a prompt, and its file says so", async () => {
    const files = await setupFiles();
    const gate = new RedlineGateTask(config());
    await gate.run(memoryContext(gate, files, new NamedModel(new FakeLlm({ overrides: { redline_gate: REFUSED } }), 'offline')));
    expect(files.get('002-2-redline_gate.md')).toMatch(/offline model .* does not stop the build/);

    // Relayed by a server, the offline model's text still carries its mark.
    const relayed = new Map(await setupFiles());
    const marked = { ...REFUSED, rationale: '[offline] Bakery plan words.' };
    await gate.run(memoryContext(gate, relayed, new FakeLlm({ overrides: { redline_gate: marked } })));
    expect(relayed.get('002-2-redline_gate.md')).toMatch(/does not stop the build/);
  });

  it('comes before all planning: every task but StartTimeTask and SetupTask is downstream of it', () => {
    const known = new Map<string, boolean>();
    const downstream = (task: PlanTask): boolean => {
      let after = known.get(task.id);
      if (after === undefined) {
        after = task.requires().some((r) => r.id === 'RedlineGateTask' || downstream(r as PlanTask));
        known.set(task.id, after);
      }
      return after;
    };
    const notAfterGate = PLAN_TASK_CLASSES.map((Class) => new Class(config()))
      .filter((task) => task.id !== 'RedlineGateTask' && !downstream(task))
      .map((task) => task.id);
    expect(notAfterGate).toEqual(['StartTimeTask', 'SetupTask']);
  });

  it("the tasks that wait for it still prompt with the plan only, not with the gate's verdict", async () => {
    const files = await setupFiles();
    const gate = new RedlineGateTask(config());
    await gate.run(memoryContext(gate, files, new FakeLlm()));
    for (const Class of [PremiseAttackTask, IdentifyPurposeTask]) {
      const task = new Class(config());
      const llm = new NamedModel(new FakeLlm(), 'fake');
      await task.run(memoryContext(task, files, llm));
      for (const request of llm.requests) expect(request.messages.map((m) => m.content).join('\n')).not.toContain('redline_gate');
    }
  });
});

describe('the schemas of the plan pipeline', () => {
  /** Every structured request the whole pipeline makes, in memory. */
  async function allRequests(): Promise<CompletionRequest<unknown>[]> {
    const files = new Map<string, string>();
    const requests: CompletionRequest<unknown>[] = [];
    for (const Class of PLAN_TASK_CLASSES) {
      const task = new Class(config('fast'));
      const llm = new NamedModel(new FakeLlm({ overrides: { plan_type: { plan_type: 'physical' } } }), 'fake');
      await task.run(memoryContext(task, files, llm));
      requests.push(...llm.requests);
    }
    return requests;
  }

  it('require content: no string a model fills in may be empty, and the offline model still answers every schema validly', async () => {
    const requests = await allRequests();
    expect(requests.length).toBeGreaterThan(30);
    const emptyAllowed: string[] = [];
    const visit = (node: unknown, where: string): void => {
      if (Array.isArray(node)) {
        for (const [i, item] of node.entries()) visit(item, `${where}[${i}]`);
        return;
      }
      if (typeof node !== 'object' || node === null) return;
      const schema = node as Record<string, unknown>;
      if (schema.type === 'string' && schema.enum === undefined && !(typeof schema.minLength === 'number' && schema.minLength >= 1)) {
        emptyAllowed.push(where);
      }
      for (const [key, value] of Object.entries(schema)) visit(value, `${where}.${key}`);
    };
    for (const request of requests) {
      visit(answerJsonSchema(request.schema), request.schemaName);
      const answer = offlineAnswer({ messages: request.messages, json: { name: request.schemaName, schema: answerJsonSchema(request.schema) } });
      expect(() => (request.schema as ZodType).parse(JSON.parse(answer)), request.schemaName).not.toThrow();
    }
    expect([...new Set(emptyAllowed)]).toEqual([]);
  });
});
