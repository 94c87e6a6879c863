import { file } from '../engine/target.js';
import { PlanTask, type PlanContext, type PlanTaskClass } from './plan-task.js';
import { PreProjectAssessmentTask, ProjectPlanTask, RelatedResourcesTask } from './assessment.js';
import { ConsolidateAssumptionsMarkdownTask, DistillAssumptionsTask, MakeAssumptionsTask, ReviewAssumptionsTask } from './assumptions.js';
import { CurrencyStrategyTask, IdentifyRisksTask, PhysicalLocationsTask } from './context.js';
import {
  DataCollectionTask,
  DraftDocumentsToCreateTask,
  DraftDocumentsToFindTask,
  FilterDocumentsToCreateTask,
  FilterDocumentsToFindTask,
  IdentifyDocumentsTask,
  MarkdownWithDocumentsToCreateAndFindTask,
} from './documents.js';
import {
  ConsolidateGovernanceTask,
  GovernancePhase1AuditTask,
  GovernancePhase2BodiesTask,
  GovernancePhase3ImplPlanTask,
  GovernancePhase4DecisionEscalationMatrixTask,
  GovernancePhase5MonitoringProgressTask,
  GovernancePhase6ExtraTask,
} from './governance.js';
import { DeduplicateLeversTask, EnrichLeversTask, FocusOnVitalFewLeversTask, PotentialLeversTask, StrategicDecisionsMarkdownTask } from './levers.js';
import { ConvertPitchToMarkdownTask, CreatePitchTask } from './pitch.js';
import { ReportTask } from './report.js';
import { ExecutiveSummaryTask, PremortemTask, QuestionsAndAnswersTask, ReviewPlanTask, SelfAuditTask } from './review.js';
import { CandidateScenariosTask, ScenariosMarkdownTask, SelectScenarioTask } from './scenarios.js';
import { CreateScheduleTask } from './schedule.js';
import { IdentifyPurposeTask, PlanTypeTask, PremiseAttackTask, RedlineGateTask, SetupTask, StartTimeTask } from './setup.js';
import { ExpertReviewTask, SWOTAnalysisTask } from './swot-experts.js';
import {
  EnrichTeamMembersWithBackgroundStoryTask,
  EnrichTeamMembersWithContractTypeTask,
  EnrichTeamMembersWithEnvironmentInfoTask,
  FindTeamMembersTask,
  ReviewTeamTask,
  TeamMarkdownTask,
} from './team.js';
import {
  CreateWBSLevel1Task,
  CreateWBSLevel2Task,
  CreateWBSLevel3Task,
  EstimateTaskDurationsTask,
  IdentifyTaskDependenciesTask,
  WBSProjectLevel1AndLevel2AndLevel3Task,
  WBSProjectLevel1AndLevel2Task,
} from './wbs.js';

/** Every task of the plan pipeline but the root, in pipeline order (rows 1–62 of the catalogue). */
export const PLAN_STAGE_TASKS: readonly PlanTaskClass[] = [
  StartTimeTask,
  SetupTask,
  RedlineGateTask,
  PremiseAttackTask,
  IdentifyPurposeTask,
  PlanTypeTask,
  PotentialLeversTask,
  DeduplicateLeversTask,
  EnrichLeversTask,
  FocusOnVitalFewLeversTask,
  StrategicDecisionsMarkdownTask,
  CandidateScenariosTask,
  SelectScenarioTask,
  ScenariosMarkdownTask,
  PhysicalLocationsTask,
  CurrencyStrategyTask,
  IdentifyRisksTask,
  MakeAssumptionsTask,
  DistillAssumptionsTask,
  ReviewAssumptionsTask,
  ConsolidateAssumptionsMarkdownTask,
  PreProjectAssessmentTask,
  ProjectPlanTask,
  GovernancePhase1AuditTask,
  GovernancePhase2BodiesTask,
  GovernancePhase3ImplPlanTask,
  GovernancePhase4DecisionEscalationMatrixTask,
  GovernancePhase5MonitoringProgressTask,
  GovernancePhase6ExtraTask,
  ConsolidateGovernanceTask,
  RelatedResourcesTask,
  FindTeamMembersTask,
  EnrichTeamMembersWithContractTypeTask,
  EnrichTeamMembersWithBackgroundStoryTask,
  EnrichTeamMembersWithEnvironmentInfoTask,
  ReviewTeamTask,
  TeamMarkdownTask,
  SWOTAnalysisTask,
  ExpertReviewTask,
  DataCollectionTask,
  IdentifyDocumentsTask,
  FilterDocumentsToFindTask,
  FilterDocumentsToCreateTask,
  DraftDocumentsToFindTask,
  DraftDocumentsToCreateTask,
  MarkdownWithDocumentsToCreateAndFindTask,
  CreateWBSLevel1Task,
  CreateWBSLevel2Task,
  WBSProjectLevel1AndLevel2Task,
  CreatePitchTask,
  ConvertPitchToMarkdownTask,
  IdentifyTaskDependenciesTask,
  EstimateTaskDurationsTask,
  CreateWBSLevel3Task,
  WBSProjectLevel1AndLevel2AndLevel3Task,
  CreateScheduleTask,
  ReviewPlanTask,
  ExecutiveSummaryTask,
  QuestionsAndAnswersTask,
  PremortemTask,
  SelfAuditTask,
  ReportTask,
];

/** The root: requires every other task, and marks the whole plan complete. */
export class FullPlanPipeline extends PlanTask {
  override requires() {
    return this.need(...PLAN_STAGE_TASKS);
  }
  override output() {
    return { done: file('999-pipeline_complete.txt') };
  }
  override docTargets() {
    return [];
  }
  override async run(ctx: PlanContext): Promise<void> {
    ctx.write(this.output().done, `Plan complete: ${PLAN_STAGE_TASKS.length} tasks built.\n`);
  }
}

/** All 63 task classes of the plan pipeline, in pipeline order (catalogue rows 1–63). */
export const PLAN_TASK_CLASSES: readonly PlanTaskClass[] = [...PLAN_STAGE_TASKS, FullPlanPipeline];
