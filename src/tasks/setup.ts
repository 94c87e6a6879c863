import { lazySchema, type Infer } from './support/lazy-schema.js';
import { file } from '../engine/target.js';
import { PlanTask, type PlanContext } from './plan-task.js';
import type { TaskParams } from '../engine/task.js';
import { isoDate, longDate } from './support/dates.js';
import { readDocs } from './support/docs.js';
import { runPerItem, callsOf } from './support/items.js';
import { bullets, doc, field, section, table } from './support/markdown.js';
import { OneCallTask } from './support/one-call.js';
import { writeOutputs } from './support/outputs.js';
import { Transcript, rawJson } from './support/transcript.js';
import { OFFLINE_MARK } from '../llm/offline/prose.js';

/** The start time as its readers take it; the original pipeline writes it as `server_iso_utc`. */
export const startTimeStoredSchema = lazySchema((z) =>
  z.union([
    z.object({ start_time_iso_utc: z.string() }),
    z.object({ server_iso_utc: z.string() }).transform((t) => ({ start_time_iso_utc: t.server_iso_utc })),
  ]),
);

/** When the plan started: the schedule's first day. */
export class StartTimeTask extends PlanTask {
  override output() {
    return { json: file('001-1-start_time.json') };
  }
  override stampParams(): TaskParams {
    return { startTime: this.config.startTime };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const iso = new Date(Date.parse(this.config.startTime)).toISOString();
    writeOutputs(ctx, this.output(), { json: { start_time_iso_utc: iso, start_date: isoDate(iso) } });
  }
}

/** The user's prompt, with the date the plan is made on. */
export class SetupTask extends PlanTask {
  override output() {
    return { plan: file('001-2-plan.txt') };
  }
  override stampParams(): TaskParams {
    return { prompt: this.config.prompt };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const today = longDate(isoDate(this.config.startTime));
    writeOutputs(ctx, this.output(), { plan: `Plan:\n${this.config.prompt.trim()}\n\nToday's date:\n${today}\n` });
  }
}

const redlineSchema = lazySchema((z) =>
  z.object({
    verdict: z.enum(['ALLOW', 'ALLOW_WITH_SAFETY_FRAMING', 'REFUSE']),
    rationale: z.string().min(1).describe('One or two sentences: why this verdict.'),
    violation_category: z.string().min(1).describe("The harm category if any (e.g. weapons, cyber, self-harm), else 'none'."),
    capability_uplift: z.boolean().describe('Would a detailed plan materially increase someone’s ability to cause serious harm?'),
    severity: z.enum(['none', 'low', 'medium', 'high']),
  }),
);
type Redline = Infer<typeof redlineSchema>;

const VERDICT_LABEL: Record<Redline['verdict'], string> = {
  ALLOW: '🟢 ALLOW',
  ALLOW_WITH_SAFETY_FRAMING: '🟡 ALLOW WITH SAFETY FRAMING',
  REFUSE: '🔴 REFUSE',
};

/**
 * A safety verdict on the prompt before any planning is done: every planning task waits for it. A REFUSE
 * fails it, so nothing downstream runs, unless the build was started with `--allow-refused`. The answer stays
 * recorded with its model call, and a later build replays it rather than asking again. The offline model
 * cannot judge a prompt (its verdict is arbitrary), so its REFUSE stops nothing.
 */
export class RedlineGateTask extends OneCallTask<Redline> {
  override requires() {
    return this.need(SetupTask);
  }
  override output() {
    return { raw: file('002-1-redline_gate.json'), md: file('002-2-redline_gate.md') };
  }
  protected readonly schemaName = 'redline_gate';
  protected readonly schema = redlineSchema;
  protected readonly system = `You review requests for project plans before anyone plans them. You do not answer the request; you classify it.
- ALLOW: ordinary projects (business, personal, research, civic, creative) whose plan gives no real help to someone who wants to hurt people.
- ALLOW_WITH_SAFETY_FRAMING: sensitive or controversial topics where a high-level plan is fine (strategy, governance, ethics, risks) but operational detail that could be misused must be left out.
- REFUSE: the plan would give meaningful uplift for serious harm (weapons capable of mass casualties, attacks on infrastructure, abuse of people, evading law enforcement for violent ends) or its goal is itself seriously harmful.
Judge the request as written, not the worst reading of it. Dystopian, fictional or provocative themes are not harm by themselves.`;
  override async run(ctx: PlanContext): Promise<void> {
    const transcript = new Transcript(ctx.llm);
    const verdict = await transcript.ask({ system: this.system, user: await this.userPrompt(ctx), schema: this.schema, name: this.schemaName });
    // Text the offline model writes carries its mark wherever it travels (through a server that relays it, too).
    const offline = transcript.calls.every((call) => call.model === 'offline') || verdict.rationale.startsWith(OFFLINE_MARK);
    if (verdict.verdict === 'REFUSE' && !offline && ctx.allowRefused !== true) throw refusal(verdict, ctx.runDir);
    const { md } = this.render(verdict);
    const note = offline ? '\n\nThe offline model cannot judge a prompt: this verdict is a placeholder and does not stop the build.\n' : '';
    writeOutputs(ctx, this.output(), { raw: transcript.toJson(verdict), md: note === '' ? md : `${md.trimEnd()}${note}` });
  }
  protected render(v: Redline) {
    return {
      md: doc(
        field('Verdict', VERDICT_LABEL[v.verdict]),
        field('Rationale', v.rationale),
        table(
          ['Detail', 'Value'],
          [
            ['Category', v.violation_category],
            ['Capability uplift', v.capability_uplift ? 'Yes' : 'No'],
            ['Severity', v.severity],
          ],
        ),
      ),
    };
  }
}

/** Not retryable: asking again is not how a refused plan goes on. */
function refusal(v: Redline, runDir: string): Error {
  const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();
  return new Error(
    `refused by the safety gate: ${v.verdict} (severity ${v.severity}, ${oneLine(v.violation_category)}): ${oneLine(v.rationale)} — ` +
      `nothing is planned. The answer: plan llm ${runDir} --task RedlineGateTask; to build the plan anyway: plan build ${runDir} --allow-refused`,
  );
}

const LENSES = [
  { key: 'integrity', title: 'Integrity', ask: 'Is the premise sound and legitimate? Look for ethical, legal and logical flaws in the idea itself.' },
  {
    key: 'feasibility',
    title: 'Feasibility',
    ask: 'Can this be done at the stated scale with real physics, money, time and people? Find the binding constraint.',
  },
  {
    key: 'stakeholders',
    title: 'Stakeholders',
    ask: 'Who pays, who loses, who will resist, and what second-order effects will the people involved set off?',
  },
  { key: 'precedent', title: 'Precedent', ask: 'What happened to earlier attempts at something similar, and why would this attempt go differently?' },
  {
    key: 'alternatives',
    title: 'Alternatives',
    ask: 'Is there a simpler, cheaper or safer way to reach the underlying goal? Is the stated goal the real one?',
  },
] as const;

const premiseSchema = lazySchema((z) =>
  z.object({
    core_thesis: z.string().min(1).describe('The sharpest one-sentence statement of what is wrong with the premise.'),
    verdict: z.enum(['ACCEPT', 'ACCEPT_WITH_CHANGES', 'REJECT']),
    bottom_line: z.string().min(1).describe('Two sentences a decision maker can act on.'),
    reasons: z.array(z.string().min(1)).min(2).max(6),
    second_order_effects: z.array(z.string().min(1)).min(1).max(4).describe('What follows later, with rough time frames.'),
    evidence: z.array(z.string().min(1)).min(1).max(4).describe('Real cases, data or principles that back the critique.'),
    what_would_change_my_mind: z.string().min(1),
  }),
);

/** An adversarial critique of the premise through five lenses, one model call each. */
export class PremiseAttackTask extends PlanTask {
  override readonly usesSpeed = true;
  override requires() {
    // The gate only orders: nothing is planned before it has allowed the plan; its verdict is not a prompt.
    return this.need(SetupTask, RedlineGateTask);
  }
  override output() {
    return { raw: file('002-3-premise_attack.json'), md: file('002-4-premise_attack.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const plan = await readDocs(ctx, this.need(SetupTask));
    const results = await runPerItem(ctx, {
      items: LENSES,
      speed: this.config.speed,
      key: (lens) => `lens-${lens.key}`,
      run: (lens, t) =>
        t.ask({
          system: `You attack the premise of a proposed project before money is spent on it. Lens: ${lens.title}. ${lens.ask}
Be specific to this project, blunt and fair. Do not plan the project; question whether it should exist in this form.`,
          user: plan,
          schema: premiseSchema,
          name: 'premise_attack',
        }),
    });
    const response = results.map((r) => ({ lens: r.item.title, ...r.result }));
    const sections = results.map(({ item, n, result: a }) =>
      section(
        3,
        `Premise Attack ${n} — ${item.title}`,
        `**${a.core_thesis.trim()}**`,
        field('Bottom line', `${a.verdict}: ${a.bottom_line}`),
        section(4, 'Reasons', bullets(a.reasons)),
        section(4, 'Second-order effects', bullets(a.second_order_effects)),
        section(4, 'Evidence', bullets(a.evidence)),
        field('What would change my mind', a.what_would_change_my_mind),
      ),
    );
    writeOutputs(ctx, this.output(), { raw: rawJson(response, callsOf(results)), md: doc(...sections) });
  }
}

const purposeSchema = lazySchema((z) =>
  z.object({
    topic: z.string().min(1).describe('What the plan is about, in a few words.'),
    purpose: z.enum(['business', 'personal', 'other']),
    purpose_detailed: z.string().min(1).describe('One or two sentences on who the plan is for and what it should achieve.'),
  }),
);
type Purpose = Infer<typeof purposeSchema>;

/** Whether the plan is for a business, a person or something else, and what it is about. */
export class IdentifyPurposeTask extends OneCallTask<Purpose> {
  override requires() {
    // Waits for the gate like PremiseAttackTask, and likewise prompts with the plan only.
    return this.need(SetupTask, RedlineGateTask);
  }
  protected override userPrompt(ctx: PlanContext): Promise<string> {
    return readDocs(ctx, this.need(SetupTask));
  }
  override output() {
    return { raw: file('002-5-identify_purpose_raw.json'), md: file('002-6-identify_purpose.md') };
  }
  protected readonly schemaName = 'identify_purpose';
  protected readonly schema = purposeSchema;
  protected readonly system = `Classify the purpose of the project described by the user.
- business: makes or saves money, serves customers, runs an organisation, builds infrastructure or public services.
- personal: the user's own life: health, learning, relationships, a hobby, a home, a trip.
- other: research, art, activism and anything that fits neither.
Name the topic plainly and say in detail who benefits and how.`;
  protected render(v: Purpose) {
    return { md: doc(field('Purpose', v.purpose), field('Purpose detailed', v.purpose_detailed), field('Topic', v.topic)) };
  }
}

export const planTypeSchema = lazySchema((z) =>
  z.object({
    explanation: z.string().min(1).describe('Why the plan is digital or physical, pointing at the concrete activities.'),
    plan_type: z.enum(['digital', 'physical']),
  }),
);
type PlanType = Infer<typeof planTypeSchema>;

/** Whether the plan can be carried out entirely digitally, or needs physical places and things. */
export class PlanTypeTask extends OneCallTask<PlanType> {
  override requires() {
    return this.need(SetupTask, IdentifyPurposeTask);
  }
  override output() {
    return { raw: file('002-7-plan_type_raw.json'), md: file('002-8-plan_type.md') };
  }
  protected readonly schemaName = 'plan_type';
  protected readonly schema = planTypeSchema;
  protected readonly system =
    `Decide whether the project can be done entirely digitally (writing software, online research, remote work on a computer) or needs the physical world (a site, travel, construction, equipment, shipping goods, meeting people in person, lab or field work).
When in doubt choose physical: most real projects need at least a place, a purchase or a person on site. Explain with the concrete activities that decide it.`;
  protected render(v: PlanType) {
    const lead =
      v.plan_type === 'physical'
        ? 'This plan requires one or more physical locations. It cannot be executed digitally.'
        : 'This plan is purely digital and can be executed without any physical location.';
    return { md: doc(lead, field('Explanation', v.explanation)) };
  }
}
