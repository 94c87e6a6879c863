import { inflateRawSync } from 'node:zlib';
import type { InteractionRecord, InteractionStatus, ResponseFormat } from '../store.js';

export { toAttempt, toContentVersion, toRun, type Row } from '../rows.js';
import type { Row } from '../rows.js';

export function toInteraction(row: Row): InteractionRecord {
  return {
    id: row.id as number,
    runId: row.run_id as string,
    taskId: row.task_id as string,
    attemptId: row.attempt_id as number,
    itemKey: (row.item_key as string | null) ?? null,
    turn: (row.turn as number | null) ?? null,
    requestHash: row.request_hash as string,
    provider: row.provider as string,
    requestedModel: row.requested_model as string,
    messages: row.messages_z ? (JSON.parse(inflateRawSync(row.messages_z as Buffer).toString('utf8')) as unknown) : [],
    replayedFrom: (row.replayed_from as number | null) ?? null,
    status: row.status as InteractionStatus,
    answeredModel: (row.answered_model as string | null) ?? null,
    responseText: textOf(row.response_text),
    parsed: row.parsed_json ? (JSON.parse(row.parsed_json as string) as unknown) : null,
    errorClass: (row.error_class as string | null) ?? null,
    errorMessage: (row.error_message as string | null) ?? null,
    httpStatus: (row.http_status as number | null) ?? null,
    inputTokens: (row.input_tokens as number | null) ?? null,
    outputTokens: (row.output_tokens as number | null) ?? null,
    tokensEstimated: row.tokens_estimated === true,
    durationMs: (row.duration_ms as number | null) ?? null,
    costUsd: (row.cost_usd as number | null) ?? null,
    price: row.price_json ? (JSON.parse(row.price_json as string) as unknown) : null,
    startedAt: row.started_at as number,
    finishedAt: (row.finished_at as number | null) ?? null,
    responseFormat: (row.response_format as ResponseFormat | null) ?? null,
    reasoningText: textOf(row.reasoning_text),
    reasoningTokens: (row.reasoning_tokens as number | null) ?? null,
  };
}

/** Model text is stored as UTF-8 bytes (it may hold U+0000, which PostgreSQL's TEXT refuses). */
export function textBytes(text: string | null | undefined): Buffer | null {
  return text === null || text === undefined ? null : Buffer.from(text, 'utf8');
}

function textOf(value: unknown): string | null {
  return Buffer.isBuffer(value) ? value.toString('utf8') : ((value as string | null | undefined) ?? null);
}

/** Text for a TEXT column (error messages): U+0000, which PostgreSQL refuses, is written as the escape `\u0000`. */
export function plainText(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : text.replaceAll('\u0000', '\\u0000');
}
