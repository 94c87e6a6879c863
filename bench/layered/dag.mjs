// The shape of the standard layered DAG, shared by the plan pipeline, the floor and the peer build files.
// Plain functions, no engine import: the floor must not pay for loading the engine.
//
//   layer 0:  (0,0) (0,1) … (0,9)
//   layer l:  (l,i) requires (l-1,i) and (l-1,(i+1) mod 10)
//
// Task k of N is (layer, index) = (floor(k / 10), k mod 10). Each task writes one small text file: its
// name, then the first line of each input, one per line.

export const WIDTH = 10;

/** The engine's id of task (layer, index): `ClassName(key=value,…)` with the keys sorted. */
export function nodeName(layer, index) {
  return `Node(index=${index},layer=${layer})`;
}

/** The file task (layer, index) writes, relative to the run dir. */
export function nodeFile(layer, index) {
  return `L${layer}-${index}.txt`;
}

/** The (layer, index) pairs a task reads, in the order their first lines appear in its output. */
export function nodeInputs(layer, index) {
  return layer === 0
    ? []
    : [
        [layer - 1, index],
        [layer - 1, (index + 1) % WIDTH],
      ];
}

/** What task (layer, index) writes, given the text of its inputs. */
export function nodeContent(layer, index, inputTexts) {
  const lines = [nodeName(layer, index), ...inputTexts.map(firstLine)];
  return lines.map((line) => `${line}\n`).join('');
}

export function firstLine(text) {
  const end = text.indexOf('\n');
  return end === -1 ? text : text.slice(0, end);
}

/** Every task of an N-task DAG in a topological order (layer by layer), as [layer, index] pairs. */
export function* nodes(n) {
  for (let k = 0; k < n; k++) yield [Math.floor(k / WIDTH), k % WIDTH];
}

export function layerCount(n) {
  return Math.ceil(n / WIDTH);
}

/**
 * The tasks nothing requires: the last layer, plus (when the last layer is partial) the tasks of the layer
 * before that none of its members reads. Building these builds all N.
 */
export function sinks(n) {
  if (n <= 0) return [];
  const last = layerCount(n) - 1;
  const lastWidth = n - last * WIDTH;
  const result = [];
  for (let i = 0; i < lastWidth; i++) result.push([last, i]);
  if (last > 0 && lastWidth < WIDTH) {
    for (let i = lastWidth + 1; i < WIDTH; i++) result.push([last - 1, i]);
  }
  return result;
}

/** The tasks downstream of (layer, index) in an N-task DAG, not counting itself: what an edit of it re-runs. */
export function downstreamCone(n, layer, index) {
  const last = layerCount(n) - 1;
  let frontier = new Set([index]);
  let count = 0;
  for (let l = layer + 1; l <= last; l++) {
    const next = new Set();
    // (l, j) reads (l-1, j) and (l-1, j+1): it is downstream when either is.
    for (let j = 0; j < WIDTH; j++) {
      if (l * WIDTH + j >= n) break;
      if (frontier.has(j) || frontier.has((j + 1) % WIDTH)) next.add(j);
    }
    count += next.size;
    frontier = next;
    if (frontier.size === 0) break;
  }
  return count;
}
