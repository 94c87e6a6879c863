import type { Task } from './task.js';

/**
 * A pipeline: how to make a run's root tasks from the run's parameters (as stored with the run, e.g. the
 * prompt). `plan build --pipeline <module>` loads one whose default export (or `pipeline` export) is this.
 */
export interface Pipeline<S extends object = object> {
  readonly name: string;
  roots(params: Readonly<Record<string, unknown>>): Task<S>[];
}
