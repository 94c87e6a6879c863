import { inflateRawSync } from 'node:zlib';
import type {
  AttemptRecord,
  AttemptStatus,
  ContentVersion,
  InteractionRecord,
  InteractionStatus,
  ResponseFormat,
  RunRecord,
  RunStatus,
} from './store.js';

/** Row → record mappings both stores share: their tables have the same columns. */

/** A row as either driver returns it: column name → value (64-bit integers as numbers). */
export type Row = Record<string, unknown>;

export function toRun(row: Row): RunRecord {
  return {
    id: row.id as string,
    runDir: row.run_dir as string,
    pipeline: row.pipeline as string,
    params: JSON.parse(row.params_json as string) as Record<string, unknown>,
    status: row.status as RunStatus,
    statusReason: (row.status_reason as string | null) ?? null,
    cancelRequestedAt: (row.cancel_requested_at as number | null) ?? null,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}

export function toAttempt(row: Row): AttemptRecord {
  return {
    id: row.id as number,
    runId: row.run_id as string,
    taskId: row.task_id as string,
    status: row.status as AttemptStatus,
    stamp: (row.stamp_json as string | null) ?? null,
    outputs: row.outputs_json ? (JSON.parse(row.outputs_json as string) as Record<string, string>) : null,
    error: (row.error as string | null) ?? null,
    startedAt: row.started_at as number,
    finishedAt: (row.finished_at as number | null) ?? null,
  };
}

export function toContentVersion(row: Row): ContentVersion {
  return {
    id: row.id as number,
    runId: row.run_id as string,
    path: row.path as string,
    taskId: row.task_id as string,
    attemptId: (row.attempt_id as number | null) ?? null,
    version: row.version as number,
    sha256: row.sha256 as string,
    size: row.size as number,
    source: row.source as ContentVersion['source'],
    createdAt: row.created_at as number,
  };
}

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
    messages: messagesOf(row),
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
    // SQLite stores 0/1, PostgreSQL a boolean.
    tokensEstimated: row.tokens_estimated === true || row.tokens_estimated === 1,
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

/** Deflated messages (`messages_z`); SQLite rows older than its v2 hold them as text; summaries select none. */
function messagesOf(row: Row): unknown {
  if (row.messages_z) return JSON.parse(inflateRawSync(row.messages_z as Buffer).toString('utf8')) as unknown;
  return row.messages_json ? (JSON.parse(row.messages_json as string) as unknown) : [];
}

/** Model text: TEXT in SQLite, UTF-8 bytes in PostgreSQL (whose TEXT cannot hold U+0000). */
function textOf(value: unknown): string | null {
  return Buffer.isBuffer(value) ? value.toString('utf8') : ((value as string | null | undefined) ?? null);
}
