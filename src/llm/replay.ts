import type { AttemptScope } from '../engine/context.js';
import type { Completion } from './types.js';
import type { InteractionRecorder } from './recorder.js';
import type { FailedAnswer } from './errors.js';
import type { CallPlan } from './model-tries.js';

/**
 * Answers a call from an earlier attempt of this task that never reached `persisted` (killed, failed,
 * cancelled): the model was paid once, it is not paid again. Each earlier row is used at most once per attempt,
 * so a task that asks the same question twice gets the two earlier answers, in order, not one answer twice.
 * An answer the call's check refuses is recorded as replayed and then rejected (with the row it came from),
 * and the next earlier answer is tried; when none is left the model is asked.
 */
export class Replayer {
  private readonly consumed = new Set<number>();

  constructor(
    private readonly scope: AttemptScope,
    private readonly recorder: InteractionRecorder,
  ) {}

  async replay<T>(plan: CallPlan<T>): Promise<Completion<T> | null> {
    const { requestHash } = plan;
    const ids = this.scope.replayableAttemptIds;
    if (ids.length === 0) return null;
    const rows = await this.scope.store.findReplayableInteractions([...ids], requestHash);
    for (const row of rows) {
      if (this.consumed.has(row.id) || row.status !== 'completed' || row.responseText === null) continue;
      const answer: FailedAnswer = {
        text: row.responseText,
        answeredModel: row.answeredModel ?? row.requestedModel,
        inputTokens: row.inputTokens ?? 0,
        outputTokens: row.outputTokens ?? 0,
        tokensEstimated: row.tokensEstimated,
      };
      let value: T;
      try {
        // The schema may have changed since (a new task version would not replay, but be safe): re-validate.
        value = plan.parse(row.responseText, answer);
      } catch {
        continue;
      }
      this.consumed.add(row.id);
      const refusal = plan.check?.(value) ?? null;
      const id = await this.recorder.start({
        itemKey: row.itemKey,
        turn: row.turn,
        requestHash,
        provider: row.provider,
        requestedModel: row.requestedModel,
        messages: row.messages,
        replayedFrom: row.id,
      });
      await this.recorder.finish(id, row.requestedModel, {
        status: 'replayed',
        answeredModel: row.answeredModel,
        responseText: row.responseText,
        parsed: row.parsed ?? undefined,
        httpStatus: row.httpStatus,
        inputTokens: row.inputTokens,
        outputTokens: row.outputTokens,
        tokensEstimated: row.tokensEstimated,
        durationMs: 0,
        costUsd: 0,
        price: row.price,
      });
      if (refusal !== null) {
        await this.recorder.reject(id, refusal);
        continue;
      }
      return { value, text: row.responseText, model: row.requestedModel, interactionId: id, replayed: true };
    }
    return null;
  }
}
