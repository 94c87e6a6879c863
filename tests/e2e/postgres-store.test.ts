import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collect, diamondPipeline, jsonEvents, runPlan, snapshotDir, spawnPlan, startedTasks, tempDir, waitForOutput } from '../support/cli.js';
import { offlineLikeAnswer } from '../support/fake-model.js';
import { startFakeOpenAiServer, type FakeOpenAiServer, type FakeRequest } from '../support/fake-openai-server.js';
import { adminQuery, freshSchemaUrl, noteWhenPostgresMissing, POSTGRES_URL } from '../support/postgres.js';

// The PostgreSQL store through the real CLI: a run that outlives its machine, faults of the database, and
// one build of a run at a time across machines (the run lease).

noteWhenPostgresMissing('tests/e2e/postgres-store.test.ts');

const PROMPT = 'Open a small sourdough bakery in Copenhagen within a year';
const START = '2026-03-01T09:00:00.000Z';

const asksTheGate = (request: FakeRequest): boolean =>
  request.body.messages?.[0]?.content.startsWith('You review requests for project plans') === true;

/** The run id a run dir's marker names. */
const runIdOf = (runDir: string): string => (JSON.parse(fs.readFileSync(path.join(runDir, '.plan-run.json'), 'utf8')) as { runId: string }).runId;

let dirs: string[] = [];
let drops: (() => Promise<void>)[] = [];
const newDir = (prefix: string): string => {
  const dir = tempDir(prefix);
  dirs.push(dir);
  return dir;
};
const newSchema = async (): Promise<{ url: string; schema: string }> => {
  const fresh = await freshSchemaUrl();
  drops.push(fresh.drop);
  return fresh;
};
afterEach(async () => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  for (const drop of drops) await drop();
  dirs = [];
  drops = [];
});

describe.skipIf(POSTGRES_URL === undefined)('a run survives losing the machine that builds it (PostgreSQL)', () => {
  let fake: FakeOpenAiServer;
  beforeAll(async () => {
    fake = await startFakeOpenAiServer({
      handler: (request) => {
        const answer: ReturnType<typeof offlineLikeAnswer> = asksTheGate(request)
          ? {
              kind: 'json',
              value: { verdict: 'ALLOW', rationale: 'An ordinary business.', violation_category: 'none', capability_uplift: false, severity: 'none' },
            }
          : offlineLikeAnswer(request);
        // Slow enough that a kill lands mid-run.
        return { kind: 'delay', ms: 15, next: answer };
      },
    });
  });
  afterAll(async () => {
    await fake.close();
  });

  it('kill -9, wipe the run dir, the working dir and HOME; a new place builds the run to the same bytes without asking an answered call again', async () => {
    const model = `--model=openai-compatible:fake-model@${fake.url}`;
    const buildArgs = (dir: string) => ['build', dir, '--prompt', PROMPT, '--speed', 'fast', `--param=startTime=${START}`, model, '--json'];

    // The reference: one uninterrupted build, in a schema of its own.
    const reference = await newSchema();
    const refCwd = newDir('plan-pg-ref-');
    const before = fake.requestCount;
    const ref = await runPlan(buildArgs('runs/demo'), { cwd: refCwd, env: { PLAN_DB: reference.url, HOME: refCwd } });
    expect(ref.exit, ref.stderr).toBe(0);
    const referenceCalls = fake.requestCount - before;
    const referenceFiles = snapshotDir(path.join(refCwd, 'runs', 'demo'));

    // The machine that dies. The server trusts loopback, so the password is never checked: it is there to be
    // looked for afterwards, in every output, file and row.
    const fresh0 = await newSchema();
    const withPassword = new URL(fresh0.url);
    withPassword.password = 'pg-secret-never-shown';
    const url = withPassword.toString();
    const outputs: string[] = [];
    const machine = newDir('plan-pg-machine-');
    const firstStart = fake.requestCount;
    const child = spawnPlan(buildArgs('runs/demo'), { cwd: machine, env: { PLAN_DB: url, HOME: machine } });
    const killed = collect(child);
    await waitForOutput(child, (out) => jsonEvents(out).filter((e) => e.type === 'task-persisted').length >= 20, 60_000);
    child.kill('SIGKILL');
    const first = await killed;
    expect(first.signal).toBe('SIGKILL');
    outputs.push(first.stdout, first.stderr);
    const runId = jsonEvents(first.stdout).find((e) => e.type === 'build-started')!.runId as string;
    const answeredBeforeKill = Number(
      (await adminQuery(`SELECT COUNT(*) AS n FROM ${fresh0.schema}.llm_interactions WHERE status = 'completed'`)).rows[0].n,
    );
    expect(answeredBeforeKill).toBeGreaterThan(10);
    const askedOnFirstMachine = fake.requestCount - firstStart;
    fs.rmSync(machine, { recursive: true, force: true });

    // A new machine: nothing but the database.
    const fresh = newDir('plan-pg-new-machine-');
    const secondStart = fake.requestCount;
    const resumed = await runPlan(['build', 'runs/again', '--run', runId, '--db', url, '--json'], {
      cwd: fresh,
      env: { HOME: fresh, PLAN_DB: undefined },
    });
    expect(resumed.exit, resumed.stderr).toBe(0);
    outputs.push(resumed.stdout, resumed.stderr);
    expect(snapshotDir(path.join(fresh, 'runs', 'again'))).toEqual(referenceFiles);
    // Every answered call was replayed or restored, not asked again: only the calls that had not answered are.
    const askedOnSecondMachine = fake.requestCount - secondStart;
    expect(askedOnSecondMachine).toBe(referenceCalls - answeredBeforeKill);
    expect(askedOnFirstMachine).toBeGreaterThanOrEqual(answeredBeforeKill);
    // Tasks persisted on the first machine are not run again.
    const persistedFirst = jsonEvents(first.stdout)
      .filter((e) => e.type === 'task-persisted')
      .map((e) => e.taskId as string);
    for (const taskId of persistedFirst) expect(startedTasks(resumed.stdout)).not.toContain(taskId);

    // The whole history is there, from the new place.
    const env = { HOME: fresh, PLAN_DB: url };
    const list = await runPlan(['list'], { cwd: fresh, env });
    expect(list.exit, list.stderr).toBe(0);
    expect(list.stdout).toContain(runId);
    const show = await runPlan(['show', runId, '--json'], { cwd: fresh, env });
    expect(show.exit, show.stderr).toBe(0);
    const shown = JSON.parse(show.stdout) as { totals?: { calls?: number }; status?: string };
    expect(JSON.stringify(shown)).toContain('complete');
    const llm = await runPlan(['llm', 'runs/again', '--json'], { cwd: fresh, env });
    expect(llm.exit, llm.stderr).toBe(0);
    const calls = (JSON.parse(llm.stdout) as { runId: string; interactions: unknown[] }).interactions;
    expect(calls.length).toBeGreaterThanOrEqual(referenceCalls);
    const costs = await runPlan(['costs', '--by', 'run'], { cwd: fresh, env });
    expect(costs.exit, costs.stderr).toBe(0);
    expect(costs.stdout).toContain(runId);
    const status = await runPlan(['status', 'runs/again'], { cwd: fresh, env });
    expect(status.exit, status.stderr).toBe(0);
    // The password reached no output, no file and no row.
    for (const result of [list, show, llm, costs, status]) outputs.push(result.stdout, result.stderr);
    for (const text of outputs) expect(text).not.toContain('pg-secret-never-shown');
    for (const file of fs.readdirSync(fresh, { recursive: true, withFileTypes: true })) {
      if (file.isFile()) expect(fs.readFileSync(path.join(file.parentPath, file.name), 'utf8')).not.toContain('pg-secret-never-shown');
    }
    const schema = fresh0.schema;
    const tables = await adminQuery('SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema]);
    expect(tables.rows.length).toBeGreaterThan(5);
    for (const { tablename } of tables.rows as { tablename: string }[]) {
      const leaked = await adminQuery(`SELECT COUNT(*) AS n FROM ${schema}.${tablename} t WHERE row_to_json(t)::text LIKE '%pg-secret-never-shown%'`);
      expect(Number(leaked.rows[0].n), tablename).toBe(0);
    }
  }, 240_000);
});

describe.skipIf(POSTGRES_URL === undefined)('database faults (PostgreSQL)', () => {
  it('backends terminated mid-build (pg_terminate_backend): the build retries, completes, and matches a clean build', async () => {
    const { url } = await newSchema();
    const tagged = new URL(url);
    const app = `plan_fault_${Date.now()}`;
    tagged.searchParams.set('application_name', app);
    const cwd = newDir('plan-pg-terminate-');
    const refCwd = newDir('plan-pg-terminate-ref-');
    const ref = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline], { cwd: refCwd });
    expect(ref.exit, ref.stderr).toBe(0);

    const child = spawnPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json', '-j', '1'], {
      cwd,
      env: { PLAN_DB: tagged.toString(), FIXTURE_SLOW_MS: '300' },
    });
    const done = collect(child);
    await waitForOutput(child, (out) => startedTasks(out).length >= 2);
    const terminated = await adminQuery('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [app]);
    expect(terminated.rows.length).toBeGreaterThan(0);
    const result = await done;
    expect(result.exit, result.stderr).toBe(0);
    expect(snapshotDir(path.join(cwd, 'runs', 'demo'))).toEqual(snapshotDir(path.join(refCwd, 'runs', 'demo')));
  });

  it('the database gone for longer than the retry budget: exit 1 naming it, nothing committed lost, the next build completes', async () => {
    const { url } = await newSchema();
    const target = new URL(url);
    // A proxy we can cut: the server itself stays up for the other tests.
    const proxy = await startProxy(Number(target.port || 5432));
    const viaProxy = new URL(url);
    viaProxy.port = String(proxy.port);
    viaProxy.password = 'pw-never-shown';
    const cwd = newDir('plan-pg-gone-');
    const env = { PLAN_DB: viaProxy.toString(), PLAN_DB_RETRY_MS: '1500', FIXTURE_SLOW_MS: '300' };
    const child = spawnPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json', '-j', '1'], { cwd, env });
    const done = collect(child);
    await waitForOutput(child, (out) => jsonEvents(out).filter((e) => e.type === 'task-persisted').length >= 2);
    await proxy.stop();
    const result = await done;
    expect(result.exit, result.stderr).toBe(1);
    expect(result.stderr).toContain(`127.0.0.1:${proxy.port}`);
    expect(result.stderr).not.toContain('pw-never-shown');
    const persisted = jsonEvents(result.stdout)
      .filter((e) => e.type === 'task-persisted')
      .map((e) => e.taskId as string);

    const again = await proxy.start();
    expect(again).toBe(proxy.port);
    const resumed = await runPlan(['build', 'runs/demo', '--json'], { cwd, env: { ...env, FIXTURE_SLOW_MS: '0' } });
    expect(resumed.exit, resumed.stderr).toBe(0);
    for (const taskId of persisted) expect(startedTasks(resumed.stdout)).not.toContain(taskId);
    await proxy.stop();
  });

  it('unreachable host, unknown user, missing database: one line each, exit 2, no password, no stack', async () => {
    const cwd = newDir('plan-pg-bad-');
    const base = new URL(POSTGRES_URL!);
    const unreachable = new URL(base.toString());
    unreachable.port = '1';
    unreachable.password = 's3cret-pw';
    const noUser = new URL(base.toString());
    noUser.username = 'no_such_plan_user';
    noUser.password = 's3cret-pw';
    const noDb = new URL(base.toString());
    noDb.pathname = '/no_such_plan_db';
    for (const [url, words] of [
      [unreachable, 'connection refused'],
      [noUser, 'no_such_plan_user'],
      [noDb, 'no_such_plan_db'],
    ] as const) {
      const result = await runPlan(['list', '--db', url.toString()], { cwd });
      expect(result.exit, result.stderr).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(words);
      expect(result.stderr).not.toContain('s3cret-pw');
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a lock held by another session: the command waits the busy timeout, then fails clearly', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir('plan-pg-lock-');
    const built = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline], { cwd, env: { PLAN_DB: url } });
    expect(built.exit, built.stderr).toBe(0);
    const pg = await import('pg');
    const holder = new pg.default.Client({ connectionString: POSTGRES_URL });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${schema}.runs IN ACCESS EXCLUSIVE MODE`);
      const started = Date.now();
      const result = await runPlan(['build', 'runs/demo', '--force', 'Seed'], { cwd, env: { PLAN_DB: url, PLAN_DB_BUSY_TIMEOUT_MS: '700' } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(700);
      expect(result.exit, result.stderr).toBe(1);
      expect(result.stderr).toContain('another session holds a lock');
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });
});

describe.skipIf(POSTGRES_URL === undefined)('one build of a run at a time across machines (the run lease)', () => {
  it('a second build of the same run from another dir is refused at once, naming the holder; after it ends, it may build', async () => {
    const { url } = await newSchema();
    const cwd = newDir('plan-pg-lease-');
    const first = spawnPlan(['build', 'runs/a', '--pipeline', diamondPipeline, '--json', '-j', '1'], {
      cwd,
      env: { PLAN_DB: url, FIXTURE_SLOW_MS: '400' },
    });
    const firstDone = collect(first);
    await waitForOutput(first, (out) => startedTasks(out).length >= 1);
    const runId = runIdOf(path.join(cwd, 'runs', 'a'));
    const started = Date.now();
    const second = await runPlan(['build', 'runs/b', '--run', runId], { cwd, env: { PLAN_DB: url } });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(second.exit, second.stderr).toBe(2);
    expect(second.stderr).toContain(`is being built by pid ${first.pid}`);
    expect((await firstDone).exit).toBe(0);
    const after = await runPlan(['build', 'runs/b', '--run', runId, '--json'], { cwd, env: { PLAN_DB: url } });
    expect(after.exit, after.stderr).toBe(0);
    // Everything came back from the database: nothing ran again.
    expect(startedTasks(after.stdout)).toEqual([]);
    expect(snapshotDir(path.join(cwd, 'runs', 'b'))).toEqual(snapshotDir(path.join(cwd, 'runs', 'a')));
  });

  it('a holder on another machine that stops renewing is taken over once its lease expires', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir('plan-pg-expiry-');
    const built = await runPlan(['build', 'runs/a', '--pipeline', diamondPipeline], { cwd, env: { PLAN_DB: url } });
    expect(built.exit, built.stderr).toBe(0);
    const runId = runIdOf(path.join(cwd, 'runs', 'a'));
    // A builder on another host took the run 1.5 s before it stopped answering.
    await adminQuery(
      `INSERT INTO ${schema}.run_leases (run_id, token, host, pid, start_time, acquired_at, renewed_at, expires_at)
       VALUES ($1, 7, 'elsewhere.example', 4242, NULL, $2::bigint, $2::bigint, $2::bigint + 1500)
       ON CONFLICT (run_id) DO UPDATE SET token = 7, host = 'elsewhere.example', pid = 4242, acquired_at = $2::bigint, renewed_at = $2::bigint, expires_at = $2::bigint + 1500`,
      [runId, Date.now()],
    );
    const refused = await runPlan(['build', 'runs/a', '--force', 'Seed'], { cwd, env: { PLAN_DB: url } });
    expect(refused.exit).toBe(2);
    expect(refused.stderr).toContain('pid 4242 on elsewhere.example');
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    const taken = await runPlan(['build', 'runs/a', '--force', 'Seed'], { cwd, env: { PLAN_DB: url } });
    expect(taken.exit, taken.stderr).toBe(0);
    const lease = await adminQuery(`SELECT token FROM ${schema}.run_leases WHERE run_id = $1`, [runId]);
    expect(Number(lease.rows[0].token)).toBeGreaterThan(7);
  });

  it("a run dir locked by a builder on another host (a volume kept across a container restart) is taken once that builder's lease expires", async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir('plan-pg-foreign-lock-');
    const built = await runPlan(['build', 'runs/a', '--pipeline', diamondPipeline], { cwd, env: { PLAN_DB: url } });
    expect(built.exit, built.stderr).toBe(0);
    const runId = runIdOf(path.join(cwd, 'runs', 'a'));
    // The old container (another hostname) held the dir's lock and the run's lease, then vanished.
    const lockFile = path.join(cwd, 'runs', 'a', '.plan-lock');
    fs.writeFileSync(lockFile, JSON.stringify({ pid: 4242, host: 'old-container', since: '2026-12-01T00:00:00.000Z', token: 'gone' }));
    await adminQuery(
      `INSERT INTO ${schema}.run_leases (run_id, token, host, pid, start_time, acquired_at, renewed_at, expires_at)
       VALUES ($1, 7, 'old-container', 4242, NULL, $2::bigint, $2::bigint, $2::bigint + 1500)
       ON CONFLICT (run_id) DO UPDATE SET token = 7, host = 'old-container', pid = 4242, acquired_at = $2::bigint, renewed_at = $2::bigint, expires_at = $2::bigint + 1500`,
      [runId, Date.now()],
    );
    const refused = await runPlan(['build', 'runs/a', '--force', 'Seed'], { cwd, env: { PLAN_DB: url } });
    expect(refused.exit, refused.stderr).toBe(2);
    expect(refused.stderr).toContain('is being built by pid 4242 on old-container');
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    const taken = await runPlan(['build', 'runs/a', '--force', 'Seed', '--json'], { cwd, env: { PLAN_DB: url } });
    expect(taken.exit, taken.stderr).toBe(0);
    expect(startedTasks(taken.stdout).some((id) => id.startsWith('Seed('))).toBe(true);
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('a run being built on another machine shows running here (its live lease), can be cancelled from here, and is interrupted once the lease runs out', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir('plan-pg-elsewhere-');
    const built = await runPlan(['build', 'runs/a', '--pipeline', diamondPipeline], { cwd, env: { PLAN_DB: url } });
    expect(built.exit, built.stderr).toBe(0);
    const runId = runIdOf(path.join(cwd, 'runs', 'a'));
    // Another machine took the run and is building it in a dir of its own: no lock file here, a live lease there.
    await adminQuery(`UPDATE ${schema}.runs SET status = 'running' WHERE id = $1`, [runId]);
    // Long enough for the four commands below on a loaded machine (each opens PostgreSQL: ~0.7 s here).
    const leaseMs = 8_000;
    const leasedAt = Date.now();
    await adminQuery(
      `INSERT INTO ${schema}.run_leases (run_id, token, host, pid, start_time, acquired_at, renewed_at, expires_at)
       VALUES ($1, 7, 'builder-2', 4242, NULL, $2::bigint, $2::bigint, $2::bigint + $3::bigint)
       ON CONFLICT (run_id) DO UPDATE SET token = 7, host = 'builder-2', pid = 4242, acquired_at = $2::bigint, renewed_at = $2::bigint,
         expires_at = $2::bigint + $3::bigint`,
      [runId, leasedAt, leaseMs],
    );
    const env = { PLAN_DB: url };
    const listed = JSON.parse((await runPlan(['list', '--json'], { cwd, env })).stdout) as { runs: { id: string; status: string }[] };
    expect(listed.runs.find((r) => r.id === runId)?.status).toBe('running');
    const shown = JSON.parse((await runPlan(['show', runId, '--json'], { cwd, env })).stdout) as { run: { status: string } };
    expect(shown.run.status).toBe('running');
    const status = await runPlan(['status', 'runs/a'], { cwd, env });
    expect(status.stdout).toContain('building (pid 4242 on builder-2)');
    const cancel = await runPlan(['cancel', 'runs/a', '--wait', '0', '--json'], { cwd, env });
    expect(cancel.exit, cancel.stderr).toBe(0);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ outcome: 'requested', holder: { pid: 4242, host: 'builder-2' } });
    const marked = await adminQuery(`SELECT cancel_requested_at FROM ${schema}.runs WHERE id = $1`, [runId]);
    expect(marked.rows[0].cancel_requested_at).not.toBeNull();

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, leasedAt + leaseMs + 200 - Date.now())));
    const later = JSON.parse((await runPlan(['list', '--json'], { cwd, env })).stdout) as {
      runs: { id: string; status: string; statusReason: string }[];
    };
    expect(later.runs.find((r) => r.id === runId)).toMatchObject({
      status: 'interrupted',
      statusReason: expect.stringContaining('pid 4242 on builder-2'),
    });
  });

  it('a paused builder whose lease was taken over stores nothing when it wakes, and exits 1 saying so', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir('plan-pg-zombie-');
    const env = { PLAN_DB: url, PLAN_LEASE_TTL_MS: '600' };
    const zombie = spawnPlan(['build', 'runs/a', '--pipeline', diamondPipeline, '--json', '-j', '1'], {
      cwd,
      env: { ...env, FIXTURE_SLOW_MS: '500' },
    });
    const zombieDone = collect(zombie);
    await waitForOutput(zombie, (out) => startedTasks(out).length >= 1);
    const runId = runIdOf(path.join(cwd, 'runs', 'a'));
    zombie.kill('SIGSTOP');
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const takeover = await runPlan(['build', 'runs/b', '--run', runId, '--json'], { cwd, env });
      expect(takeover.exit, takeover.stderr).toBe(0);
      const tookAt = Date.now();
      zombie.kill('SIGCONT');
      const woke = await zombieDone;
      expect(woke.exit, woke.stderr).toBe(1);
      expect(woke.stderr).toContain('lease');
      // Nothing the zombie did after the takeover was stored as built.
      const late = await adminQuery(`SELECT COUNT(*) AS n FROM ${schema}.task_attempts WHERE pid = $1 AND persisted_at >= $2`, [
        zombie.pid,
        tookAt - 1_000,
      ]);
      expect(Number(late.rows[0].n)).toBe(0);
    } finally {
      zombie.kill('SIGCONT');
    }
  });
});

/** A TCP proxy to the PostgreSQL port that can be cut (every connection dropped, nothing listening) and started again. */
async function startProxy(upstreamPort: number): Promise<{ port: number; stop: () => Promise<void>; start: () => Promise<number> }> {
  let server: net.Server | null = null;
  const sockets = new Set<net.Socket>();
  let port = 0;
  const listen = (): Promise<number> =>
    new Promise((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(upstreamPort, '127.0.0.1');
        sockets.add(client);
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        const end = (): void => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', end);
        upstream.on('error', end);
        client.on('close', end);
        upstream.on('close', end);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve(port);
      });
    });
  await listen();
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        sockets.clear();
        if (server === null) return resolve();
        server.close(() => resolve());
        server = null;
      }),
    start: listen,
  };
}
