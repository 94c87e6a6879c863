import { lazySchema, type Infer } from './support/lazy-schema.js';
import { file } from '../engine/target.js';
import { PlanTask, type PlanContext } from './plan-task.js';
import { CTX_DOCS, RelatedResourcesTask } from './assessment.js';
import { WBSProjectLevel1AndLevel2Task } from './wbs.js';
import { readDocs } from './support/docs.js';
import { OneCallTask } from './support/one-call.js';
import { writeOutputs } from './support/outputs.js';
import { Transcript } from './support/transcript.js';

const pitchSchema = lazySchema((z) =>
  z.object({
    pitch: z.string().min(1).describe('The pitch itself, a few paragraphs.'),
    why_this_pitch_works: z.string().min(1),
    target_audience: z.string().min(1),
    call_to_action: z.string().min(1),
    risks_and_mitigation: z.string().min(1),
    metrics_for_success: z.string().min(1),
    stakeholder_benefits: z.string().min(1),
    ethical_considerations: z.string().min(1),
    collaboration_opportunities: z.string().min(1),
    long_term_vision: z.string().min(1),
  }),
);
type Pitch = Infer<typeof pitchSchema>;

/** A pitch for the project, aimed at those who must fund or join it. */
export class CreatePitchTask extends OneCallTask<Pitch> {
  override requires() {
    return this.need(...CTX_DOCS, RelatedResourcesTask, WBSProjectLevel1AndLevel2Task);
  }
  override output() {
    return { raw: file('020-1-pitch_raw.json') };
  }
  protected readonly schemaName = 'pitch';
  protected readonly schema = pitchSchema;
  protected readonly system =
    `Write a pitch for this project to the people who must fund, approve or join it. Make it concrete and honest: what will exist, why it matters, why now, what it costs and risks, and what you ask of them. Then explain why the pitch works for its audience.`;
  protected render() {
    return {};
  }
}

/** The pitch as a readable markdown document (one plain-text call). */
export class ConvertPitchToMarkdownTask extends PlanTask {
  override requires() {
    return this.need(CreatePitchTask);
  }
  override output() {
    return { raw: file('020-2-pitch_to_markdown_raw.json'), md: file('020-3-pitch.md') };
  }
  override async run(ctx: PlanContext): Promise<void> {
    const transcript = new Transcript(ctx.llm);
    const text = await transcript.askText(
      `Turn the structured pitch into a well-formatted markdown document with headings (Introduction, Project Overview, Goals and Objectives, Risks and Mitigation Strategies, Metrics for Success, Stakeholder Benefits, Ethical Considerations, Collaboration Opportunities, Long-term Vision, Call to Action). Keep every fact; add none. Answer with the markdown only.`,
      await readDocs(ctx, this.requires()),
    );
    const markdown = `${text
      .replace(/^\s*```(?:markdown|md)?\s*\n/, '')
      .replace(/\n```\s*$/, '')
      .trim()}\n`;
    writeOutputs(ctx, this.output(), { raw: transcript.toJson({ markdown }), md: markdown });
  }
}
