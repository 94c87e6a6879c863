import type { RunExport } from '../../src/store/store.js';

/**
 * An export with its store-assigned ids (attempts, content versions, model calls) replaced by their rank in
 * id order, and every reference to them likewise: two exports of one run copied between stores are equal
 * once both are normalized, whatever ids each store gave.
 */
export function normalizeExport(data: RunExport): unknown {
  const ranks = (ids: number[]): Map<number, number> => new Map([...ids].sort((a, b) => a - b).map((id, rank) => [id, rank]));
  const rankOf = (ranked: Map<number, number>, id: number, what: string): number => {
    const rank = ranked.get(id);
    if (rank === undefined) throw new Error(`the export refers to ${what} ${id}, which it does not hold`);
    return rank;
  };
  const attempts = ranks(data.attempts.map((a) => a.id));
  const contents = ranks(data.contents.map((c) => c.id));
  const calls = ranks(data.interactions.map((i) => i.id));
  const byId = <T extends { id: number }>(rows: readonly T[]): T[] => [...rows].sort((a, b) => a.id - b.id);
  return {
    run: data.run,
    attempts: byId(data.attempts).map((a) => ({ ...a, id: rankOf(attempts, a.id, 'attempt') })),
    contents: byId(data.contents).map((c) => ({
      ...c,
      id: rankOf(contents, c.id, 'content version'),
      attemptId: c.attemptId === null ? null : rankOf(attempts, c.attemptId, 'attempt'),
    })),
    interactions: byId(data.interactions).map((i) => ({
      ...i,
      id: rankOf(calls, i.id, 'model call'),
      attemptId: rankOf(attempts, i.attemptId, 'attempt'),
      replayedFrom: i.replayedFrom === null ? null : rankOf(calls, i.replayedFrom, 'model call'),
    })),
    fileStats: [...data.fileStats].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    pinned: [...data.pinned].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
}
