/**
 * Named pools with capacities (e.g. `{ gpu: 1, llm: 4 }`). A task holds what its `resources` declare while it
 * runs. A pool nobody configured is unbounded; a task asking more than a pool's capacity runs alone in it.
 */
export class ResourcePools {
  private readonly inUse = new Map<string, number>();

  constructor(private readonly capacities: Readonly<Record<string, number>>) {}

  fits(demand: Readonly<Record<string, number>>): boolean {
    for (const [pool, amount] of Object.entries(demand)) {
      const capacity = this.capacities[pool];
      if (capacity === undefined) continue;
      const used = this.inUse.get(pool) ?? 0;
      if (used > 0 && used + amount > capacity) return false;
    }
    return true;
  }

  take(demand: Readonly<Record<string, number>>): void {
    for (const [pool, amount] of Object.entries(demand)) this.inUse.set(pool, (this.inUse.get(pool) ?? 0) + amount);
  }

  release(demand: Readonly<Record<string, number>>): void {
    for (const [pool, amount] of Object.entries(demand)) this.inUse.set(pool, (this.inUse.get(pool) ?? 0) - amount);
  }
}
