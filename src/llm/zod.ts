import type { z } from 'zod';

/**
 * zod, loaded on first need. Importing it costs ~45 ms (95 modules), which a command that only plans the task
 * graph (`plan status`, a no-op `plan build`) never needs: nothing in the LLM layer or the plan pipeline's task
 * modules imports zod at load time. Model calls and the tasks that parse files await `loadZod()`; after it
 * has resolved, `loadedZod()` returns the same namespace synchronously.
 */
export type Zod = typeof z;

let loaded: Zod | undefined;
let loading: Promise<Zod> | undefined;

/** The `z` namespace of zod (the one `import { z } from 'zod'` gives), imported once. */
export function loadZod(): Promise<Zod> {
  loading ??= import('zod').then((module) => {
    loaded = module.z;
    return loaded;
  });
  return loading;
}

/** zod if `loadZod()` has resolved in this process, else undefined. */
export function loadedZod(): Zod | undefined {
  return loaded;
}
