import type { AttemptScope } from '../engine/context.js';
import type { InteractionFinish, ResponseFormat } from '../store/store.js';
import type { ChatMessage } from './types.js';
import { redact, redactDeep } from './redact.js';

/**
 * Writes interaction rows and emits the matching events. A row is inserted `pending` before the request goes
 * out, so a crash mid-call still leaves a trace, and finished once the outcome is known. Every text passes
 * through `redact` on its way to the database.
 */

export interface InteractionOpening {
  itemKey: string | null;
  turn: number | null;
  requestHash: string;
  provider: string;
  requestedModel: string;
  messages: readonly ChatMessage[] | unknown;
  /** On a replayed call: the row whose answer it replays. */
  replayedFrom?: number;
  /** How the request asks for its answer (absent on a replay: nothing is sent). */
  responseFormat?: ResponseFormat;
}

export class InteractionRecorder {
  constructor(
    private readonly scope: AttemptScope,
    /** The keys in use right now; read on every write, never kept. */
    private readonly secrets: () => readonly (string | undefined)[],
  ) {}

  async start(opening: InteractionOpening): Promise<number> {
    const { scope } = this;
    const id = await scope.store.startInteraction({
      runId: scope.runId,
      taskId: scope.taskId,
      attemptId: scope.attemptId,
      itemKey: opening.itemKey,
      turn: opening.turn,
      requestHash: opening.requestHash,
      provider: opening.provider,
      requestedModel: opening.requestedModel,
      messages: redactDeep(opening.messages, this.secrets()),
      replayedFrom: opening.replayedFrom ?? null,
      responseFormat: opening.responseFormat ?? null,
    });
    scope.emit({
      type: 'interaction-started',
      taskId: scope.taskId,
      attemptId: scope.attemptId,
      interactionId: id,
      model: opening.requestedModel,
      itemKey: opening.itemKey,
    });
    return id;
  }

  /** The task refused this answer: the row (and the row it replayed) become `rejected`, never replayed again. */
  async reject(id: number, reason: string): Promise<void> {
    await this.scope.store.rejectInteraction(id, redact(reason, this.secrets()));
  }

  async finish(id: number, model: string, finish: InteractionFinish): Promise<void> {
    const secrets = this.secrets();
    const clean: InteractionFinish = {
      ...finish,
      responseText: finish.responseText == null ? finish.responseText : redact(finish.responseText, secrets),
      errorMessage: finish.errorMessage == null ? finish.errorMessage : redact(finish.errorMessage, secrets),
      reasoningText: finish.reasoningText == null ? finish.reasoningText : redact(finish.reasoningText, secrets),
      parsed: finish.parsed === undefined ? undefined : redactDeep(finish.parsed, secrets),
    };
    await this.scope.store.finishInteraction(id, clean);
    this.scope.emit({
      type: 'interaction-finished',
      taskId: this.scope.taskId,
      attemptId: this.scope.attemptId,
      interactionId: id,
      model,
      status: finish.status,
      inputTokens: finish.inputTokens ?? null,
      outputTokens: finish.outputTokens ?? null,
      costUsd: finish.costUsd ?? null,
      durationMs: finish.durationMs ?? null,
    });
  }
}
