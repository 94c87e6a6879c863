import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RejectedAnswerError } from '../../src/llm/errors.js';
import type { Completion, CompletionRequest, LlmClient } from '../../src/llm/types.js';
import { PLAN_TASK_CLASSES } from '../../src/tasks/catalog.js';
import { planPipeline } from '../../src/tasks/pipeline.js';
import type { PlanConfig, PlanTask } from '../../src/tasks/plan-task.js';
import { askEach } from '../../src/tasks/support/conversation.js';
import { FakeLlm, type FakeCall, config, memoryContext } from './tasks-fake.js';

/** The tasks `--conversations parallel` changes: the review tail. */
const TAIL = ['ExecutiveSummaryTask', 'PremortemTask', 'QuestionsAndAnswersTask', 'ReviewPlanTask', 'SelfAuditTask'];
/** The conversations it asks as separate calls, and how many questions each has (full mode). */
const QUESTIONS: Record<string, number> = { ReviewPlanTask: 16, QuestionsAndAnswersTask: 2, PremortemTask: 3, SelfAuditTask: 20 };

const parallel = (speed: PlanConfig['speed'] = 'full'): PlanConfig => ({ ...config(speed), conversations: 'parallel' });
const physical = { overrides: { plan_type: { plan_type: 'physical' } } };
const tasksOf = (cfg: PlanConfig): PlanTask[] => PLAN_TASK_CLASSES.map((TaskClass) => new TaskClass(cfg));
const ids = (tasks: readonly { id: string }[]): string[] => tasks.map((t) => t.id);

/** Builds every task in catalogue order in memory; the files, each task's calls, and which required tasks it read. */
async function buildAll(cfg: PlanConfig) {
  const files = new Map<string, string>();
  const calls: Record<string, FakeCall[]> = {};
  const unread: Record<string, string[]> = {};
  for (const TaskClass of PLAN_TASK_CLASSES) {
    const task = new TaskClass(cfg);
    const llm = new FakeLlm(physical);
    const ctx = memoryContext(task, files, llm);
    const owner = new Map(task.requires().flatMap((r) => Object.values(r.output()).map((o) => [o.path, r.id] as const)));
    const read = new Set<string>();
    const readFile = ctx.read.bind(ctx);
    ctx.read = (target) => {
      const path = typeof target === 'string' ? target : target.path;
      expect(owner.has(path), `${task.id} reads ${path}, which no required task declares`).toBe(true);
      read.add(owner.get(path)!);
      return readFile(target);
    };
    await task.run(ctx);
    calls[task.id] = llm.calls;
    unread[task.id] = ids(task.requires()).filter((id) => !read.has(id));
  }
  return { files, calls, unread };
}

/** A JSON value's shape: keys and types, arrays as the union of their elements' shapes (lengths ignored). */
function shape(value: unknown): string {
  if (Array.isArray(value)) return `[${[...new Set(value.map(shape))].sort().join('|')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}:${shape(v)}`)
      .join(',')}}`;
  }
  return value === null ? 'null' : typeof value;
}

/** A file's shape: JSON by its shape (a raw file by its response, its calls checked apart), other text by its kind. */
function fileShape(path: string, text: string): string {
  if (!path.endsWith('.json')) return path.split('.').pop()!;
  const data = JSON.parse(text) as unknown;
  if (path.endsWith('_raw.json') && typeof data === 'object' && data !== null && 'calls' in data && 'response' in data) {
    return `raw ${shape(data.response)}`;
  }
  return shape(data);
}

describe('--conversations sequential (stated, or absent as in a run made before the option)', () => {
  it('is the plan as before: the same requires and the same stamps, none holding the option', () => {
    const before = tasksOf(config());
    const stated = tasksOf({ ...config(), conversations: 'sequential' });
    expect(before.map((t) => ids(t.requires()))).toEqual(stated.map((t) => ids(t.requires())));
    expect(before.map((t) => t.stampParams())).toEqual(stated.map((t) => t.stampParams()));
    expect(stated.filter((t) => 'conversations' in t.stampParams())).toEqual([]);
  });

  it('is what the pipeline builds when the run parameters hold none', () => {
    const params = { prompt: 'A bakery', startTime: '2026-03-12T10:02:18Z' };
    const root = planPipeline.roots(params)[0] as PlanTask;
    expect(root.config.conversations).toBeUndefined();
    expect((planPipeline.roots({ ...params, conversations: 'parallel' })[0] as PlanTask).config.conversations).toBe('parallel');
    expect(() => planPipeline.roots({ ...params, conversations: 'concurrent' })).toThrow(/'sequential' or 'parallel'/);
  });
});

describe('--conversations parallel', () => {
  it('stamps conversations: parallel on the review tail only, and changes no other task', () => {
    const before = tasksOf(config());
    const after = tasksOf(parallel());
    const changed = after.filter((t) => 'conversations' in t.stampParams()).map((t) => t.id);
    expect(changed.sort()).toEqual(TAIL);
    for (const [i, task] of after.entries()) {
      if (TAIL.includes(task.id)) {
        expect(task.stampParams()).toEqual({ ...before[i]!.stampParams(), conversations: 'parallel' });
      } else {
        expect(task.stampParams(), task.id).toEqual(before[i]!.stampParams());
        expect(ids(task.requires()), task.id).toEqual(ids(before[i]!.requires()));
      }
    }
  });

  it('lets the tail wait only for what its questions read: no level-3 WBS, documents or pitch, and no chain but summary → review', () => {
    const byId = new Map(tasksOf(parallel()).map((t) => [t.id, ids(t.requires())]));
    const late = ['WBSProjectLevel1AndLevel2AndLevel3Task', 'MarkdownWithDocumentsToCreateAndFindTask', 'ConvertPitchToMarkdownTask'];
    for (const id of TAIL) for (const dropped of late) expect(byId.get(id), id).not.toContain(dropped);
    expect(byId.get('ExecutiveSummaryTask')).toContain('ReviewPlanTask');
    for (const id of ['QuestionsAndAnswersTask', 'PremortemTask', 'SelfAuditTask']) {
      for (const other of TAIL) expect(byId.get(id), id).not.toContain(other);
    }
    // The sequential tail is one chain, each task after the one before.
    const sequential = new Map(tasksOf(config()).map((t) => [t.id, ids(t.requires())]));
    expect(sequential.get('SelfAuditTask')).toEqual(
      expect.arrayContaining(['PremortemTask', 'QuestionsAndAnswersTask', 'WBSProjectLevel1AndLevel2AndLevel3Task']),
    );
  });

  it('builds every file, in the same shapes and with the same calls per task; each question is its own call', async () => {
    const seq = await buildAll(config('full'));
    const par = await buildAll(parallel('full'));
    expect([...par.files.keys()].sort()).toEqual([...seq.files.keys()].sort());
    for (const [path, text] of par.files) expect(fileShape(path, text), path).toBe(fileShape(path, seq.files.get(path)!));
    const counts = (calls: Record<string, FakeCall[]>) => Object.fromEntries(Object.entries(calls).map(([id, c]) => [id, c.length]));
    expect(counts(par.calls)).toEqual(counts(seq.calls));

    for (const [id, n] of Object.entries(QUESTIONS)) {
      expect(par.calls[id]!.map((c) => c.itemKey)).toEqual(Array.from({ length: n }, (_, i) => `question-${i + 1}`));
      expect(par.calls[id]!.every((c) => c.turn === undefined)).toBe(true);
      expect(seq.calls[id]!.map((c) => c.turn)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    }
    // The raw file records the shared system prompt once, then each question's own message.
    const raw = JSON.parse(par.files.get('029-1-self_audit_raw.json')!) as {
      calls: { itemKey: string; messages: { role: string; content: string }[] }[];
    };
    expect(raw.calls.map((c) => c.messages.map((m) => m.role).join())).toEqual(['system,user', ...Array<string>(19).fill('user')]);
    expect(raw.calls[4]!.messages[0]!.content).toMatch(/File '019-wbs_project_level1_and_level2\.json'[\s\S]*Checklist item 5: Timeline Issues\./);
    expect(raw.calls[4]!.messages[0]!.content).not.toContain('002-14-strategic_decisions.md');

    // Every task reads every task it requires, but for the gate, which only orders.
    const unread = Object.entries(par.unread).filter(([id, list]) => list.length > 0 && id !== 'FullPlanPipeline');
    expect(unread).toEqual([
      ['PremiseAttackTask', ['RedlineGateTask']],
      ['IdentifyPurposeTask', ['RedlineGateTask']],
    ]);
  });

  it('caps the questions in fast mode as the turns are capped', async () => {
    const seq = await buildAll(config('fast'));
    const par = await buildAll(parallel('fast'));
    for (const id of Object.keys(QUESTIONS)) expect(par.calls[id]!.length, id).toBe(seq.calls[id]!.length);
    expect(par.calls.SelfAuditTask!.map((c) => c.itemKey)).toEqual(['question-1', 'question-2', 'question-3']);
  });
});

/** A model whose answers wait until the test releases them. */
class HeldLlm implements LlmClient {
  readonly offline = true;
  readonly asked: string[] = [];
  private readonly pending = new Map<string, { resolve: (c: Completion<unknown>) => void; reject: (e: Error) => void }>();
  async complete<T>(request: CompletionRequest<T>): Promise<Completion<T>> {
    const key = request.itemKey!;
    this.asked.push(key);
    return new Promise<Completion<T>>((resolve, reject) => {
      this.pending.set(key, { resolve: resolve as (c: Completion<unknown>) => void, reject });
    });
  }
  answer(key: string, value: unknown): void {
    this.pending.get(key)!.resolve({ value, text: JSON.stringify(value), model: 'held', interactionId: 1, replayed: false });
  }
  fail(key: string): void {
    this.pending.get(key)!.reject(new Error(`${key} failed`));
  }
  async completeText(): Promise<Completion<string>> {
    throw new Error('no text calls here');
  }
  async reject(): Promise<RejectedAnswerError> {
    return new RejectedAnswerError('rejected');
  }
}

const questions = ['a', 'b', 'c', 'd'].map((q, i) => ({ key: `question-${i + 1}`, user: `Question ${q}?` }));
const schema = z.object({ answer: z.string() });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('askEach', () => {
  it('asks every question before any answer arrives, and returns the answers in question order', async () => {
    const llm = new HeldLlm();
    const asked = askEach(llm, { system: 'base', questions, schema, name: 'q' });
    await tick();
    expect(llm.asked).toEqual(['question-1', 'question-2', 'question-3', 'question-4']);
    for (const key of ['question-4', 'question-2', 'question-1', 'question-3']) llm.answer(key, { answer: key });
    const { answers, calls } = await asked;
    expect(answers).toEqual(questions.map((q) => ({ answer: q.key })));
    expect(calls.map((c) => c.itemKey)).toEqual(questions.map((q) => q.key));
    expect(calls.map((c) => c.messages.length)).toEqual([2, 1, 1, 1]);
  });

  it('passes a failure on only once every other question has settled, so none is left in flight', async () => {
    const llm = new HeldLlm();
    let settled = false;
    const asked = askEach(llm, { system: 'base', questions, schema, name: 'q' }).finally(() => {
      settled = true;
    });
    const outcome = asked.catch((error: Error) => error);
    await tick();
    llm.fail('question-2');
    llm.answer('question-1', { answer: '1' });
    await tick();
    expect(settled).toBe(false);
    llm.answer('question-3', { answer: '3' });
    llm.answer('question-4', { answer: '4' });
    expect(((await outcome) as Error).message).toBe('question-2 failed');
    expect(settled).toBe(true);
  });
});
