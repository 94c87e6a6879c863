// What every file of an N-task layered DAG must hold after a build, computed directly (no build tool):
// the yardstick the benchmark checks each tool's output against.
import { nodeContent, nodeFile, nodeInputs, nodes } from './dag.mjs';

/**
 * File name → content. `overrides` (file name → content) stands for files edited by hand: they keep the edited
 * content and everything downstream is computed from it.
 */
export function expectedContents(n, overrides = {}) {
  const contents = new Map();
  for (const [layer, index] of nodes(n)) {
    const file = nodeFile(layer, index);
    if (file in overrides) {
      contents.set(file, overrides[file]);
      continue;
    }
    const inputs = nodeInputs(layer, index).map(([l, i]) => contents.get(nodeFile(l, i)));
    contents.set(file, nodeContent(layer, index, inputs));
  }
  return contents;
}
