import { describe, expect, it } from 'vitest';
import { scheduleCsv } from '../../src/tasks/schedule.js';
import { FAST_ITEM_CAP, FAST_TURN_CAP, capItems, capTurns, chunk } from '../../src/tasks/support/caps.js';
import { addDays, isoDate, longDate } from '../../src/tasks/support/dates.js';
import { clampDays, computeSchedule, type DependencyInput } from '../../src/tasks/support/schedule-compute.js';
import { scheduleUnits, wbsCsvRows, type WbsNode } from '../../src/tasks/support/wbs-model.js';

const node = (id: string, name: string, children: WbsNode[] = []): WbsNode => ({ id, name, children });
const root = node('0', 'Project', [
  node('1', 'Design', [node('1.1', 'Spec'), node('1.2', 'Prototype')]),
  node('2', 'Build', [node('2.1', 'Make', [node('2.1.1', 'Cut'), node('2.1.2', 'Join')]), node('2.2', 'Test')]),
  node('3', 'Launch'),
]);
const dependencies: DependencyInput[] = [
  { dependent_task_id: '1.2', depends_on_task_ids: ['1.1'] },
  { dependent_task_id: '2.1', depends_on_task_ids: ['1'] }, // a phase: all its tasks
  { dependent_task_id: '2.2', depends_on_task_ids: ['2.1.2', '9.9'] }, // a subtask means its task; unknown ids are ignored
  { dependent_task_id: '3', depends_on_task_ids: ['2.2'] },
  { dependent_task_id: '1', depends_on_task_ids: ['1.1'] }, // inside its own phase: ignored
  { dependent_task_id: 'nonsense', depends_on_task_ids: ['1.1'] },
];
const durations = new Map([
  ['1.1', 3],
  ['1.2', 5],
  ['2.1', 4],
  ['3', 0],
]);

describe('computeSchedule', () => {
  it('starts each task when its predecessors end, from the start date', () => {
    const items = computeSchedule({ startDate: '2026-03-12', root, dependencies, durations, defaultDays: 2 });
    expect(scheduleCsv(items)).toBe(
      [
        'task_id,parent_id,level,name,start_date,end_date,duration_days,depends_on',
        '0,,1,Project,2026-03-12,2026-03-26,15,',
        '1,0,2,Design,2026-03-12,2026-03-19,8,',
        '1.1,1,3,Spec,2026-03-12,2026-03-14,3,',
        '1.2,1,3,Prototype,2026-03-15,2026-03-19,5,1.1',
        '2,0,2,Build,2026-03-20,2026-03-25,6,',
        '2.1,2,3,Make,2026-03-20,2026-03-23,4,1.1;1.2',
        '2.1.1,2.1,4,Cut,2026-03-20,2026-03-21,2,',
        '2.1.2,2.1,4,Join,2026-03-22,2026-03-23,2,',
        '2.2,2,3,Test,2026-03-24,2026-03-25,2,2.1',
        '3,0,2,Launch,2026-03-26,2026-03-26,1,2.2',
        '',
      ].join('\n'),
    );
  });

  it('ignores an edge that would close a cycle and still honours every kept dependency', () => {
    const items = computeSchedule({
      startDate: '2026-01-30',
      root,
      dependencies: [...dependencies, { dependent_task_id: '1.1', depends_on_task_ids: ['3'] }],
      durations,
    });
    const byId = new Map(items.map((i) => [i.id, i]));
    expect(items).toHaveLength(10);
    for (const item of items) {
      expect(item.start <= item.end).toBe(true);
      for (const dep of item.dependsOn) expect(item.start > byId.get(dep)!.end).toBe(true);
    }
    expect(byId.get('1.1')!.dependsOn.length + byId.get('2.1')!.dependsOn.length).toBeLessThan(3);
  });

  it('squeezes more subtasks than days into their task, a day each', () => {
    const small = node('0', 'P', [node('1', 'A', [node('1.1', 'T', [node('1.1.1', 'a'), node('1.1.2', 'b'), node('1.1.3', 'c')])])]);
    const items = computeSchedule({ startDate: '2026-12-31', root: small, dependencies: [], durations: new Map([['1.1', 2]]) });
    expect(items.map((i) => `${i.id}:${i.start}..${i.end}`)).toEqual([
      '0:2026-12-31..2027-01-01',
      '1:2026-12-31..2027-01-01',
      '1.1:2026-12-31..2027-01-01',
      '1.1.1:2026-12-31..2026-12-31',
      '1.1.2:2026-12-31..2026-12-31',
      '1.1.3:2027-01-01..2027-01-01',
    ]);
  });

  it('clamps durations to whole days of at least one', () => {
    expect([clampDays(0), clampDays(-4), clampDays(2.6), clampDays(Number.NaN), clampDays(1e9)]).toEqual([1, 1, 3, 1, 3650]);
  });
});

describe('WBS and dates helpers', () => {
  it('schedules tasks, and phases that have none', () => {
    expect(scheduleUnits(root).map((u) => u.id)).toEqual(['1.1', '1.2', '2.1', '2.2', '3']);
    expect(wbsCsvRows(root)[4]).toEqual(['', '', 'Prototype', '', '1.2']);
    expect(wbsCsvRows(root)[7]).toEqual(['', '', '', 'Cut', '2.1.1']);
  });
  it('does date arithmetic in UTC', () => {
    expect(isoDate('2026-03-12T23:30:00-05:00')).toBe('2026-03-13');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(longDate('2026-03-02')).toBe('2026-Mar-02');
    expect(() => isoDate('soon')).toThrow(/not an ISO date/);
  });
});

describe('fast-mode caps', () => {
  it('caps per-item loops at 2 and conversations at 1–3 turns in fast mode only', () => {
    const items = [1, 2, 3, 4, 5];
    expect(FAST_ITEM_CAP).toBe(2);
    expect(FAST_TURN_CAP).toBe(3);
    expect(capItems(items, 'fast')).toEqual([1, 2]);
    expect(capItems(items, 'full')).toEqual(items);
    expect(capTurns(items, 'fast')).toEqual([1, 2, 3]);
    expect(capTurns(items, 'fast', 1)).toEqual([1]);
    expect(capTurns(items, 'fast', 9)).toEqual([1, 2, 3]);
    expect(capTurns(items, 'full', 1)).toEqual(items);
    expect(chunk(items, 3)).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });
});
