#!/usr/bin/env node
// The long crash campaign (see tests/support/crash-campaign.ts for what it does and checks):
//
//   node bench/crash-campaign.js [--kills 100] [--seed N] [--speed fast|full] [--max-kills-per-round 3] [--keep]
//
// Needs the CLI compiled (`npm run build`). The campaign's logic and the fake model server are TypeScript test
// support; this runner compiles them with the project's own tsc into node_modules/.cache/plan-crash-campaign
// (a few seconds) and runs them with plain node — no tsx, no vitest. Prints one line per round and the summary
// line; exits 1 when any invariant was violated (the run dirs of failing rounds are kept and named).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importTestSupport } from './test-support.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node bench/crash-campaign.js [--kills N] [--seed N] [--speed fast|full] [--max-kills-per-round N] [--keep]';

function fail(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      kills: { type: 'string', default: '100' },
      seed: { type: 'string', default: '1' },
      speed: { type: 'string', default: 'fast' },
      'max-kills-per-round': { type: 'string', default: '3' },
      keep: { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  fail(error.message);
}
const kills = Number(values.kills);
const seed = Number(values.seed);
const maxKillsPerRound = Number(values['max-kills-per-round']);
if (!Number.isInteger(kills) || kills < 1) fail(`--kills must be a whole number ≥ 1 (got ${values.kills})`);
if (!Number.isInteger(seed)) fail(`--seed must be a whole number (got ${values.seed})`);
if (!Number.isInteger(maxKillsPerRound) || maxKillsPerRound < 1) fail(`--max-kills-per-round must be a whole number ≥ 1`);
if (values.speed !== 'fast' && values.speed !== 'full') fail(`--speed must be fast or full (got ${values.speed})`);

const planBin = path.join(root, 'bin', 'plan.js');
if (!fs.existsSync(path.join(root, 'dist', 'cli', 'main.js'))) fail('the CLI is not compiled: run `npm run build` first');

const [{ runCrashCampaign }] = await importTestSupport(root, 'plan-crash-campaign', ['tests/support/crash-campaign.ts']);
const result = await runCrashCampaign({
  kills,
  seed,
  speed: values.speed,
  maxKillsPerRound,
  planBin,
  keep: values.keep,
  log: (line) => process.stdout.write(`${line}\n`),
});
for (const violation of result.violations) process.stdout.write(`VIOLATION ${violation}\n`);
if (result.violations.length > 0 || values.keep) process.stdout.write(`run dirs kept in ${result.workDir}\n`);
process.stdout.write(`${result.summary}\n`);
process.exit(result.violations.length === 0 ? 0 : 1);
