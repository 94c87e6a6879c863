import { describe, expect, it } from 'vitest';
import { CostBudget } from '../../src/llm/budget.js';
import { BudgetExceededError } from '../../src/llm/errors.js';

describe('CostBudget', () => {
  it('never refuses without a limit', () => {
    const budget = new CostBudget(null);
    budget.reserve(1e9).settle(1e9);
    expect(budget.spentUsd).toBe(1e9);
    expect(budget.exhausted).toBe(false);
  });

  it('counts the initial spend, in-flight estimates and settled costs', () => {
    const budget = new CostBudget(1, 0.5);
    const a = budget.reserve(0.2);
    const b = budget.reserve(0.2);
    expect(budget.inFlightUsd).toBeCloseTo(0.4);
    expect(() => budget.reserve(0.2)).toThrow(BudgetExceededError);
    a.settle(0.05);
    b.settle(null);
    expect(budget.inFlightUsd).toBe(0);
    expect(budget.spentUsd).toBeCloseTo(0.55);
  });

  it('keeps refusing once it refused, so the build stops predictably', () => {
    const budget = new CostBudget(1);
    expect(() => budget.reserve(2)).toThrow(/cost budget of \$1\.0000 reached/);
    expect(budget.exhausted).toBe(true);
    expect(() => budget.reserve(0)).toThrow(BudgetExceededError);
  });

  it('settles a reservation only once', () => {
    const budget = new CostBudget(10);
    const r = budget.reserve(1);
    r.settle(1);
    r.settle(1);
    expect(budget.spentUsd).toBe(1);
  });

  it('refuses with a non-retryable budget_exceeded error', () => {
    const budget = new CostBudget(0.01, 0.01);
    try {
      budget.reserve(0.001);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(BudgetExceededError);
      expect((error as BudgetExceededError).errorClass).toBe('budget_exceeded');
      expect((error as BudgetExceededError).retryable).toBe(false);
    }
  });
});
