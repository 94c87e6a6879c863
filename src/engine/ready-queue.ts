interface Entry<T> {
  item: T;
  priority: number;
  order: number;
}

/**
 * Tasks whose dependencies are all done, highest priority first. Priority is the length of the longest chain
 * of dependents, so the critical path starts first; ties keep topological order.
 *
 * Items are pushed into groups, one binary heap each: tasks of one resource class (see `resourceClass`) share a
 * group, so when a group's head cannot start because its pool is full, no task of that group can. A start then
 * looks at the head of each group, O(groups + log n), and never scans the waiting tasks, even with a pool full.
 */
export class ReadyQueue<T> {
  private readonly groups = new Map<string, BinaryHeap<T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(item: T, priority: number, order: number, group = ''): void {
    let heap = this.groups.get(group);
    if (heap === undefined) {
      heap = new BinaryHeap<T>();
      this.groups.set(group, heap);
    }
    heap.push({ item, priority, order });
    this.count++;
  }

  /**
   * Removes and returns the best group head that `accept` takes (e.g. whose resource pools have room).
   * `accept` is asked about each group head at most once, and not about a head behind one already accepted.
   * The item comes first so that a caller unaware of groups (`(item) => …`) keeps its meaning.
   */
  take(accept: (item: T, group: string) => boolean): T | undefined {
    let best: BinaryHeap<T> | undefined;
    for (const [group, heap] of this.groups) {
      const head = heap.peek();
      if (head === undefined || (best !== undefined && !precedes(head, best.peek()!))) continue;
      if (accept(head.item, group)) best = heap;
    }
    if (best === undefined) return undefined;
    this.count--;
    return best.pop().item;
  }
}

/**
 * The group of a task in the ready queue: its pools with their amounts, in name order ('' for none). Amounts
 * are part of it because whether a demand fits a pool depends on them; so tasks of one class fit or not together.
 */
export function resourceClass(demand: Readonly<Record<string, number>>): string {
  const pools = Object.keys(demand);
  if (pools.length === 0) return '';
  return pools
    .sort()
    .map((pool) => `${pool}=${demand[pool]}`)
    .join(',');
}

function precedes(a: Entry<unknown>, b: Entry<unknown>): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.order < b.order);
}

class BinaryHeap<T> {
  private readonly entries: Entry<T>[] = [];

  peek(): Entry<T> | undefined {
    return this.entries[0];
  }

  push(entry: Entry<T>): void {
    const entries = this.entries;
    entries.push(entry);
    let i = entries.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!precedes(entries[i]!, entries[parent]!)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the head; only called when the heap is not empty. */
  pop(): Entry<T> {
    const entries = this.entries;
    const head = entries[0]!;
    const last = entries.pop()!;
    if (entries.length === 0) return head;
    entries[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let best = i;
      if (left < entries.length && precedes(entries[left]!, entries[best]!)) best = left;
      if (right < entries.length && precedes(entries[right]!, entries[best]!)) best = right;
      if (best === i) return head;
      this.swap(i, best);
      i = best;
    }
  }

  private swap(i: number, j: number): void {
    [this.entries[i], this.entries[j]] = [this.entries[j]!, this.entries[i]!];
  }
}
