/**
 * A user moving over brings a run dir made by the original Luigi pipeline: `plan build` adopts the files in
 * place, runs only the tasks whose files are missing, leaves the rest byte for byte, and from then on an
 * edit rebuilds only what reads it.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliResult, jsonEvents, runPlan, startedTasks, tempDir } from '../support/cli.js';

const SILO = process.env.PLAN_SILO_DIR ?? path.resolve(import.meta.dirname, '../../../shared/data/real-run-silo');
// The real run dir lives in shared/data beside the checkout (CI has it). Without it, say so; in CI, fail.
const siloPresent = fs.existsSync(SILO) || process.env.CI !== undefined;
if (!fs.existsSync(SILO)) console.warn(`SKIPPED: no real run dir at ${SILO} (set PLAN_SILO_DIR to a copy of shared/data/real-run-silo)`);
const EDITED = '003-11-consolidate_assumptions_short.md';

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-adopt-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (): string => path.join(cwd, 'runs', 'silo');

/** A copy of the silo dir, writable as a user's own copy would be. */
function copySilo(): void {
  fs.cpSync(SILO, runDir(), { recursive: true });
  for (const name of fs.readdirSync(runDir())) fs.chmodSync(path.join(runDir(), name), 0o644);
}

/** What went wrong in a build: its stderr and the error of every task that failed (`--json` prints those on stdout). */
function failures(result: CliResult): string {
  const failed = jsonEvents(result.stdout).filter((e) => e.type === 'task-failed');
  return [result.stderr, ...failed.map((e) => `${String(e.taskId)}: ${String(e.error)}`)].join('\n');
}

/** The sha256 of every file of the run dir (leaving out the engine's own dotfiles), by name. */
function hashAll(): Map<string, string> {
  return new Map(
    fs
      .readdirSync(runDir())
      .filter((name) => !name.startsWith('.plan-'))
      .map((name) => [
        name,
        createHash('sha256')
          .update(fs.readFileSync(path.join(runDir(), name)))
          .digest('hex'),
      ]),
  );
}

interface Graph {
  nodes: { id: string; outputs: string[] }[];
  edges: { from: string; to: string }[];
}

/** Every task reachable from `start` along `next` (not `start` itself). */
function reach(start: string, next: (id: string) => string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [start];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    for (const other of next(id)) {
      if (seen.has(other)) continue;
      seen.add(other);
      todo.push(other);
    }
  }
  return seen;
}

describe.skipIf(!siloPresent)('bringing a run dir of the original pipeline (shared/data/real-run-silo)', () => {
  it('adopts it as it is, then rebuilds only what reads an edited file, then does nothing', async () => {
    copySilo();
    const before = hashAll();

    const first = await runPlan(['build', 'runs/silo', '--prompt-file', 'runs/silo/001-2-plan.txt', '--json'], { cwd });
    expect(first.exit, failures(first)).toBe(0);
    const decided = jsonEvents(first.stdout).filter((e) => e.type === 'task-decided');
    expect(decided.filter((e) => e.reason === 'adopted the files already in the run dir')).toHaveLength(61);
    // The dir has no 029-1-self_audit_raw.json and names its schedule files otherwise: those two tasks run.
    expect(startedTasks(first.stdout).sort()).toEqual(['CreateScheduleTask', 'SelfAuditTask']);
    const afterFirst = hashAll();
    const changed = [...before].filter(([name, sha]) => afterFirst.get(name) !== sha).map(([name]) => name);
    expect(changed).toEqual(['029-2-self_audit.md']); // SelfAuditTask's other output
    // ...which was stored as a version before it was written over: nothing that was in the dir is lost.
    const kept = await runPlan(['cat', 'runs/silo', '029-2-self_audit.md', '--version', '1'], { cwd });
    expect(kept.stdout).toBe(fs.readFileSync(path.join(SILO, '029-2-self_audit.md'), 'utf8'));
    // The schedule starts on the dir's own start time (`server_iso_utc`), over its own WBS.
    expect(fs.readFileSync(path.join(runDir(), '026-3-schedule_gantt.csv'), 'utf8')).toContain(',,1,Silo Construction,2026-03-12,');

    const status = await runPlan(['status', 'runs/silo', '--json'], { cwd });
    const shown = JSON.parse(status.stdout) as { tasks: { state: string }[]; unownedFiles: string[] };
    expect(shown.tasks.every((t) => t.state === 'fresh')).toBe(true);
    // The original's files this pipeline does not make (its per-item raw files, its metadata) are reported as
    // owned by no task, and left in place.
    expect(shown.unownedFiles).toEqual(expect.arrayContaining(['001-3-planexe_metadata.json', '022-1-1-task_durations_raw.json']));
    for (const file of shown.unownedFiles) expect(fs.existsSync(path.join(runDir(), file)), file).toBe(true);
    expect(shown.unownedFiles.some((file) => file.startsWith('.'))).toBe(false);
    const told = await runPlan(['status', 'runs/silo'], { cwd });
    expect(told.stdout).toContain(`${shown.unownedFiles.length} files in the run dir no task owns (left as they are; nothing reads them): `);

    const graphed = await runPlan(['graph', 'runs/silo', '--format', 'json'], { cwd });
    expect(graphed.exit, graphed.stderr).toBe(0);
    const graph = JSON.parse(graphed.stdout) as Graph;
    const writer = graph.nodes.find((n) => n.outputs.includes(EDITED))!.id;
    const readers = graph.edges.filter((e) => e.from === writer).map((e) => e.to);
    const downstream = reach(writer, (id) => graph.edges.filter((e) => e.from === id).map((e) => e.to));
    const upstream = reach(writer, (id) => graph.edges.filter((e) => e.to === id).map((e) => e.from)).add(writer);

    fs.appendFileSync(path.join(runDir(), EDITED), '\n- Every floor keeps a two-week reserve of food and water.\n');
    const second = await runPlan(['build', 'runs/silo', '--json'], { cwd });
    expect(second.exit, failures(second)).toBe(0);
    const rebuilt = startedTasks(second.stdout);
    expect(rebuilt.filter((id) => !downstream.has(id))).toEqual([]);
    expect(rebuilt.filter((id) => upstream.has(id))).toEqual([]);
    expect(rebuilt).toEqual(expect.arrayContaining(readers));
    expect(fs.readFileSync(path.join(runDir(), EDITED), 'utf8')).toContain('two-week reserve');

    const afterSecond = hashAll();
    const third = await runPlan(['build', 'runs/silo', '--json'], { cwd });
    expect(third.exit, failures(third)).toBe(0);
    expect(startedTasks(third.stdout)).toEqual([]);
    expect(hashAll()).toEqual(afterSecond);
  });
});
