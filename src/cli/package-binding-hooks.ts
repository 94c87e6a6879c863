import type { InitializeHook, ResolveHook } from 'node:module';

/**
 * Module resolution hooks for pipeline modules, registered by `loadPipeline` (Node runs them on its hooks
 * thread). An import of this package by name, from any module anywhere, resolves the way the running copy
 * resolves its own name (a self-reference, through its `exports`): a pipeline's `Task`, `file` and `z` are
 * then the ones of the engine that builds it, whatever other copies of the package are installed beside it.
 */
export interface PackageBinding {
  /** The package's name, as its package.json says. */
  name: string;
  /** The URL of a module inside the running copy: resolving from it is a self-reference. */
  within: string;
}

let binding: PackageBinding | undefined;

export const initialize: InitializeHook<PackageBinding> = (data) => {
  binding = data;
};

export const resolve: ResolveHook = (specifier, context, nextResolve) => {
  const ours = binding !== undefined && (specifier === binding.name || specifier.startsWith(`${binding.name}/`));
  return nextResolve(specifier, ours ? { ...context, parentURL: binding!.within } : context);
};
