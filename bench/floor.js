#!/usr/bin/env node
// The floor: the durable work each task of the layered DAG must do, in a bare loop with no engine.
//
//   node bench/floor.js <dir> --n N [--db PATH] [--durability process|full] [--json]
//
// For each task in topological order: read its inputs, sha256 them, make its output, ONE better-sqlite3
// transaction inserting the content and an attempt row (WAL; synchronous=NORMAL, or FULL with
// --durability full), write the file through a temp file + rename, then mark the attempt complete.
// No graph, no stamps to compare, no events, no concurrency: no engine can do less and stay DB-first.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { nodeContent, nodeFile, nodeInputs, nodeName, nodes } from './layered/dag.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: 'string' },
    db: { type: 'string' },
    durability: { type: 'string', default: 'process' },
    json: { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
if (positionals.length !== 1 || !Number.isInteger(n) || n < 1 || !['process', 'full'].includes(values.durability)) {
  process.stderr.write('usage: node bench/floor.js <dir> --n N [--db PATH] [--durability process|full] [--json]\n');
  process.exit(2);
}
const dir = path.resolve(positionals[0]);
const dbPath = path.resolve(values.db ?? path.join(path.dirname(dir), 'floor.db'));

const started = performance.now();
fs.mkdirSync(dir, { recursive: true });
const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${values.durability === 'full' ? 'FULL' : 'NORMAL'}`);
db.exec(`
  CREATE TABLE IF NOT EXISTS attempts (id INTEGER PRIMARY KEY, task TEXT NOT NULL, status TEXT NOT NULL, stamp TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS content (id INTEGER PRIMARY KEY, attempt_id INTEGER NOT NULL, path TEXT NOT NULL,
                                      sha256 TEXT NOT NULL, data BLOB NOT NULL);
`);
const insertAttempt = db.prepare(`INSERT INTO attempts (task, status, stamp) VALUES (?, 'persisted', ?)`);
const insertContent = db.prepare('INSERT INTO content (attempt_id, path, sha256, data) VALUES (?, ?, ?, ?)');
const markComplete = db.prepare(`UPDATE attempts SET status = 'complete' WHERE id = ?`);
const persist = db.transaction((task, stamp, file, sha, bytes) => {
  const attemptId = insertAttempt.run(task, stamp).lastInsertRowid;
  insertContent.run(attemptId, file, sha, bytes);
  return attemptId;
});

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

for (const [layer, index] of nodes(n)) {
  const inputs = nodeInputs(layer, index).map(([l, i]) => fs.readFileSync(path.join(dir, nodeFile(l, i))));
  const stamp = inputs.map(sha256).join(',');
  const bytes = Buffer.from(
    nodeContent(
      layer,
      index,
      inputs.map((b) => b.toString('utf8')),
    ),
  );
  const file = nodeFile(layer, index);
  const attemptId = persist.immediate(nodeName(layer, index), stamp, file, sha256(bytes), bytes);
  const target = path.join(dir, file);
  const temp = path.join(dir, `.tmp-${file}`);
  fs.writeFileSync(temp, bytes);
  fs.renameSync(temp, target);
  markComplete.run(attemptId);
}
db.close();

const report = {
  n,
  ran: n,
  buildMs: Math.round((performance.now() - started) * 10) / 10,
  sinceStartMs: Math.round(performance.now() * 10) / 10,
  maxRssKb: process.resourceUsage().maxRSS,
  durability: values.durability,
};
process.stdout.write(
  values.json
    ? `${JSON.stringify(report)}\n`
    : `floor: ${n} tasks in ${(report.buildMs / 1000).toFixed(3)} s (${(report.sinceStartMs / 1000).toFixed(3)} s since process start), peak RSS ${(report.maxRssKb / 1024).toFixed(0)} MB\n`,
);
