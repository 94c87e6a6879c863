import { PlanTask, type PlanContext } from '../plan-task.js';
import { readDocs } from './docs.js';
import type { SchemaLike } from './lazy-schema.js';
import { writeOutputs, type Rendered } from './outputs.js';
import { Transcript } from './transcript.js';

/**
 * The common shape of an LLM task: read the docs of the required tasks, make one structured call, write the
 * raw response (output `raw`) and its renderings (the other outputs, by key). A subclass only declares.
 */
export abstract class OneCallTask<T> extends PlanTask {
  protected abstract readonly system: string;
  protected abstract readonly schema: SchemaLike<T>;
  protected abstract readonly schemaName: string;

  /** The contents of every output except `raw`, by output key. */
  protected abstract render(value: T): Rendered;

  /** The user message: by default, the docs of the required tasks. */
  protected userPrompt(ctx: PlanContext): Promise<string> {
    return readDocs(ctx, this.requires());
  }

  override async run(ctx: PlanContext): Promise<void> {
    const transcript = new Transcript(ctx.llm);
    const value = await transcript.ask({
      system: this.system,
      user: await this.userPrompt(ctx),
      schema: this.schema,
      name: this.schemaName,
    });
    writeOutputs(ctx, this.output(), { raw: transcript.toJson(value), ...this.render(value) });
  }
}
