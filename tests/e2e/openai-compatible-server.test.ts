import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlan, startedTasks, tempDir } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeOpenAiServer, type FakeRequest } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';
import { PLAN_TASK_CLASSES } from '../../src/tasks/catalog.js';
import { planConfigFrom } from '../../src/tasks/pipeline.js';
import { outputList } from '../../src/engine/target.js';

/**
 * The fast plan against an OpenAI-compatible server: the suite's fake one, or yours —
 *   PLAN_TEST_OPENAI_URL=http://127.0.0.1:8080/v1 PLAN_TEST_OPENAI_MODEL=qwen2.5-7b-instruct \
 *   PLAN_TEST_OPENAI_KEY_ENV=MY_SERVER_KEY npx vitest run tests/e2e/openai-compatible-server.test.ts
 * (the key variable is optional; it names the variable that holds the key, which is then sent to that URL only).
 */
const REAL_URL = process.env.PLAN_TEST_OPENAI_URL?.trim() || undefined;
const REAL_MODEL = process.env.PLAN_TEST_OPENAI_MODEL?.trim() || 'default';
const KEY_ENV = process.env.PLAN_TEST_OPENAI_KEY_ENV?.trim() || undefined;
const PROMPT = 'Open a small sourdough bakery in Copenhagen within a year';
const START = '2026-03-01T09:00:00.000Z';
// A real model answers ~50 calls one after another per chain: give it time.
const TIMEOUT_MS = REAL_URL === undefined ? 120_000 : 60 * 60_000;

const asksTheGate = (request: FakeRequest): boolean =>
  request.body.messages?.[0]?.content.startsWith('You review requests for project plans') === true;

let cwd: string;
let fake: FakeOpenAiServer | undefined;
let spec: string;

beforeAll(async () => {
  cwd = tempDir('plan-openai-server-');
  if (REAL_URL === undefined) {
    // A plausible model: the offline model's content for every schema, and a gate that allows a bakery.
    fake = await startFakeOpenAiServer({
      handler: (request) =>
        asksTheGate(request)
          ? {
              kind: 'json',
              value: { verdict: 'ALLOW', rationale: 'An ordinary business.', violation_category: 'none', capability_uplift: false, severity: 'none' },
            }
          : offlineLikeAnswer(request),
    });
  }
  spec = `openai-compatible:${REAL_URL === undefined ? 'fake-model' : REAL_MODEL}@${REAL_URL ?? fake!.url}`;
  if (KEY_ENV !== undefined) fs.writeFileSync(path.join(cwd, 'plan.config.json'), JSON.stringify({ apiKeyEnv: { [spec]: KEY_ENV } }));
});
afterAll(async () => {
  await fake?.close();
  fs.rmSync(cwd, { recursive: true, force: true });
});

function query<T>(sql: string): T[] {
  const db = new Database(path.join(cwd, 'runs', 'plan.db'), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

describe(`the fast plan against ${REAL_URL === undefined ? "the suite's fake" : 'your'} OpenAI-compatible server`, () => {
  it(
    'builds every declared file; every call is recorded as asked of that model; a second build does nothing',
    async () => {
      const args = ['build', 'runs/demo', '--prompt', PROMPT, '--speed', 'fast', `--param=startTime=${START}`, `--model=${spec}`, '--json'];
      const result = await runPlan(args, { cwd });
      expect(result.exit, result.stderr).toBe(0);
      expect(startedTasks(result.stdout)).toHaveLength(PLAN_TASK_CLASSES.length);

      const config = planConfigFrom({ prompt: PROMPT, speed: 'fast', startTime: START });
      const onDisk = fs.readdirSync(path.join(cwd, 'runs', 'demo'));
      for (const Class of PLAN_TASK_CLASSES) for (const target of outputList(new Class(config).output())) expect(onDisk).toContain(target.path);

      const calls = query<{ status: string; requested_model: string }>('SELECT status, requested_model FROM llm_interactions');
      const answered = calls.filter((c) => c.status === 'completed');
      expect(answered.length).toBeGreaterThan(40);
      expect(calls.every((c) => c.requested_model === spec)).toBe(true);
      if (fake !== undefined) {
        expect(fake.requestCount).toBe(calls.length);
        expect(fake.requests.every((r) => r.body.model === 'fake-model')).toBe(true);
        const key = KEY_ENV === undefined ? undefined : process.env[KEY_ENV]?.trim() || undefined;
        expect(new Set(fake.requests.map((r) => r.headers.authorization))).toEqual(new Set([key === undefined ? undefined : `Bearer ${key}`]));
      }

      const again = await runPlan(['build', 'runs/demo', `--model=${spec}`, '--json'], { cwd });
      expect(again.exit, again.stderr).toBe(0);
      expect(startedTasks(again.stdout)).toEqual([]);
    },
    TIMEOUT_MS,
  );
});
