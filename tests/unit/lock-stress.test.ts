import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, repoRoot, tempDir } from '../support/cli.js';

/**
 * Real processes racing for one dead lock. Each contender is a plain `node` process running the lock module
 * transpiled from src/ into a temp folder, so the race runs against the current source, never a stale dist/.
 */
const CONTENDERS = 6;
const ROUNDS = 10;

/**
 * One contender, for every round: waits for the round's start signal, takes the lock (pausing a random moment
 * before any takeover, to shake the interleavings), proves it alone holds it with an O_EXCL marker, and holds it
 * until every contender has tried. Processes are started once for all rounds: spawning is the slow part.
 */
const contender = `
import fs from 'node:fs';
import path from 'node:path';
const [lockModule, work, index, contenders, rounds] = process.argv.slice(2);
const { acquireRunDirLock } = await import(lockModule);
const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const spin = (ms) => { const until = performance.now() + ms; while (performance.now() < until); };
process.stdout.write('ready\\n');
for (let round = 0; round < Number(rounds); round++) {
  const runDir = path.join(work, 'run-' + round);
  const roundDir = path.join(work, 'round-' + round);
  const tried = () => fs.writeFileSync(path.join(roundDir, 'tried-' + index), '');
  const everyoneTried = () => fs.readdirSync(roundDir).filter((f) => f.startsWith('tried-')).length >= Number(contenders);
  while (!fs.existsSync(path.join(roundDir, 'go'))) nap(1);
  const result = { pid: process.pid };
  try {
    const lock = acquireRunDirLock(runDir, {}, { beforeTakeover: () => spin(Math.random() * 2) });
    result.won = true;
    result.tookOver = lock.tookOver;
    try {
      fs.writeFileSync(path.join(roundDir, 'holding'), String(process.pid), { flag: 'wx' });
    } catch {
      result.overlap = true;
    }
    tried();
    for (const until = Date.now() + 3_000; !everyoneTried() && Date.now() < until; ) nap(2);
    fs.rmSync(path.join(roundDir, 'holding'), { force: true });
    lock.release();
  } catch (error) {
    result.won = false;
    result.error = error.name + ': ' + error.message;
    tried();
  }
  // Written whole, then renamed, so that the test never reads half a result.
  fs.writeFileSync(path.join(roundDir, 'partial-' + index), JSON.stringify(result));
  fs.renameSync(path.join(roundDir, 'partial-' + index), path.join(roundDir, 'result-' + index + '.json'));
}
`;

let work: string;
let lockModule: string;
let script: string;
let deadPid: number;

beforeAll(() => {
  work = tempDir('plan-lock-stress-');
  const moduleDir = path.join(work, 'module');
  fs.mkdirSync(moduleDir);
  fs.writeFileSync(path.join(moduleDir, 'package.json'), '{"type":"module"}');
  // lock.ts imports only node built-ins and errors.ts.
  for (const name of ['lock', 'errors']) {
    const source = fs.readFileSync(path.join(repoRoot, 'src', 'engine', `${name}.ts`), 'utf8');
    const compiled = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    fs.writeFileSync(path.join(moduleDir, `${name}.js`), compiled.outputText);
  }
  lockModule = pathToFileURL(path.join(moduleDir, 'lock.js')).href;
  script = path.join(work, 'contender.mjs');
  fs.writeFileSync(script, contender);
  deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
});
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

interface Result {
  pid: number;
  won: boolean;
  tookOver?: boolean;
  overlap?: boolean;
  error?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The round's results, once every contender wrote its own; a contender that crashed fails the test at once. */
async function roundResults(roundDir: string, crashed: () => string | undefined): Promise<Result[]> {
  const files = () => fs.readdirSync(roundDir).filter((f) => f.startsWith('result-'));
  while (files().length < CONTENDERS) {
    const stderr = crashed();
    if (stderr !== undefined) throw new Error(`a contender crashed: ${stderr}`);
    await sleep(5);
  }
  return files().map((f) => JSON.parse(fs.readFileSync(path.join(roundDir, f), 'utf8')) as Result);
}

describe('run dir lock under contention', () => {
  it(`${CONTENDERS} processes taking over one dead lock, ${ROUNDS} rounds: one holder at a time, exactly one winner per round`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const runDir = path.join(work, `run-${round}`);
      fs.mkdirSync(runDir);
      fs.mkdirSync(path.join(work, `round-${round}`));
      const dead = { pid: deadPid, host: hostname(), since: '2020-01-01T00:00:00Z', token: `dead-${round}` };
      fs.writeFileSync(path.join(runDir, '.plan-lock'), JSON.stringify(dead));
    }
    const args = (index: number) => [script, lockModule, work, String(index), String(CONTENDERS), String(ROUNDS)];
    const children = Array.from({ length: CONTENDERS }, (_, index) => spawn(process.execPath, args(index), { stdio: ['ignore', 'pipe', 'pipe'] }));
    const exits = children.map((child) => collect(child));
    const failures: string[] = [];
    for (const exit of exits) void exit.then((r) => r.exit !== 0 && failures.push(r.stderr));
    try {
      await Promise.all(
        children.map(
          (child) =>
            new Promise((ready) => {
              child.stdout.once('data', ready);
              child.once('exit', ready);
            }),
        ),
      );
      for (let round = 0; round < ROUNDS; round++) {
        const runDir = path.join(work, `run-${round}`);
        const roundDir = path.join(work, `round-${round}`);
        fs.writeFileSync(path.join(roundDir, 'go'), '');
        const results = await roundResults(roundDir, () => failures[0]);
        const winners = results.filter((r) => r.won);
        expect(results.filter((r) => r.overlap)).toEqual([]);
        expect(winners.map((w) => ({ tookOver: w.tookOver }))).toEqual([{ tookOver: true }]);
        for (const loser of results.filter((r) => !r.won)) {
          expect(loser.error).toContain(`LockedError: run dir ${runDir} is being built by pid ${winners[0]!.pid}`);
        }
        expect(fs.readdirSync(runDir)).toEqual([]);
      }
      for (const exit of await Promise.all(exits)) expect(exit).toMatchObject({ exit: 0, stderr: '' });
    } finally {
      // A failed round leaves the others waiting for a start signal that never comes.
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
    }
  });
});
