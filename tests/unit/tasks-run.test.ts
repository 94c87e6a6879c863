import { describe, expect, it } from 'vitest';
import { PLAN_TASK_CLASSES } from '../../src/tasks/catalog.js';
import type { PlanConfig } from '../../src/tasks/plan-task.js';
import { ConsolidateAssumptionsMarkdownTask } from '../../src/tasks/assumptions.js';
import { BudgetExceededError } from '../../src/llm/errors.js';
import { FakeLlm, config, memoryContext } from './tasks-fake.js';

/** Builds every task in catalogue order in memory; returns the files and the model calls per task. */
async function buildAll(cfg: PlanConfig, llmOptions: ConstructorParameters<typeof FakeLlm>[0] = {}) {
  const files = new Map<string, string>();
  const callsPerTask: Record<string, number> = {};
  const itemKeys: Record<string, (string | undefined)[]> = {};
  for (const TaskClass of PLAN_TASK_CLASSES) {
    const task = new TaskClass(cfg);
    const llm = new FakeLlm(llmOptions);
    const ctx = memoryContext(task, files, llm);
    const allowed = new Set(task.requires().flatMap((r) => Object.values(r.output()).map((o) => o.path)));
    const read = ctx.read.bind(ctx);
    ctx.read = (target) => {
      const path = typeof target === 'string' ? target : target.path;
      expect(allowed.has(path), `${task.id} reads ${path}, which no required task declares`).toBe(true);
      return read(target);
    };
    await task.run(ctx);
    for (const target of Object.values(task.output())) expect(files.has(target.path), `${task.id} wrote ${target.path}`).toBe(true);
    callsPerTask[task.id] = llm.calls.length;
    itemKeys[task.id] = llm.calls.map((c) => c.itemKey);
  }
  return { files, callsPerTask, itemKeys };
}

const physical = { overrides: { plan_type: { plan_type: 'physical' } } };

// The fake answers every array with 3 items (within the schema's bounds), so: 9 levers (2 batches of 5),
// 6 experts, 3 documents of each kind, 3 phases × 3 tasks = 9 WBS tasks (3 chunks of 3).
const FULL_CALLS: Record<string, number> = {
  RedlineGateTask: 1,
  PremiseAttackTask: 5,
  IdentifyPurposeTask: 1,
  PlanTypeTask: 1,
  PotentialLeversTask: 3,
  DeduplicateLeversTask: 1,
  EnrichLeversTask: 2,
  FocusOnVitalFewLeversTask: 1,
  CandidateScenariosTask: 1,
  SelectScenarioTask: 1,
  PhysicalLocationsTask: 1,
  CurrencyStrategyTask: 1,
  IdentifyRisksTask: 1,
  MakeAssumptionsTask: 1,
  DistillAssumptionsTask: 1,
  ReviewAssumptionsTask: 1,
  ConsolidateAssumptionsMarkdownTask: 8,
  PreProjectAssessmentTask: 1,
  ProjectPlanTask: 1,
  GovernancePhase1AuditTask: 1,
  GovernancePhase2BodiesTask: 1,
  GovernancePhase3ImplPlanTask: 1,
  GovernancePhase4DecisionEscalationMatrixTask: 1,
  GovernancePhase5MonitoringProgressTask: 1,
  GovernancePhase6ExtraTask: 1,
  RelatedResourcesTask: 1,
  FindTeamMembersTask: 1,
  EnrichTeamMembersWithContractTypeTask: 1,
  EnrichTeamMembersWithBackgroundStoryTask: 1,
  EnrichTeamMembersWithEnvironmentInfoTask: 1,
  ReviewTeamTask: 1,
  SWOTAnalysisTask: 1,
  ExpertReviewTask: 2 + 6,
  DataCollectionTask: 1,
  IdentifyDocumentsTask: 1,
  FilterDocumentsToFindTask: 1,
  FilterDocumentsToCreateTask: 1,
  DraftDocumentsToFindTask: 3,
  DraftDocumentsToCreateTask: 3,
  CreateWBSLevel1Task: 1,
  CreateWBSLevel2Task: 1,
  CreatePitchTask: 1,
  ConvertPitchToMarkdownTask: 1,
  IdentifyTaskDependenciesTask: 1,
  EstimateTaskDurationsTask: 3,
  CreateWBSLevel3Task: 9,
  ReviewPlanTask: 16,
  ExecutiveSummaryTask: 1,
  QuestionsAndAnswersTask: 2,
  PremortemTask: 3,
  SelfAuditTask: 20,
};
const FAST_CHANGES: Record<string, number> = {
  PremiseAttackTask: 2,
  PotentialLeversTask: 1,
  EnrichLeversTask: 1,
  ConsolidateAssumptionsMarkdownTask: 2,
  ExpertReviewTask: 2 + 2,
  DraftDocumentsToFindTask: 2,
  DraftDocumentsToCreateTask: 2,
  EstimateTaskDurationsTask: 2,
  CreateWBSLevel3Task: 2,
  ReviewPlanTask: 3,
  PremortemTask: 1,
  SelfAuditTask: 3,
};
const withZeros = (calls: Record<string, number>) => Object.fromEntries(PLAN_TASK_CLASSES.map((c) => [c.name, calls[c.name] ?? 0]));

describe('the whole plan pipeline, in memory with a fake model', () => {
  it('builds every file in full mode with the catalogue’s call counts', async () => {
    const { files, callsPerTask, itemKeys } = await buildAll(config('full'), physical);
    expect(callsPerTask).toEqual(withZeros(FULL_CALLS));
    const total = Object.values(callsPerTask).reduce((a, b) => a + b, 0);
    expect(total).toBe(Object.values(FULL_CALLS).reduce((a, b) => a + b, 0));
    for (const n of [1, 6]) expect(files.has(`016-1-${n}-expert_criticism_raw.json`)).toBe(true);
    for (const n of [1, 3])
      expect(files.has(`017-11-${n}-draft_documents_to_find_raw.json`) && files.has(`017-13-${n}-draft_documents_to_create_raw.json`)).toBe(true);
    expect(files.has('022-1-3-task_durations_raw.json') && files.has('023-1-9-wbs_level3_raw.json')).toBe(true);
    expect(files.has('015-1-experts_raw.json') && files.has('015-2-experts.json')).toBe(true);
    expect(new Set(itemKeys.CreateWBSLevel3Task).size).toBe(9);
    expect(itemKeys.PremiseAttackTask).toEqual(expect.arrayContaining(['lens-integrity', 'lens-alternatives']));
    const raw = JSON.parse(files.get('024-1-review_plan_raw.json')!) as { calls: { turn: number; messages: { role: string }[] }[] };
    expect(raw.calls.map((c) => c.turn)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(raw.calls.map((c) => c.messages.map((m) => m.role).join())).toEqual(['system,user', ...Array<string>(15).fill('user')]);
    expect(files.get('001-2-plan.txt')).toBe(`Plan:\n${config().prompt}\n\nToday's date:\n2026-Mar-12\n`);
    expect(files.get('999-pipeline_complete.txt')).toMatch(/complete/);
    const csv = files.get('026-3-schedule_gantt.csv')!;
    expect(csv.split('\n')[0]).toBe('task_id,parent_id,level,name,start_date,end_date,duration_days,depends_on');
    expect(csv).toContain('2026-03-12');
  });

  it('caps per-item loops at 2 and long conversations at 1–3 turns in fast mode', async () => {
    const { files, callsPerTask } = await buildAll(config('fast'), physical);
    expect(callsPerTask).toEqual(withZeros({ ...FULL_CALLS, ...FAST_CHANGES }));
    expect(files.has('016-1-3-expert_criticism_raw.json')).toBe(false);
    expect(files.get('003-11-consolidate_assumptions_short.md')).toContain('Not shortened in fast mode');
  });

  it('makes no location call for a digital plan', async () => {
    const { files, callsPerTask } = await buildAll(config('fast'), { overrides: { plan_type: { plan_type: 'digital' } } });
    expect(callsPerTask.PhysicalLocationsTask).toBe(0);
    expect(files.get('002-21-physical_locations.md')).toMatch(/Not applicable/);
  });

  it('keeps hostile model text inert in every HTML file', async () => {
    const { files } = await buildAll(config('fast'), { ...physical, hostile: true });
    const htmlFiles = [...files.keys()].filter((p) => p.endsWith('.html'));
    expect(htmlFiles.sort()).toEqual([
      '026-1-schedule_gantt_mermaid.html',
      '026-2-schedule_gantt.html',
      '027-3-questions_and_answers.html',
      '030-report.html',
    ]);
    for (const path of htmlFiles) {
      const html = files.get(path)!;
      expect(html, path).not.toMatch(/<script>alert/i);
      expect(html, path).not.toMatch(/<img/i);
      expect(html, path).not.toMatch(/https?:\/\/|src=["']?\/\//i);
      expect(html.match(/<script/g)?.length ?? 0, path).toBeLessThanOrEqual(2); // our own script and its JSON data only
    }
    expect(files.get('030-report.html')).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  /** The files of the first 20 tasks, which the assumptions' consolidation reads. */
  async function filesBeforeConsolidation(): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    for (const TaskClass of PLAN_TASK_CLASSES.slice(0, 20)) {
      const task = new TaskClass(config('full'));
      await task.run(memoryContext(task, files, new FakeLlm(physical)));
    }
    return files;
  }

  it('turns a failed shortening into a visible placeholder instead of failing the task', async () => {
    const files = await filesBeforeConsolidation();
    const task = new ConsolidateAssumptionsMarkdownTask(config('full'));
    const llm = new FakeLlm({ failText: (r) => r.messages.some((m) => m.content.startsWith('Section: Identify Risks')) });
    await task.run(memoryContext(task, files, llm));
    const short = files.get('003-11-consolidate_assumptions_short.md')!;
    expect(short.match(/Placeholder: this section could not be shortened/g)).toHaveLength(1);
    expect(short).toContain('# Identify Risks');
  });

  it('a budget stop during the shortening ends the task: no placeholder is stored as if the call had failed', async () => {
    const files = await filesBeforeConsolidation();
    const task = new ConsolidateAssumptionsMarkdownTask(config('full'));
    const llm = new FakeLlm({
      failText: (r) => r.messages.some((m) => m.content.startsWith('Section: Identify Risks')),
      failWith: () => new BudgetExceededError('budget of $0.01 reached'),
    });
    await expect(task.run(memoryContext(task, files, llm))).rejects.toThrow(BudgetExceededError);
    expect(files.has('003-11-consolidate_assumptions_short.md')).toBe(false);
  });
});
