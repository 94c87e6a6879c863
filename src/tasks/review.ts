import { lazySchema, type Infer, type SchemaLike } from './support/lazy-schema.js';
import { file } from '../engine/target.js';
import { PlanTask, type PlanContext, type PlanTaskClass } from './plan-task.js';
import { CTX_DOCS, PreProjectAssessmentTask, ProjectPlanTask, RelatedResourcesTask } from './assessment.js';
import { ConsolidateAssumptionsMarkdownTask } from './assumptions.js';
import { IdentifyRisksTask } from './context.js';
import { DataCollectionTask, MarkdownWithDocumentsToCreateAndFindTask } from './documents.js';
import { ConsolidateGovernanceTask } from './governance.js';
import { StrategicDecisionsMarkdownTask } from './levers.js';
import { ConvertPitchToMarkdownTask } from './pitch.js';
import { ScenariosMarkdownTask } from './scenarios.js';
import { PremiseAttackTask, SetupTask } from './setup.js';
import { ExpertReviewTask, SWOTAnalysisTask } from './swot-experts.js';
import { TeamMarkdownTask } from './team.js';
import { WBSProjectLevel1AndLevel2AndLevel3Task, WBSProjectLevel1AndLevel2Task } from './wbs.js';
import { capTurns } from './support/caps.js';
import { askEach, converse } from './support/conversation.js';
import { docsReader, readDocs } from './support/docs.js';
import { markdownToHtml, htmlPage } from './support/html.js';
import { bullets, doc, field, section, table } from './support/markdown.js';
import { OneCallTask } from './support/one-call.js';
import { writeOutputs } from './support/outputs.js';
import { Transcript, rawJson } from './support/transcript.js';

/** The documents the final reviews read: the ctx docs and most documents of the plan. */
export const REVIEW_INPUTS: readonly PlanTaskClass[] = [
  SetupTask,
  ...CTX_DOCS,
  PreProjectAssessmentTask,
  ConsolidateGovernanceTask,
  RelatedResourcesTask,
  TeamMarkdownTask,
  SWOTAnalysisTask,
  ExpertReviewTask,
  DataCollectionTask,
  MarkdownWithDocumentsToCreateAndFindTask,
  ConvertPitchToMarkdownTask,
  WBSProjectLevel1AndLevel2AndLevel3Task,
];

/**
 * What every question of a parallel conversation is asked on: the prompt and the project plan, in the system
 * prompt, the same on each call of a task (a prefix a provider can cache). Each question adds the few documents
 * it needs (`reads`) in its own user message.
 */
const BASE_DOCS: readonly PlanTaskClass[] = [SetupTask, ProjectPlanTask];

/** A fixed question of a review task, and the documents it needs when it is asked on its own. */
interface ReviewQuestion {
  user: string;
  reads: readonly PlanTaskClass[];
}

/** The base documents and every document the questions read, once each, in order of first mention. */
function questionInputs(questions: readonly { reads: readonly PlanTaskClass[] }[]): PlanTaskClass[] {
  return [...new Set([...BASE_DOCS, ...questions.flatMap((q) => q.reads)])];
}

/**
 * A conversation-style review task. Sequential: the plan's documents go in the system prompt, each turn asks one
 * thing and sees every earlier answer. Parallel (`--conversations parallel`): each question is its own call on
 * the base documents plus the ones it needs, all asked at once; the task requires only those documents.
 */
abstract class PlanConversationTask extends PlanTask {
  override readonly usesSpeed: boolean = true;
  override readonly usesConversations = true;
  protected async converseOverPlan<T>(
    ctx: PlanContext,
    role: string,
    turns: readonly string[],
    schema: SchemaLike<T>,
    name: string,
    fastTurns: number,
  ) {
    const transcript = new Transcript(ctx.llm);
    const kept = capTurns(turns, this.config.speed, fastTurns);
    const answers = await converse(transcript, { system: `${role}\n\n${await readDocs(ctx, this.requires())}`, turns: kept, schema, name });
    return { answers, calls: transcript.calls };
  }

  /** The parallel form: the same questions (capped alike in fast mode), each on its own call, answers in order. */
  protected async askOverPlan<T>(
    ctx: PlanContext,
    role: string,
    questions: readonly ReviewQuestion[],
    schema: SchemaLike<T>,
    name: string,
    fastTurns: number,
  ) {
    const docs = docsReader(ctx);
    const kept = capTurns(questions, this.config.speed, fastTurns);
    const system = `${role}\n\n${await docs(this.need(...BASE_DOCS))}`;
    const asked = await Promise.all(
      kept.map(async (question, i) => {
        const own = await docs(this.need(...question.reads));
        return { key: `question-${i + 1}`, user: own === '' ? question.user : `${own}\n\n${question.user}` };
      }),
    );
    return askEach(ctx.llm, { system, questions: asked, schema, name });
  }
}

/** `reads`: the documents a question needs when it is asked on its own (parallel mode). */
const REVIEW_QUESTIONS: readonly { title: string; question: string; reads: readonly PlanTaskClass[] }[] = [
  {
    title: 'Critical Issues',
    question:
      'Name the three most critical or urgent issues in this plan. For each, quantify its significance (cost, risk, time) and say what to do about it.',
    reads: [ConsolidateAssumptionsMarkdownTask, PreProjectAssessmentTask, ExpertReviewTask],
  },
  {
    title: 'Implementation Consequences',
    question:
      'Name three significant consequences, positive or negative, of carrying out this plan, each with a quantified impact and a recommendation.',
    reads: [StrategicDecisionsMarkdownTask, SWOTAnalysisTask],
  },
  {
    title: 'Recommended Actions',
    question:
      'Name the three most important actions the plan calls for, with their expected quantified effect, their priority and how to start on them.',
    reads: [PreProjectAssessmentTask, ExpertReviewTask],
  },
  {
    title: 'Showstopper Risks',
    question:
      'Name three showstopper risks not yet addressed: for each its quantified impact, its likelihood, how it interacts with other risks, a mitigation and a contingency.',
    reads: [IdentifyRisksTask, ExpertReviewTask],
  },
  {
    title: 'Critical Assumptions',
    question: 'Name three assumptions that must hold for the plan to succeed, the quantified damage if each is wrong, and how to validate it early.',
    reads: [ConsolidateAssumptionsMarkdownTask, DataCollectionTask],
  },
  {
    title: 'Key Performance Indicators',
    question:
      'Propose three KPIs for the long-term success of the project, with target values, how they are measured and what to do when they are missed.',
    reads: [StrategicDecisionsMarkdownTask, ConsolidateGovernanceTask],
  },
  {
    title: 'Report Objectives',
    question: 'In three bullet points: what this plan document is for, who it is for, and which decisions it should inform.',
    reads: [StrategicDecisionsMarkdownTask, ScenariosMarkdownTask],
  },
  {
    title: 'Data Quality Concerns',
    question: 'Name three areas where the plan’s data is uncertain or incomplete, why each matters, and how to get better data.',
    reads: [ConsolidateAssumptionsMarkdownTask, DataCollectionTask],
  },
  {
    title: 'Stakeholder Feedback',
    question: 'Name three pieces of stakeholder feedback or clarification needed before this plan is final, why each matters and whom to ask.',
    reads: [ConsolidateGovernanceTask, SWOTAnalysisTask],
  },
  {
    title: 'Changed Assumptions',
    question:
      'Name three assumptions that may already be outdated or need re-checking, how a change would affect cost or schedule, and how to re-check them.',
    reads: [ConsolidateAssumptionsMarkdownTask, RelatedResourcesTask],
  },
  {
    title: 'Budget Clarifications',
    question: 'Name three budget questions that must be answered before committing money, their financial impact and how to resolve them.',
    reads: [ConsolidateAssumptionsMarkdownTask, TeamMarkdownTask],
  },
  {
    title: 'Role Definitions',
    question: 'Name three roles or responsibilities that must be defined more clearly, the risk of leaving them vague, and how to define them.',
    reads: [TeamMarkdownTask, ConsolidateGovernanceTask],
  },
  {
    title: 'Timeline Dependencies',
    question: 'Name three sequencing risks or dependencies in the timeline, the delay each could cause, and how to de-risk it.',
    reads: [WBSProjectLevel1AndLevel2Task],
  },
  {
    title: 'Financial Strategy',
    question: 'Name three long-term financial questions (funding, operating cost, revenue, exit) the plan leaves open, and their impact.',
    reads: [StrategicDecisionsMarkdownTask, ConsolidateAssumptionsMarkdownTask],
  },
  {
    title: 'Motivation Factors',
    question:
      'Name three factors that keep the team and stakeholders motivated through the project, what happens if they fade, and how to protect them.',
    reads: [TeamMarkdownTask, SWOTAnalysisTask],
  },
  {
    title: 'Automation Opportunities',
    question: 'Name three places where work in this plan could be automated or streamlined, with the quantified saving.',
    reads: [WBSProjectLevel1AndLevel2Task, TeamMarkdownTask],
  },
];

const reviewAnswerSchema = lazySchema((z) => z.object({ bullet_points: z.array(z.string().min(1)).min(1).max(5) }));

/**
 * A critical review of the whole plan over a fixed list of questions: one growing conversation, or (parallel)
 * each question on its own call with the documents it needs.
 */
export class ReviewPlanTask extends PlanConversationTask {
  override requires() {
    return this.parallel ? this.need(...questionInputs(REVIEW_QUESTIONS)) : this.need(...REVIEW_INPUTS);
  }
  override output() {
    return { raw: file('024-1-review_plan_raw.json'), md: file('024-2-review_plan.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const { answers, calls } = this.parallel
      ? await this.askOverPlan(
          ctx,
          'You are a demanding reviewer of project plans. Answer the question at the end about the plan below, in at most five concise bullet points, with numbers wherever you can.',
          REVIEW_QUESTIONS.map((q) => ({ user: q.question, reads: q.reads })),
          reviewAnswerSchema,
          'review_plan',
          3,
        )
      : await this.converseOverPlan(
          ctx,
          'You are a demanding reviewer of project plans. Answer each question about the plan below in at most five concise bullet points, with numbers wherever you can. Do not repeat earlier answers.',
          REVIEW_QUESTIONS.map((q) => q.question),
          reviewAnswerSchema,
          'review_plan',
          3,
        );
    const list = answers.map((a, i) => {
      const { title, question } = REVIEW_QUESTIONS[i]!;
      return { title, question, answers: a.bullet_points };
    });
    writeOutputs(ctx, this.output(), {
      raw: rawJson({ question_answers_list: list }, calls),
      md: doc(...list.map((qa) => section(2, qa.title, `_${qa.question}_`, bullets(qa.answers)))),
    });
  }
}

const summarySchema = lazySchema((z) =>
  z.object({
    focus_and_context: z.string().min(1),
    purpose_and_goals: z.string().min(1),
    key_deliverables_and_outcomes: z.array(z.string().min(1)).min(1).max(6),
    timeline_and_budget: z.string().min(1),
    risks_and_mitigations: z.string().min(1),
    audience_tailoring: z.string().min(1).describe('Who this summary is for and how it is pitched to them.'),
    action_orientation: z.string().min(1).describe('The immediate next steps, with owners and dates.'),
    overall_takeaway: z.string().min(1),
    feedback: z.array(z.string().min(1)).min(1).max(5).describe('How the plan itself could be made stronger.'),
  }),
);
type Summary = Infer<typeof summarySchema>;

/**
 * What the executive summary reads in parallel mode: the plan, its decisions, scenario and assumptions, the
 * readiness assessment, the phases of the work breakdown and the review — not the governance, team, expert,
 * document, pitch and level-3 WBS files the review already distilled, so it no longer waits for the WBS.
 */
const SUMMARY_INPUTS: readonly PlanTaskClass[] = [SetupTask, ...CTX_DOCS, PreProjectAssessmentTask, WBSProjectLevel1AndLevel2Task, ReviewPlanTask];

/** The executive summary for decision makers. */
export class ExecutiveSummaryTask extends OneCallTask<Summary> {
  override readonly usesConversations = true;
  override requires() {
    return this.parallel ? this.need(...SUMMARY_INPUTS) : this.need(...REVIEW_INPUTS, ReviewPlanTask);
  }
  override output() {
    return { raw: file('025-1-executive_summary_raw.json'), md: file('025-2-executive_summary.md') };
  }
  protected readonly schemaName = 'executive_summary';
  protected readonly schema = summarySchema;
  protected readonly system =
    `Write the executive summary of this plan for the senior people who decide on it and have five minutes. Lead with the context and the goal, then deliverables, timeline and budget, the main risks and what mitigates them, and the decisions and next steps you ask for. Use the review's findings. Be concrete and brief.`;
  protected render(v: Summary) {
    return {
      md: doc(
        section(2, 'Focus and Context', v.focus_and_context),
        section(2, 'Purpose and Goals', v.purpose_and_goals),
        section(2, 'Key Deliverables and Outcomes', bullets(v.key_deliverables_and_outcomes)),
        section(2, 'Timeline and Budget', v.timeline_and_budget),
        section(2, 'Risks and Mitigations', v.risks_and_mitigations),
        section(2, 'Audience Tailoring', v.audience_tailoring),
        section(2, 'Action Orientation', v.action_orientation),
        section(2, 'Overall Takeaway', v.overall_takeaway),
        section(2, 'Feedback', bullets(v.feedback)),
      ),
    };
  }
}

const qaSchema = lazySchema((z) =>
  z.object({
    question_answer_pairs: z
      .array(z.object({ question: z.string().min(1), answer: z.string().min(1) }))
      .min(2)
      .max(6),
  }),
);

const QA_ROLE =
  'You explain a project plan to an intelligent reader who is not an expert in its field. Ask the questions such a reader would ask and answer them plainly, using the plan’s own facts.';

/** Parallel mode: the two questions on their own, each with what it is about (no review or summary needed). */
const QA_QUESTIONS: readonly ReviewQuestion[] = [
  {
    user: 'Ask and answer the questions a newcomer needs to understand the plan: its key terms, concepts and choices.',
    reads: [StrategicDecisionsMarkdownTask, ScenariosMarkdownTask],
  },
  {
    user: 'Ask and answer the questions about its risks, ethics and the parts most likely to be misunderstood (not its basic terms: another call explains those).',
    reads: [IdentifyRisksTask, PremiseAttackTask],
  },
];

/** Questions a non-expert would ask about the plan, answered (two calls). */
export class QuestionsAndAnswersTask extends PlanConversationTask {
  override readonly usesSpeed = false;
  override requires() {
    return this.parallel ? this.need(...questionInputs(QA_QUESTIONS)) : this.need(...REVIEW_INPUTS, ReviewPlanTask, ExecutiveSummaryTask);
  }
  override output() {
    return {
      raw: file('027-1-questions_and_answers_raw.json'),
      md: file('027-2-questions_and_answers.md'),
      html: file('027-3-questions_and_answers.html'),
    };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const { answers, calls } = this.parallel
      ? await this.askOverPlan(ctx, QA_ROLE, QA_QUESTIONS, qaSchema, 'questions_and_answers', 2)
      : await this.converseOverPlan(
          ctx,
          QA_ROLE,
          [
            'Ask and answer the questions a newcomer needs to understand the plan: its key terms, concepts and choices.',
            'Now ask and answer the questions about its risks, ethics and the parts most likely to be misunderstood. Do not repeat earlier questions.',
          ],
          qaSchema,
          'questions_and_answers',
          2,
        );
    const pairs = answers.flatMap((a) => a.question_answer_pairs);
    const md = doc(...pairs.map((p, i) => section(2, `${i + 1}. ${p.question}`, p.answer)));
    writeOutputs(ctx, this.output(), {
      raw: rawJson({ question_answer_pairs: pairs }, calls),
      md,
      html: htmlPage({ title: 'Questions & Answers', body: `<h1>Questions &amp; Answers</h1>\n${markdownToHtml(md)}` }),
    });
  }
}

const premortemSchema = lazySchema((z) =>
  z.object({
    assumptions_to_kill: z
      .array(
        z.object({
          statement: z.string().min(1),
          test_now: z.string().min(1).describe('A cheap test to run this month.'),
          falsifier: z.string().min(1).describe('The result that proves it wrong.'),
        }),
      )
      .max(3),
    failure_modes: z
      .array(
        z.object({
          title: z.string().min(1).describe('A memorable name for how the project died.'),
          archetype: z.enum(['Process/Financial', 'Technical/Logistical', 'Market/Human']),
          root_cause_assumption: z.string().min(1),
          story: z.string().min(1).describe('How the failure unfolded, step by step.'),
          early_warning_signs: z.array(z.string().min(1)).min(1).max(4),
          tripwires: z.array(z.string().min(1)).min(1).max(4).describe('Measurable thresholds that trigger the response.'),
          response_playbook: z.array(z.string().min(1)).min(1).max(4),
          stop_rule: z.string().min(1).describe('The condition under which the project should be stopped.'),
        }),
      )
      .min(1)
      .max(3),
  }),
);
type Premortem = Infer<typeof premortemSchema>;

const PREMORTEM_TURNS = [
  'It is one year from now and the project has failed. Name the assumptions that killed it, each with a test to run now, and describe the first failure modes.',
  'Describe further failure modes of a different archetype than the ones above.',
  'Describe the last failure modes: the ones nobody on the team wants to talk about.',
];

const PREMORTEM_ROLE =
  'You run a premortem: imagine the project has failed, and work out why, so the team can prevent it. Be specific to this plan and give measurable tripwires.';

/**
 * Parallel mode: one call per failure archetype of the schema instead of "further modes of a different
 * archetype than the ones above", so no call needs another's answer.
 */
const PREMORTEM_ARCHETYPES: readonly ReviewQuestion[] = [
  {
    archetype: 'Process/Financial',
    focus: 'money, funding, contracts, governance and decision-making',
    reads: [PreProjectAssessmentTask, ConsolidateGovernanceTask],
  },
  {
    archetype: 'Technical/Logistical',
    focus: 'technology, engineering, supply, logistics and operations',
    reads: [ExpertReviewTask, WBSProjectLevel1AndLevel2Task],
  },
  {
    archetype: 'Market/Human',
    focus: 'demand, users, stakeholders, the team and the public, including the failures nobody on the team wants to talk about',
    reads: [SWOTAnalysisTask, TeamMarkdownTask],
  },
].map(({ archetype, focus, reads }) => ({
  user: `It is one year from now and the project has failed. Name the assumptions that killed it, each with a test to run now, and describe the failure modes of the ${archetype} archetype (${focus}).`,
  reads: [ConsolidateAssumptionsMarkdownTask, IdentifyRisksTask, ...reads],
}));

/** How the project could fail, with tripwires and playbooks (three turns, or one call per archetype; one in fast mode). */
export class PremortemTask extends PlanConversationTask {
  override requires() {
    return this.parallel
      ? this.need(...questionInputs(PREMORTEM_ARCHETYPES))
      : this.need(...REVIEW_INPUTS, ReviewPlanTask, ExecutiveSummaryTask, QuestionsAndAnswersTask);
  }
  override output() {
    return { raw: file('028-1-premortem_raw.json'), md: file('028-2-premortem.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const { answers, calls } = this.parallel
      ? await this.askOverPlan(ctx, PREMORTEM_ROLE, PREMORTEM_ARCHETYPES, premortemSchema, 'premortem', 1)
      : await this.converseOverPlan(ctx, PREMORTEM_ROLE, PREMORTEM_TURNS, premortemSchema, 'premortem', 1);
    const assumptions = answers.flatMap((a) => a.assumptions_to_kill);
    const modes = answers.flatMap((a) => a.failure_modes);
    const response: Premortem = { assumptions_to_kill: assumptions, failure_modes: modes };
    writeOutputs(ctx, this.output(), {
      raw: rawJson(response, calls),
      md: doc(
        section(
          2,
          'Assumptions to Kill',
          table(
            ['#', 'Assumption', 'Test now', 'Falsifier'],
            assumptions.map((a, i) => [`A${i + 1}`, a.statement, a.test_now, a.falsifier]),
          ),
        ),
        section(
          2,
          'Failure Modes',
          ...modes.map((m, i) =>
            section(
              3,
              `${i + 1}. ${m.title}`,
              field('Archetype', m.archetype),
              field('Root cause', m.root_cause_assumption),
              m.story,
              section(4, 'Early warning signs', bullets(m.early_warning_signs)),
              section(4, 'Tripwires', bullets(m.tripwires)),
              section(4, 'Response playbook', bullets(m.response_playbook)),
              field('Stop rule', m.stop_rule),
            ),
          ),
        ),
      ),
    });
  }
}

/** `reads`: the documents an item needs when it is asked on its own (parallel mode). */
const CHECKLIST: readonly { title: string; question: string; reads: readonly PlanTaskClass[] }[] = (
  [
    ['Violates Known Physics', 'Does success need a breakthrough in fundamental science?', [ExpertReviewTask]],
    ['No Real-World Proof', 'Does success depend on something never proven at this scale or in this domain?', [RelatedResourcesTask]],
    ['Buzzwords', 'Does the plan lean on buzzwords without saying how they create value?', [StrategicDecisionsMarkdownTask]],
    ['Underestimating Risks', 'Does the plan underestimate risks or ignore how they cascade?', [IdentifyRisksTask, ExpertReviewTask]],
    [
      'Timeline Issues',
      'Is the timeline unrealistic, or missing critical steps?',
      [WBSProjectLevel1AndLevel2Task, ConsolidateAssumptionsMarkdownTask],
    ],
    ['Money Issues', 'Is the funding uncertain, or not committed when it is needed?', [ConsolidateAssumptionsMarkdownTask, PreProjectAssessmentTask]],
    [
      'Budget Too Low',
      'Is the budget too low for the scope, compared with similar projects?',
      [ConsolidateAssumptionsMarkdownTask, RelatedResourcesTask],
    ],
    [
      'Overly Optimistic Projections',
      'Are the projections (users, revenue, savings) unrealistically optimistic?',
      [ConsolidateAssumptionsMarkdownTask, SWOTAnalysisTask],
    ],
    [
      'Lacks Technical Depth',
      'Does the plan skip the technical detail needed to believe it can be built?',
      [WBSProjectLevel1AndLevel2Task, ExpertReviewTask],
    ],
    ['Assertions Without Evidence', 'Does the plan state facts it gives no evidence for?', [ConsolidateAssumptionsMarkdownTask, DataCollectionTask]],
    ['Unclear Deliverables', 'Are the deliverables vague or impossible to verify?', [WBSProjectLevel1AndLevel2Task]],
    [
      'Gold Plating',
      'Does the plan add features or scope that the goal does not need?',
      [StrategicDecisionsMarkdownTask, WBSProjectLevel1AndLevel2Task],
    ],
    ['Staffing Fit & Rationale', 'Are the roles and skills right for the work, and justified?', [TeamMarkdownTask]],
    ['Legal Minefield', 'Does the plan face legal or regulatory obstacles it does not address?', [PreProjectAssessmentTask, IdentifyRisksTask]],
    [
      'Lacks Operational Sustainability',
      'Can the result be operated and paid for after the project ends?',
      [ScenariosMarkdownTask, TeamMarkdownTask],
    ],
    [
      'Infeasible Constraints',
      'Do constraints (site, permits, physics, supply) make the plan infeasible?',
      [ConsolidateAssumptionsMarkdownTask, ExpertReviewTask],
    ],
    ['External Dependencies', 'Does success hinge on outside parties the plan does not control?', [IdentifyRisksTask, ConsolidateGovernanceTask]],
    ['Stakeholder Misalignment', 'Do key stakeholders want conflicting things?', [ConsolidateGovernanceTask, SWOTAnalysisTask]],
    ['No Adaptive Framework', 'Does the plan lack a way to adapt when things change?', [ConsolidateGovernanceTask]],
    ['Uncategorized Red Flags', 'Is there any other red flag the items above did not catch?', [PremiseAttackTask, ExpertReviewTask]],
  ] as const
).map(([title, question, reads]) => ({ title, question, reads }));

const auditSchema = lazySchema((z) =>
  z.object({
    level: z.enum(['High', 'Medium', 'Low']),
    justification: z.string().min(1).describe('Why this level, citing the plan.'),
    mitigation: z.string().min(1).describe('Who does what by when; "None" if the level is Low.'),
  }),
);
type AuditAnswer = Infer<typeof auditSchema>;
const LEVEL_LABEL: Record<AuditAnswer['level'], string> = { High: '🛑 High', Medium: '⚠️ Medium', Low: '✅ Low' };

/**
 * A red-flag checklist of twenty items (three in fast mode): answered in order, each answer seen by the next, or
 * (parallel) each item on its own call with the documents it needs.
 */
export class SelfAuditTask extends PlanConversationTask {
  override requires() {
    return this.parallel
      ? this.need(...questionInputs(CHECKLIST))
      : this.need(...REVIEW_INPUTS, ReviewPlanTask, ExecutiveSummaryTask, QuestionsAndAnswersTask, PremortemTask);
  }
  override output() {
    return { raw: file('029-1-self_audit_raw.json'), md: file('029-2-self_audit.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const items = CHECKLIST.map((c, i) => ({ user: `Checklist item ${i + 1}: ${c.title}. ${c.question}`, reads: c.reads }));
    const { answers, calls } = this.parallel
      ? await this.askOverPlan(
          ctx,
          'You audit a project plan against one item of a checklist of red flags. Rate the plan High (an existential blocker without credible mitigation), Medium (a material risk with a plausible path) or Low (minor or controlled) on the item at the end, justify it from the plan and the documents given, and give a mitigation.',
          items,
          auditSchema,
          'self_audit',
          3,
        )
      : await this.converseOverPlan(
          ctx,
          'You audit a project plan against a checklist of red flags. For each item rate the plan High (an existential blocker without credible mitigation), Medium (a material risk with a plausible path) or Low (minor or controlled), justify it from the plan, and give a mitigation. Stay consistent with your earlier answers.',
          items.map((item) => item.user),
          auditSchema,
          'self_audit',
          3,
        );
    const checklist = answers.map((a, i) => {
      const { title, question } = CHECKLIST[i]!;
      return { title, question, ...a };
    });
    const count = (level: AuditAnswer['level']) => checklist.filter((i) => i.level === level).length;
    writeOutputs(ctx, this.output(), {
      raw: rawJson({ checklist }, calls),
      md: doc(
        section(
          3,
          'Summary',
          table(
            ['Level', 'Count', 'Explanation'],
            [
              [LEVEL_LABEL.High, count('High'), 'Existential blocker without credible mitigation.'],
              [LEVEL_LABEL.Medium, count('Medium'), 'Material risk with plausible path.'],
              [LEVEL_LABEL.Low, count('Low'), 'Minor/controlled risk.'],
            ],
          ),
        ),
        section(
          2,
          'Checklist',
          ...checklist.map((item, i) =>
            section(
              2,
              `${i + 1}. ${item.title}`,
              `_${item.question}_`,
              field('Level', LEVEL_LABEL[item.level]),
              field('Justification', item.justification),
              field('Mitigation', item.mitigation),
            ),
          ),
        ),
      ),
    });
  }
}
