import { lazySchema, type Infer } from './support/lazy-schema.js';
import { file } from '../engine/target.js';
import { PlanTask, type PlanContext } from './plan-task.js';
import { IdentifyPurposeTask, PlanTypeTask, SetupTask } from './setup.js';
import { capTurns, chunk } from './support/caps.js';
import { converse } from './support/conversation.js';
import { readDocs, readJson } from './support/docs.js';
import { callsOf, runPerItem } from './support/items.js';
import { bullets, doc, field, numbered, section } from './support/markdown.js';
import { writeOutputs } from './support/outputs.js';
import { Transcript, rawJson } from './support/transcript.js';

export const leverSchema = lazySchema((z) =>
  z.object({
    lever_id: z.string().min(1),
    name: z.string().min(1),
    consequences: z.string().min(1),
    options: z.array(z.string().min(1)),
    review: z.string().min(1),
  }),
);
export type Lever = Infer<typeof leverSchema>;
const leversSchema = lazySchema((z) => z.array(leverSchema.get()));

export const enrichedLeverSchema = lazySchema((z) =>
  leverSchema.get().extend({
    description: z.string(),
    synergy_text: z.string(),
    conflict_text: z.string(),
  }),
);
export type EnrichedLever = Infer<typeof enrichedLeverSchema>;

const CONTEXT = [SetupTask, IdentifyPurposeTask, PlanTypeTask];

const proposedLeversSchema = lazySchema((z) =>
  z.object({
    levers: z
      .array(
        z.object({
          name: z.string().min(1).describe('A short name for the decision, e.g. "Funding Model".'),
          consequences: z
            .string()
            .min(1)
            .describe('What pulling this lever changes: immediate → systemic → strategic effect, with a number where possible.'),
          options: z.array(z.string().min(1)).min(2).max(4).describe('Distinct, realistic settings of the lever, from conservative to radical.'),
          review: z.string().min(1).describe('The trade-off the options span, and what this lever misses.'),
        }),
      )
      .min(1)
      .max(7),
  }),
);

const LEVER_TURNS = [
  'List the strategic levers of this project: the few big decisions whose setting shapes everything else (funding, scope, technology, governance, location, pace, partners…). Give 5 levers.',
  'Propose 5 more levers that are clearly different from the ones above. Do not repeat or rename earlier levers.',
  'Propose 5 final levers that cover dimensions still missing (people, risk, ethics, operations, exit). No repeats.',
];

/** Candidate strategic levers, from a three-turn conversation (one turn in fast mode). */
export class PotentialLeversTask extends PlanTask {
  override readonly usesSpeed = true;
  override requires() {
    return this.need(...CONTEXT);
  }
  override output() {
    return { raw: file('002-9-potential_levers_raw.json'), json: file('002-10-potential_levers.json') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const transcript = new Transcript(ctx.llm);
    const docs = await readDocs(ctx, this.requires());
    const turns = capTurns(LEVER_TURNS, this.config.speed, 1);
    const answers = await converse(transcript, {
      system: `You are a strategy consultant. A lever is a decision the project owner controls, with a few distinct options, that changes cost, risk, speed or outcome in a major way. Levers must be specific to this project, not generic advice.\n\n${docs}`,
      turns,
      schema: proposedLeversSchema,
      name: 'potential_levers',
    });
    const levers: Lever[] = answers.flatMap((a) => a.levers).map((l, i) => ({ lever_id: `L${i + 1}`, ...l }));
    writeOutputs(ctx, this.output(), { raw: transcript.toJson(levers), json: levers });
  }
}

const dedupSchema = lazySchema((z) =>
  z.object({
    decisions: z
      .array(
        z.object({
          lever_id: z.string().min(1),
          classification: z.enum(['keep', 'merge', 'remove']),
          justification: z.string().min(1),
        }),
      )
      .describe('One entry per lever, in the order given.'),
  }),
);

/** Keep or merge away each candidate lever, so the same decision is not listed twice. */
export class DeduplicateLeversTask extends PlanTask {
  override requires() {
    return this.need(...CONTEXT, PotentialLeversTask);
  }
  override output() {
    return { raw: file('002-11-deduplicated_levers_raw.json') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const levers = await readJson(ctx, this.dep(PotentialLeversTask).output().json, leversSchema);
    const transcript = new Transcript(ctx.llm);
    const answer = await transcript.ask({
      system: `You clean up a list of strategic levers. For each lever decide: keep (distinct and important), merge (it overlaps another lever that covers it; the other one is kept), or remove (trivial or not a real decision). Keep at least half of the levers. Refer to levers by lever_id.`,
      user: await readDocs(ctx, this.requires()),
      schema: dedupSchema,
      name: 'deduplicate_levers',
    });
    const dropped = new Set(answer.decisions.filter((d) => d.classification !== 'keep').map((d) => d.lever_id));
    const kept = levers.filter((l) => !dropped.has(l.lever_id));
    const response = { decisions: answer.decisions, deduplicated_levers: kept.length > 0 ? kept : levers };
    writeOutputs(ctx, this.output(), { raw: transcript.toJson(response) });
  }
}

const dedupStoredSchema = lazySchema((z) => z.object({ deduplicated_levers: z.array(leverSchema.get()) }));

const enrichSchema = lazySchema((z) =>
  z.object({
    levers: z
      .array(
        z.object({
          lever_id: z.string().min(1),
          description: z.string().min(1).describe('What the decision controls, its objective and how success is measured.'),
          synergy_text: z.string().min(1).describe('Which other levers this one amplifies, and how.'),
          conflict_text: z.string().min(1).describe('Which other levers this one trades off against, and how.'),
        }),
      )
      .describe('One entry per lever of the batch, in the order given.'),
  }),
);

/** Description, synergies and conflicts for each lever, one model call per batch of five. */
export class EnrichLeversTask extends PlanTask {
  override readonly usesSpeed = true;
  override requires() {
    return this.need(...CONTEXT, DeduplicateLeversTask);
  }
  override output() {
    return { raw: file('002-12-enriched_levers_raw.json') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const { deduplicated_levers: levers } = await readJson(ctx, this.dep(DeduplicateLeversTask).output().raw, dedupStoredSchema);
    const context = await readDocs(ctx, this.need(...CONTEXT));
    const allLevers = levers.map((l) => `- ${l.lever_id}: ${l.name}`).join('\n');
    const results = await runPerItem(ctx, {
      items: chunk(levers, 5),
      speed: this.config.speed,
      key: (_batch, n) => `lever-batch-${n}`,
      run: async (batch, t) => {
        const answer = await t.ask({
          system: `You characterise strategic levers of a project. For each lever in the batch write a precise description and name its synergies and conflicts with the other levers (all levers are listed for reference).\n\n${context}\n\nAll levers:\n${allLevers}`,
          user: JSON.stringify(batch, null, 2),
          schema: enrichSchema,
          name: 'enrich_levers',
        });
        return batch.map((lever, i): EnrichedLever => {
          const found = answer.levers.find((a) => a.lever_id === lever.lever_id) ?? answer.levers[i];
          return {
            ...lever,
            description: found?.description ?? '',
            synergy_text: found?.synergy_text ?? '',
            conflict_text: found?.conflict_text ?? '',
          };
        });
      },
    });
    const characterized = results.flatMap((r) => r.result);
    writeOutputs(ctx, this.output(), { raw: rawJson({ characterized_levers: characterized }, callsOf(results)) });
  }
}

export const enrichedStoredSchema = lazySchema((z) => z.object({ characterized_levers: z.array(enrichedLeverSchema.get()) }));

const vitalSchema = lazySchema((z) =>
  z.object({
    summary: z.string().min(1).describe('Which tensions the chosen levers address, and which strategic dimension is still missing.'),
    levers: z
      .array(
        z.object({
          lever_id: z.string().min(1),
          importance: z.enum(['Critical', 'High', 'Medium']),
          justification: z.string().min(1),
        }),
      )
      .min(1)
      .max(7),
  }),
);

export const vitalLeverSchema = lazySchema((z) => enrichedLeverSchema.get().extend({ importance: z.string(), justification: z.string() }));
/**
 * The vital few as their readers take them. The original pipeline keeps the chosen levers in `levers` and
 * their ranking in `response.lever_assessments` (`strategic_importance`); they are joined by lever id.
 */
export const vitalStoredSchema = lazySchema((z) =>
  z.union([
    z.object({ summary: z.string(), vital_levers: z.array(vitalLeverSchema.get()) }),
    z
      .object({
        response: z.object({
          summary: z.string(),
          lever_assessments: z.array(z.object({ lever_id: z.string(), strategic_importance: z.string(), justification: z.string() })),
        }),
        levers: z.array(enrichedLeverSchema.get()),
      })
      .transform(({ response, levers }) => ({
        summary: response.summary,
        vital_levers: levers.map((lever): VitalLever => {
          const assessment = response.lever_assessments.find((a) => a.lever_id === lever.lever_id);
          return { ...lever, importance: assessment?.strategic_importance ?? '', justification: assessment?.justification ?? '' };
        }),
      })),
  ]),
);
export type VitalLever = Infer<typeof vitalLeverSchema>;

/** The few levers that matter most (about five). */
export class FocusOnVitalFewLeversTask extends PlanTask {
  override requires() {
    return this.need(...CONTEXT, EnrichLeversTask);
  }
  override output() {
    return { raw: file('002-13-vital_few_levers_raw.json') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const { characterized_levers: levers } = await readJson(ctx, this.dep(EnrichLeversTask).output().raw, enrichedStoredSchema);
    const transcript = new Transcript(ctx.llm);
    const answer = await transcript.ask({
      system: `Apply the 80/20 rule to a project's strategic levers: choose the 4–6 levers whose setting decides most of the outcome. Rank them Critical, High or Medium and justify each in one or two sentences. Refer to levers by lever_id.`,
      user: await readDocs(ctx, this.requires()),
      schema: vitalSchema,
      name: 'vital_few_levers',
    });
    const byId = new Map(levers.map((l) => [l.lever_id, l]));
    const chosen = answer.levers.flatMap((pick): VitalLever[] => {
      const lever = byId.get(pick.lever_id);
      byId.delete(pick.lever_id);
      return lever ? [{ ...lever, importance: pick.importance, justification: pick.justification }] : [];
    });
    const fallback = levers
      .slice(0, 5)
      .map((l) => ({ ...l, importance: 'High', justification: 'Chosen by default: the answer named no known lever.' }));
    const vital = chosen.length > 0 ? chosen : fallback;
    writeOutputs(ctx, this.output(), { raw: transcript.toJson({ summary: answer.summary, vital_levers: vital }) });
  }
}

function leverSection(n: number, lever: EnrichedLever, extra?: string): string {
  return section(
    3,
    `Decision ${n}: ${lever.name}`,
    field('Lever ID', `\`${lever.lever_id}\``),
    extra,
    field('The Core Decision', lever.description || lever.consequences),
    field('Why It Matters', lever.consequences),
    section(4, 'Strategic Choices', numbered(lever.options)),
    lever.synergy_text && field('Synergies', lever.synergy_text),
    lever.conflict_text && field('Conflicts', lever.conflict_text),
    field('Trade-off', lever.review),
  );
}

/** The readable lever document: the vital few first, then the other decisions. */
export class StrategicDecisionsMarkdownTask extends PlanTask {
  override requires() {
    return this.need(EnrichLeversTask, FocusOnVitalFewLeversTask);
  }
  override output() {
    return { md: file('002-14-strategic_decisions.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const { characterized_levers: levers } = await readJson(ctx, this.dep(EnrichLeversTask).output().raw, enrichedStoredSchema);
    const { summary, vital_levers } = await readJson(ctx, this.dep(FocusOnVitalFewLeversTask).output().raw, vitalStoredSchema);
    const primary = vital_levers.map((lever) => ({ lever, note: `${field('Importance', lever.importance)} — ${lever.justification}` }));
    const primaryIds = new Set(vital_levers.map((l) => l.lever_id));
    const secondary = levers.filter((l) => !primaryIds.has(l.lever_id));
    writeOutputs(ctx, this.output(), {
      md: doc(
        section(
          2,
          'Primary Decisions',
          'The vital few decisions that have the most impact.',
          summary,
          ...primary.map((p, i) => leverSection(i + 1, p.lever, p.note)),
        ),
        section(
          2,
          'Secondary Decisions',
          'These decisions matter less, but still shape the plan.',
          secondary.length === 0 ? bullets([]) : false,
          ...secondary.map((l, i) => leverSection(primary.length + i + 1, l)),
        ),
      ),
    });
  }
}
