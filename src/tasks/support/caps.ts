import type { Speed } from '../plan-task.js';

/** In fast mode every per-item loop handles at most this many items. */
export const FAST_ITEM_CAP = 2;
/** In fast mode a long conversation keeps at most this many turns. */
export const FAST_TURN_CAP = 3;

/** The items a per-item loop handles at this speed (all of them in full mode). */
export function capItems<T>(items: readonly T[], speed: Speed): T[] {
  return speed === 'fast' ? items.slice(0, FAST_ITEM_CAP) : [...items];
}

/** The turns a conversation keeps at this speed; `fastTurns` (1–3) overrides the default cap. */
export function capTurns<T>(turns: readonly T[], speed: Speed, fastTurns: number = FAST_TURN_CAP): T[] {
  const limit = Math.max(1, Math.min(FAST_TURN_CAP, fastTurns));
  return speed === 'fast' ? turns.slice(0, limit) : [...turns];
}

/** Splits items into chunks of `size` (the last one may be shorter). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
