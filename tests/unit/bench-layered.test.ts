// The layered-DAG benchmark must measure the right thing: the pipeline has the DAG's edges, plan writes the
// expected bytes, and the peers' build files write the same bytes (checked with ninja when it is installed).
// Speed is bench/run.js's business, not a test's.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// The pipeline is built on dist/ (as any user pipeline is), so the engine that builds it comes from dist/ too.
import { build, openSqliteStore, planGraph } from '../../dist/index.js';
import { pipeline } from '../../bench/layered/pipeline.mjs';
import { downstreamCone, nodeFile, nodeName, sinks } from '../../bench/layered/dag.mjs';
import { expectedContents } from '../../bench/layered/expected.mjs';
import { emitPeerBuildFiles } from '../../bench/layered/emit.mjs';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-bench-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function filesOf(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of fs.readdirSync(dir)) if (/^L\d+-\d+\.txt$/.test(name)) files[name] = fs.readFileSync(path.join(dir, name), 'utf8');
  return files;
}

async function buildWithPlan(n: number): Promise<string> {
  const runDir = path.join(tempDir(), 'run');
  const store = await openSqliteStore(path.join(path.dirname(runDir), 'plan.db'));
  try {
    const run = await store.createRun({ runDir, pipeline: 'layered', params: { n: String(n) } });
    const result = await build({ roots: pipeline.roots(run.params), runDir, runId: run.id, store });
    expect(result.status).toBe('success');
    expect(result.summary.ran).toBe(n);
  } finally {
    await store.close();
  }
  return runDir;
}

describe('the layered DAG', () => {
  it('has the standard edges: (l, i) requires (l-1, i) and (l-1, (i+1) mod 10)', () => {
    const graph = planGraph(pipeline.roots({ n: '30' }));
    expect(graph.order).toHaveLength(30);
    for (let layer = 0; layer < 3; layer++) {
      for (let index = 0; index < 10; index++) {
        const id = nodeName(layer, index);
        expect(graph.outputs.get(id)).toEqual([nodeFile(layer, index)]);
        const expected = layer === 0 ? [] : [nodeName(layer - 1, index), nodeName(layer - 1, (index + 1) % 10)];
        expect(graph.requires.get(id)).toEqual(expected);
      }
    }
  });

  it('reaches every task from its sinks when the last layer is partial', () => {
    expect(sinks(25).map(([l, i]) => nodeFile(l, i))).toEqual([
      'L2-0.txt',
      'L2-1.txt',
      'L2-2.txt',
      'L2-3.txt',
      'L2-4.txt',
      'L1-6.txt',
      'L1-7.txt',
      'L1-8.txt',
      'L1-9.txt',
    ]);
    expect(planGraph(pipeline.roots({ n: '25' })).order).toHaveLength(25);
  });

  it('counts the downstream cone of a task', () => {
    // L1-0 is read by L2-0 and L2-9; they by L3-0, L3-9, L3-8; the cone widens by one a layer up to all ten.
    expect(downstreamCone(30, 1, 0)).toBe(2);
    expect(downstreamCone(40, 1, 0)).toBe(5);
    expect(downstreamCone(10_000, 1, 0)).toBe(2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 * (998 - 8));
  });

  it('is built by plan into the expected files', async () => {
    const runDir = await buildWithPlan(30);
    expect(filesOf(runDir)).toEqual(Object.fromEntries(expectedContents(30)));
    expect(fs.readFileSync(path.join(runDir, 'L2-9.txt'), 'utf8')).toBe('Node(index=9,layer=2)\nNode(index=9,layer=1)\nNode(index=0,layer=1)\n');
  });

  const ninja = spawnSync('sh', ['-c', 'command -v ninja'], { encoding: 'utf8' }).stdout.trim();
  if (!ninja) console.warn('ninja is not installed: the build.ninja comparison is skipped (apt-get install ninja-build)');
  it.skipIf(!ninja)(`emits a build.ninja that writes the same files as plan${ninja ? '' : ' (SKIPPED: ninja not installed)'}`, async () => {
    const peers = tempDir();
    emitPeerBuildFiles(peers, 30);
    const result = spawnSync('ninja', ['-C', peers], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const runDir = await buildWithPlan(30);
    expect(filesOf(peers)).toEqual(filesOf(runDir));
  });
});
