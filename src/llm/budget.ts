import { BudgetExceededError } from './errors.js';

/**
 * `--max-cost`: one tracker for the whole build. It counts what was spent (including calls this run already
 * paid for before a resume, passed in at start) plus what calls in flight are expected to cost, and refuses a
 * new call that could push the total past the limit. Once it refuses, it keeps refusing: the build is stopping
 * (`stopped: budget`), and letting small calls slip through afterwards would make that stop unpredictable.
 */

export interface Reservation {
  /** The call ended: replace its estimate with what it actually cost (null when the price is unknown). */
  settle(actualUsd: number | null): void;
}

export class CostBudget {
  private spent: number;
  private inFlight = 0;
  private refused = false;

  constructor(
    readonly maxUsd: number | null,
    initialSpentUsd = 0,
  ) {
    this.spent = initialSpentUsd;
  }

  get spentUsd(): number {
    return this.spent;
  }

  get inFlightUsd(): number {
    return this.inFlight;
  }

  /** True once a call was refused: the signal for the build to stop with `stopped: budget`. */
  get exhausted(): boolean {
    return this.refused;
  }

  reserve(estimateUsd: number): Reservation {
    const estimate = Math.max(0, estimateUsd);
    if (this.maxUsd !== null && (this.refused || this.spent + this.inFlight + estimate > this.maxUsd)) {
      this.refused = true;
      throw new BudgetExceededError(
        `cost budget of $${this.maxUsd.toFixed(4)} reached: spent $${this.spent.toFixed(4)}, ` +
          `in flight $${this.inFlight.toFixed(4)}, next call estimated at $${estimate.toFixed(4)}`,
      );
    }
    this.inFlight += estimate;
    let settled = false;
    return {
      settle: (actualUsd) => {
        if (settled) return;
        settled = true;
        this.inFlight = Math.max(0, this.inFlight - estimate);
        this.spent += actualUsd ?? 0;
      },
    };
  }
}
