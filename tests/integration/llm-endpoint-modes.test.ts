import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { migrations } from '../../src/store/sqlite/migrations.js';

// The store side of what the LLM layer learns about endpoints and records per request (schema version 5).

let dir: string;
let store: SqliteStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'plan-endpoints-'));
  store = await openSqliteStore(path.join(dir, 'plan.db'));
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('endpoint modes', () => {
  it('are remembered per base URL and model, the newest winning, across connections', async () => {
    expect(await store.getEndpointMode('http://127.0.0.1:8080/v1', 'llama')).toBeNull();
    await store.saveEndpointMode('http://127.0.0.1:8080/v1', 'llama', 'json_object');
    await store.saveEndpointMode('http://127.0.0.1:8080/v1', 'qwen', 'prompt');
    await store.saveEndpointMode('http://127.0.0.1:8080/v1', 'llama', 'prompt');
    await store.close();
    store = await openSqliteStore(path.join(dir, 'plan.db'));
    expect(await store.getEndpointMode('http://127.0.0.1:8080/v1', 'llama')).toBe('prompt');
    expect(await store.getEndpointMode('http://127.0.0.1:8080/v1', 'qwen')).toBe('prompt');
    expect(await store.getEndpointMode('http://127.0.0.1:9090/v1', 'llama')).toBeNull();
  });

  it('never keep credentials of a base URL', async () => {
    await store.saveEndpointMode('https://someone:hunter2-secret@llm.example.com/v1', 'm', 'json_object');
    expect(await store.getEndpointMode('https://llm.example.com/v1', 'm')).toBe('json_object');
    expect(await store.getEndpointMode('https://other:pw@llm.example.com/v1', 'm')).toBe('json_object');
    await store.close();
    for (const name of await readdir(dir)) {
      const bytes = await readFile(path.join(dir, name));
      expect(bytes.includes('hunter2'), name).toBe(false);
      expect(bytes.includes('someone'), name).toBe(false);
    }
    store = await openSqliteStore(path.join(dir, 'plan.db'));
  });
});

describe('interaction rows of schema version 5', () => {
  it('hold the response format sent and the reasoning apart from the answer', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const attemptId = await store.startAttempt(run.id, 'T');
    const start = {
      runId: run.id,
      taskId: 'T',
      attemptId,
      itemKey: null,
      turn: null,
      requestHash: 'h',
      provider: 'openai-compatible',
      requestedModel: 'm',
    };
    const id = await store.startInteraction({ ...start, messages: [], responseFormat: 'json_object' });
    await store.finishInteraction(id, { status: 'completed', responseText: '{}', reasoningText: 'thought', reasoningTokens: 12 });
    const old = await store.startInteraction({ ...start, messages: [] });
    await store.finishInteraction(old, { status: 'completed', responseText: '{}' });
    expect((await store.listInteractions(run.id)).map((r) => [r.responseFormat, r.reasoningText, r.reasoningTokens])).toEqual([
      ['json_object', 'thought', 12],
      [null, null, null],
    ]);
    const summaries = await store.listInteractionSummaries(run.id);
    expect(summaries.map((r) => [r.responseFormat, r.reasoningTokens])).toEqual([
      ['json_object', 12],
      [null, null],
    ]);
    expect(summaries[0]).not.toHaveProperty('reasoningText');
  });

  it('a database of schema version 4 upgrades to 5, keeping its model calls', async () => {
    const file = path.join(dir, 'v4.db');
    const v4 = new Database(file);
    v4.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const migration of migrations.filter((m) => m.version <= 4)) {
      v4.exec(migration.sql);
      v4.prepare('INSERT INTO schema_version VALUES (?, 0)').run(migration.version);
    }
    v4.prepare(
      "INSERT INTO runs (id, run_dir, pipeline, params_json, status, created_at, updated_at) VALUES ('r4', '/r', 'plan', '{}', 'complete', 1, 2)",
    ).run();
    v4.prepare(
      `INSERT INTO llm_interactions (id, run_id, task_id, attempt_id, request_hash, provider, requested_model, messages_json, response_text, status, started_at)
       VALUES (3, 'r4', 'T', 1, 'h', 'openai', 'gpt', '[]', 'answer', 'completed', 4)`,
    ).run();
    v4.close();
    const upgraded = await openSqliteStore(file);
    try {
      expect(await upgraded.getInteraction(3)).toMatchObject({
        responseText: 'answer',
        responseFormat: null,
        reasoningText: null,
        reasoningTokens: null,
      });
      await upgraded.saveEndpointMode('http://h/v1', 'm', 'prompt');
      expect(await upgraded.getEndpointMode('http://h/v1', 'm')).toBe('prompt');
    } finally {
      await upgraded.close();
    }
  });
});
