import { lazySchema, type Infer } from './support/lazy-schema.js';
import { file } from '../engine/target.js';
import type { PlanContext } from './plan-task.js';
import { StrategicDecisionsMarkdownTask } from './levers.js';
import { ScenariosMarkdownTask } from './scenarios.js';
import { IdentifyPurposeTask, PlanTypeTask, SetupTask, planTypeSchema } from './setup.js';
import { readJson } from './support/docs.js';
import { bullets, doc, field, section, table } from './support/markdown.js';
import { OneCallTask } from './support/one-call.js';
import { writeOutputs } from './support/outputs.js';
import { rawJson } from './support/transcript.js';

/** The documents the early context tasks read: the prompt, its purpose and type, the decisions and the scenario. */
export const EARLY_CONTEXT = [SetupTask, IdentifyPurposeTask, PlanTypeTask, StrategicDecisionsMarkdownTask, ScenariosMarkdownTask];

const locationsSchema = lazySchema((z) =>
  z.object({
    has_location_in_plan: z.boolean().describe('Does the prompt already name a place?'),
    requirements: z.array(z.string().min(1)).min(1).max(8).describe('What a site must offer: space, access, permits, climate, workforce…'),
    locations: z
      .array(
        z.object({
          name: z.string().min(1),
          country: z.string().min(1),
          region_or_city: z.string().min(1),
          specific_site: z.string().min(1),
          rationale: z.string().min(1).describe('Why this place meets the requirements, and its main drawback.'),
        }),
      )
      .min(1)
      .max(3),
    location_summary: z.string().min(1),
  }),
);
type Locations = Infer<typeof locationsSchema>;

/** Candidate sites for a physical plan; a digital plan gets a "not applicable" document and no model call. */
export class PhysicalLocationsTask extends OneCallTask<Locations> {
  override requires() {
    return this.need(...EARLY_CONTEXT);
  }
  override output() {
    return { raw: file('002-20-physical_locations_raw.json'), md: file('002-21-physical_locations.md') };
  }
  protected readonly schemaName = 'physical_locations';
  protected readonly schema = locationsSchema;
  protected readonly system =
    `Propose where this physical project should happen. If the prompt names a place, respect it and get more specific within it; otherwise propose three contrasting real locations. State the requirements a site must meet first, then for each location explain why it fits and what its main drawback is.`;
  protected render(v: Locations) {
    return {
      md: doc(
        section(2, 'Requirements for physical locations', bullets(v.requirements)),
        ...v.locations.map((l, i) =>
          section(
            2,
            `Location ${i + 1}`,
            field('Name', l.name),
            field('Country', l.country),
            field('Region or city', l.region_or_city),
            field('Specific site', l.specific_site),
            field('Rationale', l.rationale),
          ),
        ),
        section(2, 'Location Summary', v.location_summary),
      ),
    };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const { plan_type } = await readJson(ctx, this.dep(PlanTypeTask).output().raw, planTypeSchema);
    if (plan_type === 'physical') return super.run(ctx);
    writeOutputs(ctx, this.output(), {
      raw: rawJson({ plan_type, applicable: false }, []),
      md: 'Not applicable: this is a digital plan, so it needs no physical location.\n',
    });
  }
}

const currencySchema = lazySchema((z) =>
  z.object({
    money_involved: z.boolean(),
    currencies: z
      .array(z.object({ code: z.string().min(1).describe('ISO 4217 code, e.g. EUR.'), use: z.string().min(1) }))
      .min(1)
      .max(5),
    primary_currency: z.string().min(1).describe('The ISO 4217 code budgets and reports use.'),
    currency_strategy: z.string().min(1).describe('How exchange-rate risk is handled (hedging, local accounts, pricing).'),
  }),
);
type Currency = Infer<typeof currencySchema>;

/** The currency the budget is kept in, and how exchange risk is handled. */
export class CurrencyStrategyTask extends OneCallTask<Currency> {
  override requires() {
    return this.need(...EARLY_CONTEXT, PhysicalLocationsTask);
  }
  override output() {
    return { raw: file('002-22-currency_strategy_raw.json'), md: file('002-23-currency_strategy.md') };
  }
  protected readonly schemaName = 'currency_strategy';
  protected readonly schema = currencySchema;
  protected readonly system =
    `Choose the currencies this project will deal in, given where it happens and who pays. Pick one primary currency for budgeting and reporting (prefer a stable currency when local ones are volatile) and say how exchange-rate risk is handled.`;
  protected render(v: Currency) {
    return {
      md: doc(
        section(
          2,
          'Currencies',
          table(
            ['Currency', 'Use'],
            v.currencies.map((c) => [c.code, c.use]),
          ),
        ),
        field('Primary currency', v.primary_currency),
        field('Currency strategy', v.currency_strategy),
      ),
    };
  }
}

const risksSchema = lazySchema((z) =>
  z.object({
    risks: z
      .array(
        z.object({
          title: z.string().min(1),
          category: z.string().min(1).describe('Regulatory, Technical, Financial, Environmental, Social, Operational, Supply chain, Security…'),
          description: z.string().min(1),
          impact: z.string().min(1).describe('What happens if it materialises, quantified (cost, delay) where possible.'),
          likelihood: z.enum(['Low', 'Medium', 'High']),
          severity: z.enum(['Low', 'Medium', 'High']),
          action: z.string().min(1).describe('The concrete mitigation, with an owner where it is obvious.'),
        }),
      )
      .min(3)
      .max(12),
    risk_assessment_summary: z.string().min(1),
  }),
);
type Risks = Infer<typeof risksSchema>;

/** The risk register. */
export class IdentifyRisksTask extends OneCallTask<Risks> {
  override requires() {
    return this.need(...EARLY_CONTEXT, PhysicalLocationsTask, CurrencyStrategyTask);
  }
  override output() {
    return { raw: file('003-1-identify_risks_raw.json'), md: file('003-2-identify_risks.md') };
  }
  protected readonly schemaName = 'identify_risks';
  protected readonly schema = risksSchema;
  protected readonly system =
    `Identify the risks of this project across regulatory, technical, financial, environmental, social, operational, supply-chain and security categories. Each risk must be specific to this plan, with a quantified impact where possible, a likelihood, a severity and a concrete mitigation. Finish with a short summary naming the few risks that matter most.`;
  protected render(v: Risks) {
    return {
      md: doc(
        ...v.risks.map((r, i) =>
          section(
            2,
            `Risk ${i + 1} - ${r.title}`,
            field('Category', r.category),
            r.description,
            field('Impact', r.impact),
            field('Likelihood', r.likelihood),
            field('Severity', r.severity),
            field('Action', r.action),
          ),
        ),
        section(2, 'Risk Assessment Summary', v.risk_assessment_summary),
      ),
    };
  }
}
