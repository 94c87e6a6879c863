import { describe, expect, it } from 'vitest';
import { planGraph, findCycles } from '../../src/engine/graph.js';
import { GraphError } from '../../src/engine/errors.js';
import { Task } from '../../src/engine/task.js';
import { file, type Outputs } from '../../src/engine/target.js';

/** A task whose dependencies and outputs are given by name, looked up in a shared table. */
class Node extends Task<object, { name: string }> {
  static table: Record<string, { deps: string[]; out: string[] }> = {};
  requires(): Task[] {
    return Node.table[this.params.name]!.deps.map((name) => new Node({ name }));
  }
  output(): Outputs {
    return Object.fromEntries(Node.table[this.params.name]!.out.map((p, i) => [String(i), file(p)]));
  }
  async run(): Promise<void> {}
}

function graphOf(table: Record<string, { deps: string[]; out: string[] }>, root: string) {
  Node.table = table;
  return planGraph([new Node({ name: root })]);
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof GraphError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a GraphError');
}

describe('planGraph', () => {
  it('builds the graphology graph of the plan on demand, one edge per dependency', () => {
    const graph = graphOf(
      { c: { deps: ['a', 'b'], out: ['c.txt'] }, b: { deps: ['a'], out: ['b.txt'] }, a: { deps: [], out: ['a.txt'] } },
      'c',
    ).graph;
    expect(graph.type).toBe('directed');
    expect(graph.order).toBe(3);
    expect(graph.size).toBe(3);
    expect(graph.hasDirectedEdge('Node(name=a)', 'Node(name=b)')).toBe(true);
    expect(graph.hasDirectedEdge('Node(name=b)', 'Node(name=c)')).toBe(true);
    expect(graph.hasDirectedEdge('Node(name=c)', 'Node(name=a)')).toBe(false);
  });

  it('orders dependencies before dependents, deterministically', () => {
    const table = {
      d: { deps: ['b', 'c'], out: ['d.txt'] },
      b: { deps: ['a'], out: ['b.txt'] },
      c: { deps: ['a'], out: ['c.txt'] },
      a: { deps: [], out: ['a.txt'] },
    };
    const first = graphOf(table, 'd');
    expect(first.order).toEqual(['Node(name=a)', 'Node(name=b)', 'Node(name=c)', 'Node(name=d)']);
    expect(graphOf(table, 'd').order).toEqual(first.order);
    expect(first.dependents.get('Node(name=a)')).toEqual(['Node(name=b)', 'Node(name=c)']);
    expect(first.ownerOf.get('c.txt')).toBe('Node(name=c)');
  });

  it('reports every cycle with its path, and every bad output, together', () => {
    const problems = problemsOf(() =>
      graphOf(
        {
          root: { deps: ['x', 'p'], out: ['root.txt'] },
          x: { deps: ['y'], out: ['/etc/passwd'] },
          y: { deps: ['x'], out: ['y.txt'] },
          p: { deps: ['q'], out: ['../up.txt'] },
          q: { deps: ['q'], out: ['root.txt'] },
        },
        'root',
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        "Node(name=x): output '/etc/passwd' is absolute",
        "Node(name=p): output '../up.txt' escapes the run directory",
        'cycle: Node(name=x) → Node(name=y) → Node(name=x)',
        'cycle: Node(name=q) → Node(name=q)',
      ]),
    );
    expect(problems.some((p) => p.includes("'root.txt' is also an output of"))).toBe(true);
    expect(problems).toHaveLength(5);
  });

  it('walks a 20,000-task chain without overflowing the stack', () => {
    const table: Record<string, { deps: string[]; out: string[] }> = {};
    for (let i = 0; i < 20_000; i++) table[`n${i}`] = { deps: i === 0 ? [] : [`n${i - 1}`], out: [`f${i}.txt`] };
    const graph = graphOf(table, 'n19999');
    expect(graph.order).toHaveLength(20_000);
    expect(graph.order[0]).toBe('Node(name=n0)');
  });
});

describe('findCycles', () => {
  it('finds one closed path per strongly connected component', () => {
    const requires = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
      ['e', ['e']],
    ]);
    expect(findCycles(requires)).toEqual([
      ['a', 'b', 'c', 'a'],
      ['e', 'e'],
    ]);
  });

  it('finds none in a DAG', () => {
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
    ).toEqual([]);
  });
});
