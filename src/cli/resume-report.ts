import type { Store } from '../store/store.js';
import { plural } from './output.js';

/**
 * What a build took over from the builds before it: the attempts a dead build left running (this build marked
 * them abandoned and ran their tasks again) and the model answers it replayed instead of paying for them again.
 *
 * Read from the store after the build rather than guessed before it: `abandoned` is set only when a build
 * takes the run dir's lock, so the attempts this build abandoned are exactly those that ended so since it
 * started, with no race against a holder that dies between a look at the lock and the build.
 */
export async function resumeReport(store: Store, runId: string, since: number): Promise<string[]> {
  const abandoned = (await store.listAttempts(runId)).filter((a) => a.status === 'abandoned' && (a.finishedAt ?? 0) >= since);
  const replayed = (await store.listInteractionSummaries(runId, { status: 'replayed' })).filter((c) => c.startedAt >= since);
  const lines = abandoned.map((a) => `abandoned attempt ${a.id} of ${a.taskId}, left running by a build that died`);
  if (replayed.length > 0) lines.push(`${plural(replayed.length, 'model call')} replayed from earlier attempts, not paid again`);
  return lines;
}
