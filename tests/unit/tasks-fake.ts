/**
 * Test helpers for plan tasks: an in-memory task context and a fake model that answers any zod schema with
 * schema-valid content (arrays of three items within bounds, enums in turn, hostile strings on request).
 */
import { z, type ZodType } from 'zod';
import type { FileTarget } from '../../src/engine/target.js';
import type { Completion, CompletionRequest, LlmClient, TextRequest } from '../../src/llm/types.js';
import { RejectedAnswerError } from '../../src/llm/errors.js';
import type { PlanConfig, PlanContext, PlanTask } from '../../src/tasks/plan-task.js';

export const HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(1)>';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: Json[];
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  anyOf?: JsonSchema[];
}

export interface FakeCall {
  schemaName: string | null;
  itemKey?: string;
  turn?: number;
}

export class FakeLlm implements LlmClient {
  readonly offline = true;
  readonly calls: FakeCall[] = [];
  private counter = 0;
  constructor(
    private readonly options: {
      hostile?: boolean;
      overrides?: Record<string, Record<string, Json>>;
      failText?: (request: TextRequest) => boolean;
      /** The error a failing text call throws (default a plain one). */
      failWith?: () => Error;
    } = {},
  ) {}

  async complete<T>(request: CompletionRequest<T>): Promise<Completion<T>> {
    this.calls.push({
      schemaName: request.schemaName,
      ...(request.itemKey ? { itemKey: request.itemKey } : {}),
      ...(request.turn ? { turn: request.turn } : {}),
    });
    const made = this.make(z.toJSONSchema(request.schema as ZodType) as JsonSchema, request.schemaName) as Record<string, Json>;
    const value = request.schema.parse({ ...made, ...(this.options.overrides?.[request.schemaName] ?? {}) });
    return { value, text: JSON.stringify(value), model: 'fake', interactionId: this.calls.length, replayed: false };
  }

  async completeText(request: TextRequest): Promise<Completion<string>> {
    this.calls.push({ schemaName: null, ...(request.itemKey ? { itemKey: request.itemKey } : {}), ...(request.turn ? { turn: request.turn } : {}) });
    if (this.options.failText?.(request)) throw this.options.failWith?.() ?? new Error('fake failure');
    const value = `Shortened text ${this.calls.length}${this.options.hostile ? ` ${HOSTILE}` : ''}`;
    return { value, text: value, model: 'fake', interactionId: this.calls.length, replayed: false };
  }

  async reject(): Promise<RejectedAnswerError> {
    return new RejectedAnswerError('rejected by the task');
  }

  private make(schema: JsonSchema, path: string): Json {
    if (schema.anyOf?.[0]) return this.make(schema.anyOf[0], path);
    if (schema.enum) return schema.enum[this.counter++ % schema.enum.length] ?? null;
    const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    switch (type) {
      case 'object':
        return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, s]) => [k, this.make(s, `${path}.${k}`)]));
      case 'array': {
        const length = Math.min(schema.maxItems ?? 3, Math.max(schema.minItems ?? 0, 3));
        return Array.from({ length }, (_, i) => this.make(schema.items ?? {}, `${path}[${i}]`));
      }
      case 'integer':
      case 'number':
        return Math.min(schema.maximum ?? 7, Math.max(schema.minimum ?? 7, 7));
      case 'boolean':
        return true;
      default:
        return `[fake ${++this.counter}] ${path}${this.options.hostile ? ` ${HOSTILE}` : ''}`;
    }
  }
}

/** An in-memory context: files in a map, writes land there directly. */
export function memoryContext(task: PlanTask, files: Map<string, string>, llm: LlmClient): PlanContext {
  const pathOf = (t: FileTarget | string) => (typeof t === 'string' ? t : t.path);
  return {
    task,
    runId: 'test',
    runDir: '/nonexistent',
    attemptId: 1,
    signal: new AbortController().signal,
    llm,
    async read(target) {
      const text = files.get(pathOf(target));
      if (text === undefined) throw new Error(`${task.id} read missing file ${pathOf(target)}`);
      return text;
    },
    async readBytes(target) {
      return Buffer.from(await this.read(target));
    },
    write(target, content) {
      files.set(pathOf(target), typeof content === 'string' ? content : Buffer.from(content).toString('utf8'));
    },
    log() {},
  };
}

export const config = (speed: PlanConfig['speed'] = 'full'): PlanConfig => ({
  prompt: 'Open a small community bakery in Aarhus that trains young people.',
  speed,
  startTime: '2026-03-12T10:02:18Z',
});
