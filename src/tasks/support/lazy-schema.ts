import type { z, ZodType } from 'zod';
import { loadedZod, loadZod, type Zod } from '../../llm/zod.js';

export type { Zod };

/**
 * A zod schema built on first use, so that loading a task module neither imports zod nor builds its schemas:
 * planning the graph and deciding what is fresh (`plan status`, a no-op `plan build`) never needs them.
 *
 *     const assessmentSchema = lazySchema((z) => z.object({ … }));
 *     type Assessment = Infer<typeof assessmentSchema>;
 *
 * The builder gets the zod namespace (`z`) and runs once, on the first `resolve()` or `get()`. A schema made
 * of another lazy schema takes it with `get()` inside its builder (zod is loaded there). The task helpers
 * (`Transcript`, `OneCallTask`, `converse`, `runPerItem`'s transcripts, `readJson`) take a lazy schema or a
 * plain zod one and resolve it before use; the LLM layer only ever sees the built zod schema.
 */
export class LazySchema<S extends ZodType = ZodType> {
  #schema: S | undefined;
  #building = false;

  constructor(private readonly build: (z: Zod) => S) {}

  /** The schema, loading zod and building it if this is the first use. */
  async resolve(): Promise<S> {
    if (this.#schema !== undefined) return this.#schema;
    return this.#make(await loadZod());
  }

  /**
   * The schema, now: only once zod is loaded (inside a builder, or after `resolve()` or `loadZod()` anywhere).
   * Before that it throws rather than build anything half-way.
   */
  get(): S {
    if (this.#schema !== undefined) return this.#schema;
    const zod = loadedZod();
    if (zod === undefined) {
      throw new Error('a lazy schema was used before zod was loaded: await schema.resolve() (or loadZod()) first, or take it inside a builder');
    }
    return this.#make(zod);
  }

  #make(zod: Zod): S {
    if (this.#schema !== undefined) return this.#schema;
    if (this.#building) throw new Error('a lazy schema refers to itself while it is being built: use z.lazy(() => …) for a recursive schema');
    this.#building = true;
    try {
      this.#schema = this.build(zod);
    } finally {
      this.#building = false;
    }
    return this.#schema;
  }
}

/** A zod schema built on first use (see `LazySchema`). */
export function lazySchema<S extends ZodType>(build: (z: Zod) => S): LazySchema<S> {
  return new LazySchema(build);
}

/** What the task helpers accept as a schema: a plain zod schema, or a lazy one. */
export type SchemaLike<T> = ZodType<T> | LazySchema<ZodType<T>>;

/** The parsed type of a lazy (or plain) zod schema, as `z.infer` gives it for a plain one. */
export type Infer<S extends LazySchema | ZodType> = S extends LazySchema<infer Built> ? z.infer<Built> : S extends ZodType ? z.infer<S> : never;

/** The zod schema itself: a plain one as it is, a lazy one built (zod loaded first if needed). */
export function resolveSchema<T>(schema: SchemaLike<T>): Promise<ZodType<T>> {
  return schema instanceof LazySchema ? schema.resolve() : Promise.resolve(schema);
}
