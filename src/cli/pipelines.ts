import { createRequire, register } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fs from 'node:fs';
import { UsageError } from '../engine/errors.js';
import type { Pipeline } from '../engine/pipeline.js';
import type { PackageBinding } from './package-binding-hooks.js';
import { checkedPackageSpec, isPackageSpec, resolvePipelinePackage } from './pipeline-package.js';

/** The built-in pipeline's name, as stored with a run. Any other value is a package (`npm:…`) or a module's path. */
export const PLAN_PIPELINE = 'plan';

/**
 * `plan` (the flagship pipeline), an installed package (`npm:name[/subpath]`, found from `from`'s node_modules)
 * or a JS module whose default or `pipeline` export is a Pipeline.
 */
export async function loadPipeline(spec: string, from: string = process.cwd()): Promise<Pipeline> {
  if (spec === PLAN_PIPELINE) {
    // Loaded only when used: a user pipeline does not pay for the plan pipeline's 63 task modules.
    const { planPipeline } = await import('../tasks/pipeline.js');
    return planPipeline as unknown as Pipeline;
  }
  const file = isPackageSpec(spec) ? resolvePipelinePackage(spec, from) : path.resolve(from, spec);
  if (!fs.existsSync(file)) throw new UsageError(`pipeline module ${spec} does not exist`);
  bindPackageName(file);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`cannot load pipeline module ${spec}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const candidate = (module.pipeline ?? module.default) as Partial<Pipeline> | undefined;
  if (typeof candidate?.roots !== 'function' || typeof candidate.name !== 'string') {
    throw new UsageError(`pipeline module ${spec} must export (as default or 'pipeline') an object { name, roots(params) }`);
  }
  return candidate as Pipeline;
}

let bound = false;

/**
 * Makes every later import of this package by name resolve to this very copy (see package-binding-hooks.ts),
 * so that a pipeline beside another installed copy gets this engine's Task and file(), not that copy's, which
 * this engine's `instanceof` does not recognise. Skipped when the name already resolves to this copy from the
 * pipeline's folder, the usual case: Node's hooks run on a thread of their own, ~40 ms at every start.
 */
function bindPackageName(pipelineFile: string): void {
  if (bound) return;
  const { name } = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string };
  if (resolvesToThisCopy(name, pipelineFile)) return;
  bound = true;
  register<PackageBinding>('./package-binding-hooks.js', import.meta.url, { data: { name, within: import.meta.url } });
}

function resolvesToThisCopy(name: string, fromFile: string): boolean {
  try {
    return createRequire(fromFile).resolve(name) === fileURLToPath(new URL('../index.js', import.meta.url));
  } catch {
    return false;
  }
}

/** What a run records as its pipeline: the built-in one's name, a package spec, or the absolute path of a module. */
export function pipelineSpecToStore(spec: string): string {
  if (spec === PLAN_PIPELINE) return spec;
  return isPackageSpec(spec) ? checkedPackageSpec(spec) : path.resolve(spec);
}
