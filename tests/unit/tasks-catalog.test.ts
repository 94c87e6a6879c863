import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTargetPath } from '../../src/engine/target.js';
import { FullPlanPipeline, PLAN_TASK_CLASSES } from '../../src/tasks/catalog.js';
import { planPipeline } from '../../src/tasks/pipeline.js';
import { PlanTask } from '../../src/tasks/plan-task.js';
import { config } from './tasks-fake.js';

const tasks = PLAN_TASK_CLASSES.map((TaskClass) => new TaskClass(config()));
const numberOf = new Map(tasks.map((t, i) => [t.id, i + 1]));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// The catalogue's "requires" column (PIPELINE.md), by row number. "ctx docs" = 11, 14, 21 and 23. Rows that
// the catalogue states loosely are our reading of it: 24–29 (ctx docs + earlier phases), 33–36 (the team
// inputs 22, 31 + the previous team task), 57–61 (REVIEW + each earlier review task) and 62 (the report's documents).
// Rows 4 and 5 also wait for the safety gate (3): every planning task is downstream of it, so a refused plan stops there.
const CTX = [11, 14, 21, 23];
const REVIEW = [2, ...CTX, 22, 30, 31, 37, 38, 39, 40, 46, 51, 55];
const REQUIRES: Record<number, number[]> = {
  1: [],
  2: [],
  3: [2],
  4: [2, 3],
  5: [2, 3],
  6: [2, 5],
  7: [2, 5, 6],
  8: [2, 5, 6, 7],
  9: [2, 5, 6, 8],
  10: [2, 5, 6, 9],
  11: [9, 10],
  12: [2, 5, 6, 10],
  13: [2, 5, 6, 10, 12],
  14: [12, 13],
  15: [2, 5, 6, 11, 14],
  16: [2, 5, 6, 11, 14, 15],
  17: [2, 5, 6, 11, 14, 15, 16],
  18: [2, 5, 6, 11, 14, 15, 16, 17],
  19: [2, 5, 11, 14, 18],
  20: [5, 6, 11, 14, 15, 16, 17, 18, 19],
  21: [5, 6, 15, 16, 17, 18, 19, 20],
  22: [2, 11, 14, 21],
  23: [2, 11, 14, 21, 22],
  24: CTX,
  25: [...CTX, 24],
  26: [...CTX, 24, 25],
  27: [...CTX, ...range(24, 26)],
  28: [...CTX, ...range(24, 27)],
  29: [...CTX, ...range(24, 28)],
  30: range(24, 29),
  31: CTX,
  32: [...CTX, 22, 31],
  33: [...CTX, 22, 31, 32],
  34: [...CTX, 22, 31, 33],
  35: [...CTX, 22, 31, 34],
  36: [...CTX, 22, 31, 35],
  37: [35, 36],
  38: [5, ...CTX, 22, 31],
  39: [...CTX, 22, 38],
  40: [...CTX, 31, 37, 38, 39],
  41: [5, ...CTX, 31, 37, 38, 39],
  42: [5, ...CTX, 41],
  43: [5, ...CTX, 41],
  44: [...CTX, 42],
  45: [...CTX, 43],
  46: [44, 45],
  47: [23],
  48: [...CTX, 40, 47],
  49: [47, 48],
  50: [...CTX, 31, 49],
  51: [50],
  52: [...CTX, 40, 48],
  53: [23, 49],
  54: [23, 40, 49, 53],
  55: [49, 54],
  56: [1, 47, 52, 53, 55],
  57: REVIEW,
  58: [...REVIEW, 57],
  59: [...REVIEW, 57, 58],
  60: [...REVIEW, 57, 58, 59],
  61: [...REVIEW, 57, 58, 59, 60],
  62: [3, 4, 11, 14, 21, 22, 23, 30, 31, 37, 38, 39, 40, 46, 47, 51, 55, 56, 57, 58, 59, 60, 61],
  63: range(1, 62),
};

describe('plan catalogue', () => {
  it('has 63 distinct task classes whose ids are their class names', () => {
    expect(tasks).toHaveLength(63);
    expect(new Set(tasks.map((t) => t.id)).size).toBe(63);
    for (const [i, task] of tasks.entries()) {
      expect(task).toBeInstanceOf(PlanTask);
      expect(task.id).toBe(PLAN_TASK_CLASSES[i]!.name);
      expect(task.version).toBe('1');
    }
    expect(tasks[0]!.id).toBe('StartTimeTask');
    expect(tasks[62]!.id).toBe('FullPlanPipeline');
  });

  it('requires exactly what the catalogue says, row by row', () => {
    for (const task of tasks) {
      const row = numberOf.get(task.id)!;
      const got = task
        .requires()
        .map((r) => numberOf.get(r.id))
        .sort((a, b) => a! - b!);
      expect({ row, task: task.id, requires: got }).toEqual({ row, task: task.id, requires: [...new Set(REQUIRES[row])].sort((a, b) => a - b) });
    }
  });

  it('is in topological order, and the walk from the root reaches all 63 tasks with no cycle', () => {
    for (const task of tasks) for (const dep of task.requires()) expect(numberOf.get(dep.id)!).toBeLessThan(numberOf.get(task.id)!);
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (task: PlanTask, path: string[]): void => {
      if (state.get(task.id) === 'visiting') throw new Error(`cycle: ${[...path, task.id].join(' -> ')}`);
      if (state.get(task.id) === 'done') return;
      state.set(task.id, 'visiting');
      for (const dep of task.requires()) visit(dep, [...path, task.id]);
      state.set(task.id, 'done');
    };
    visit(new FullPlanPipeline(config()), []);
    expect(state.size).toBe(63);
  });

  it('declares each file once, with a clean relative path', () => {
    const paths = tasks.flatMap((t) => Object.values(t.output()).map((o) => o.path));
    expect(new Set(paths).size).toBe(paths.length);
    for (const p of paths) expect(checkTargetPath(p)).toBeNull();
    expect(paths).toHaveLength(111);
  });

  // A copy of shared/data/real-run-silo/expected_filenames1.json (the declared files of a real run).
  const expectedFile = new URL('../fixtures/expected_filenames1.json', import.meta.url);
  it('declares the real run’s file names, except the schedule files', () => {
    const expected = new Set(JSON.parse(readFileSync(expectedFile, 'utf8')) as string[]);
    const declared = new Set(tasks.flatMap((t) => Object.values(t.output()).map((o) => o.path)));
    expect([...expected].filter((p) => !declared.has(p)).sort()).toEqual(['026-2-schedule_gantt_dhtmlx.html', '026-3-schedule_gantt_machai.csv']);
    expect([...declared].filter((p) => !expected.has(p)).sort()).toEqual([
      '026-1-schedule_gantt_mermaid.html',
      '026-2-schedule_gantt.html',
      '026-3-schedule_gantt.csv',
    ]);
  });

  it('stamps the prompt, the start time and the speed only where they change the output', () => {
    const stamps = Object.fromEntries(tasks.map((t) => [t.id, t.stampParams()]));
    expect(stamps.SetupTask).toEqual({ prompt: config().prompt });
    expect(stamps.StartTimeTask).toEqual({ startTime: config().startTime });
    const speedTasks = Object.entries(stamps)
      .filter(([, s]) => 'speed' in s)
      .map(([id]) => id)
      .sort();
    expect(speedTasks).toEqual([
      'ConsolidateAssumptionsMarkdownTask',
      'CreateWBSLevel3Task',
      'DraftDocumentsToCreateTask',
      'DraftDocumentsToFindTask',
      'EnrichLeversTask',
      'EstimateTaskDurationsTask',
      'ExpertReviewTask',
      'PotentialLeversTask',
      'PremiseAttackTask',
      'PremortemTask',
      'ReviewPlanTask',
      'SelfAuditTask',
    ]);
    for (const id of speedTasks) expect(stamps[id]).toEqual({ speed: 'full' });
    expect(Object.values(stamps).filter((s) => Object.keys(s).length === 0)).toHaveLength(63 - 2 - speedTasks.length);
  });
});

describe('planPipeline', () => {
  const params = { prompt: 'A plan for a bakery', speed: 'fast', startTime: '2026-03-12T10:02:18Z' };
  it('builds one FullPlanPipeline root from the run parameters', () => {
    const roots = planPipeline.roots(params);
    expect(roots.map((r) => r.id)).toEqual(['FullPlanPipeline']);
    expect((roots[0] as FullPlanPipeline).config).toEqual(params);
    expect((planPipeline.roots({ prompt: 'x', startTime: params.startTime })[0] as FullPlanPipeline).config.speed).toBe('full');
  });
  it('rejects missing or invalid parameters with a clear error', () => {
    expect(() => planPipeline.roots({ ...params, prompt: undefined })).toThrow(/needs a prompt/);
    expect(() => planPipeline.roots({ ...params, prompt: '   ' })).toThrow(/needs a prompt/);
    expect(() => planPipeline.roots({ ...params, speed: 'turbo' })).toThrow(/'full' or 'fast'/);
    expect(() => planPipeline.roots({ ...params, startTime: 'yesterday' })).toThrow(/startTime/);
  });
});
