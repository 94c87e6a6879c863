import type { Speed } from './plan-task.js';

/**
 * Model calls a plan task typically makes, for `plan build --dry-run`'s estimate when the database holds no
 * earlier run to learn from. Per-item counts are those of real plans (e.g. 20–50 WBS leaves); fast mode caps
 * items at 2 and long conversations at 1–3 turns. Tasks not listed make no model call.
 */
export const TYPICAL_CALLS: Readonly<Record<string, readonly [full: number, fast: number]>> = {
  RedlineGateTask: [1, 1],
  PremiseAttackTask: [5, 2],
  IdentifyPurposeTask: [1, 1],
  PlanTypeTask: [1, 1],
  PotentialLeversTask: [3, 1],
  DeduplicateLeversTask: [1, 1],
  EnrichLeversTask: [4, 2],
  FocusOnVitalFewLeversTask: [1, 1],
  CandidateScenariosTask: [1, 1],
  SelectScenarioTask: [1, 1],
  PhysicalLocationsTask: [1, 1],
  CurrencyStrategyTask: [1, 1],
  IdentifyRisksTask: [1, 1],
  MakeAssumptionsTask: [1, 1],
  DistillAssumptionsTask: [1, 1],
  ReviewAssumptionsTask: [1, 1],
  ConsolidateAssumptionsMarkdownTask: [8, 2],
  PreProjectAssessmentTask: [1, 1],
  ProjectPlanTask: [1, 1],
  GovernancePhase1AuditTask: [1, 1],
  GovernancePhase2BodiesTask: [1, 1],
  GovernancePhase3ImplPlanTask: [1, 1],
  GovernancePhase4DecisionEscalationMatrixTask: [1, 1],
  GovernancePhase5MonitoringProgressTask: [1, 1],
  GovernancePhase6ExtraTask: [1, 1],
  RelatedResourcesTask: [1, 1],
  FindTeamMembersTask: [1, 1],
  EnrichTeamMembersWithContractTypeTask: [1, 1],
  EnrichTeamMembersWithBackgroundStoryTask: [1, 1],
  EnrichTeamMembersWithEnvironmentInfoTask: [1, 1],
  ReviewTeamTask: [1, 1],
  SWOTAnalysisTask: [1, 1],
  ExpertReviewTask: [10, 4],
  DataCollectionTask: [1, 1],
  IdentifyDocumentsTask: [1, 1],
  FilterDocumentsToFindTask: [1, 1],
  FilterDocumentsToCreateTask: [1, 1],
  DraftDocumentsToFindTask: [5, 2],
  DraftDocumentsToCreateTask: [5, 2],
  CreateWBSLevel1Task: [1, 1],
  CreateWBSLevel2Task: [1, 1],
  CreatePitchTask: [1, 1],
  ConvertPitchToMarkdownTask: [1, 1],
  IdentifyTaskDependenciesTask: [1, 1],
  EstimateTaskDurationsTask: [10, 2],
  CreateWBSLevel3Task: [30, 2],
  ReviewPlanTask: [16, 3],
  ExecutiveSummaryTask: [1, 1],
  QuestionsAndAnswersTask: [2, 2],
  PremortemTask: [3, 1],
  SelfAuditTask: [20, 3],
};

/** Typical input and output tokens of one call (medians of real plans). */
export const TYPICAL_CALL_TOKENS = { input: 8_000, output: 470 } as const;

export function typicalModelCalls(taskId: string, speed: Speed): number {
  const counts = TYPICAL_CALLS[taskId];
  return counts === undefined ? 0 : counts[speed === 'fast' ? 1 : 0];
}
