import { file } from '../engine/target.js';
import { PlanTask, type PlanContext } from './plan-task.js';
import { StartTimeTask, startTimeStoredSchema } from './setup.js';
import {
  CreateWBSLevel1Task,
  EstimateTaskDurationsTask,
  IdentifyTaskDependenciesTask,
  WBSProjectLevel1AndLevel2AndLevel3Task,
  dependenciesStoredSchema,
  durationsStoredSchema,
} from './wbs.js';
import { toCsv } from './support/csv.js';
import { isoDate } from './support/dates.js';
import { readJson, readJsonString } from './support/docs.js';
import { interactiveGanttPage, mermaidPage } from './support/gantt-html.js';
import { writeOutputs } from './support/outputs.js';
import { computeSchedule, type ScheduledItem } from './support/schedule-compute.js';
import { wbsProjectSchema } from './support/wbs-model.js';

/** The schedule as CSV rows (header first). */
export function scheduleCsv(items: readonly ScheduledItem[]): string {
  return toCsv([
    ['task_id', 'parent_id', 'level', 'name', 'start_date', 'end_date', 'duration_days', 'depends_on'],
    ...items.map((i) => [i.id, i.parentId ?? '', i.depth + 1, i.name, i.start, i.end, i.days, i.dependsOn.join(';')]),
  ]);
}

/** The Gantt chart (Mermaid and interactive HTML) and the CSV, from the WBS, dependencies and durations. */
export class CreateScheduleTask extends PlanTask {
  override requires() {
    return this.need(
      StartTimeTask,
      CreateWBSLevel1Task,
      IdentifyTaskDependenciesTask,
      EstimateTaskDurationsTask,
      WBSProjectLevel1AndLevel2AndLevel3Task,
    );
  }
  override output() {
    return {
      mermaid: file('026-1-schedule_gantt_mermaid.html'),
      html: file('026-2-schedule_gantt.html'),
      csv: file('026-3-schedule_gantt.csv'),
    };
  }
  override docTargets() {
    return [this.output().csv];
  }
  override async run(ctx: PlanContext): Promise<void> {
    const start = await readJson(ctx, this.dep(StartTimeTask).output().json, startTimeStoredSchema);
    const { wbs_project: root } = await readJson(ctx, this.dep(WBSProjectLevel1AndLevel2AndLevel3Task).output().json, wbsProjectSchema);
    const deps = await readJson(ctx, this.dep(IdentifyTaskDependenciesTask).output().raw, dependenciesStoredSchema);
    const durations = await readJson(ctx, this.dep(EstimateTaskDurationsTask).output().json, durationsStoredSchema);
    const title = await readJsonString(ctx, this.dep(CreateWBSLevel1Task).output().title);
    const items = computeSchedule({
      startDate: isoDate(start.start_time_iso_utc),
      root,
      dependencies: deps.task_dependency_details,
      durations: new Map(durations.map((d) => [d.task_id, d.days_realistic])),
      defaultDays: 5,
    });
    writeOutputs(ctx, this.output(), { mermaid: mermaidPage(title, items), html: interactiveGanttPage(title, items), csv: scheduleCsv(items) });
  }
}
