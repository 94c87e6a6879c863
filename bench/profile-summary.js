#!/usr/bin/env node
// Where the time goes in a V8 CPU profile (`node --cpu-prof …`): the functions with the most self time, and the
// same summed per source file.
//
//   node bench/profile-summary.js <file.cpuprofile> [--top 25]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } },
});
if (positionals.length !== 1) {
  process.stderr.write('usage: node bench/profile-summary.js <file.cpuprofile> [--top N] [--json]\n');
  process.exit(2);
}

export function summarizeProfile(profile, top) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  for (let k = 0; k < profile.samples.length; k++) {
    const id = profile.samples[k];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[k] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const functions = new Map();
  const files = new Map();
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    const file = shortUrl(callFrame.url);
    const name = callFrame.functionName || (file ? '(anonymous)' : `(${callFrame.functionName || 'native'})`);
    const key = file ? `${name}  ${file}:${callFrame.lineNumber + 1}` : name;
    functions.set(key, (functions.get(key) ?? 0) + us);
    const fileKey = file || name;
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const rank = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => ({ key, ms: Math.round(us / 100) / 10, percent: Math.round((us / total) * 1000) / 10 }));
  return { totalMs: Math.round(total / 1000), functions: rank(functions), files: rank(files) };
}

function shortUrl(url) {
  if (!url) return '';
  const plain = url.replace(/^file:\/\//, '');
  const nm = plain.lastIndexOf('node_modules/');
  if (nm >= 0) return plain.slice(nm);
  const cwd = `${process.cwd()}${path.sep}`;
  return plain.startsWith(cwd) ? plain.slice(cwd.length) : plain;
}

process.stdout.on('error', () => process.exit(0)); // piped into head
const summary = summarizeProfile(JSON.parse(fs.readFileSync(positionals[0], 'utf8')), Number(values.top));
if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
else {
  process.stdout.write(`${positionals[0]}: ${summary.totalMs} ms sampled\n\nself time by function\n`);
  for (const f of summary.functions) process.stdout.write(`${f.percent.toFixed(1).padStart(5)}%  ${String(f.ms).padStart(8)} ms  ${f.key}\n`);
  process.stdout.write('\nself time by file\n');
  for (const f of summary.files) process.stdout.write(`${f.percent.toFixed(1).padStart(5)}%  ${String(f.ms).padStart(8)} ms  ${f.key}\n`);
}
