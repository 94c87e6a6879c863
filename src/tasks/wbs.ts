import { lazySchema, type Infer } from './support/lazy-schema.js';
import { file } from '../engine/target.js';
import { PlanTask, type PlanContext } from './plan-task.js';
import { CTX_DOCS, ProjectPlanTask } from './assessment.js';
import { DataCollectionTask } from './documents.js';
import { chunk } from './support/caps.js';
import { toCsv } from './support/csv.js';
import { readDocs, readJson } from './support/docs.js';
import { runPerItem } from './support/items.js';
import { answerFor } from './support/match.js';
import { clampDays } from './support/schedule-compute.js';
import { OneCallTask } from './support/one-call.js';
import { writeOutputs } from './support/outputs.js';
import { ROOT_ID, scheduleUnits, wbsCsvRows, wbsProjectSchema, type WbsNode } from './support/wbs-model.js';

const level1Schema = lazySchema((z) =>
  z.object({
    project_title: z.string().min(1).describe('A short title, at most six words.'),
    final_deliverable: z.string().min(1).describe('What exists when the project is done.'),
  }),
);
type Level1 = Infer<typeof level1Schema>;
const level1StoredSchema = lazySchema((z) => level1Schema.get().extend({ id: z.string() }));

/** The top of the WBS: the project title and its final deliverable. */
export class CreateWBSLevel1Task extends OneCallTask<Level1> {
  override requires() {
    return this.need(ProjectPlanTask);
  }
  override output() {
    return { raw: file('018-1-wbs_level1_raw.json'), json: file('018-2-wbs_level1.json'), title: file('018-3-wbs_level1_project_title.json') };
  }
  protected readonly schemaName = 'wbs_level1';
  protected readonly schema = level1Schema;
  protected readonly system =
    `Name the project in a short title and state its final deliverable: the tangible result that marks the project as done.`;
  protected render(v: Level1) {
    return { json: { id: ROOT_ID, ...v }, title: JSON.stringify(v.project_title) };
  }
}

const level2Schema = lazySchema((z) =>
  z.object({
    phases: z
      .array(
        z.object({ phase_title: z.string().min(1), tasks: z.array(z.string().min(1)).min(1).max(8).describe('The tasks of the phase, in order.') }),
      )
      .min(2)
      .max(8),
  }),
);
type Level2 = Infer<typeof level2Schema>;

export const level2StoredSchema = lazySchema((z) =>
  z.array(z.object({ id: z.string(), major_phase_title: z.string(), subtasks: z.array(z.object({ id: z.string(), description: z.string() })) })),
);

/** The phases of the project and the tasks of each phase, with stable ids ("2", "2.3"). */
export class CreateWBSLevel2Task extends OneCallTask<Level2> {
  override requires() {
    return this.need(...CTX_DOCS, DataCollectionTask, CreateWBSLevel1Task);
  }
  override output() {
    return { raw: file('018-4-wbs_level2_raw.json'), json: file('018-5-wbs_level2.json') };
  }
  protected readonly schemaName = 'wbs_level2';
  protected readonly schema = level2Schema;
  protected readonly system =
    `Break the project down into its major phases, in the order they happen, from initiation to handover, and each phase into its main tasks (3–7 per phase). Every task is a piece of work with a clear output, named in a few words starting with a verb.`;
  protected render(v: Level2) {
    return {
      json: v.phases.map((p, i) => ({
        id: String(i + 1),
        major_phase_title: p.phase_title,
        subtasks: p.tasks.map((t, j) => ({ id: `${i + 1}.${j + 1}`, description: t })),
      })),
    };
  }
}

/** The WBS tree from levels 1 and 2. */
export class WBSProjectLevel1AndLevel2Task extends PlanTask {
  override requires() {
    return this.need(CreateWBSLevel1Task, CreateWBSLevel2Task);
  }
  override output() {
    return { json: file('019-wbs_project_level1_and_level2.json') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const level1 = await readJson(ctx, this.dep(CreateWBSLevel1Task).output().json, level1StoredSchema);
    const level2 = await readJson(ctx, this.dep(CreateWBSLevel2Task).output().json, level2StoredSchema);
    const root: WbsNode = {
      id: ROOT_ID,
      name: level1.project_title,
      children: level2.map((phase) => ({
        id: phase.id,
        name: phase.major_phase_title,
        children: phase.subtasks.map((t) => ({ id: t.id, name: t.description, children: [] })),
      })),
    };
    writeOutputs(ctx, this.output(), { json: { wbs_project: root, final_deliverable: level1.final_deliverable } });
  }
}

const dependencySchema = lazySchema((z) =>
  z.object({
    task_dependency_details: z
      .array(
        z.object({
          dependent_task_id: z.string().min(1),
          depends_on_task_ids: z.array(z.string().min(1)).min(1).max(6),
          explanation: z.string().min(1),
        }),
      )
      .max(80),
  }),
);
type Dependencies = Infer<typeof dependencySchema>;
/** The dependencies as the schedule reads them: ours, or the original pipeline's (one explanation per id). */
export const dependenciesStoredSchema = lazySchema((z) =>
  z.union([
    dependencySchema.get(),
    z
      .object({
        task_dependency_details: z.array(
          z.object({
            dependent_task_id: z.string(),
            depends_on_task_id_list: z.array(z.string()),
            depends_on_task_explanation_list: z.array(z.string()).optional(),
          }),
        ),
      })
      .transform(({ task_dependency_details }) => ({
        task_dependency_details: task_dependency_details.map((d) => ({
          dependent_task_id: d.dependent_task_id,
          depends_on_task_ids: d.depends_on_task_id_list,
          explanation: (d.depends_on_task_explanation_list ?? []).join(' '),
        })),
      })),
  ]),
);

/** Which WBS tasks must finish before others can start. */
export class IdentifyTaskDependenciesTask extends OneCallTask<Dependencies> {
  override requires() {
    return this.need(...CTX_DOCS, DataCollectionTask, CreateWBSLevel2Task);
  }
  override output() {
    return { raw: file('021-task_dependencies_raw.json') };
  }
  protected readonly schemaName = 'task_dependencies';
  protected readonly schema = dependencySchema;
  protected readonly system =
    `Identify the finish-to-start dependencies between the tasks of the work breakdown (use the ids exactly as given, e.g. "2.3"). A task depends on another only if it truly cannot start before the other finishes. Tasks of later phases usually depend on key tasks of earlier phases. Explain each dependency briefly.`;
  protected render() {
    return {};
  }
}

const durationSchema = lazySchema((z) =>
  z.object({
    task_details: z.array(
      z.object({
        task_id: z.string().min(1),
        days_min: z.number().int(),
        days_realistic: z.number().int(),
        days_max: z.number().int(),
        delay_risks: z.string().min(1),
        mitigation_strategy: z.string().min(1),
      }),
    ),
  }),
);

export const durationsStoredSchema = lazySchema((z) =>
  z.array(
    z.object({
      task_id: z.string(),
      days_min: z.number(),
      days_realistic: z.number(),
      days_max: z.number(),
      delay_risks: z.string(),
      mitigation_strategy: z.string(),
    }),
  ),
);

/** Durations of the WBS tasks, one call per chunk of three tasks. */
export class EstimateTaskDurationsTask extends PlanTask {
  override readonly usesSpeed = true;
  override requires() {
    return this.need(ProjectPlanTask, WBSProjectLevel1AndLevel2Task);
  }
  override output() {
    return { json: file('022-2-task_durations.json') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const { wbs_project: root } = await readJson(ctx, this.dep(WBSProjectLevel1AndLevel2Task).output().json, wbsProjectSchema);
    const plan = await readDocs(ctx, this.need(ProjectPlanTask));
    const outline = JSON.stringify(root, null, 1);
    const results = await runPerItem(ctx, {
      items: chunk(scheduleUnits(root), 3),
      speed: this.config.speed,
      key: (_c, n) => `task-chunk-${n}`,
      rawFile: (n) => `022-1-${n}-task_durations_raw.json`,
      run: async (tasks, t) => {
        const answer = await t.ask({
          system: `Estimate how many working days each given task of this project takes, as minimum, realistic and maximum, and name the risks of delay and how to mitigate them. Be realistic for the scale and place of the project.\n\n${plan}\n\nWork breakdown:\n${outline}`,
          user: `Tasks to estimate:\n${tasks.map((task) => `- ${task.id}: ${task.name}`).join('\n')}`,
          schema: durationSchema,
          name: 'task_durations',
        });
        return tasks.map((task, i) => {
          const found = answerFor(
            answer.task_details.map((d) => ({ ...d, id: d.task_id })),
            task.id,
            i,
          );
          const realistic = clampDays(found?.days_realistic ?? 1);
          return {
            task_id: task.id,
            days_min: Math.min(realistic, clampDays(found?.days_min ?? realistic)),
            days_realistic: realistic,
            days_max: Math.max(realistic, clampDays(found?.days_max ?? realistic)),
            delay_risks: found?.delay_risks ?? '',
            mitigation_strategy: found?.mitigation_strategy ?? '',
          };
        });
      },
    });
    writeOutputs(ctx, this.output(), { json: results.flatMap((r) => r.result) });
  }
}

const level3Schema = lazySchema((z) =>
  z.object({
    subtasks: z
      .array(
        z.object({
          name: z.string().min(1),
          description: z.string().min(1).describe('Objective, scope, steps and deliverables.'),
          resources_needed: z.array(z.string().min(1)).max(6),
        }),
      )
      .min(1)
      .max(6),
  }),
);

export const level3StoredSchema = lazySchema((z) =>
  z.array(z.object({ id: z.string(), parent_id: z.string(), name: z.string(), description: z.string(), resources_needed: z.array(z.string()) })),
);

/** Subtasks of each WBS task, one call per task. */
export class CreateWBSLevel3Task extends PlanTask {
  override readonly usesSpeed = true;
  override requires() {
    return this.need(ProjectPlanTask, DataCollectionTask, WBSProjectLevel1AndLevel2Task, EstimateTaskDurationsTask);
  }
  override output() {
    return { json: file('023-2-wbs_level3.json') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const { wbs_project: root } = await readJson(ctx, this.dep(WBSProjectLevel1AndLevel2Task).output().json, wbsProjectSchema);
    const durations = await readJson(ctx, this.dep(EstimateTaskDurationsTask).output().json, durationsStoredSchema);
    const context = await readDocs(ctx, this.need(ProjectPlanTask, DataCollectionTask));
    const outline = JSON.stringify(root, null, 1);
    const results = await runPerItem(ctx, {
      items: root.children.flatMap((phase) => phase.children),
      speed: this.config.speed,
      key: (task) => `wbs-task-${task.id}`,
      rawFile: (n) => `023-1-${n}-wbs_level3_raw.json`,
      run: async (task, t) => {
        const days = durations.find((d) => d.task_id === task.id)?.days_realistic;
        const answer = await t.ask({
          system: `Break one task of this project's work breakdown into 3–6 concrete subtasks that together complete it, each with a description (objective, scope, steps, deliverables) and the resources it needs.\n\n${context}\n\nWork breakdown:\n${outline}`,
          user: `Task ${task.id}: ${task.name}${days === undefined ? '' : ` (estimated ${days} days)`}`,
          schema: level3Schema,
          name: 'wbs_level3',
        });
        return answer.subtasks.map((s, i) => ({ id: `${task.id}.${i + 1}`, parent_id: task.id, ...s }));
      },
    });
    writeOutputs(ctx, this.output(), { json: results.flatMap((r) => r.result) });
  }
}

/** The full WBS tree (levels 1–3), as JSON and CSV. */
export class WBSProjectLevel1AndLevel2AndLevel3Task extends PlanTask {
  override requires() {
    return this.need(WBSProjectLevel1AndLevel2Task, CreateWBSLevel3Task);
  }
  override output() {
    return { json: file('023-3-wbs_project_level1_and_level2_and_level3.json'), csv: file('023-4-wbs_project_level1_and_level2_and_level3.csv') };
  }
  override docTargets() {
    return [this.output().csv];
  }
  override async run(ctx: PlanContext): Promise<void> {
    const project = await readJson(ctx, this.dep(WBSProjectLevel1AndLevel2Task).output().json, wbsProjectSchema);
    const level3 = await readJson(ctx, this.dep(CreateWBSLevel3Task).output().json, level3StoredSchema);
    const withSubtasks = (node: WbsNode): WbsNode => ({
      ...node,
      children: [
        ...node.children.map(withSubtasks),
        ...level3
          .filter((s) => s.parent_id === node.id && node.id.split('.').length === 2)
          .map((s) => ({ id: s.id, name: s.name, description: s.description, resources_needed: s.resources_needed, children: [] })),
      ],
    });
    const root = withSubtasks(project.wbs_project);
    writeOutputs(ctx, this.output(), { json: { ...project, wbs_project: root }, csv: toCsv(wbsCsvRows(root)) });
  }
}
