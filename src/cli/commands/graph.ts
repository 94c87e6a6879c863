import { defineCommand } from '../args.js';
import { ExitCode } from '../exit-codes.js';
import { formatDuration, plural } from '../output.js';
import { formatCount, formatUsd, printJson } from '../format.js';
import { openRunDir } from '../run-lookup.js';
import { decideRun, loadRunGraph } from '../run-graph.js';
import type { TaskState } from '../../engine/events.js';
import { DB_OPTION } from '../run-resolution.js';

type GraphFormat = 'dot' | 'mermaid' | 'json';

interface GraphArgs {
  runDir: string;
  format: GraphFormat;
  db?: string;
  json: boolean;
}

export interface GraphNode {
  id: string;
  state: TaskState;
  reason: string;
  outputs: string[];
  /** How long the newest complete attempt took; null when the task never completed. */
  durationMs: number | null;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

const FILL: Record<TaskState, string> = { fresh: '#d3f0d3', pinned: '#c9e4f8', missing: '#fdf1c7', stale: '#fde0b2', blocked: '#f8c9c9' };

export const graphCommand = defineCommand({
  usage: 'graph <run-dir>',
  describe: "the run's task graph with each task's state, duration, tokens and cost (Graphviz dot, Mermaid or JSON)",
  positionals: { 'run-dir': { describe: 'the run directory' } },
  options: {
    format: { type: 'string', choices: ['dot', 'mermaid', 'json'], default: 'dot', describe: 'output format' },
    db: DB_OPTION,
    json: { type: 'boolean', default: false, describe: 'the same as --format json' },
  },
  run: runGraph,
});

async function runGraph(args: GraphArgs): Promise<number> {
  const { store, run, runDir } = await openRunDir(args.runDir, args.db);
  try {
    const { roots, graph } = await loadRunGraph(run);
    const decisions = await decideRun(run, runDir, store, roots);
    const attempts = await store.listAttempts(run.id);
    const spend = new Map((await store.summarizeSpend('task', { runId: run.id })).map((row) => [row.key, row]));
    const durations = new Map<string, number>();
    for (const a of attempts) if (a.status === 'complete' && a.finishedAt !== null) durations.set(a.taskId, a.finishedAt - a.startedAt);

    const nodes: GraphNode[] = graph.order.map((id) => {
      const decision = decisions.get(id) ?? { state: 'missing' as const, reason: 'not decided' };
      const cost = spend.get(id);
      return {
        id,
        state: decision.state,
        reason: decision.reason,
        outputs: [...graph.outputs.get(id)!],
        durationMs: durations.get(id) ?? null,
        calls: cost?.calls ?? 0,
        inputTokens: cost?.inputTokens ?? 0,
        outputTokens: cost?.outputTokens ?? 0,
        costUsd: cost?.costUsd ?? 0,
      };
    });
    const edges = graph.order.flatMap((id) => graph.requires.get(id)!.map((dep) => ({ from: dep, to: id })));

    const format = args.json ? 'json' : args.format;
    if (format === 'json') printJson({ runId: run.id, nodes, edges });
    else process.stdout.write(format === 'dot' ? toDot(nodes, edges) : toMermaid(nodes, edges));
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

/** The second line of a node's label: state, then what it took when there is anything to say. */
function facts(node: GraphNode): string {
  const parts: string[] = [node.state];
  if (node.durationMs !== null) parts.push(formatDuration(node.durationMs));
  if (node.calls > 0) parts.push(plural(node.calls, 'call'), `${formatCount(node.inputTokens + node.outputTokens)} tok`, formatUsd(node.costUsd));
  return parts.join(' · ');
}

function toDot(nodes: readonly GraphNode[], edges: readonly { from: string; to: string }[]): string {
  const quote = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = ['digraph plan {', '  rankdir=LR;', '  node [shape=box, style="rounded,filled", fontname="Helvetica"];'];
  for (const node of nodes) {
    lines.push(`  ${quote(node.id)} [label=${quote(`${node.id}\n${facts(node)}`).replace(/\n/g, '\\n')}, fillcolor="${FILL[node.state]}"];`);
  }
  for (const edge of edges) lines.push(`  ${quote(edge.from)} -> ${quote(edge.to)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function toMermaid(nodes: readonly GraphNode[], edges: readonly { from: string; to: string }[]): string {
  // Mermaid ids must be plain words: number the nodes and put the task id in the label.
  const key = new Map(nodes.map((node, i) => [node.id, `t${i}`]));
  const escapeLabel = (text: string): string => text.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
  const lines = ['flowchart LR'];
  for (const node of nodes) lines.push(`  ${key.get(node.id)}["${escapeLabel(node.id)}<br/>${escapeLabel(facts(node))}"]:::${node.state}`);
  for (const edge of edges) lines.push(`  ${key.get(edge.from)} --> ${key.get(edge.to)}`);
  for (const [state, fill] of Object.entries(FILL)) lines.push(`  classDef ${state} fill:${fill},stroke:#555`);
  return `${lines.join('\n')}\n`;
}
