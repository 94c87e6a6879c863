import { lazySchema, type Infer } from './support/lazy-schema.js';
import { BudgetExceededError, CancelledError } from '../llm/errors.js';
import { file } from '../engine/target.js';
import { PlanTask, type PlanContext, type PlanTaskClass } from './plan-task.js';
import { CurrencyStrategyTask, EARLY_CONTEXT, IdentifyRisksTask, PhysicalLocationsTask } from './context.js';
import { StrategicDecisionsMarkdownTask } from './levers.js';
import { ScenariosMarkdownTask } from './scenarios.js';
import { IdentifyPurposeTask, PlanTypeTask, SetupTask } from './setup.js';
import { readTaskDoc } from './support/docs.js';
import { runPerItem } from './support/items.js';
import { bullets, doc, field, heading, section } from './support/markdown.js';
import { OneCallTask } from './support/one-call.js';
import { writeOutputs } from './support/outputs.js';

const assumptionsSchema = lazySchema((z) =>
  z.object({
    question_assumption_list: z
      .array(
        z.object({
          question: z.string().min(1).describe('A question the prompt leaves open (budget, timeline, roles, regulation, safety, sustainability…).'),
          assumption: z.string().min(1).describe('A concrete, quantified assumption that answers it.'),
          assessment: z.string().min(1).describe('Why this is reasonable, its risks and its consequences for the plan.'),
        }),
      )
      .min(4)
      .max(10),
  }),
);
type Assumptions = Infer<typeof assumptionsSchema>;

/** Concrete assumptions for everything the prompt leaves open. */
export class MakeAssumptionsTask extends OneCallTask<Assumptions> {
  override requires() {
    return this.need(...EARLY_CONTEXT, PhysicalLocationsTask, CurrencyStrategyTask, IdentifyRisksTask);
  }
  override output() {
    return { raw: file('003-3-make_assumptions_raw.json'), json: file('003-4-make_assumptions.json'), md: file('003-5-make_assumptions.md') };
  }
  protected readonly schemaName = 'make_assumptions';
  protected readonly schema = assumptionsSchema;
  protected readonly system =
    `A plan cannot wait for every answer. Ask the questions this prompt leaves open — funding and budget, timeline, team and roles, regulation, safety, environment, stakeholders, operations — and answer each with a concrete assumption (numbers, dates, names of standards) that a planner can work with. Assess each assumption: why it is reasonable, what could make it wrong and what follows for the plan.`;
  protected render(v: Assumptions) {
    return {
      json: v.question_assumption_list,
      md: doc(
        ...v.question_assumption_list.map((q, i) =>
          section(2, `Question ${i + 1} - ${q.question}`, field('Assumption', q.assumption), field('Assessment', q.assessment)),
        ),
      ),
    };
  }
}

const distillSchema = lazySchema((z) =>
  z.object({
    assumption_list: z.array(z.string().min(1)).min(3).max(10).describe('One sentence each, most important first.'),
  }),
);
type Distilled = Infer<typeof distillSchema>;

/** The assumptions boiled down to a few sentences. */
export class DistillAssumptionsTask extends OneCallTask<Distilled> {
  override requires() {
    return this.need(SetupTask, IdentifyPurposeTask, StrategicDecisionsMarkdownTask, ScenariosMarkdownTask, MakeAssumptionsTask);
  }
  override output() {
    return { raw: file('003-6-distill_assumptions_raw.json'), md: file('003-7-distill_assumptions.md') };
  }
  protected readonly schemaName = 'distill_assumptions';
  protected readonly schema = distillSchema;
  protected readonly system =
    `Distill the assumptions into at most ten short sentences, one assumption each, keeping every number and name that matters. Drop anything that merely restates the prompt.`;
  protected render(v: Distilled) {
    return { md: doc(bullets(v.assumption_list)) };
  }
}

const reviewSchema = lazySchema((z) =>
  z.object({
    expert_domain: z.string().min(1).describe('The expertise that best judges these assumptions.'),
    domain_specific_considerations: z.array(z.string().min(1)).min(1).max(6),
    issues: z
      .array(
        z.object({
          title: z.string().min(1),
          explanation: z.string().min(1),
          recommendation: z.string().min(1),
          sensitivity: z.string().min(1).describe('How much the outcome moves if this is wrong, quantified where possible.'),
        }),
      )
      .min(1)
      .max(6),
    conclusion: z.string().min(1),
  }),
);
type Review = Infer<typeof reviewSchema>;

/** Problems with the assumptions, as a domain expert would see them. */
export class ReviewAssumptionsTask extends OneCallTask<Review> {
  override requires() {
    return this.need(
      IdentifyPurposeTask,
      PlanTypeTask,
      StrategicDecisionsMarkdownTask,
      ScenariosMarkdownTask,
      PhysicalLocationsTask,
      CurrencyStrategyTask,
      IdentifyRisksTask,
      MakeAssumptionsTask,
      DistillAssumptionsTask,
    );
  }
  override output() {
    return { raw: file('003-8-review_assumptions_raw.json'), md: file('003-9-review_assumptions.md') };
  }
  protected readonly schemaName = 'review_assumptions';
  protected readonly schema = reviewSchema;
  protected readonly system =
    `Act as the domain expert best placed to judge this plan. Find the missing, weak or contradictory assumptions: what has been overlooked, what is too optimistic, which numbers do not add up. For each issue explain it, recommend a fix and say how sensitive the outcome is to it.`;
  protected render(v: Review) {
    return {
      md: doc(
        field('Domain of the expert reviewer', v.expert_domain),
        section(2, 'Domain-specific considerations', bullets(v.domain_specific_considerations)),
        ...v.issues.map((issue, i) =>
          section(
            2,
            `Issue ${i + 1} - ${issue.title}`,
            issue.explanation,
            field('Recommendation', issue.recommendation),
            field('Sensitivity', issue.sensitivity),
          ),
        ),
        section(2, 'Review conclusion', v.conclusion),
      ),
    };
  }
}

const SECTIONS: readonly { title: string; task: PlanTaskClass }[] = [
  { title: 'Purpose', task: IdentifyPurposeTask },
  { title: 'Plan Type', task: PlanTypeTask },
  { title: 'Physical Locations', task: PhysicalLocationsTask },
  { title: 'Currency Strategy', task: CurrencyStrategyTask },
  { title: 'Identify Risks', task: IdentifyRisksTask },
  { title: 'Make Assumptions', task: MakeAssumptionsTask },
  { title: 'Distill Assumptions', task: DistillAssumptionsTask },
  { title: 'Review Assumptions', task: ReviewAssumptionsTask },
];

const SHORTEN_SYSTEM = `Shorten the given section of a project plan to at most a fifth of its length, in markdown without headings. Keep every decision, number, name and risk that matters; drop repetition and general remarks. Answer with the shortened text only.`;

/** The assumption documents joined (full) and each shortened by one model call (short, a ctx doc). */
export class ConsolidateAssumptionsMarkdownTask extends PlanTask {
  override readonly usesSpeed = true;
  override requires() {
    return this.need(...SECTIONS.map((s) => s.task));
  }
  override output() {
    return { full: file('003-10-consolidate_assumptions_full.md'), short: file('003-11-consolidate_assumptions_short.md') };
  }
  override docTargets() {
    return [this.output().short];
  }
  override async run(ctx: PlanContext): Promise<void> {
    const sections = await Promise.all(SECTIONS.map(async (s) => ({ title: s.title, body: await readTaskDoc(ctx, new s.task(this.config)) })));
    const shortened = await runPerItem(ctx, {
      items: sections,
      speed: this.config.speed,
      key: (_s, n) => `section-${n}`,
      run: async (s, t) => {
        try {
          return await t.askText(SHORTEN_SYSTEM, `Section: ${s.title}\n\n${s.body}`);
        } catch (error) {
          // A stop (cancel, the budget) is not a failed call: it must end the task, not leave a placeholder.
          if (ctx.signal.aborted || error instanceof BudgetExceededError || error instanceof CancelledError) throw error;
          ctx.log(`shortening '${s.title}' failed: ${(error as Error).message}`);
          return `**[Placeholder: this section could not be shortened (the model call failed). See the full assumptions document.]**`;
        }
      },
    });
    const short = sections.map((s, i) => {
      const result = shortened[i]?.result;
      const body = result ?? `${s.body.slice(0, 600).trimEnd()}${s.body.length > 600 ? ' …' : ''}\n\n_(Not shortened in fast mode.)_`;
      return section(1, s.title, body.trim());
    });
    writeOutputs(ctx, this.output(), {
      full: doc(...sections.map((s) => doc(heading(1, s.title), s.body).trimEnd())),
      short: doc(...short),
    });
  }
}
