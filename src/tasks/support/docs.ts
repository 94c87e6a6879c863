import type { FileTarget } from '../../engine/target.js';
import type { PlanContext, PlanTask } from '../plan-task.js';
import { resolveSchema, type SchemaLike } from './lazy-schema.js';

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

/**
 * `readDocs` for the many prompts of one task (the questions of a parallel conversation): each file is read and
 * rendered once, and every prompt shows it exactly as `readDocs` would.
 */
export function docsReader(ctx: PlanContext): (tasks: readonly PlanTask[]) => Promise<string> {
  const texts = new Map<string, Promise<string>>();
  const textOf = (target: FileTarget): Promise<string> => {
    let text = texts.get(target.path);
    if (text === undefined) {
      text = readDoc(ctx, target);
      texts.set(target.path, text);
    }
    return text;
  };
  return async (tasks) => {
    const targets = tasks.flatMap((task) => task.docTargets());
    const bodies = await Promise.all(targets.map(textOf));
    return targets.map((target, i) => `File '${target.path}':\n${bodies[i]}`).join('\n\n');
  };
}

/** A JSON file validated against a schema; a file a person broke by hand fails with a clear message. */
export async function readJson<T>(ctx: PlanContext, target: FileTarget, schema: SchemaLike<T>): Promise<T> {
  const zodSchema = await resolveSchema(schema);
  let data: unknown;
  try {
    data = JSON.parse(await ctx.read(target)) as unknown;
  } catch (error) {
    throw new Error(`${target.path} is not valid JSON: ${(error as Error).message}`);
  }
  if (target.path.endsWith('_raw.json')) data = responseOf(data, target.path);
  const parsed = zodSchema.safeParse(data);
  if (!parsed.success) throw new Error(`${target.path} does not have the expected shape: ${parsed.error.message}`);
  return parsed.data;
}

/**
 * A file holding one JSON string, such as the project title. The original pipeline writes the bare text
 * instead (`Silo Construction`, unquoted), so anything but a JSON string is taken as the text itself.
 */
export async function readJsonString(ctx: PlanContext, target: FileTarget): Promise<string> {
  const text = await ctx.read(target);
  try {
    const data = JSON.parse(text) as unknown;
    if (typeof data === 'string') return data;
  } catch {
    // not JSON: bare text
  }
  return text.trim();
}

/** Keys of a raw file of the original Luigi pipeline that record how the model was asked, not what it answered. */
const ORIGINAL_PROMPT_KEYS = new Set(['metadata', 'system_prompt', 'system_prompt_list', 'user_prompt', 'query']);

/**
 * The answer a raw file keeps. Ours is `{ response, calls }`. A run dir brought from the original pipeline
 * has the answer's fields at the top, beside its prompts and metadata (some with a `response` that is only
 * part of it): the answer is then everything but those, unwrapped when only `response` is left.
 */
function responseOf(data: unknown, path: string): unknown {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(`${path} has no "response" field`);
  if ('response' in data && 'calls' in data && Array.isArray(data.calls)) return data.response;
  const answer = Object.entries(data).filter(([key]) => !ORIGINAL_PROMPT_KEYS.has(key));
  if (answer.length === 1 && answer[0]?.[0] === 'response') return answer[0][1];
  return Object.fromEntries(answer);
}

/** The prompt text of one task's documents. */
export async function readTaskDoc(ctx: PlanContext, task: PlanTask): Promise<string> {
  const texts = await Promise.all(task.docTargets().map((target) => readDoc(ctx, target)));
  return texts.join('\n\n');
}
