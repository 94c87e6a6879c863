import { lazySchema, type Infer } from './support/lazy-schema.js';
import { file } from '../engine/target.js';
import { PlanTask, type PlanContext } from './plan-task.js';
import { FocusOnVitalFewLeversTask } from './levers.js';
import { IdentifyPurposeTask, PlanTypeTask, SetupTask } from './setup.js';
import { readJson } from './support/docs.js';
import { bullets, doc, field, section, table } from './support/markdown.js';
import { OneCallTask } from './support/one-call.js';
import { Transcript } from './support/transcript.js';
import { writeOutputs } from './support/outputs.js';
import { readDocs } from './support/docs.js';

const scenarioSchema = lazySchema((z) =>
  z.object({
    name: z.string().min(1).describe('A memorable name, e.g. "The Pioneer\'s Gambit".'),
    strategic_logic: z.string().min(1).describe('The philosophy of this path in two or three sentences.'),
    lever_settings: z.array(z.object({ lever_name: z.string().min(1), setting: z.string().min(1) })).describe('One chosen option per vital lever.'),
    trade_offs: z.string().min(1),
  }),
);

const candidatesSchema = lazySchema((z) =>
  z.object({
    analysis_title: z.string().min(1),
    core_tension: z.string().min(1).describe('The central trade-off every scenario must resolve.'),
    scenarios: z.array(scenarioSchema.get()).min(2).max(4),
  }),
);
export type Candidates = Infer<typeof candidatesSchema>;

/**
 * The candidates as their readers take them. The original pipeline names a scenario `scenario_name`, gives
 * its lever settings as an object (lever name → setting) and has no trade-offs.
 */
const candidatesStoredSchema = lazySchema((z) =>
  z.union([
    candidatesSchema.get(),
    z
      .object({
        analysis_title: z.string(),
        core_tension: z.string(),
        scenarios: z.array(z.object({ scenario_name: z.string(), strategic_logic: z.string(), lever_settings: z.record(z.string(), z.string()) })),
      })
      .transform(
        (v): Candidates => ({
          analysis_title: v.analysis_title,
          core_tension: v.core_tension,
          scenarios: v.scenarios.map((s) => ({
            name: s.scenario_name,
            strategic_logic: s.strategic_logic,
            lever_settings: Object.entries(s.lever_settings).map(([lever_name, setting]) => ({ lever_name, setting })),
            trade_offs: '',
          })),
        }),
      ),
  ]),
);

/** Coherent combinations of lever settings: the paths the project could take. */
export class CandidateScenariosTask extends OneCallTask<Candidates> {
  override requires() {
    return this.need(SetupTask, IdentifyPurposeTask, PlanTypeTask, FocusOnVitalFewLeversTask);
  }
  override output() {
    return { raw: file('002-15-candidate_scenarios_raw.json'), json: file('002-16-candidate_scenarios.json') };
  }
  protected readonly schemaName = 'candidate_scenarios';
  protected readonly schema = candidatesSchema;
  protected readonly system =
    `Build three distinct strategic scenarios for the project from its vital levers: typically an ambitious high-risk path, a balanced path and a cautious low-cost path. Each scenario picks exactly one option for every vital lever, and the picks must be coherent with each other. Name the core tension the scenarios resolve differently.`;
  protected render(v: Candidates) {
    return { json: v };
  }
}

const selectionSchema = lazySchema((z) =>
  z.object({
    plan_characteristics: z.string().min(1).describe('What this specific plan needs: its ambition, risk appetite, constraints, stakeholders.'),
    scenario_assessments: z.array(z.object({ scenario_name: z.string().min(1), fit_score: z.number().min(0).max(10), rationale: z.string().min(1) })),
    chosen_scenario_name: z.string().min(1),
    justification: z.string().min(1).describe('Why the chosen scenario fits best, and what the plan gives up by choosing it.'),
  }),
);

const selectedSchema = lazySchema((z) =>
  z.object({
    plan_characteristics: z.string(),
    scenario_assessments: z.array(z.object({ scenario_name: z.string(), fit_score: z.number(), rationale: z.string() })),
    final_choice: z.object({ scenario_name: z.string(), justification: z.string() }),
  }),
);

/**
 * The selection as its readers take it. The original pipeline describes the plan as an object of aspects,
 * calls an assessment's rationale `fit_assessment` and the choice `chosen_scenario_name`.
 */
export const selectedStoredSchema = lazySchema((z) =>
  z.union([
    selectedSchema.get(),
    z
      .object({
        plan_characteristics: z.record(z.string(), z.string()),
        scenario_assessments: z.array(z.object({ scenario_name: z.string(), fit_score: z.number(), fit_assessment: z.string() })),
        final_choice: z.object({ chosen_scenario_name: z.string(), justification: z.string() }),
      })
      .transform(
        (v): Infer<typeof selectedSchema> => ({
          plan_characteristics: Object.entries(v.plan_characteristics)
            .map(([aspect, text]) => `${aspect.replace(/_/g, ' ')}: ${text}`)
            .join('\n\n'),
          scenario_assessments: v.scenario_assessments.map((a) => ({
            scenario_name: a.scenario_name,
            fit_score: a.fit_score,
            rationale: a.fit_assessment,
          })),
          final_choice: { scenario_name: v.final_choice.chosen_scenario_name, justification: v.final_choice.justification },
        }),
      ),
  ]),
);

/** The scenario that fits the plan best, with an assessment of each candidate. */
export class SelectScenarioTask extends PlanTask {
  override requires() {
    return this.need(SetupTask, IdentifyPurposeTask, PlanTypeTask, FocusOnVitalFewLeversTask, CandidateScenariosTask);
  }
  override output() {
    return { raw: file('002-17-selected_scenario_raw.json'), json: file('002-18-selected_scenario.json') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const candidates = await readJson(ctx, this.dep(CandidateScenariosTask).output().json, candidatesStoredSchema);
    const transcript = new Transcript(ctx.llm);
    const answer = await transcript.ask({
      system: `Choose the scenario that best fits this plan. First describe what the plan needs, then score each scenario from 0 to 10 for fit, then choose one by its exact name and justify the choice, including what it sacrifices.`,
      user: await readDocs(ctx, this.requires()),
      schema: selectionSchema,
      name: 'select_scenario',
    });
    const names = candidates.scenarios.map((s) => s.name);
    const best = [...answer.scenario_assessments].sort((a, b) => b.fit_score - a.fit_score).find((a) => names.includes(a.scenario_name));
    const chosen = names.includes(answer.chosen_scenario_name) ? answer.chosen_scenario_name : (best?.scenario_name ?? names[0] ?? '');
    const selected = {
      plan_characteristics: answer.plan_characteristics,
      scenario_assessments: answer.scenario_assessments,
      final_choice: { scenario_name: chosen, justification: answer.justification },
    };
    writeOutputs(ctx, this.output(), { raw: transcript.toJson(selected), json: selected });
  }
}

function scenarioBlock(s: Candidates['scenarios'][number]): string {
  return doc(
    field('Strategic Logic', s.strategic_logic),
    table(
      ['Lever', 'Setting'],
      s.lever_settings.map((l) => [l.lever_name, l.setting]),
    ),
    s.trade_offs !== '' && field('Trade-offs', s.trade_offs),
  ).trimEnd();
}

/** The readable scenario document: the chosen path and the alternatives. */
export class ScenariosMarkdownTask extends PlanTask {
  override requires() {
    return this.need(CandidateScenariosTask, SelectScenarioTask);
  }
  override output() {
    return { md: file('002-19-scenarios.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const candidates = await readJson(ctx, this.dep(CandidateScenariosTask).output().json, candidatesStoredSchema);
    const selected = await readJson(ctx, this.dep(SelectScenarioTask).output().json, selectedStoredSchema);
    const chosen = candidates.scenarios.find((s) => s.name === selected.final_choice.scenario_name);
    const others = candidates.scenarios.filter((s) => s !== chosen);
    writeOutputs(ctx, this.output(), {
      md: doc(
        section(
          2,
          'The Strategic Context',
          field('Analysis', candidates.analysis_title),
          field('Core tension', candidates.core_tension),
          field('What the plan needs', selected.plan_characteristics),
        ),
        section(
          2,
          `The Path Forward: ${selected.final_choice.scenario_name}`,
          field('Why this path', selected.final_choice.justification),
          chosen && scenarioBlock(chosen),
        ),
        section(
          2,
          'Scenario Assessments',
          table(
            ['Scenario', 'Fit (0–10)', 'Rationale'],
            selected.scenario_assessments.map((a) => [a.scenario_name, a.fit_score, a.rationale]),
          ),
        ),
        section(2, 'Alternative Paths', others.length === 0 ? bullets([]) : false, ...others.map((s) => section(3, s.name, scenarioBlock(s)))),
      ),
    });
  }
}
