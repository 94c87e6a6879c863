import type { PlanContext, Speed } from '../plan-task.js';
import { capItems } from './caps.js';
import { Transcript } from './transcript.js';

export interface PerItem<I, R> {
  items: readonly I[];
  speed: Speed;
  /** Names the item's model call (recorded as the interaction's item key), e.g. `document-3`. */
  key: (item: I, n: number) => string;
  /** The item's own raw file, from its number (1-based), e.g. `n => '016-1-' + n + '-expert_criticism_raw.json'`. */
  rawFile?: (n: number) => string;
  run: (item: I, transcript: Transcript, n: number) => Promise<R>;
}

export interface ItemResult<I, R> {
  item: I;
  n: number;
  result: R;
  transcript: Transcript;
}

/**
 * Runs the items of a per-item task concurrently (the LLM layer bounds how many calls are in flight),
 * capped in fast mode, and writes each item's raw file. Results come back in item order.
 */
export async function runPerItem<I, R>(ctx: PlanContext, spec: PerItem<I, R>): Promise<ItemResult<I, R>[]> {
  const items = capItems(spec.items, spec.speed);
  return Promise.all(
    items.map(async (item, index) => {
      const n = index + 1;
      const transcript = new Transcript(ctx.llm, spec.key(item, n));
      const result = await spec.run(item, transcript, n);
      if (spec.rawFile) ctx.write(spec.rawFile(n), transcript.toJson(result));
      return { item, n, result, transcript };
    }),
  );
}

/** Every call of the given item results, in item order (for a task's combined raw file). */
export function callsOf<I, R>(results: readonly ItemResult<I, R>[]): Transcript['calls'] {
  return results.flatMap((r) => r.transcript.calls);
}
