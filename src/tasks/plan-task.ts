import { Task, type ParamValue, type TaskParams } from '../engine/task.js';
import type { FileTarget } from '../engine/target.js';
import type { TaskContext } from '../engine/context.js';
import type { LlmServices } from '../llm/types.js';

export type Speed = 'fast' | 'full';

/**
 * How the review tail asks its fixed questions: `sequential`, one growing conversation per task (each turn
 * re-sends the plan and every earlier answer), as every run made before the option; `parallel`, each question
 * its own call on the same base context with the documents it needs, all in flight at once.
 */
export type Conversations = 'sequential' | 'parallel';

/** What one plan run is built from. One instance of every plan task per run, so it is not part of task ids. */
export interface PlanConfig {
  readonly prompt: string;
  readonly speed: Speed;
  /** ISO timestamp of when the plan was started; the schedule starts on its date. */
  readonly startTime: string;
  /** Absent (a run made before the option existed): sequential. */
  readonly conversations?: Conversations;
}

/** Choices of one build, handed to tasks with the services; no stamp includes them. */
export interface PlanBuildChoices {
  /** `plan build --allow-refused`: go on with a plan the safety gate refused. */
  readonly allowRefused?: boolean;
}

/** What a plan task sees while it runs: the engine's context with the LLM services and the build's choices merged in. */
export type PlanContext = TaskContext & LlmServices & PlanBuildChoices;

export type PlanTaskClass = new (config: PlanConfig) => PlanTask;

/**
 * Base of every task of the plan pipeline. The id is the class name (no params); what makes a task stale
 * besides its inputs is declared by `stampParams()`: the speed for tasks whose fast mode differs, and
 * `conversations: parallel` for the tasks that mode changes.
 */
export abstract class PlanTask extends Task<LlmServices> {
  /** True for tasks that cap items or turns in fast mode (their output depends on the speed). */
  readonly usesSpeed: boolean = false;
  /** True for tasks whose requests (and inputs) `--conversations parallel` changes. */
  readonly usesConversations: boolean = false;

  constructor(readonly config: PlanConfig) {
    super();
  }

  abstract override output(): Record<string, FileTarget>;

  abstract override run(ctx: PlanContext): Promise<void>;

  override requires(): readonly PlanTask[] {
    return [];
  }

  override stampParams(): TaskParams {
    const params: Record<string, ParamValue> = {};
    if (this.usesSpeed) params.speed = this.config.speed;
    // Only `parallel` is stamped: a sequential task keeps the stamp it had before the option existed, so no
    // run built then becomes stale, and switching a run's mode makes exactly these tasks stale.
    if (this.usesConversations && this.parallel) params.conversations = 'parallel';
    return params;
  }

  /** `--conversations parallel`: ask the fixed questions of a conversation each on its own call. */
  protected get parallel(): boolean {
    return this.config.conversations === 'parallel';
  }

  /** The required tasks, built with this run's config. */
  protected need(...classes: PlanTaskClass[]): PlanTask[] {
    return classes.map((TaskClass) => new TaskClass(this.config));
  }

  /** One required task, typed, to read its outputs: `this.dep(PlanTypeTask).output().raw`. */
  protected dep<C extends PlanTaskClass>(TaskClass: C): InstanceType<C> {
    return new TaskClass(this.config) as InstanceType<C>;
  }

  /**
   * The files later prompts read from this task: its markdown, else its text or clean JSON, else its raw
   * JSON (of which only the response is read).
   */
  docTargets(): FileTarget[] {
    const targets = Object.values(this.output());
    const pick = (test: (p: string) => boolean): FileTarget[] => targets.filter((t) => test(t.path));
    for (const test of [
      (p: string) => p.endsWith('.md'),
      (p: string) => p.endsWith('.txt'),
      (p: string) => p.endsWith('.json') && !p.endsWith('_raw.json'),
    ]) {
      const found = pick(test);
      if (found.length > 0) return found;
    }
    return pick((p) => p.endsWith('_raw.json'));
  }
}
