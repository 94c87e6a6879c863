import { describe, expect, it } from 'vitest';
import type { GraphTask } from '../../src/ui/engine-callbacks.js';
import { layoutGraph } from '../../src/ui/layout.js';
import { collapsedStages, collapseGraph, stagesOf, stageState, stateSummary } from '../../src/ui/stages.js';

/**
 * Collapsing a graph by stage (src/ui/stages.ts), on its own: the units and their order, the aggregated edges,
 * stages that cut across each other (a cycle between stages), a stage named like a task, the state a stage
 * shows, and the layout of a big collapsed graph.
 */

const task = (id: string, requires: string[], stage?: string): GraphTask =>
  stage === undefined ? { id, requires, outputs: [] } : { id, requires, outputs: [], stage };

describe('collapsing a graph by stage', () => {
  it('lists stages dependencies first, whatever order their tasks come in; none when no task has one', () => {
    // Review's first task comes before Team's in the graph order, but another task of Review needs Team's.
    const tasks = [task('R1', [], 'Review'), task('T1', [], 'Team'), task('R2', ['T1', 'R1'], 'Review'), task('T2', ['T1'], 'Team')];
    expect(stagesOf(tasks)).toEqual([
      { name: 'Team', tasks: 2 },
      { name: 'Review', tasks: 2 },
    ]);
    expect(stagesOf([task('A', []), task('B', ['A'])])).toEqual([]);
    expect(collapsedStages(['all'], stagesOf(tasks))).toEqual(new Set(['Team', 'Review']));
    expect(collapsedStages(['Team', 'Nope'], stagesOf(tasks))).toEqual(new Set(['Team']));
  });

  it('makes each collapsed stage one unit standing for its tasks; tasks outside stay; edges aggregated with their counts', () => {
    const tasks = [task('A1', [], 'A'), task('A2', ['A1'], 'A'), task('X', ['A1']), task('B1', ['A2', 'X'], 'B'), task('B2', ['A1', 'A2'], 'B')];
    const all = collapseGraph(tasks, new Set(['A', 'B']));
    expect(all.units.map((u) => [u.id, u.requires, u.stage])).toEqual([
      ['stage:A', [], 'A'],
      ['X', ['stage:A'], undefined],
      ['stage:B', ['stage:A', 'X'], 'B'],
    ]);
    expect(all.members.get('stage:A')).toEqual(['A1', 'A2']);
    expect(all.members.get('X')).toEqual(['X']);
    expect(all.edges).toEqual([
      { from: 'stage:A', to: 'X', count: 1 },
      { from: 'stage:A', to: 'stage:B', count: 3 },
      { from: 'X', to: 'stage:B', count: 1 },
    ]);
    expect(all.backEdges).toEqual([]);
    // Nothing collapsed: the graph as it is.
    const none = collapseGraph(tasks, new Set());
    expect(none.units.map((u) => [u.id, u.requires])).toEqual(tasks.map((t) => [t.id, t.requires]));
  });

  it('stages that cut across each other (a cycle between them) are ordered anyway; the edge against the order is kept apart', () => {
    // S1 → T1 → S2: collapsing S and T makes S → T → S.
    const tasks = [task('S1', [], 'S'), task('T1', ['S1'], 'T'), task('S2', ['T1'], 'S')];
    const graph = collapseGraph(tasks, new Set(['S', 'T']));
    expect(graph.units.map((u) => u.id)).toEqual(['stage:S', 'stage:T']);
    expect(graph.edges).toEqual([
      { from: 'stage:T', to: 'stage:S', count: 1 },
      { from: 'stage:S', to: 'stage:T', count: 1 },
    ]);
    expect(graph.backEdges).toEqual([{ from: 'stage:T', to: 'stage:S' }]);
    expect(graph.units.find((u) => u.id === 'stage:S')!.requires).toEqual([]);
    const laid = layoutGraph(graph.units);
    expect(laid.nodes['stage:S']!.x).toBeLessThan(laid.nodes['stage:T']!.x);
  });

  it('a stage named like a task gets a node id of its own', () => {
    const tasks = [task('stage:Q', []), task('Q1', ['stage:Q'], 'Q')];
    const graph = collapseGraph(tasks, new Set(['Q']));
    expect(graph.units.map((u) => u.id)).toEqual(['stage:Q', 'stage:stage:Q']);
    expect(graph.stageOfUnit.get('stage:stage:Q')).toBe('Q');
  });

  it('a stage shows the most pressing of its tasks’ states (running first), else fresh; its states counted in the legend’s order', () => {
    expect(stageState(['fresh', 'running', 'failed'])).toBe('running');
    expect(stageState(['fresh', 'stale', 'failed'])).toBe('failed');
    expect(stageState(['fresh', 'missing', 'blocked'])).toBe('blocked');
    expect(stageState(['fresh', 'pinned'])).toBe('fresh');
    expect(stageState(['pinned', 'pinned'])).toBe('pinned');
    expect(stateSummary({ running: 1, fresh: 5 })).toBe('5 fresh · 1 running');
    expect(stateSummary({ cancelled: 2, missing: 1, stale: 0 })).toBe('1 missing · 2 cancelled');
  });

  it('a big graph collapsed in part is laid out by the layered layout, every unit placed', () => {
    // 1,000 tasks in 100 layers of 10, each layer a stage, each task needing two of the layer before.
    const tasks: GraphTask[] = [];
    for (let layer = 0; layer < 100; layer++) {
      for (let i = 0; i < 10; i++) {
        const requires = layer === 0 ? [] : [`N${layer - 1}.${i}`, `N${layer - 1}.${(i + 1) % 10}`];
        tasks.push(task(`N${layer}.${i}`, requires, `Layer ${layer}`));
      }
    }
    expect(stagesOf(tasks)).toHaveLength(100);
    // Every other layer collapsed: 50 stage units and 500 tasks.
    const half = new Set(Array.from({ length: 50 }, (_, k) => `Layer ${2 * k}`));
    const graph = collapseGraph(tasks, half);
    expect(graph.units).toHaveLength(550);
    expect(graph.backEdges).toEqual([]);
    const laid = layoutGraph(graph.units);
    expect(laid.method).toBe('layered');
    for (const unit of graph.units) {
      expect(Number.isFinite(laid.nodes[unit.id]!.x)).toBe(true);
      expect(Number.isFinite(laid.nodes[unit.id]!.y)).toBe(true);
    }
    // The whole graph collapsed: 100 stages in a line, laid out by dagre.
    const all = collapseGraph(tasks, new Set(stagesOf(tasks).map((s) => s.name)));
    expect(all.units).toHaveLength(100);
    expect(all.edges.every((e) => e.count === 20)).toBe(true);
    expect(layoutGraph(all.units).method).toBe('dagre');
  });
});
