// The standard layered DAG as an ordinary plan pipeline: the benchmark of the engine's own overhead, and an
// example of a pipeline written against the public engine API alone.
//
//   L0-0 L0-1 … L0-9          layer 0: ten tasks that read nothing
//     │ ╲  │ ╲     │ ╲
//   L1-0 L1-1 … L1-9          task (l, i) reads (l-1, i) and (l-1, (i+1) mod 10)
//     ⋮
//
// Each task writes one small file: its name, then the first line of each input. Build it with
//   node bench/layered.js build runs/layered --n 10000
// or, as any user pipeline, with the CLI:
//   npx plan build runs/layered --pipeline bench/layered/pipeline.mjs --param n=10000
import { Task, file } from '../../dist/index.js';
import { firstLine, nodeFile, nodeInputs, sinks } from './dag.mjs';

export class Node extends Task {
  constructor(layer, index) {
    super({ layer, index });
  }

  requires() {
    return nodeInputs(this.params.layer, this.params.index).map(([layer, index]) => new Node(layer, index));
  }

  output() {
    return file(nodeFile(this.params.layer, this.params.index));
  }

  async run(ctx) {
    const inputs = await Promise.all(this.requires().map((task) => ctx.read(task.output())));
    const lines = [this.id, ...inputs.map(firstLine)];
    ctx.write(this.output(), lines.map((line) => `${line}\n`).join(''));
  }
}

export const pipeline = {
  name: 'layered',
  /** `n`: how many tasks (a run parameter, so it arrives as a string from `--param n=…`). */
  roots(params) {
    const n = Number(params.n);
    if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a whole number ≥ 1 (got ${String(params.n)})`);
    return sinks(n).map(([layer, index]) => new Node(layer, index));
  },
};
