import { lazySchema, type Infer } from './support/lazy-schema.js';
import { file } from '../engine/target.js';
import { ConsolidateAssumptionsMarkdownTask } from './assumptions.js';
import { StrategicDecisionsMarkdownTask } from './levers.js';
import { ScenariosMarkdownTask } from './scenarios.js';
import { SetupTask } from './setup.js';
import { bullets, doc, field, section } from './support/markdown.js';
import { OneCallTask } from './support/one-call.js';

const assessmentSchema = lazySchema((z) =>
  z.object({
    combined_summary: z.string().min(1).describe('The state of readiness in three or four sentences.'),
    go_no_go_recommendation: z.enum(['Go', 'Go with conditions', 'No go']),
    recommendation_rationale: z.string().min(1),
    feedback: z
      .array(
        z.object({
          title: z.string().min(1),
          immediate_actions: z.array(z.string().min(1)).min(1).max(4),
          rationale: z.string().min(1),
          deadline: z.string().min(1).describe('When it must be done, relative to the start (e.g. "within 2 weeks").'),
        }),
      )
      .min(2)
      .max(8),
  }),
);
type Assessment = Infer<typeof assessmentSchema>;

/** A go / no-go feasibility check before the plan is written. */
export class PreProjectAssessmentTask extends OneCallTask<Assessment> {
  override requires() {
    return this.need(SetupTask, StrategicDecisionsMarkdownTask, ScenariosMarkdownTask, ConsolidateAssumptionsMarkdownTask);
  }
  override output() {
    return { raw: file('004-1-pre_project_assessment_raw.json'), json: file('004-2-pre_project_assessment.json') };
  }
  protected readonly schemaName = 'pre_project_assessment';
  protected readonly schema = assessmentSchema;
  protected readonly system =
    `Act as two senior reviewers, a project-delivery expert and a domain expert, assessing whether this project is ready to start. Name the actions that must happen before or right after the start (permits, funding commitments, safety, key hires, validation), each with a rationale and deadline, and give a go / no-go recommendation with its reason.`;
  protected render(v: Assessment) {
    return { json: v };
  }
}

const projectPlanSchema = lazySchema((z) =>
  z.object({
    goal_statement: z.string().min(1),
    smart_criteria: z.object({
      specific: z.string().min(1),
      measurable: z.string().min(1),
      achievable: z.string().min(1),
      relevant: z.string().min(1),
      time_bound: z.string().min(1),
    }),
    dependencies: z.array(z.string().min(1)).min(1).max(10),
    resources_required: z.array(z.string().min(1)).min(1).max(12),
    related_goals: z.array(z.string().min(1)).max(6),
    tags: z.array(z.string().min(1)).max(10),
    risk_assessment_and_mitigation: z.object({
      key_risks: z.array(z.string().min(1)).min(1).max(8),
      mitigation_strategies: z.array(z.string().min(1)).min(1).max(8),
    }),
    stakeholder_analysis: z.object({
      primary_stakeholders: z.array(z.string().min(1)).min(1).max(8),
      secondary_stakeholders: z.array(z.string().min(1)).max(8),
      engagement_strategies: z.array(z.string().min(1)).min(1).max(6),
    }),
    regulatory_and_compliance: z.object({
      permits_and_licenses: z.array(z.string().min(1)).max(8),
      compliance_standards: z.array(z.string().min(1)).max(8),
      regulatory_bodies: z.array(z.string().min(1)).max(8),
      compliance_actions: z.array(z.string().min(1)).max(8),
    }),
  }),
);
type ProjectPlan = Infer<typeof projectPlanSchema>;

/** The core plan: goal, SMART criteria, dependencies, resources, stakeholders, regulation. */
export class ProjectPlanTask extends OneCallTask<ProjectPlan> {
  override requires() {
    return this.need(SetupTask, StrategicDecisionsMarkdownTask, ScenariosMarkdownTask, ConsolidateAssumptionsMarkdownTask, PreProjectAssessmentTask);
  }
  override output() {
    return { raw: file('005-1-project_plan_raw.json'), md: file('005-2-project_plan.md') };
  }
  protected readonly schemaName = 'project_plan';
  protected readonly schema = projectPlanSchema;
  protected readonly system =
    `Write the core project plan. Follow the chosen scenario and the strategic decisions, respect the assumptions, and act on the pre-project assessment. The goal statement is one clear sentence. SMART criteria must carry numbers and dates. Be concrete about dependencies, resources, stakeholders and the regulation that applies where the project happens.`;
  protected render(v: ProjectPlan) {
    const s = v.smart_criteria;
    const sh = v.stakeholder_analysis;
    const rc = v.regulatory_and_compliance;
    return {
      md: doc(
        field('Goal Statement', v.goal_statement),
        section(
          2,
          'SMART Criteria',
          bullets([
            `**Specific:** ${s.specific}`,
            `**Measurable:** ${s.measurable}`,
            `**Achievable:** ${s.achievable}`,
            `**Relevant:** ${s.relevant}`,
            `**Time-bound:** ${s.time_bound}`,
          ]),
        ),
        section(2, 'Dependencies', bullets(v.dependencies)),
        section(2, 'Resources Required', bullets(v.resources_required)),
        section(2, 'Related Goals', bullets(v.related_goals)),
        section(2, 'Tags', bullets(v.tags)),
        section(
          2,
          'Risk Assessment and Mitigation Strategies',
          section(3, 'Key Risks', bullets(v.risk_assessment_and_mitigation.key_risks)),
          section(3, 'Mitigation Strategies', bullets(v.risk_assessment_and_mitigation.mitigation_strategies)),
        ),
        section(
          2,
          'Stakeholder Analysis',
          section(3, 'Primary Stakeholders', bullets(sh.primary_stakeholders)),
          section(3, 'Secondary Stakeholders', bullets(sh.secondary_stakeholders)),
          section(3, 'Engagement Strategies', bullets(sh.engagement_strategies)),
        ),
        section(
          2,
          'Regulatory and Compliance Requirements',
          section(3, 'Permits and Licenses', bullets(rc.permits_and_licenses)),
          section(3, 'Compliance Standards', bullets(rc.compliance_standards)),
          section(3, 'Regulatory Bodies', bullets(rc.regulatory_bodies)),
          section(3, 'Compliance Actions', bullets(rc.compliance_actions)),
        ),
      ),
    };
  }
}

/** The "ctx docs" most later prompts read: decisions, scenarios, short assumptions and the project plan. */
export const CTX_DOCS = [StrategicDecisionsMarkdownTask, ScenariosMarkdownTask, ConsolidateAssumptionsMarkdownTask, ProjectPlanTask];

const relatedSchema = lazySchema((z) =>
  z.object({
    suggestion_list: z
      .array(
        z.object({
          project_name: z.string().min(1),
          project_description: z.string().min(1),
          success_metrics: z.array(z.string().min(1)).max(5),
          risks_and_challenges_faced: z.array(z.string().min(1)).max(5),
          where_to_find_more_information: z.array(z.string().min(1)).max(4),
          actionable_steps: z.array(z.string().min(1)).max(4).describe('Whom to contact or what to read, concretely.'),
          rationale_for_suggestion: z.string().min(1),
        }),
      )
      .min(2)
      .max(6),
    summary: z.string().min(1),
  }),
);
type Related = Infer<typeof relatedSchema>;

/** Similar past projects to learn from. */
export class RelatedResourcesTask extends OneCallTask<Related> {
  override requires() {
    return this.need(...CTX_DOCS);
  }
  override output() {
    return { raw: file('007-1-related_resources_raw.json'), md: file('007-8-related_resources.md') };
  }
  protected readonly schemaName = 'related_resources';
  protected readonly schema = relatedSchema;
  protected readonly system =
    `Suggest real past or ongoing projects similar to this one, in scale, domain or approach, that its team should study. For each, say what it was, how success was measured, what went wrong, where to learn more and what to do with it. Prefer well-documented projects; never invent one.`;
  protected render(v: Related) {
    return {
      md: doc(
        ...v.suggestion_list.map((p, i) =>
          section(
            2,
            `Suggestion ${i + 1} - ${p.project_name}`,
            p.project_description,
            section(3, 'Success Metrics', bullets(p.success_metrics)),
            section(3, 'Risks and Challenges Faced', bullets(p.risks_and_challenges_faced)),
            section(3, 'Where to Find More Information', bullets(p.where_to_find_more_information)),
            section(3, 'Actionable Steps', bullets(p.actionable_steps)),
            field('Rationale for Suggestion', p.rationale_for_suggestion),
          ),
        ),
        section(2, 'Summary', v.summary),
      ),
    };
  }
}
