import type { ZodType } from 'zod';
import type { FileTarget } from '../../engine/target.js';
import type { PlanContext, PlanTask } from '../plan-task.js';

/** The text of one document as prompts see it: a raw JSON file contributes only its response. */
export async function readDoc(ctx: PlanContext, target: FileTarget): Promise<string> {
  const text = await ctx.read(target);
  if (!target.path.endsWith('_raw.json')) return text.trim();
  return JSON.stringify(responseOf(JSON.parse(text) as unknown, target.path), null, 2);
}

/** The "ctx docs" of the given tasks, each headed by its file name, in the order given. */
export async function readDocs(ctx: PlanContext, tasks: readonly PlanTask[]): Promise<string> {
  const targets = tasks.flatMap((task) => task.docTargets());
  const texts = await Promise.all(targets.map((target) => readDoc(ctx, target)));
  return targets.map((target, i) => `File '${target.path}':\n${texts[i]}`).join('\n\n');
}

/** A JSON file validated against a schema; a file a person broke by hand fails with a clear message. */
export async function readJson<T>(ctx: PlanContext, target: FileTarget, schema: ZodType<T>): Promise<T> {
  let data: unknown;
  try {
    data = JSON.parse(await ctx.read(target)) as unknown;
  } catch (error) {
    throw new Error(`${target.path} is not valid JSON: ${(error as Error).message}`);
  }
  if (target.path.endsWith('_raw.json')) data = responseOf(data, target.path);
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new Error(`${target.path} does not have the expected shape: ${parsed.error.message}`);
  return parsed.data;
}

function responseOf(data: unknown, path: string): unknown {
  if (typeof data === 'object' && data !== null && 'response' in data) return (data as { response: unknown }).response;
  throw new Error(`${path} has no "response" field`);
}

/** The prompt text of one task's documents. */
export async function readTaskDoc(ctx: PlanContext, task: PlanTask): Promise<string> {
  const texts = await Promise.all(task.docTargets().map((target) => readDoc(ctx, target)));
  return texts.join('\n\n');
}
