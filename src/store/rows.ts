import type { AttemptRecord, AttemptStatus, ContentVersion, RunRecord, RunStatus } from './store.js';

/** Row → record mappings both stores share: their tables have the same columns for runs, attempts, contents. */

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
