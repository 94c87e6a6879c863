import type { InteractionRecord, InteractionSummary } from '../../store/store.js';
import { isoTime, type UiContext } from '../context.js';
import { notFound } from '../http.js';
import { loadRun } from './run.js';

/** A model call: the figures `plan llm` gives, and in full the messages sent, the response and the reasoning. */

export function callSummary(call: InteractionSummary) {
  return {
    id: call.id,
    taskId: call.taskId,
    attemptId: call.attemptId,
    itemKey: call.itemKey,
    turn: call.turn,
    provider: call.provider,
    requestedModel: call.requestedModel,
    answeredModel: call.answeredModel,
    status: call.status,
    replayedFrom: call.replayedFrom,
    inputTokens: call.inputTokens,
    outputTokens: call.outputTokens,
    tokensEstimated: call.tokensEstimated,
    reasoningTokens: call.reasoningTokens,
    costUsd: call.costUsd,
    durationMs: call.durationMs,
    errorClass: call.errorClass,
    errorMessage: call.errorMessage,
    httpStatus: call.httpStatus,
    startedAt: isoTime(call.startedAt),
    finishedAt: isoTime(call.finishedAt),
  };
}

export async function callDetail(ctx: UiContext, runId: string, id: number) {
  const run = await loadRun(ctx, runId);
  const call: InteractionRecord | null = await ctx.store.getInteraction(id);
  if (call === null || call.runId !== run.id) throw notFound(`run ${run.id} has no model call ${id}`);
  return {
    runId: run.id,
    call: {
      ...callSummary(call),
      requestHash: call.requestHash,
      responseFormat: call.responseFormat,
      price: call.price,
      messages: call.messages,
      responseText: call.responseText,
      reasoningText: call.reasoningText,
      parsed: call.parsed,
    },
  };
}
