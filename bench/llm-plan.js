#!/usr/bin/env node
// The LLM-bound plan (issue 10, part 2; the review tail, issue "concurrent questions"): the full plan pipeline
// against a loopback OpenAI-compatible server that replays the per-call latencies and answer sizes of a real plan,
// in both --conversations modes and at several --llm-concurrency values, compared with the recorded run (its wall
// time, tokens and cost), with the critical-path lower bound of our catalogue and with a simulation of the
// classic schedule.
//
//   node bench/llm-plan.js                  short run (~6 minutes on 2 cores): one plan, both modes, 3 repetitions, 1 check each
//   node bench/llm-plan.js --full           all four real plans, 5 repetitions and 2 checks each (~30 minutes)
//
// Options: --plan NAME|PATH (a file of ../shared/data/real-plan-calls, default 20250321_silo; repeatable as a
// comma list)  --modes sequential,parallel (the --conversations modes to build)  --scale 1/100 (time factor: a
// 4.5 s call is answered after 45 ms)  --reps 3  --concurrency 4,8,16 (at -j J; a row at plan build's defaults,
// -j 8 --llm-concurrency 8, is always added)  -j 16  --mapping proportional|sequential  --out DIR  --name STEM
// (result file names: <date>-<STEM>.{json,md}, default llm-plan)  --keep
// --check-scale 1/10 --check-reps 1 (builds at concurrency 8 at a slower time scale, to check how the fixed
// overhead behaves when latencies are 10× longer; --check-scale 0 skips them)
// --cpu-prof DIR (V8 profiles of the measured builds, for bench/profile-summary.js)
//
// How it works
// - Needs dist/ compiled (`npm run build`). The fake server (tests/support/fake-openai-server.ts) is compiled with
//   the project's tsc into node_modules/.cache/plan-llm-plan-bench, as bench/crash-campaign.js does; answers come
//   from the offline model of dist/ (schema-valid content).
// - Every measured build is a real `plan build <fresh dir> --prompt … --param=startTime=… --model
//   openai-compatible:replay@<fake url> --conversations MODE --llm-concurrency C -j J --json` in a child process
//   with its own database, timed from spawn to exit (Node start-up included).
// - Which task sent a request is read from the request itself: the JSON schema's name (each task asks with its
//   own) or, for the two plain-text calls, the start of the system prompt. After every build the per-task
//   counts at the server are checked against the task ids the engine recorded in llm_interactions.
// - Mapping of real calls to our calls (see mappingText() for the words in the report): a calibration build
//   (no latency) counts the calls of each task. Our calls are then laid out in catalogue order (the order of
//   PLAN_STAGE_TASKS; within a task, in the order the server receives them) as slots 0..N-1, and the real
//   plan's successful calls in their recorded order as 0..R-1. `proportional` (default): slot g gets real call
//   floor(g·R/N), so our first calls get the real plan's first calls and our last calls its last ones whatever
//   N and R are; `sequential`: slot g gets real call g mod R. Each slot's call is answered after the real
//   call's duration × scale. Both modes make the same calls per task, so they get the same slots.
// - Answers as long as the real ones: the i-th call the server receives for a task is answered with the offline
//   model's content for (task, i) — the same shape in both modes and in every build, whatever the prompt held,
//   so both modes make the same calls — with its free-text strings lengthened until the answer is as long as
//   the real call's output (its output tokens × 4 characters). The documents the tasks write, and so the prompts
//   that read them, are then about as long as the real plan's.
// - Tokens: `usage` reports the tokens the request actually sent (characters of the messages and the JSON
//   schema ÷ 4, the estimate plan uses itself) and the real call's output tokens. Cost is those tokens at the
//   recorded model's price (fitted from the recorded calls' cost_usd).
// - Analysis, from the latencies as the server actually assigned them, per mode: the critical path of the task
//   graph (planGraph of the plan pipeline in that mode), a discrete-event simulation of the classic schedule
//   (4 task workers, per-item calls one after another inside a task) and a zero-overhead simulation of our own
//   scheduler's policy (priority = longest chain of dependents counted in tasks, FIFO model-call limiter), from
//   which the makespan at real latencies is projected (ideal engine + the fixed overhead measured at scale).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { importTestSupport } from './test-support.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const DATA_DIR = path.resolve(root, '..', 'shared', 'data', 'real-plan-calls');
const PLAN_BIN = path.join(root, 'bin', 'plan.js');
const USAGE =
  'usage: node bench/llm-plan.js [--full] [--plan NAME[,NAME…]] [--modes sequential,parallel] [--scale 1/100] [--reps N] [--concurrency 4,8,16] [-j 16]\n' +
  '         [--mapping proportional|sequential] [--check-scale 1/10] [--check-reps N] [--out DIR] [--name STEM] [--keep] [--cpu-prof DIR]';

function fail(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      plan: { type: 'string' },
      modes: { type: 'string', default: 'sequential,parallel' },
      name: { type: 'string', default: 'llm-plan' },
      scale: { type: 'string', default: '1/100' },
      reps: { type: 'string' },
      concurrency: { type: 'string', default: '4,8,16' },
      jobs: { type: 'string', short: 'j', default: '16' },
      mapping: { type: 'string', default: 'proportional' },
      'check-scale': { type: 'string', default: '1/10' },
      'check-reps': { type: 'string' },
      out: { type: 'string', default: path.join(here, 'results') },
      keep: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  fail(error.message);
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const FULL = opts.full;
const SCALE = parseScale(opts.scale);
const REPS = Number(opts.reps ?? (FULL ? 5 : 3));
const CONCURRENCIES = opts.concurrency.split(',').map(Number);
const JOBS = Number(opts.jobs);
const MAPPING = opts.mapping;
const CHECK_SCALE = opts['check-scale'] === '0' ? 0 : parseScale(opts['check-scale']);
const CHECK_REPS = Number(opts['check-reps'] ?? (FULL ? 2 : 1));
const MODES = opts.modes.split(',');
const CLASSIC_WORKERS = 4;
const TARGET_CONCURRENCY = 8;
const TARGET_RATIO = 1.1;
/** plan build's defaults: -j 8, --llm-concurrency 8 (hosted models; 4 with an ollama model): the row the goal is judged at. */
const DEFAULTS = { jobs: 8, concurrency: 8 };
/** The goal of the review-tail issue: a whole plan in ≤ 1/3 of the recorded wall time, on ≤ 60% of its input tokens. */
const GOAL_WALL = 1 / 3;
const GOAL_INPUT = 0.6;
if (!(SCALE > 0 && SCALE <= 1)) fail(`--scale must be a fraction in (0, 1], e.g. 1/100 (got ${opts.scale})`);
if (!Number.isInteger(REPS) || REPS < 1) fail(`--reps must be a whole number ≥ 1 (got ${opts.reps})`);
if (CONCURRENCIES.some((c) => !Number.isInteger(c) || c < 1)) fail(`--concurrency must be whole numbers ≥ 1 (got ${opts.concurrency})`);
if (!Number.isInteger(JOBS) || JOBS < 1) fail(`-j must be a whole number ≥ 1 (got ${opts.jobs})`);
if (!(CHECK_SCALE >= 0 && CHECK_SCALE <= 1)) fail(`--check-scale must be a fraction in (0, 1] or 0 (got ${opts['check-scale']})`);
if (!Number.isInteger(CHECK_REPS) || CHECK_REPS < 0) fail(`--check-reps must be a whole number ≥ 0 (got ${opts['check-reps']})`);
if (MAPPING !== 'proportional' && MAPPING !== 'sequential') fail(`--mapping must be proportional or sequential (got ${MAPPING})`);
if (MODES.length === 0 || MODES.some((m) => m !== 'sequential' && m !== 'parallel'))
  fail(`--modes must be sequential, parallel or both (got ${opts.modes})`);
if (!/^[\w.-]+$/.test(opts.name)) fail(`--name must be a plain file name stem (got ${opts.name})`);

const PLAN_FILES = resolvePlans(
  opts.plan ??
    (FULL
      ? fs
          .readdirSync(DATA_DIR)
          .filter((f) => f.endsWith('.jsonl'))
          .sort()
          .join(',')
      : '20250321_silo'),
);
if (!fs.existsSync(path.join(root, 'dist', 'cli', 'main.js'))) fail('the CLI is not compiled: run `npm run build` first');

function parseScale(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  return m ? Number(m[1]) / Number(m[2]) : Number(text);
}

function resolvePlans(list) {
  return list.split(',').map((name) => {
    const candidates = [name, path.join(DATA_DIR, name), path.join(DATA_DIR, `${name}.jsonl`)];
    const found = candidates.find((p) => fs.existsSync(p) && fs.statSync(p).isFile());
    if (!found) fail(`no real plan named ${name} (looked in ${DATA_DIR})`);
    return path.resolve(found);
  });
}

// ---------------------------------------------------------------------------------------------------------
// The project's code: dist/ for the pipeline and the graph, compiled test support for the server and model.

const [{ startFakeOpenAiServer }] = await importTestSupport(root, 'plan-llm-plan-bench', ['tests/support/fake-openai-server.ts']);
const importFrom = (p) => import(pathToFileURL(p).href);
const { planPipeline } = await importFrom(path.join(root, 'dist', 'tasks', 'pipeline.js'));
const { PLAN_STAGE_TASKS } = await importFrom(path.join(root, 'dist', 'tasks', 'catalog.js'));
const { offlineAnswer, OFFLINE_MARK } = await importFrom(path.join(root, 'dist', 'llm', 'index.js'));
const { planGraph } = await importFrom(path.join(root, 'dist', 'index.js'));
const { default: Database } = await import('better-sqlite3');

// ---------------------------------------------------------------------------------------------------------
// Which task a request belongs to, and how the calls of each task depend on each other.
//
// A task's calls form groups, run in the order listed. `seq`: each call needs the previous one (a
// conversation: turn k+1 carries turn k's answer) or is the task's only call. `par`: the items of a per-item
// task, independent of each other (runPerItem starts them all at once; the model-call limiter bounds them).

const SEQ = 'seq';
const PAR = 'par';
/** JSON schema name → [task class, group kind]. */
const SCHEMA_TASK = {
  redline_gate: ['RedlineGateTask', SEQ],
  premise_attack: ['PremiseAttackTask', PAR],
  identify_purpose: ['IdentifyPurposeTask', SEQ],
  plan_type: ['PlanTypeTask', SEQ],
  potential_levers: ['PotentialLeversTask', SEQ],
  deduplicate_levers: ['DeduplicateLeversTask', SEQ],
  enrich_levers: ['EnrichLeversTask', PAR],
  vital_few_levers: ['FocusOnVitalFewLeversTask', SEQ],
  candidate_scenarios: ['CandidateScenariosTask', SEQ],
  select_scenario: ['SelectScenarioTask', SEQ],
  physical_locations: ['PhysicalLocationsTask', SEQ],
  currency_strategy: ['CurrencyStrategyTask', SEQ],
  identify_risks: ['IdentifyRisksTask', SEQ],
  make_assumptions: ['MakeAssumptionsTask', SEQ],
  distill_assumptions: ['DistillAssumptionsTask', SEQ],
  review_assumptions: ['ReviewAssumptionsTask', SEQ],
  pre_project_assessment: ['PreProjectAssessmentTask', SEQ],
  project_plan: ['ProjectPlanTask', SEQ],
  governance_audit: ['GovernancePhase1AuditTask', SEQ],
  governance_bodies: ['GovernancePhase2BodiesTask', SEQ],
  governance_implementation_plan: ['GovernancePhase3ImplPlanTask', SEQ],
  decision_escalation_matrix: ['GovernancePhase4DecisionEscalationMatrixTask', SEQ],
  monitoring_progress: ['GovernancePhase5MonitoringProgressTask', SEQ],
  governance_extra: ['GovernancePhase6ExtraTask', SEQ],
  related_resources: ['RelatedResourcesTask', SEQ],
  find_team_members: ['FindTeamMembersTask', SEQ],
  team_contract_type: ['EnrichTeamMembersWithContractTypeTask', SEQ],
  team_background_story: ['EnrichTeamMembersWithBackgroundStoryTask', SEQ],
  team_environment_info: ['EnrichTeamMembersWithEnvironmentInfoTask', SEQ],
  review_team: ['ReviewTeamTask', SEQ],
  swot_analysis: ['SWOTAnalysisTask', SEQ],
  find_experts: ['ExpertReviewTask', SEQ],
  expert_criticism: ['ExpertReviewTask', PAR],
  data_collection: ['DataCollectionTask', SEQ],
  identify_documents: ['IdentifyDocumentsTask', SEQ],
  filter_documents_to_find: ['FilterDocumentsToFindTask', SEQ],
  filter_documents_to_create: ['FilterDocumentsToCreateTask', SEQ],
  draft_document_to_find: ['DraftDocumentsToFindTask', PAR],
  draft_document_to_create: ['DraftDocumentsToCreateTask', PAR],
  wbs_level1: ['CreateWBSLevel1Task', SEQ],
  wbs_level2: ['CreateWBSLevel2Task', SEQ],
  pitch: ['CreatePitchTask', SEQ],
  task_dependencies: ['IdentifyTaskDependenciesTask', SEQ],
  task_durations: ['EstimateTaskDurationsTask', PAR],
  wbs_level3: ['CreateWBSLevel3Task', PAR],
  review_plan: ['ReviewPlanTask', SEQ],
  executive_summary: ['ExecutiveSummaryTask', SEQ],
  questions_and_answers: ['QuestionsAndAnswersTask', SEQ],
  premortem: ['PremortemTask', SEQ],
  self_audit: ['SelfAuditTask', SEQ],
};
/** Plain-text calls (no schema): the start of the system prompt → [task, group name, kind]. */
const TEXT_TASK = [
  ['Shorten the given section', 'ConsolidateAssumptionsMarkdownTask', 'shorten_section', PAR],
  ['Turn the structured pitch', 'ConvertPitchToMarkdownTask', 'pitch_markdown', SEQ],
];

/**
 * The conversations `--conversations parallel` asks as separate calls, all at once: their groups are `par` in
 * that mode (each question independent of the others), `seq` in sequential mode (each turn carries the earlier ones).
 */
const PARALLEL_CONVERSATIONS = new Set(['review_plan', 'questions_and_answers', 'premortem', 'self_audit']);

function classify(body, mode) {
  const name = body.response_format?.json_schema?.name;
  if (typeof name === 'string') {
    const found = SCHEMA_TASK[name];
    if (!found) return { task: `?schema:${name}`, group: name, kind: SEQ };
    return { task: found[0], group: name, kind: mode === 'parallel' && PARALLEL_CONVERSATIONS.has(name) ? PAR : found[1] };
  }
  const system = body.messages?.[0]?.content ?? '';
  for (const [prefix, task, group, kind] of TEXT_TASK) if (system.startsWith(prefix)) return { task, group, kind };
  return { task: '?text', group: '?text', kind: SEQ };
}

// ---------------------------------------------------------------------------------------------------------
// Real plans.

function loadRealPlan(file) {
  const lines = fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  lines.forEach((l, k) => {
    l.line = k + 1;
  });
  const ok = lines.filter((l) => l.success !== false && Number.isFinite(l.input_tokens) && Number.isFinite(l.output_tokens));
  const failed = lines.filter((l) => !ok.includes(l));
  const span = (Date.parse(lines.at(-1).timestamp) - Date.parse(lines[0].timestamp)) / 1000 + (lines.at(-1).duration_seconds ?? 0);
  return {
    name: path.basename(file, '.jsonl'),
    file,
    inputTokens: sum(ok.map((l) => l.input_tokens)),
    outputTokens: sum(ok.map((l) => l.output_tokens)),
    costUsd: sum(lines.map((l) => l.cost_usd ?? 0)),
    price: recordedPrice(lines),
    calls: ok.map((l, i) => ({
      index: i,
      line: l.line,
      seconds: l.duration_seconds,
      input: l.input_tokens,
      output: l.output_tokens,
      costUsd: l.cost_usd ?? null,
    })),
    failed: failed.map((l) => ({ line: l.line, seconds: l.duration_seconds, error: l.error ?? null })),
    totalLines: lines.length,
    realWallSeconds: span,
    realSumSeconds: sum(lines.map((l) => l.duration_seconds)),
  };
}

/**
 * The price of the model that made most of the recorded calls, in USD per million input and output tokens:
 * least squares of cost_usd over its calls' tokens (gemini-2.0-flash-001 fits 0.10 / 0.40 exactly).
 */
function recordedPrice(lines) {
  const modelOf = (l) => l.model.replace(/^[^:]*:/, '');
  const counts = countBy(
    lines.filter((l) => l.cost_usd > 0),
    modelOf,
  );
  const model = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const calls = lines.filter((l) => modelOf(l) === model && l.cost_usd > 0);
  let sii = 0;
  let soo = 0;
  let sio = 0;
  let sic = 0;
  let soc = 0;
  for (const l of calls) {
    sii += l.input_tokens * l.input_tokens;
    soo += l.output_tokens * l.output_tokens;
    sio += l.input_tokens * l.output_tokens;
    sic += l.input_tokens * l.cost_usd;
    soc += l.output_tokens * l.cost_usd;
  }
  const det = sii * soo - sio * sio;
  const perIn = (sic * soo - soc * sio) / det;
  const perOut = (soc * sii - sic * sio) / det;
  return { model, inputPerM: round(perIn * 1e6, 4), outputPerM: round(perOut * 1e6, 4) };
}

function costAt(price, inputTokens, outputTokens) {
  return (inputTokens * price.inputPerM + outputTokens * price.outputPerM) / 1e6;
}

/** Per task (catalogue order), the real calls its i-th received call replays. */
function assignCalls(real, countsByTask, catalogueOrder) {
  const slots = [];
  for (const task of catalogueOrder) for (let i = 0; i < (countsByTask.get(task) ?? 0); i++) slots.push({ task, i });
  const N = slots.length;
  const R = real.calls.length;
  const byTask = new Map();
  slots.forEach((slot, g) => {
    const r = MAPPING === 'proportional' ? Math.floor((g * R) / N) : g % R;
    if (!byTask.has(slot.task)) byTask.set(slot.task, []);
    byTask.get(slot.task).push({ slot: g, ...real.calls[r] });
  });
  const used = new Set(slots.map((_, g) => (MAPPING === 'proportional' ? Math.floor((g * R) / N) : g % R)));
  return { byTask, slots: N, realCalls: R, distinctRealCallsUsed: used.size };
}

// ---------------------------------------------------------------------------------------------------------
// One build against the replaying server.

const PROMPT =
  'Plan the construction of an underground silo complex that can shelter and sustain several thousand people for years: ' +
  'structure, life support, food, power, water, governance and the first ten years of operation.';
const START_TIME = '2026-03-12T10:02:18Z';

async function runBuild({ label, mode, concurrency, jobs, assignment, scale }) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-llm-bench-'));
  const counters = new Map();
  const calls = [];
  let unassigned = 0;
  const server = await startFakeOpenAiServer({
    handler: (request) => {
      const t0 = performance.now();
      const handlerAt = Date.now();
      const { task, group, kind } = classify(request.body, mode);
      const i = counters.get(task) ?? 0;
      counters.set(task, i + 1);
      const list = assignment?.byTask.get(task);
      const real = list === undefined ? null : (list[i] ?? list[i % list.length]);
      if (assignment && (list === undefined || i >= list.length)) unassigned++;
      const sent = sentTokens(request.body);
      const text = replayAnswer(request.body, `${task}#${i}`, real ? real.output * CHARS_PER_TOKEN : 0);
      const usage = { prompt_tokens: sent, completion_tokens: real ? real.output : Math.ceil(text.length / CHARS_PER_TOKEN) };
      const answer = { kind: 'text', text, usage };
      // The server's own time (parsing the body before this handler, making the answer) counts towards the
      // call's latency, so it is not added to the engine's overhead.
      const computeMs = performance.now() - t0 + Math.max(0, handlerAt - request.receivedAt);
      const targetMs = real ? real.seconds * 1000 * scale : 0;
      const delayMs = Math.max(0, targetMs - computeMs);
      calls.push({
        task,
        group,
        kind,
        i,
        arrivedAt: request.receivedAt,
        answeredAt: request.receivedAt + Math.max(targetMs, computeMs),
        realIndex: real ? real.index : null,
        realLine: real ? real.line : null,
        realSeconds: real ? real.seconds : 0,
        realInput: real ? real.input : null,
        input: usage.prompt_tokens,
        output: usage.completion_tokens,
        computeMs: round(computeMs, 2),
      });
      return delayMs > 0 ? { kind: 'delay', ms: delayMs, next: answer } : answer;
    },
  });
  const runDir = path.join(work, 'run');
  const db = path.join(work, 'plan.db');
  const args = [
    PLAN_BIN,
    'build',
    runDir,
    '--db',
    db,
    '--prompt',
    PROMPT,
    `--param=startTime=${START_TIME}`,
    '--model',
    `openai-compatible:replay@${server.url}`,
    '--conversations',
    mode,
    '--llm-concurrency',
    String(concurrency),
    '-j',
    String(jobs),
    '--json',
  ];
  const spawnedAt = Date.now();
  const t0 = performance.now();
  const nodeFlags = opts['cpu-prof'] && assignment ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(opts['cpu-prof'])] : [];
  // cwd: an empty dir, so no plan.config.json or .env of the caller applies; no key goes to the fake server.
  const env = { ...process.env, NO_COLOR: '1' };
  delete env.OPENAI_COMPATIBLE_API_KEY;
  delete env.PLAN_DB;
  const child = spawn(process.execPath, [...nodeFlags, ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  const wallMs = performance.now() - t0;
  await server.close();

  const events = stdout.split('\n').flatMap((l) => {
    try {
      return l.startsWith('{') ? [JSON.parse(l)] : [];
    } catch {
      return [];
    }
  });
  const started = events.find((e) => e.type === 'build-started');
  const finished = events.find((e) => e.type === 'build-finished');
  const facts = readDb(db);
  const files = fs.existsSync(runDir)
    ? fs
        .readdirSync(runDir)
        .filter((f) => !f.startsWith('.'))
        .sort()
    : [];
  if (!opts.keep) fs.rmSync(work, { recursive: true, force: true });

  const problems = [];
  if (code !== 0) problems.push(`plan build exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  if (finished?.status !== 'success') problems.push(`build status ${finished?.status ?? 'unknown'}`);
  if (unassigned > 0) problems.push(`${unassigned} calls beyond the calibrated count of their task (latency reused from the task's earlier calls)`);
  const serverCounts = countBy(calls, (c) => c.task);
  const dbCounts = countBy(facts.interactions, (c) => c.task_id);
  for (const task of new Set([...serverCounts.keys(), ...dbCounts.keys()])) {
    if (serverCounts.get(task) !== dbCounts.get(task))
      problems.push(`${task}: ${serverCounts.get(task) ?? 0} requests at the server, ${dbCounts.get(task) ?? 0} recorded by the engine`);
  }
  const notCompleted = facts.interactions.filter((c) => c.status !== 'completed');
  if (notCompleted.length > 0)
    problems.push(`${notCompleted.length} interactions not completed (${[...new Set(notCompleted.map((c) => c.status))].join(', ')})`);
  const wrongTokens = facts.interactions.filter((row) => row.tokens_estimated !== 0).length;
  if (wrongTokens > 0) problems.push(`${wrongTokens} interactions with estimated tokens (the server's usage was not read)`);

  return {
    label,
    mode,
    files,
    concurrency,
    jobs,
    wallMs: round(wallMs, 1),
    // From the build's own clock: build-started → build-finished (planning, recovery and Node start-up excluded).
    engineMs: started && finished ? finished.at - started.at : null,
    startupMs: started ? started.at - spawnedAt : null,
    spawnedAt,
    exitCode: code,
    calls,
    facts,
    problems,
  };
}

/** plan's own estimate (src/llm/providers/provider.ts): a token is about four characters. */
const CHARS_PER_TOKEN = 4;

/** The tokens a request sends: its messages and, in json_schema mode, the schema (as plan estimates them). */
function sentTokens(body) {
  const messages = (body.messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n');
  const schema = body.response_format?.json_schema?.schema;
  return Math.ceil((messages.length + (schema === undefined ? 0 : JSON.stringify(schema).length)) / CHARS_PER_TOKEN);
}

/** Words the lengthened answers are made of: the prompt's, so documents read like the plan's. */
const FILLER_WORDS = PROMPT.toLowerCase()
  .match(/[a-z]{3,}/g)
  .filter((w, k, all) => all.indexOf(w) === k);

function filler(chars, seed) {
  const words = [];
  let length = 0;
  for (let k = seed; length < chars; k++) {
    const word = FILLER_WORDS[(k * 7) % FILLER_WORDS.length];
    words.push(word);
    length += word.length + 1;
  }
  return words.join(' ');
}

/**
 * The answer to a request: the offline model's content for `key` (task and call number: the same shape in
 * both modes and in every build, whatever the prompt held), its free-text strings (the offline model marks
 * them) lengthened until the whole answer is `targetChars` long.
 */
function replayAnswer(body, key, targetChars) {
  const format = body.response_format;
  const json = format?.json_schema ? { name: format.json_schema.name, schema: format.json_schema.schema } : null;
  const text = offlineAnswer({ messages: [{ role: 'user', content: `${key}: ${PROMPT}` }], json });
  if (json === null) return text.length >= targetChars ? text : `${text} ${filler(targetChars - text.length - 1, 0)}`;
  const value = JSON.parse(text);
  const strings = [];
  const walk = (node) => {
    const entries = Array.isArray(node) ? node.entries() : node !== null && typeof node === 'object' ? Object.entries(node) : [];
    for (const [k, v] of entries) {
      if (typeof v !== 'string') walk(v);
      else if (v.startsWith(OFFLINE_MARK)) strings.push([node, k]);
    }
  };
  walk(value);
  const deficit = targetChars - JSON.stringify(value).length;
  if (deficit > 0 && strings.length > 0) {
    const each = Math.ceil(deficit / strings.length);
    strings.forEach(([node, k], n) => {
      node[k] = `${node[k]} ${filler(each, n)}`;
    });
  }
  return JSON.stringify(value);
}

function readDb(file) {
  if (!fs.existsSync(file)) return { attempts: [], interactions: [] };
  const db = new Database(file, { readonly: true });
  try {
    const attempts = db.prepare(`SELECT task_id, status, started_at, persisted_at, finished_at FROM task_attempts ORDER BY id`).all();
    const interactions = db
      .prepare(
        `SELECT task_id, item_key, turn, status, input_tokens, output_tokens, tokens_estimated, duration_ms, started_at, finished_at FROM llm_interactions ORDER BY id`,
      )
      .all();
    return { attempts, interactions };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The task graph and what each task's calls weigh.

function taskGraph(mode) {
  const graph = planGraph(planPipeline.roots({ prompt: PROMPT, speed: 'full', startTime: START_TIME, conversations: mode }));
  return { order: [...graph.order], requires: graph.requires, dependents: graph.dependents };
}

/** Per task: its call groups in the order first received, each with the real latencies (s) assigned to it. */
function callStructure(calls) {
  const byTask = new Map();
  for (const c of [...calls].sort((a, b) => a.arrivedAt - b.arrivedAt || a.i - b.i)) {
    if (!byTask.has(c.task)) byTask.set(c.task, []);
    const groups = byTask.get(c.task);
    let group = groups.find((g) => g.name === c.group);
    if (!group) {
      group = { name: c.group, kind: c.kind, latencies: [], realLines: [] };
      groups.push(group);
    }
    group.latencies.push(c.realSeconds);
    group.realLines.push(c.realLine);
  }
  for (const groups of byTask.values()) for (const g of groups) g.sorted = [...g.latencies].sort((a, b) => a - b);
  return byTask;
}

/** The same latencies per task and group (as multisets) in two runs? */
function sameStructure(a, b) {
  const key = (s) => JSON.stringify([...s.entries()].sort(([x], [y]) => x.localeCompare(y)).map(([t, gs]) => [t, gs.map((g) => [g.name, g.sorted])]));
  return key(a) === key(b);
}

/** A task's weight on a chain: seq groups add up, a par group costs its longest item — or, with c model-call
 *  slots, at least its total ÷ c (a lower bound whatever the order). */
function taskWeight(groups, c = Infinity) {
  let w = 0;
  for (const g of groups ?? []) {
    if (g.kind === SEQ || g.latencies.length === 1) w += sum(g.latencies);
    else w += Math.max(Math.max(...g.latencies), sum(g.latencies) / c);
  }
  return w;
}

function criticalPath(graph, structure, c = Infinity) {
  const finish = new Map();
  const via = new Map();
  for (const id of graph.order) {
    let best = 0;
    let from = null;
    for (const dep of graph.requires.get(id)) {
      if (from === null || finish.get(dep) > best) {
        best = finish.get(dep);
        from = dep;
      }
    }
    finish.set(id, best + taskWeight(structure.get(id), c));
    via.set(id, from);
  }
  let end = graph.order[0];
  for (const id of graph.order) if (finish.get(id) > finish.get(end)) end = id;
  const chain = [];
  for (let id = end; id !== null; id = via.get(id)) chain.unshift(id);
  const onPath = chain
    .map((id) => ({
      task: id,
      seconds: round(taskWeight(structure.get(id), c), 2),
      calls: (structure.get(id) ?? []).reduce((n, g) => n + g.latencies.length, 0),
    }))
    .filter((t) => t.calls > 0);
  return { seconds: finish.get(end), chain, onPath };
}

/**
 * A lower bound for c model-call slots that the critical path misses: the calls of the tasks that cannot start
 * before t (t = a task's earliest start at unbounded concurrency) must all run after t, c at a time. The largest
 * t + their latency ÷ c over every such t.
 */
function packingBound(graph, structure, c) {
  const earliest = new Map();
  const finish = new Map();
  for (const id of graph.order) {
    let at = 0;
    for (const dep of graph.requires.get(id)) at = Math.max(at, finish.get(dep));
    earliest.set(id, at);
    finish.set(id, at + taskWeight(structure.get(id)));
  }
  const work = (id) => sum((structure.get(id) ?? []).flatMap((g) => g.latencies));
  let best = { seconds: 0, fromS: 0 };
  for (const t of new Set(earliest.values())) {
    let after = 0;
    for (const id of graph.order) if (earliest.get(id) >= t) after += work(id);
    if (t + after / c > best.seconds) best = { seconds: t + after / c, fromS: t };
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------
// Discrete-event simulation of a schedule over the same graph and latencies (zero overhead).
//
// jobs: task slots. llmSlots: model calls in flight at once (Infinity: unbounded), waiting calls served FIFO.
// perItemParallel: a par group issues all its calls at once (ours) or one after another (classic).
// priority: 'fifo' — ready tasks start in the order they became ready, ties in topological order (a Luigi-like
// worker pool); 'chain-count' — our engine's ReadyQueue: longest chain of dependents counted in tasks;
// 'chain-latency' — the same chain weighted by the tasks' call latencies, and waiting model calls served in
// that order too (highest first, FIFO among equals) instead of first-come first-served.

function simulate(graph, structure, { jobs, llmSlots, perItemParallel, priority }) {
  const topo = new Map(graph.order.map((id, i) => [id, i]));
  const prio = new Map();
  for (let i = graph.order.length - 1; i >= 0; i--) {
    const id = graph.order[i];
    let longest = 0;
    for (const d of graph.dependents.get(id)) longest = Math.max(longest, prio.get(d));
    prio.set(id, longest + (priority === 'chain-latency' ? taskWeight(structure.get(id)) + 1e-9 : 1));
  }
  const remaining = new Map(graph.order.map((id) => [id, graph.requires.get(id).length]));
  let seq = 0;
  const ready = []; // {id, at, seq}
  const events = []; // min-heap by time: {at, seq, fn}
  const push = (at, fn) => heapPush(events, { at, seq: seq++, fn });
  let now = 0;
  let runningTasks = 0;
  let inFlight = 0;
  const callQueue = []; // {seconds, done, rank, seq}: FIFO, or by rank with 'chain-latency'
  const startedAt = new Map();
  const finishedAt = new Map();

  const pickReady = () => {
    if (ready.length === 0) return null;
    let best = 0;
    for (let k = 1; k < ready.length; k++) {
      const a = ready[k];
      const b = ready[best];
      const better =
        priority === 'fifo'
          ? a.at < b.at || (a.at === b.at && topo.get(a.id) < topo.get(b.id))
          : prio.get(a.id) > prio.get(b.id) || (prio.get(a.id) === prio.get(b.id) && topo.get(a.id) < topo.get(b.id));
      if (better) best = k;
    }
    return ready.splice(best, 1)[0].id;
  };
  const pumpCalls = () => {
    while (inFlight < llmSlots && callQueue.length > 0) {
      let k = 0;
      if (priority === 'chain-latency') {
        for (let m = 1; m < callQueue.length; m++) if (callQueue[m].rank > callQueue[k].rank) k = m;
      }
      const call = callQueue.splice(k, 1)[0];
      inFlight++;
      push(now + call.seconds, () => {
        inFlight--;
        call.done();
        pumpCalls();
      });
    }
  };
  const issue = (seconds, done, rank) => {
    callQueue.push({ seconds, done, rank });
    pumpCalls();
  };
  const runGroups = (groups, k, rank, done) => {
    if (k >= groups.length) return done();
    const g = groups[k];
    const next = () => runGroups(groups, k + 1, rank, done);
    if (g.kind === PAR && perItemParallel) {
      let left = g.latencies.length;
      for (const s of g.latencies) issue(s, () => --left === 0 && next(), rank);
    } else {
      const one = (j) => (j >= g.latencies.length ? next() : issue(g.latencies[j], () => one(j + 1), rank));
      one(0);
    }
  };
  const finishTask = (id) => {
    runningTasks--;
    finishedAt.set(id, now);
    for (const d of graph.dependents.get(id)) {
      remaining.set(d, remaining.get(d) - 1);
      if (remaining.get(d) === 0) ready.push({ id: d, at: now });
    }
    startTasks();
  };
  const startTasks = () => {
    while (runningTasks < jobs) {
      const id = pickReady();
      if (id === null) return;
      runningTasks++;
      startedAt.set(id, now);
      // Decouple from the caller's stack: the task "runs" from the next event at the same instant.
      push(now, () => runGroups(structure.get(id) ?? [], 0, prio.get(id), () => finishTask(id)));
    }
  };
  for (const id of graph.order) if (remaining.get(id) === 0) ready.push({ id, at: 0 });
  startTasks();
  while (events.length > 0) {
    const e = heapPop(events);
    now = e.at;
    e.fn();
  }
  if (finishedAt.size !== graph.order.length) throw new Error(`simulation finished ${finishedAt.size} of ${graph.order.length} tasks`);
  return { seconds: now, startedAt, finishedAt };
}

function heapPush(h, x) {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (lessEv(h[p], h[i])) break;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}
function heapPop(h) {
  const top = h[0];
  const last = h.pop();
  if (h.length > 0) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && lessEv(h[l], h[m])) m = l;
      if (r < h.length && lessEv(h[r], h[m])) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
  return top;
}
const lessEv = (a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

// ---------------------------------------------------------------------------------------------------------
// Where the wall time of one measured build went: the chain of tasks that finished last, each with how long
// it waited after its last dependency finished, and how long its own model calls took at the server.

function observedChain(graph, run) {
  const att = new Map(run.facts.attempts.filter((a) => a.status === 'complete').map((a) => [a.task_id, a]));
  const callsOf = countBy(run.calls, (c) => c.task);
  let id = graph.order.at(-1);
  const chain = [];
  while (id) {
    const a = att.get(id);
    const deps = graph.requires.get(id);
    let last = null;
    for (const d of deps) if (att.get(d) && (last === null || att.get(d).finished_at > att.get(last).finished_at)) last = d;
    const readyAt = last ? att.get(last).finished_at : run.spawnedAt;
    const busyMs = unionLength(run.calls.filter((c) => c.task === id).map((c) => [c.arrivedAt, c.answeredAt]));
    const runMs = a ? a.finished_at - a.started_at : null;
    chain.unshift({
      task: id,
      calls: callsOf.get(id) ?? 0,
      waitMs: a ? a.started_at - readyAt : null,
      runMs,
      modelMs: round(busyMs, 0),
      restMs: runMs === null ? null : round(runMs - busyMs, 0),
    });
    id = last;
  }
  return chain;
}

/** Total length of a union of [start, end] intervals. */
function unionLength(intervals) {
  const sorted = [...intervals].sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of sorted) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

/** Time a model call waited for a slot of the client's limiter: engine row started_at is after the slot was
 *  taken, so we measure the per-call overhead the other way: client-observed duration − server latency. */
function perCallOverhead(run) {
  const byTask = new Map();
  for (const c of run.calls) {
    if (!byTask.has(c.task)) byTask.set(c.task, []);
    byTask.get(c.task).push(c);
  }
  const over = [];
  const dbByTask = new Map();
  for (const row of run.facts.interactions) {
    if (!dbByTask.has(row.task_id)) dbByTask.set(row.task_id, []);
    dbByTask.get(row.task_id).push(row);
  }
  for (const [task, rows] of dbByTask) {
    const server = (byTask.get(task) ?? []).map((c) => c.answeredAt - c.arrivedAt).sort((a, b) => a - b);
    const client = rows.map((r) => r.duration_ms).sort((a, b) => a - b);
    for (let k = 0; k < Math.min(server.length, client.length); k++) over.push(client[k] - server[k]);
  }
  return { medianMs: median(over), p90Ms: quantile(over, 0.9) };
}

// ---------------------------------------------------------------------------------------------------------
// Machine facts.

function firstLineOf(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : null;
}

function machineInfo() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  return {
    date: new Date().toISOString(),
    nproc: Number(firstLineOf('nproc', [])) || os.availableParallelism(),
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    memFreeMbAtStart: Math.round(os.freemem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
    versions: {
      node: process.version,
      plan: pkg.version,
      sqlite: firstLineOf(process.execPath, [
        '-e',
        "const D=require('better-sqlite3');console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)",
      ]),
      typescript: JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')).version,
    },
    commit: firstLineOf('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
    dirtySrc:
      (spawnSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no', 'src'], { encoding: 'utf8' }).stdout ?? '').trim() !== '',
    distAtStart: distFingerprint(),
  };
}

function distFingerprint() {
  const hash = createHash('sha256');
  for (const sub of ['engine', 'llm', 'tasks', 'store']) {
    const dir = path.join(root, 'dist', sub);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.js'))
      .sort())
      hash.update(name).update(fs.readFileSync(path.join(dir, name)));
  }
  return hash.digest('hex').slice(0, 12);
}

// ---------------------------------------------------------------------------------------------------------
// Helpers.

function sum(xs) {
  return xs.reduce((a, b) => a + b, 0);
}
function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function quantile(xs, q) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
function round(x, d = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x ?? null;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
function countBy(xs, key) {
  const m = new Map();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}
const log = (line) => process.stdout.write(`${line}\n`);
const fmtS = (s, d = 1) => (s === null || s === undefined ? '–' : `${s.toFixed(d)} s`);
const fmtX = (x) => (x === null || x === undefined ? '–' : `${x.toFixed(2)}×`);
const shortTask = (id) => id.replace(/Task$/, '');

// ---------------------------------------------------------------------------------------------------------
// One real plan: calibrate, measure, analyse — in each mode.

async function benchPlan(file) {
  const real = loadRealPlan(file);
  log(
    `\n== ${real.name}: ${real.calls.length} successful real calls (${real.failed.length} failed, left out), sum ${real.realSumSeconds.toFixed(0)} s, real wall ${real.realWallSeconds.toFixed(0)} s, ` +
      `${real.inputTokens.toLocaleString('en-US')} input / ${real.outputTokens.toLocaleString('en-US')} output tokens, $${real.costUsd.toFixed(4)}`,
  );
  const catalogue = PLAN_STAGE_TASKS.map((C) => C.name);

  // Calibration, per mode: no latency, enough concurrency; counts the calls of each task.
  const countsByMode = {};
  const assignments = {};
  for (const mode of MODES) {
    const calib = await runBuild({ label: 'calibration', mode, concurrency: 16, jobs: JOBS, assignment: null, scale: 0 });
    if (calib.problems.length > 0) throw new Error(`calibration build (${mode}) failed: ${calib.problems.join('; ')}`);
    const counts = countBy(calib.calls, (c) => c.task);
    const unknown = [...counts.keys()].filter((t) => t.startsWith('?'));
    if (unknown.length > 0) throw new Error(`requests the bench cannot attribute to a task: ${unknown.join(', ')} (update SCHEMA_TASK)`);
    countsByMode[mode] = counts;
    assignments[mode] = assignCalls(real, counts, catalogue);
    log(
      `calibration (${mode}): ${calib.calls.length} calls in ${counts.size} tasks; ${assignments[mode].distinctRealCallsUsed} of ${assignments[mode].realCalls} real calls used (${MAPPING} mapping); zero-latency build ${(calib.wallMs / 1000).toFixed(2)} s`,
    );
  }
  const countsKey = (m) => JSON.stringify([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const sameCalls = MODES.every((mode) => countsKey(countsByMode[mode]) === countsKey(countsByMode[MODES[0]]));

  const configs = MODES.flatMap((mode) => [
    ...CONCURRENCIES.map((c) => ({ key: `${mode}/c${c}`, mode, concurrency: c, jobs: JOBS, zero: false })),
    { key: `${mode}/defaults`, mode, concurrency: DEFAULTS.concurrency, jobs: DEFAULTS.jobs, zero: false, defaults: true },
    { key: `${mode}/zero`, mode, concurrency: 16, jobs: JOBS, zero: true },
  ]);
  const runs = [];
  for (let rep = 0; rep < REPS; rep++) {
    // Alternate: each repetition starts one configuration further on, so drift of a shared machine spreads.
    const order = configs.map((_, k) => configs[(k + rep) % configs.length]);
    for (const cfg of order) {
      const run = await runBuild({
        label: cfg.key,
        mode: cfg.mode,
        concurrency: cfg.concurrency,
        jobs: cfg.jobs,
        assignment: assignments[cfg.mode],
        scale: cfg.zero ? 0 : SCALE,
      });
      run.rep = rep + 1;
      run.key = cfg.key;
      run.defaults = cfg.defaults === true;
      run.zero = cfg.zero;
      runs.push(run);
      const flag = run.problems.length > 0 ? `  PROBLEMS: ${run.problems.join('; ')}` : '';
      log(
        `rep ${rep + 1}  ${cfg.mode.padEnd(10)} ${cfg.zero ? 'zero latency, c=16' : `-j ${String(cfg.jobs).padStart(2)} --llm-concurrency ${String(cfg.concurrency).padStart(2)}`}  wall ${(run.wallMs / 1000).toFixed(2)} s  engine ${((run.engineMs ?? 0) / 1000).toFixed(2)} s  calls ${run.calls.length}${flag}`,
      );
    }
  }

  const modes = {};
  for (const mode of MODES) {
    modes[mode] = await analyseMode(
      mode,
      real,
      runs.filter((r) => r.mode === mode),
      assignments[mode],
      countsByMode[mode],
      catalogue,
    );
  }
  const problems = runs.flatMap((r) => r.problems.map((p) => `rep ${r.rep} ${r.key}: ${p}`));
  for (const mode of MODES) problems.push(...modes[mode].checkProblems);
  if (!sameCalls) problems.push('the modes made different numbers of calls per task: their latencies come from different real calls');
  const fileLists = MODES.map((mode) => JSON.stringify(modes[mode].files));
  const sameFiles = fileLists.every((f) => f === fileLists[0]);
  if (!sameFiles) problems.push('the modes wrote different files');

  return {
    plan: real.name,
    file: path.relative(root, real.file),
    real: {
      calls: real.totalLines,
      successfulCalls: real.calls.length,
      failedCallsLeftOut: real.failed,
      sumSeconds: round(real.realSumSeconds, 1),
      wallSeconds: round(real.realWallSeconds, 1),
      inputTokens: real.inputTokens,
      outputTokens: real.outputTokens,
      costUsd: round(real.costUsd, 4),
      price: real.price,
    },
    sameCallsInBothModes: sameCalls,
    sameFilesInBothModes: sameFiles,
    modes,
    comparison: comparisonOf(real, modes),
    problems,
    // Every build's figures; per-task times for all, per-call detail for the first repetition of each
    // configuration (columns in RAW_COLUMNS; times in ms from the spawn of the build).
    raw: runs.map((r) => ({
      rep: r.rep,
      config: r.key,
      mode: r.mode,
      concurrency: r.concurrency,
      jobs: r.jobs,
      wallMs: r.wallMs,
      engineMs: r.engineMs,
      startupMs: r.startupMs,
      exitCode: r.exitCode,
      calls: r.calls.length,
      problems: r.problems,
      tasks: r.facts.attempts.map((a) => [
        a.task_id,
        a.status,
        a.started_at - r.spawnedAt,
        a.finished_at === null ? null : a.finished_at - r.spawnedAt,
      ]),
      ...(r.rep === 1
        ? {
            serverCalls: r.calls.map((c) => [
              c.task,
              c.group,
              c.i,
              c.realLine,
              c.arrivedAt - r.spawnedAt,
              round(c.answeredAt - c.arrivedAt, 1),
              c.computeMs,
              c.input,
              c.output,
            ]),
            interactions: r.facts.interactions.map((row) => [
              row.task_id,
              row.item_key,
              row.turn,
              row.started_at - r.spawnedAt,
              row.finished_at === null ? null : row.finished_at - r.spawnedAt,
              row.duration_ms,
            ]),
          }
        : {}),
    })),
  };
}

/** The figures of one mode: makespans measured and projected, tokens, cost, critical path, where the time went. */
async function analyseMode(mode, real, modeRuns, assignment, counts, catalogue) {
  const graph = taskGraph(mode);
  const measured = modeRuns.filter((r) => !r.zero);
  const top = measured.filter((r) => !r.defaults && r.concurrency === Math.max(...CONCURRENCIES));
  const structure = callStructure((top[0] ?? measured[0]).calls);
  const invariant = measured.every((r) => sameStructure(structure, callStructure(r.calls)));
  const W = sum([...structure.values()].flatMap((gs) => gs.flatMap((g) => g.latencies)));
  const nCalls = [...structure.values()].flatMap((gs) => gs.flatMap((g) => g.latencies)).length;

  const cpInf = criticalPath(graph, structure, Infinity);
  const classic = simulate(graph, structure, { jobs: CLASSIC_WORKERS, llmSlots: Infinity, perItemParallel: false, priority: 'fifo' });
  const zeroRuns = modeRuns.filter((r) => r.zero);
  const zero = {
    wallS: round(median(zeroRuns.map((r) => r.wallMs)) / 1000, 3),
    engineS: round(median(zeroRuns.map((r) => r.engineMs)) / 1000, 3),
    startupS: round(median(zeroRuns.map((r) => r.startupMs)) / 1000, 3),
    samplesS: zeroRuns.map((r) => round(r.wallMs / 1000, 3)),
  };

  const rowSpecs = [
    ...CONCURRENCIES.map((c) => ({ concurrency: c, jobs: JOBS, defaults: false })),
    { concurrency: DEFAULTS.concurrency, jobs: DEFAULTS.jobs, defaults: true },
  ];
  const rows = rowSpecs.map(({ concurrency: c, jobs, defaults }) => {
    const rs = measured.filter((r) => r.concurrency === c && r.jobs === jobs && r.defaults === defaults);
    const wallS = median(rs.map((r) => r.wallMs)) / 1000;
    const engineS = median(rs.map((r) => r.engineMs)) / 1000;
    const startupS = median(rs.map((r) => r.startupMs)) / 1000;
    const cp = criticalPath(graph, structure, c);
    const packing = packingBound(graph, structure, c);
    const lb = Math.max(cp.seconds, W / c, packing.seconds);
    const simOurs = simulate(graph, structure, { jobs, llmSlots: c, perItemParallel: true, priority: 'chain-count' });
    const simLatency = simulate(graph, structure, { jobs, llmSlots: c, perItemParallel: true, priority: 'chain-latency' });
    const realWall = wallS / SCALE;
    const realEngine = engineS / SCALE;
    const ratios = rs.map((r) => r.wallMs / 1000 / SCALE / lb);
    // What the ideal engine (zero overhead, our policy) would take at this scale, and what is left over: the
    // engine's fixed costs (Node start-up, per-task and per-call work), which do not shrink or grow with the
    // latencies. Projected to real latencies: the ideal schedule plus that fixed overhead, unscaled.
    const overheadS = wallS - SCALE * simOurs.seconds;
    const projectedS = simOurs.seconds + overheadS;
    return {
      label: defaults ? `defaults (-j ${jobs}, c ${c})` : `c ${c}`,
      defaults,
      concurrency: c,
      jobs,
      reps: rs.length,
      wallS: round(wallS, 3),
      engineS: round(engineS, 3),
      startupS: round(startupS, 3),
      wallSamplesS: rs.map((r) => round(r.wallMs / 1000, 3)),
      engineSamplesS: rs.map((r) => round(r.engineMs / 1000, 3)),
      realEquivalentWallS: round(realWall, 1),
      realEquivalentEngineS: round(realEngine, 1),
      criticalPathS: round(cp.seconds, 1),
      workBoundS: round(W / c, 1),
      packingBoundS: round(packing.seconds, 1),
      packingBoundFromS: round(packing.fromS, 1),
      lowerBoundS: round(lb, 1),
      ratioWallToLowerBound: round(median(ratios), 3),
      ratioEngineToLowerBound: round(realEngine / lb, 3),
      ratioWallToCriticalPathInf: round(realWall / cpInf.seconds, 3),
      simulatedOurPolicyS: round(simOurs.seconds, 1),
      simulatedLatencyPriorityS: round(simLatency.seconds, 1),
      classicS: round(classic.seconds, 1),
      speedUpOverClassic: round(classic.seconds / realWall, 2),
      fixedOverheadS: round(overheadS, 3),
      projectedRealS: round(projectedS, 1),
      projectedRatioToLowerBound: round(projectedS / lb, 3),
      projectedSpeedUpOverClassic: round(classic.seconds / projectedS, 2),
      projectedShareOfRecordedWall: round(projectedS / real.realWallSeconds, 3),
      criticalPathTasks: cp.onPath,
      overheadPerCall: rs.length > 0 ? perCallOverhead(rs[0]) : null,
    };
  });
  const at8 = rows.find((r) => !r.defaults && r.concurrency === TARGET_CONCURRENCY) ?? null;

  // The same build at a slower time scale: is the overhead fixed (the ratio falls towards the ideal engine's)?
  let check = null;
  const checkProblems = [];
  if (CHECK_SCALE > 0 && CHECK_REPS > 0 && at8) {
    const checkRuns = [];
    for (let k = 0; k < CHECK_REPS; k++) {
      const run = await runBuild({ label: 'check', mode, concurrency: TARGET_CONCURRENCY, jobs: JOBS, assignment, scale: CHECK_SCALE });
      const flag = run.problems.length > 0 ? `  PROBLEMS: ${run.problems.join('; ')}` : '';
      checkProblems.push(...run.problems.map((p) => `check ${k + 1} ${mode}: ${p}`));
      log(
        `check ${k + 1}  ${mode.padEnd(10)} scale ${fmtScale(CHECK_SCALE)}, llm-concurrency ${TARGET_CONCURRENCY}  wall ${(run.wallMs / 1000).toFixed(2)} s  engine ${((run.engineMs ?? 0) / 1000).toFixed(2)} s${flag}`,
      );
      checkRuns.push(run);
    }
    const wallS = median(checkRuns.map((r) => r.wallMs)) / 1000;
    const engineS = median(checkRuns.map((r) => r.engineMs)) / 1000;
    check = {
      scale: CHECK_SCALE,
      concurrency: TARGET_CONCURRENCY,
      reps: checkRuns.length,
      wallS: round(wallS, 3),
      engineS: round(engineS, 3),
      wallSamplesS: checkRuns.map((r) => round(r.wallMs / 1000, 3)),
      realEquivalentWallS: round(wallS / CHECK_SCALE, 1),
      ratioWallToLowerBound: round(wallS / CHECK_SCALE / at8.lowerBoundS, 3),
      ratioEngineToLowerBound: round(engineS / CHECK_SCALE / at8.lowerBoundS, 3),
      fixedOverheadS: round(wallS - CHECK_SCALE * at8.simulatedOurPolicyS, 3),
      predictedWallS: round(CHECK_SCALE * at8.simulatedOurPolicyS + at8.fixedOverheadS, 3),
      speedUpOverClassic: round(at8.classicS / (wallS / CHECK_SCALE), 2),
    };
  }
  const run8 = measured.find((r) => !r.defaults && r.concurrency === TARGET_CONCURRENCY && r.rep === 1) ?? measured[0];
  const chain8 = observedChain(graph, run8);

  // Tokens: what the requests sent, per task (the same in every build of the mode but for the order of answers).
  const tokenRun = run8;
  const inputTokens = sum(tokenRun.calls.map((c) => c.input));
  const outputTokens = sum(tokenRun.calls.map((c) => c.output));
  const tokensPerTask = Object.fromEntries(
    catalogue
      .filter((t) => counts.has(t))
      .map((t) => {
        const cs = tokenRun.calls.filter((c) => c.task === t);
        return [
          t,
          {
            calls: cs.length,
            input: sum(cs.map((c) => c.input)),
            output: sum(cs.map((c) => c.output)),
            maxInput: Math.max(...cs.map((c) => c.input)),
          },
        ];
      }),
  );

  const perTask = catalogue
    .filter((t) => structure.has(t))
    .map((t) => ({
      task: t,
      groups: structure
        .get(t)
        .map((g) => ({ name: g.name, kind: g.kind, calls: g.latencies.length, realCallLines: g.realLines, latenciesS: g.latencies })),
      weightS: round(taskWeight(structure.get(t)), 2),
      weightAtDefaultsS: round(taskWeight(structure.get(t), DEFAULTS.concurrency), 2),
      serialS: round(sum(structure.get(t).flatMap((g) => g.latencies)), 2),
      requires: graph.requires.get(t),
    }));

  return {
    mode,
    calls: nCalls,
    callsPerTask: Object.fromEntries(catalogue.filter((t) => counts.has(t)).map((t) => [t, counts.get(t)])),
    sumSeconds: round(W, 1),
    inputTokens,
    outputTokens,
    costUsd: round(costAt(real.price, inputTokens, outputTokens), 4),
    tokensPerTask,
    files: run8.files,
    distinctRealCallsUsed: assignment.distinctRealCallsUsed,
    assignmentIdenticalInEveryRun: invariant,
    criticalPathUnboundedS: round(cpInf.seconds, 1),
    criticalPathUnbounded: cpInf.onPath,
    classicS: round(classic.seconds, 1),
    zeroLatency: zero,
    rows,
    check,
    checkProblems,
    target: at8 && {
      concurrency: TARGET_CONCURRENCY,
      ratio: at8.ratioWallToLowerBound,
      ratioEngine: at8.ratioEngineToLowerBound,
      holds: at8.ratioWallToLowerBound <= TARGET_RATIO,
      holdsEngine: at8.ratioEngineToLowerBound <= TARGET_RATIO,
      projectedRatio: at8.projectedRatioToLowerBound,
      holdsProjected: at8.projectedRatioToLowerBound <= TARGET_RATIO,
      checkRatio: check?.ratioWallToLowerBound ?? null,
    },
    observedChainAt8: chain8,
    perTask,
  };
}

/** Both modes beside the recorded run, the goal, and the tasks on either critical path before and after. */
function comparisonOf(real, modes) {
  const seq = modes.sequential ?? null;
  const par = modes.parallel ?? null;
  const row = (m, pick) => (m ? pick(m) : null);
  const defaultsRow = (m) => m.rows.find((r) => r.defaults);
  const rowAt = (m, c) => m.rows.find((r) => !r.defaults && r.concurrency === c) ?? null;
  const figures = (m) => ({
    projectedAtDefaultsS: defaultsRow(m).projectedRealS,
    projectedAt8S: rowAt(m, 8)?.projectedRealS ?? null,
    projectedAt16S: rowAt(m, 16)?.projectedRealS ?? null,
    criticalPathS: m.criticalPathUnboundedS,
    inputTokens: m.inputTokens,
    outputTokens: m.outputTokens,
    costUsd: m.costUsd,
    calls: m.calls,
  });
  const goal = par && {
    wallLimitS: round(real.realWallSeconds * GOAL_WALL, 1),
    inputLimit: Math.floor(real.inputTokens * GOAL_INPUT),
    atDefaults: {
      projectedS: defaultsRow(par).projectedRealS,
      shareOfWall: round(defaultsRow(par).projectedRealS / real.realWallSeconds, 3),
      holds: defaultsRow(par).projectedRealS <= real.realWallSeconds * GOAL_WALL,
      lowerBoundS: defaultsRow(par).lowerBoundS,
    },
    at8: rowAt(par, 8) && {
      projectedS: rowAt(par, 8).projectedRealS,
      shareOfWall: round(rowAt(par, 8).projectedRealS / real.realWallSeconds, 3),
      holds: rowAt(par, 8).projectedRealS <= real.realWallSeconds * GOAL_WALL,
    },
    input: {
      tokens: par.inputTokens,
      shareOfRecorded: round(par.inputTokens / real.inputTokens, 3),
      holds: par.inputTokens <= real.inputTokens * GOAL_INPUT,
    },
  };
  // Per task on either critical path (unbounded, and at plan build's defaults): its weight in each mode.
  const onPath = new Set();
  for (const m of [seq, par]) {
    if (!m) continue;
    for (const t of m.criticalPathUnbounded) onPath.add(t.task);
    for (const t of defaultsRow(m).criticalPathTasks) onPath.add(t.task);
  }
  const weight = (m, t, key) => m?.perTask.find((p) => p.task === t)?.[key] ?? 0;
  const onPathOf = (m, t) => (m ? m.criticalPathUnbounded.some((p) => p.task === t) : false);
  const tasks = PLAN_STAGE_TASKS.map((C) => C.name)
    .filter((t) => onPath.has(t))
    .map((t) => ({
      task: t,
      sequentialS: round(weight(seq, t, 'weightS'), 2),
      parallelS: round(weight(par, t, 'weightS'), 2),
      sequentialAtDefaultsS: round(weight(seq, t, 'weightAtDefaultsS'), 2),
      parallelAtDefaultsS: round(weight(par, t, 'weightAtDefaultsS'), 2),
      onSequentialPath: onPathOf(seq, t),
      onParallelPath: onPathOf(par, t),
    }));
  return {
    recorded: {
      wallS: round(real.realWallSeconds, 1),
      inputTokens: real.inputTokens,
      outputTokens: real.outputTokens,
      costUsd: round(real.costUsd, 4),
    },
    sequential: row(seq, figures),
    parallel: row(par, figures),
    goal,
    criticalPathTasks: tasks,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Report.

function mappingText() {
  return (
    `Mapping: a calibration build per mode (no latency) counts each task's calls; our calls are laid out in catalogue order ` +
    `(PLAN_STAGE_TASKS; within a task in the order the server receives them) as slots 0…N−1, the real plan's successful ` +
    `calls in their recorded order as 0…R−1, and ${MAPPING === 'proportional' ? "slot g replays real call ⌊g·R/N⌋ (our first calls get the real plan's first calls, our last its last)" : 'slot g replays real call g mod R'}. ` +
    `Each of our calls is answered after the real call's duration × ${fmtScale(SCALE)}, with an answer as long as the real one (its output tokens × ${CHARS_PER_TOKEN} characters: ` +
    `the offline model's content for the task and call number, its free-text strings lengthened), so the documents, and the prompts that read them, have the real plan's sizes. ` +
    `The i-th call the server receives for a task gets that task's i-th slot and answer, so every run and both modes assign the same latencies and answers to the same calls. ` +
    `Input tokens are what our requests sent (characters of messages and JSON schema ÷ ${CHARS_PER_TOKEN}); output tokens are the real calls'. ` +
    `Cost: those tokens at the recorded model's price, fitted from its calls' cost_usd. Failed real calls (invalid JSON) are left out.`
  );
}

function fmtScale(s) {
  return s < 1 ? `1/${Math.round(1 / s)}` : String(s);
}

function definitionText() {
  return (
    `Critical path: the longest chain through \`requires()\` of the plan pipeline's graph in that mode (planGraph), each task weighing the ` +
    `latency of its calls that must be sequential: a conversation's turns (each turn carries the previous answers) add up, a ` +
    `single call counts once, calls that are independent and started together (the items of a per-item task, the questions of a parallel conversation) count as their longest — at ` +
    `concurrency c as max(longest, sum ÷ c); ExpertReviewTask is its two find-experts turns plus its parallel experts. ` +
    `Tasks without model calls weigh 0. Lower bound at c = the largest of the critical path at c, total call latency ÷ c and the packing bound ` +
    `(for each task's earliest start t: t + the latency of the calls of every task that cannot start before t, ÷ c). ` +
    `Classic schedule: a discrete-event simulation over the same graph and latencies with ${CLASSIC_WORKERS} task workers, ` +
    `each task's calls one after another (per-item calls too), ready tasks taken first-come first-served, no overhead. ` +
    `"Ideal engine" is the same simulation of our policy (-j as the row, per-item and parallel-conversation calls concurrent, a FIFO limiter of c model calls, ready ` +
    `tasks by longest chain of dependents counted in tasks) with zero overhead; "latency priority" the same with the chain weighted by latency.`
  );
}

const fmtN = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const fmtUsd = (x) => (x === null || x === undefined ? '–' : `$${x.toFixed(4)}`);
const fmtPct = (x) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(0)}%`);
/** a ÷ b, or null when either is missing. */
const ratioOf = (a, b) => (a === null || a === undefined || !b ? null : a / b);

function comparisonMarkdown(p) {
  const c = p.comparison;
  const out = [];
  const wall = c.recorded.wallS;
  const cols = [
    [
      'recorded run',
      { at4: wall, at8: null, at16: null, cp: null, input: c.recorded.inputTokens, output: c.recorded.outputTokens, cost: c.recorded.costUsd },
    ],
    ...['sequential', 'parallel']
      .filter((m) => c[m])
      .map((m) => [
        m,
        {
          at4: c[m].projectedAtDefaultsS,
          at8: c[m].projectedAt8S,
          at16: c[m].projectedAt16S,
          cp: c[m].criticalPathS,
          input: c[m].inputTokens,
          output: c[m].outputTokens,
          cost: c[m].costUsd,
        },
      ]),
  ];
  out.push(`| ${p.plan} | ${cols.map(([name]) => name).join(' | ')}${c.parallel ? ' | parallel ÷ recorded |' : ' |'}`);
  out.push(`|---|${cols.map(() => '---:').join('|')}|${c.parallel ? '---:|' : ''}`);
  const line = (label, key, fmt, share = true) =>
    out.push(
      `| ${label} | ${cols.map(([, v]) => fmt(v[key])).join(' | ')}${c.parallel ? ` | ${share ? fmtPct(ratioOf(c.parallel[keyOf(key)], cols[0][1][key])) : ''} |` : ' |'}`,
    );
  const keyOf = (k) =>
    ({ at4: 'projectedAtDefaultsS', at8: 'projectedAt8S', at16: 'projectedAt16S', input: 'inputTokens', output: 'outputTokens', cost: 'costUsd' })[k];
  line(
    `wall (recorded: 4 Luigi workers) / projected at real latency, plan build defaults (-j ${DEFAULTS.jobs}, --llm-concurrency ${DEFAULTS.concurrency})`,
    'at4',
    (x) => fmtS(x, 0),
  );
  out.push(
    `| … at --llm-concurrency 8 (-j ${JOBS}) | – | ${cols
      .slice(1)
      .map(([, v]) => fmtS(v.at8, 0))
      .join(' | ')}${c.parallel ? ` | ${fmtPct(ratioOf(c.parallel.projectedAt8S, wall))} |` : ' |'}`,
  );
  out.push(
    `| … at --llm-concurrency 16 (-j ${JOBS}) | – | ${cols
      .slice(1)
      .map(([, v]) => fmtS(v.at16, 0))
      .join(' | ')}${c.parallel ? ` | ${fmtPct(ratioOf(c.parallel.projectedAt16S, wall))} |` : ' |'}`,
  );
  out.push(
    `| critical path (unbounded concurrency) | – | ${cols
      .slice(1)
      .map(([, v]) => fmtS(v.cp, 0))
      .join(' | ')} | |`,
  );
  line('input tokens', 'input', fmtN);
  line('output tokens', 'output', fmtN);
  line(`cost at ${p.real.price.model} ($${p.real.price.inputPerM} / $${p.real.price.outputPerM} per M)`, 'cost', fmtUsd);
  out.push('');
  if (c.goal) {
    const g = c.goal;
    out.push(
      `Goal (parallel, plan build defaults): wall ≤ ${fmtS(g.wallLimitS, 0)} (1/3 of ${fmtS(wall, 0)}): projected ${fmtS(g.atDefaults.projectedS, 0)} (${fmtPct(g.atDefaults.shareOfWall)}) — **${g.atDefaults.holds ? 'holds' : `does not hold, ${fmtS(g.atDefaults.projectedS - g.wallLimitS, 0)} over`}** ` +
        `(lower bound at c 4: ${fmtS(g.atDefaults.lowerBoundS, 0)})` +
        (g.at8
          ? `; at --llm-concurrency 8: ${fmtS(g.at8.projectedS, 0)} (${fmtPct(g.at8.shareOfWall)}) — **${g.at8.holds ? 'holds' : 'does not hold'}**`
          : '') +
        `. Input tokens ≤ ${fmtN(g.inputLimit)} (60%): ${fmtN(g.input.tokens)} (${fmtPct(g.input.shareOfRecorded)}) — **${g.input.holds ? 'holds' : 'does not hold'}**. ` +
        `Files: ${p.sameFilesInBothModes ? 'both modes wrote the same files' : 'the modes wrote DIFFERENT files'} (${p.modes.parallel.files.length}).`,
      '',
    );
  }
  if (c.sequential && c.parallel) {
    out.push(
      `Tasks on a critical path (unbounded, or at the defaults), weight in each mode (unbounded · at c 4); ● on that mode's unbounded path:`,
      '',
      '| task | sequential | parallel |',
      '|---|---:|---:|',
    );
    for (const t of c.criticalPathTasks) {
      out.push(
        `| ${shortTask(t.task)} | ${t.sequentialS.toFixed(1)} · ${t.sequentialAtDefaultsS.toFixed(1)} s${t.onSequentialPath ? ' ●' : ''} | ${t.parallelS.toFixed(1)} · ${t.parallelAtDefaultsS.toFixed(1)} s${t.onParallelPath ? ' ●' : ''} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

function modeMarkdown(p, m) {
  const out = [];
  out.push(`#### ${p.plan}, --conversations ${m.mode}`, '');
  out.push(
    `Ours: ${m.calls} calls replaying ${m.distinctRealCallsUsed} of the real ones, ${m.sumSeconds} s of latency in all, ` +
      `${fmtN(m.inputTokens)} input / ${fmtN(m.outputTokens)} output tokens, ${fmtUsd(m.costUsd)}` +
      `${m.assignmentIdenticalInEveryRun ? ' (the same latencies for the same tasks in every run)' : ' (WARNING: latencies per task differed between runs)'}. ` +
      `Zero-latency build (the engine's own work, Node start-up included): ${fmtS(m.zeroLatency.wallS, 2)} wall, ${fmtS(m.zeroLatency.startupS, 2)} of it from spawn to build-started.`,
    '',
  );
  out.push(
    `| row | makespan (wall, at ${fmtScale(SCALE)}) | engine only | = real s | lower bound | **makespan ÷ lower bound** | ideal engine | fixed overhead | projected at real latency | projected ÷ lower bound | classic (4 workers) | speed-up over classic, measured / projected |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  );
  for (const r of m.rows) {
    const bound = r.lowerBoundS > r.criticalPathS + 0.05 ? (r.lowerBoundS === r.packingBoundS ? ' (packing)' : ' (work)') : '';
    out.push(
      `| ${r.label}${r.defaults ? '' : `, -j ${r.jobs}`} | ${fmtS(r.wallS, 2)} | ${fmtS(r.engineS, 2)} | ${fmtS(r.realEquivalentWallS, 0)} | ${fmtS(r.lowerBoundS, 0)}${bound} | ` +
        `**${fmtX(r.ratioWallToLowerBound)}** | ${fmtS(r.simulatedOurPolicyS, 0)} | ${fmtS(r.fixedOverheadS, 2)} | ${fmtS(r.projectedRealS, 0)} | ${fmtX(r.projectedRatioToLowerBound)} | ` +
        `${fmtS(r.classicS, 0)} | ${fmtX(r.speedUpOverClassic)} / ${fmtX(r.projectedSpeedUpOverClassic)} |`,
    );
  }
  out.push('');
  out.push(
    `Simulated with the ready queue and the model-call queue both ordered by the latency-weighted chain instead: ` +
      m.rows.map((r) => `${r.label} ${fmtS(r.simulatedLatencyPriorityS, 0)} (task-count priority ${fmtS(r.simulatedOurPolicyS, 0)})`).join(', ') +
      '.',
    '',
  );
  if (m.check) {
    const c = m.check;
    out.push(
      `Check at scale ${fmtScale(c.scale)} (concurrency ${c.concurrency}, ${c.reps} build${c.reps > 1 ? 's' : ''}): wall ${fmtS(c.wallS, 2)} (= ${fmtS(c.realEquivalentWallS, 0)} real), ` +
        `predicted from the ${fmtScale(SCALE)} runs' fixed overhead ${fmtS(c.predictedWallS, 2)}; makespan ÷ lower bound **${fmtX(c.ratioWallToLowerBound)}** ` +
        `(engine only ${fmtX(c.ratioEngineToLowerBound)}); fixed overhead ${fmtS(c.fixedOverheadS, 2)}; speed-up over classic ${fmtX(c.speedUpOverClassic)}.`,
      '',
    );
  }
  out.push(
    `Critical path (unbounded concurrency), ${m.criticalPathUnboundedS} s: ` +
      m.criticalPathUnbounded.map((t) => `${shortTask(t.task)} ${t.seconds} s${t.calls > 1 ? ` (${t.calls} calls)` : ''}`).join(' → ') +
      '.',
    '',
  );
  for (const r of m.rows.filter((x) => x.defaults || x.concurrency === TARGET_CONCURRENCY)) {
    const same = JSON.stringify(r.criticalPathTasks.map((t) => t.task)) === JSON.stringify(m.criticalPathUnbounded.map((t) => t.task));
    out.push(
      same
        ? `At ${r.label} the critical path is the same (${r.criticalPathS} s).`
        : `At ${r.label} the critical path (${r.criticalPathS} s) is: ${r.criticalPathTasks.map((t) => `${shortTask(t.task)} ${t.seconds} s`).join(' → ')}.`,
    );
  }
  out.push('');
  const r8 = m.rows.find((r) => !r.defaults && r.concurrency === TARGET_CONCURRENCY);
  if (r8?.overheadPerCall) {
    out.push(
      `Per-call overhead at concurrency ${TARGET_CONCURRENCY} (the engine's recorded call duration − the server's latency, matched per task): median ${round(r8.overheadPerCall.medianMs, 1) ?? '–'} ms, p90 ${round(r8.overheadPerCall.p90Ms, 1) ?? '–'} ms.`,
      '',
    );
  }
  out.push(
    `Input tokens of the review tail: ${['ReviewPlanTask', 'ExecutiveSummaryTask', 'QuestionsAndAnswersTask', 'PremortemTask', 'SelfAuditTask']
      .map(
        (t) =>
          `${shortTask(t)} ${fmtN(m.tokensPerTask[t]?.input)} (${m.tokensPerTask[t]?.calls} calls, largest ${fmtN(m.tokensPerTask[t]?.maxInput)})`,
      )
      .join(', ')}.`,
    '',
  );
  out.push(
    `Where the wall time went in one build at concurrency ${TARGET_CONCURRENCY}, scale ${fmtScale(SCALE)} (the chain of tasks that finished last, each after the dependency that finished last; ` +
      `wait = from that dependency's end to the task's start; model = time at least one of its calls was being answered by the server; rest = ran − model: reading inputs, ` +
      `building requests, recording calls, persisting and writing outputs; spawn → build-started is in SetupTask's/StartTimeTask's wait):`,
    '',
  );
  out.push('| task | calls | wait | ran | model | rest |', '|---|---:|---:|---:|---:|---:|');
  for (const t of m.observedChainAt8)
    out.push(`| ${t.task} | ${t.calls} | ${t.waitMs ?? '–'} ms | ${t.runMs ?? '–'} ms | ${t.modelMs} ms | ${t.restMs ?? '–'} ms |`);
  const tot = (k) => sum(m.observedChainAt8.map((t) => t[k] ?? 0));
  out.push(`| total | ${tot('calls')} | ${tot('waitMs')} ms | ${tot('runMs')} ms | ${tot('modelMs')} ms | ${tot('restMs')} ms |`);
  out.push('');
  return out.join('\n');
}

function planMarkdown(p) {
  const out = [];
  out.push(`### ${p.plan}`, '');
  out.push(
    `Recorded run: ${p.real.calls} calls (${p.real.successfulCalls} successful), ${p.real.sumSeconds} s of call latency in all, ${p.real.wallSeconds} s wall with 4 Luigi workers, ` +
      `${fmtN(p.real.inputTokens)} input / ${fmtN(p.real.outputTokens)} output tokens, ${fmtUsd(p.real.costUsd)} as recorded ` +
      `(${p.real.price.model} at $${p.real.price.inputPerM} / $${p.real.price.outputPerM} per million input / output tokens, fitted from its calls).`,
    '',
  );
  out.push(comparisonMarkdown(p));
  for (const mode of MODES) out.push(modeMarkdown(p, p.modes[mode]));
  if (p.problems.length > 0) out.push('Problems:', '', ...p.problems.map((x) => `- ${x}`), '');
  return out.join('\n');
}

function parallelText() {
  return (
    '`--conversations parallel` asks these conversations as separate calls, all at once, each on the same base context (the prompt and the project plan) with the documents its question needs: ' +
    'ReviewPlanTask (16 questions), SelfAuditTask (20 checklist items), QuestionsAndAnswersTask (2), PremortemTask (3, one per failure archetype); ' +
    'ExecutiveSummaryTask keeps its one call on fewer documents. The review tail no longer chains (Q&A, premortem and self-audit do not read the review or the summary) and reads ' +
    'the level-1/2 WBS instead of level 3. `sequential` is the behaviour before the option, request for request.'
  );
}

function markdown(results) {
  const m = results.machine;
  const out = [];
  out.push(`# The LLM-bound plan, both --conversations modes, ${m.date.slice(0, 10)} (${results.mode} run)`, '');
  out.push(
    `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${Math.round(m.memTotalMb / 1024)} GiB RAM, ${m.kernel}; load average ${m.loadAverageAtStart.join(' / ')} at the start, ` +
      `${m.loadAverageAtEnd.join(' / ')} at the end (a shared machine). Versions: node ${m.versions.node}, plan ${m.versions.plan}, sqlite ${m.versions.sqlite}, typescript ${m.versions.typescript}; ` +
      `plan at ${m.commit}${m.dirtySrc ? ' with uncommitted changes in src/' : ''} (dist ${m.distAtStart}${m.distAtEnd !== m.distAtStart ? `, changed to ${m.distAtEnd} during the run` : ''}).`,
    '',
  );
  out.push(
    `Each build is \`plan build\` of a fresh run dir and database in a child process (\`--model openai-compatible:replay@<loopback>\`, \`--conversations MODE\`, ` +
      `\`-j ${results.config.jobs}\` except the row at plan build's defaults, \`-j ${DEFAULTS.jobs} --llm-concurrency ${DEFAULTS.concurrency}\`; ` +
      `\`--param=startTime=${START_TIME}\`, speed full), timed from spawn to exit (Node start-up included); "engine only" is build-started → build-finished ` +
      `from the build's own events. Time scale ${fmtScale(SCALE)}: "= real s" is the wall makespan ÷ scale (which also multiplies the fixed overhead ` +
      `— start-up, per-task database work — by ${Math.round(1 / SCALE)}). Medians of ${results.config.reps} repetitions, configurations (both modes) alternating; ` +
      `ratios are medians of per-repetition ratios. Critical path, lower bound, ideal engine and classic figures are in real seconds. ` +
      `Fixed overhead = wall − scale × ideal engine, in seconds at scale: what our engine and Node add that the latencies do not explain. ` +
      `Projected at real latency = ideal engine + fixed overhead, i.e. assuming that overhead does not grow with the latencies ` +
      `(${CHECK_SCALE > 0 ? `the check at ${fmtScale(CHECK_SCALE)} tests this` : 'not checked in this run'}).`,
    '',
  );
  out.push(parallelText(), '');
  out.push(mappingText(), '');
  out.push(definitionText(), '');
  out.push('## Summary', '');
  for (const p of results.plans) out.push(comparisonMarkdown(p));
  out.push('## Per plan and mode', '');
  for (const p of results.plans) out.push(planMarkdown(p));
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------

const machine = machineInfo();
log(
  `LLM-bound plan benchmark on ${machine.nproc} CPUs (${machine.cpuModel}), load ${machine.loadAverageAtStart.join(' ')}; modes ${MODES.join(', ')}; scale ${fmtScale(SCALE)}, ${REPS} reps, --llm-concurrency ${CONCURRENCIES.join(',')} at -j ${JOBS}, and plan build's defaults`,
);
const plans = [];
for (const file of PLAN_FILES) plans.push(await benchPlan(file));
machine.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
machine.distAtEnd = distFingerprint();

const RAW_COLUMNS = {
  tasks: ['task', 'status', 'startMs', 'endMs'],
  serverCalls: [
    'task',
    'group',
    'i (nth call received for the task)',
    'real call (line of the jsonl)',
    'arrivedMs',
    'latencyMs (answered − arrived)',
    'answer computeMs',
    'input tokens sent',
    'output tokens (the real call’s)',
  ],
  interactions: ['task', 'itemKey', 'turn', 'row startedMs (after the limiter slot)', 'row finishedMs', 'durationMs (engine-measured)'],
};

const results = {
  mode: FULL ? 'full' : 'short',
  machine,
  config: {
    modes: MODES,
    scale: SCALE,
    reps: REPS,
    concurrencies: CONCURRENCIES,
    jobs: JOBS,
    defaults: DEFAULTS,
    mapping: MAPPING,
    classicWorkers: CLASSIC_WORKERS,
    prompt: PROMPT,
    startTime: START_TIME,
  },
  parallel: parallelText(),
  mappingText: mappingText(),
  definitions: definitionText(),
  rawColumns: RAW_COLUMNS,
  plans,
};

const md = markdown(results);
fs.mkdirSync(opts.out, { recursive: true });
const stem = path.join(opts.out, `${machine.date.slice(0, 10)}-${opts.name}`);
// Pretty, but each array of plain values (a raw row, a list of latencies) on one line.
const json = JSON.stringify(results, null, 1).replace(/\[\n\s*([^[\]{}]*?)\n\s*\]/g, (_m, inner) => `[${inner.replace(/,\n\s*/g, ', ')}]`);
fs.writeFileSync(`${stem}.json`, `${json}\n`);
fs.writeFileSync(`${stem}.md`, `${md}\n`);
log('');
for (const p of plans) log(planMarkdown(p));
log(`results: ${path.relative(process.cwd(), stem)}.{json,md}`);
const bad = plans.some((p) => p.problems.length > 0);
process.exit(bad ? 1 : 0);
