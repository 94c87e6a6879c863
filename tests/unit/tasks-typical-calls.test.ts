import { describe, expect, it } from 'vitest';
import { PLAN_TASK_CLASSES } from '../../src/tasks/catalog.js';
import { TYPICAL_CALLS, typicalModelCalls } from '../../src/tasks/typical-calls.js';

describe('typical model calls of the plan pipeline', () => {
  const names = PLAN_TASK_CLASSES.map((c) => c.name);

  it('names only real tasks, and gives none to the tasks that make no call', () => {
    for (const listed of Object.keys(TYPICAL_CALLS)) expect(names).toContain(listed);
    for (const pure of ['StartTimeTask', 'SetupTask', 'StrategicDecisionsMarkdownTask', 'CreateScheduleTask', 'ReportTask', 'FullPlanPipeline']) {
      expect(names).toContain(pure);
      expect(typicalModelCalls(pure, 'full')).toBe(0);
    }
    const total = (speed: 'fast' | 'full') => names.reduce((n, name) => n + typicalModelCalls(name, speed), 0);
    // Real plans make 150–190 calls; fast mode caps the per-item loops and conversations.
    expect(total('full')).toBeGreaterThanOrEqual(150);
    expect(total('full')).toBeLessThanOrEqual(190);
    expect(total('fast')).toBeLessThan(total('full') / 2);
  });

  it('is never more in fast mode than in full mode', () => {
    for (const name of names) expect(typicalModelCalls(name, 'fast')).toBeLessThanOrEqual(typicalModelCalls(name, 'full'));
  });
});
