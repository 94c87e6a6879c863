import type { FileTarget } from '../../engine/target.js';
import type { PlanContext } from '../plan-task.js';

/** Contents by output key: text as is, anything else as pretty JSON. */
export type Rendered = Record<string, unknown>;

/** Hands every declared output its content; a missing or unknown key is a bug in the task. */
export function writeOutputs(ctx: PlanContext, outputs: Record<string, FileTarget>, contents: Rendered): void {
  for (const key of Object.keys(contents)) {
    if (!(key in outputs)) throw new Error(`no output named '${key}' (outputs: ${Object.keys(outputs).join(', ')})`);
  }
  for (const [key, target] of Object.entries(outputs)) {
    if (!(key in contents)) throw new Error(`output '${key}' (${target.path}) was not rendered`);
    ctx.write(target, asText(contents[key]));
  }
}

export function asText(content: unknown): string {
  return typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`;
}
