import { lazySchema, type Infer, type Zod } from './support/lazy-schema.js';
import { file } from '../engine/target.js';
import { PlanTask, type PlanContext } from './plan-task.js';
import { CTX_DOCS, PreProjectAssessmentTask, RelatedResourcesTask } from './assessment.js';
import { IdentifyPurposeTask } from './setup.js';
import { converse } from './support/conversation.js';
import { readDocs } from './support/docs.js';
import { runPerItem } from './support/items.js';
import { bullets, doc, field, section } from './support/markdown.js';
import { OneCallTask } from './support/one-call.js';
import { writeOutputs, asText } from './support/outputs.js';
import { Transcript } from './support/transcript.js';

const list = (z: Zod, min: number, max: number) => z.array(z.string().min(1)).min(min).max(max);

const swotSchema = lazySchema((z) =>
  z.object({
    strengths: list(z, 2, 6),
    weaknesses: list(z, 2, 6),
    opportunities: list(z, 2, 6),
    threats: list(z, 2, 6),
    recommendations: list(z, 2, 6).describe('Concrete actions that use strengths and opportunities against weaknesses and threats.'),
    strategic_objectives: list(z, 1, 5).describe('SMART objectives.'),
    assumptions: list(z, 1, 5),
    missing_information: list(z, 1, 5),
    questions_for_stakeholders: list(z, 1, 5),
  }),
);
type Swot = Infer<typeof swotSchema>;

/** SWOT analysis with recommendations. */
export class SWOTAnalysisTask extends OneCallTask<Swot> {
  override requires() {
    return this.need(IdentifyPurposeTask, ...CTX_DOCS, PreProjectAssessmentTask, RelatedResourcesTask);
  }
  override output() {
    return { raw: file('014-1-swot_analysis_raw.json'), md: file('014-2-swot_analysis.md') };
  }
  protected readonly schemaName = 'swot_analysis';
  protected readonly schema = swotSchema;
  protected readonly system =
    `Write a SWOT analysis of this project as it is planned, framed by its purpose (business, personal or other). Every point must be specific to this plan. Then turn the analysis into recommendations and SMART strategic objectives, and list the assumptions it rests on, the information that is missing and the questions to put to stakeholders.`;
  protected render(v: Swot) {
    return {
      md: doc(
        section(2, 'Strengths 👍💪🦾', bullets(v.strengths)),
        section(2, 'Weaknesses 👎😱🪫⚠️', bullets(v.weaknesses)),
        section(2, 'Opportunities 🌈🌐', bullets(v.opportunities)),
        section(2, 'Threats ☠️🛑🚨☢︎💩☣︎', bullets(v.threats)),
        section(2, 'Recommendations 💡✅', bullets(v.recommendations)),
        section(2, 'Strategic Objectives 🎯🔭⛳🏅', bullets(v.strategic_objectives)),
        section(2, 'Assumptions 🤔🧠🔍', bullets(v.assumptions)),
        section(2, 'Missing Information 🧩🤷‍♂️🤷‍♀️', bullets(v.missing_information)),
        section(2, 'Questions 🙋❓💬📌', bullets(v.questions_for_stakeholders)),
      ),
    };
  }
}

const expertsSchema = lazySchema((z) =>
  z.object({
    experts: z
      .array(
        z.object({
          title: z.string().min(1).describe('The expert’s role, e.g. "Geotechnical Engineer".'),
          knowledge: z.string().min(1),
          why: z.string().min(1).describe('Why this plan needs their view.'),
          what: z.string().min(1).describe('What they should review.'),
          skills: z.string().min(1),
          search_query: z.string().min(1).describe('A query to find such a person.'),
        }),
      )
      .min(2)
      .max(4),
  }),
);
type Expert = Infer<typeof expertsSchema>['experts'][number] & { id: string };

const criticismSchema = lazySchema((z) =>
  z.object({
    negative_feedback: z
      .array(z.object({ title: z.string().min(1), feedback: z.string().min(1) }))
      .min(2)
      .max(5),
    primary_actions: list(z, 1, 5),
    secondary_actions: list(z, 0, 5),
    follow_up_consultation: z.string().min(1).describe('What to bring to the next meeting with this expert.'),
  }),
);

/** Finds experts (two calls) and asks each for a critique of the plan (one call per expert). */
export class ExpertReviewTask extends PlanTask {
  override readonly usesSpeed = true;
  override requires() {
    return this.need(...CTX_DOCS, PreProjectAssessmentTask, SWOTAnalysisTask);
  }
  override output() {
    return { md: file('016-2-expert_criticism.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const plan = await readDocs(ctx, this.requires());
    const finder = new Transcript(ctx.llm);
    const found = await converse(finder, {
      system: `Name the experts whose criticism this project most needs before it starts: people who would spot the fatal flaws in its technical, financial, legal, social or operational side. Different disciplines, no overlap.\n\n${plan}`,
      turns: ['Name up to four experts.', 'Name up to four more experts from disciplines not covered above.'],
      schema: expertsSchema,
      name: 'find_experts',
    });
    const experts: Expert[] = found.flatMap((a) => a.experts).map((e, i) => ({ id: String(i + 1), ...e }));
    ctx.write('015-1-experts_raw.json', finder.toJson(experts));
    ctx.write('015-2-experts.json', asText(experts));

    const reviews = await runPerItem(ctx, {
      items: experts,
      speed: this.config.speed,
      key: (_e, n) => `expert-${n}`,
      rawFile: (n) => `016-1-${n}-expert_criticism_raw.json`,
      run: (expert, t) =>
        t.ask({
          system: `You are a ${expert.title} (${expert.knowledge}). You were asked to review this plan because: ${expert.why}. Focus on: ${expert.what}. Be direct and specific: name the flaws that would make the project fail or cost far more, and the actions that fix them. No praise.`,
          user: plan,
          schema: criticismSchema,
          name: 'expert_criticism',
        }),
    });
    const sections = reviews.map(({ item: e, n, result: r }) =>
      section(
        1,
        `${n}. Expert: ${e.title}`,
        field('Knowledge', e.knowledge),
        field('Why', e.why),
        field('What', e.what),
        ...r.negative_feedback.map((f, i) => section(2, `${n}.${i + 1} ${f.title}`, f.feedback)),
        section(2, 'Primary actions', bullets(r.primary_actions)),
        section(2, 'Secondary actions', bullets(r.secondary_actions)),
        field('Follow-up consultation', r.follow_up_consultation),
      ),
    );
    writeOutputs(ctx, this.output(), { md: doc(...sections) });
  }
}
