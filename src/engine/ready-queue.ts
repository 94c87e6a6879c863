/**
 * Tasks whose dependencies are all done, highest priority first (a binary heap: O(log n) per step, never a
 * scan of all pending tasks). Priority is the length of the longest chain of dependents, so the critical
 * path starts first; ties keep topological order.
 */
export class ReadyQueue<T> {
  private readonly heap: { item: T; priority: number; order: number }[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(item: T, priority: number, order: number): void {
    this.heap.push({ item, priority, order });
    let i = this.heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes and returns the best item that `accept` takes (e.g. whose resource pools have room). */
  take(accept: (item: T) => boolean): T | undefined {
    if (this.heap.length === 0) return undefined;
    if (accept(this.heap[0]!.item)) return this.removeAt(0);
    // Rare path (a resource pool is full): look further, in priority order.
    const candidates = this.heap.map((entry, index) => ({ entry, index })).sort((a, b) => this.compare(a.entry, b.entry));
    const found = candidates.find(({ entry }) => accept(entry.item));
    return found ? this.removeAt(found.index) : undefined;
  }

  private removeAt(index: number): T {
    const removed = this.heap[index]!;
    const last = this.heap.pop()!;
    if (index < this.heap.length) {
      this.heap[index] = last;
      this.siftDown(index);
      let i = index;
      while (i > 0 && this.before(i, (i - 1) >> 1)) {
        this.swap(i, (i - 1) >> 1);
        i = (i - 1) >> 1;
      }
    }
    return removed.item;
  }

  private siftDown(start: number): void {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let best = i;
      if (left < this.heap.length && this.before(left, best)) best = left;
      if (right < this.heap.length && this.before(right, best)) best = right;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }

  private compare(a: { priority: number; order: number }, b: { priority: number; order: number }): number {
    return b.priority - a.priority || a.order - b.order;
  }

  private before(i: number, j: number): boolean {
    return this.compare(this.heap[i]!, this.heap[j]!) < 0;
  }

  private swap(i: number, j: number): void {
    [this.heap[i], this.heap[j]] = [this.heap[j]!, this.heap[i]!];
  }
}
