/**
 * A run dir brought from the original Luigi pipeline: every task reads the files that pipeline writes, as
 * they are, whichever of them later runs (at full speed, so every item of every per-item task is read).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { file } from '../../src/engine/target.js';
import { PLAN_STAGE_TASKS } from '../../src/tasks/catalog.js';
import type { PlanTaskClass } from '../../src/tasks/plan-task.js';
import { ScenariosMarkdownTask } from '../../src/tasks/scenarios.js';
import { CreateScheduleTask } from '../../src/tasks/schedule.js';
import { StrategicDecisionsMarkdownTask } from '../../src/tasks/levers.js';
import { readDoc, readJsonString } from '../../src/tasks/support/docs.js';
import { TeamMarkdownTask } from '../../src/tasks/team.js';
import { FakeLlm, config, memoryContext } from './tasks-fake.js';

const SILO = process.env.PLAN_SILO_DIR ?? path.resolve(import.meta.dirname, '../../../shared/data/real-run-silo');
// The real run dir lives in shared/data beside the checkout (CI has it). Without it, say so; in CI, fail.
const siloPresent = fs.existsSync(SILO) || process.env.CI !== undefined;
if (!fs.existsSync(SILO)) console.warn(`SKIPPED: no real run dir at ${SILO} (set PLAN_SILO_DIR to a copy of shared/data/real-run-silo)`);

function siloFiles(): Map<string, string> {
  return new Map(fs.readdirSync(SILO).map((name) => [name, fs.readFileSync(path.join(SILO, name), 'utf8')]));
}

/**
 * Runs one task on the silo dir's files. A task it requires that the dir lacks a file of (the schedule, the
 * self-audit) runs first, as a build would run it.
 */
async function runOnOriginal(TaskClass: PlanTaskClass): Promise<Map<string, string>> {
  const files = siloFiles();
  const task = new TaskClass(config('full'));
  for (const required of task.requires()) {
    if (Object.values(required.output()).every((target) => files.has(target.path))) continue;
    await required.run(memoryContext(required, files, new FakeLlm()));
  }
  await task.run(memoryContext(task, files, new FakeLlm()));
  for (const target of Object.values(task.output())) expect(files.has(target.path), `${task.id} wrote ${target.path}`).toBe(true);
  return files;
}

describe.skipIf(!siloPresent)('a run dir made by the original pipeline (shared/data/real-run-silo)', () => {
  for (const TaskClass of PLAN_STAGE_TASKS) {
    it(`${TaskClass.name} runs on its files as they are`, async () => {
      await runOnOriginal(TaskClass);
    });
  }

  it('schedules the original WBS from its start time, durations and dependencies', async () => {
    const csv = (await runOnOriginal(CreateScheduleTask)).get('026-3-schedule_gantt.csv')!;
    const rows = new Map(csv.split('\n').map((line) => [line.split(',')[0], line]));
    expect(rows.get('95b4a00e-cc92-4e6c-85bc-6e259c7d9675')).toMatch(/^[\w-]+,,1,Silo Construction,2026-03-12,/);
    // 10 realistic days in 022-2; 6 predecessors in 021, listed as `depends_on_task_id_list`.
    expect(rows.get('06d26cd6-8aac-418a-a810-866326657605')).toMatch(/,3,Define Project Scope and Objectives,2026-03-12,2026-03-21,10,$/);
    expect(rows.get('ac20b08a-6f1e-43ab-af52-82eb72054e71')).toContain('53440622-7540-404c-9e6a-58f452f4f1c3');
  });

  it('joins the original vital levers with their ranking', async () => {
    const md = (await runOnOriginal(StrategicDecisionsMarkdownTask)).get('002-14-strategic_decisions.md')!;
    expect(md).toContain('### Decision 1: Social Control Mechanism');
    expect(md).toMatch(/\*\*Importance:\*\* Critical — Critical because its synergy/);
  });

  it('reads the original scenarios and their selection', async () => {
    const md = (await runOnOriginal(ScenariosMarkdownTask)).get('002-19-scenarios.md')!;
    expect(md).toContain("## The Path Forward: The Consolidator's Fortress");
    expect(md).toMatch(/\| Social Control Mechanism \| Maintain a hierarchical social structure/);
    expect(md).toMatch(/ambition and scale: The plan is extremely ambitious/);
    expect(md).not.toContain('Trade-offs');
  });

  it('reads the original team, numbered from 1', async () => {
    const md = (await runOnOriginal(TeamMarkdownTask)).get('013-team.md')!;
    expect(md).toMatch(/^## 1\. /m);
    expect(md).toContain('# Omissions');
  });

  it('gives prompts the answer of an original raw file, without its prompts and metadata', async () => {
    const ctx = memoryContext(new CreateScheduleTask(config()), siloFiles(), new FakeLlm());
    const pitch = JSON.parse(await readDoc(ctx, file('020-1-pitch_raw.json'))) as Record<string, unknown>;
    expect(Object.keys(pitch)).toEqual(expect.arrayContaining(['pitch', 'call_to_action']));
    for (const key of ['metadata', 'query', 'system_prompt', 'user_prompt']) expect(pitch).not.toHaveProperty(key);
    // Only a `response` beside the prompts: the response itself.
    const candidates = JSON.parse(await readDoc(ctx, file('002-15-candidate_scenarios_raw.json'))) as Record<string, unknown>;
    expect(candidates).not.toHaveProperty('response');
    expect(candidates).not.toHaveProperty('system_prompt');
    // A `response` that is only part of the answer: kept beside the rest.
    expect(JSON.parse(await readDoc(ctx, file('002-13-vital_few_levers_raw.json')))).toHaveProperty('levers');
    expect(await readJsonString(ctx, file('018-3-wbs_level1_project_title.json'))).toBe('Silo Construction');
  });

  it('still reads our own raw files and JSON strings', async () => {
    const files = new Map([
      ['a_raw.json', JSON.stringify({ response: { response: 1, metadata: 2 }, calls: [] })],
      ['title.json', JSON.stringify(' A title ')],
    ]);
    const ctx = memoryContext(new CreateScheduleTask(config()), files, new FakeLlm());
    expect(JSON.parse(await readDoc(ctx, file('a_raw.json')))).toEqual({ response: 1, metadata: 2 });
    expect(await readJsonString(ctx, file('title.json'))).toBe(' A title ');
  });
});
