import type { Store } from '../../store/store.js';
import type { ModelSpec } from '../model-spec.js';
import { poorerMode, type EndpointMode } from './response-format.js';

/**
 * What each endpoint (base URL + model) accepts, for one build: read from the store once per endpoint, then
 * from memory. A poorer mode the endpoint answered in after refusing a richer one is kept in both, so neither
 * later calls of the build nor later builds pay the same refusals again.
 */
export class EndpointModes {
  private readonly known = new Map<string, Promise<EndpointMode>>();

  /** The mode a JSON call on this endpoint starts in. */
  start(spec: ModelSpec, store: Store): Promise<EndpointMode> {
    // Offline has no endpoint: it builds its answer from the schema itself.
    if (spec.baseUrl === null) return Promise.resolve('json_schema');
    const key = endpointKey(spec);
    let mode = this.known.get(key);
    if (mode === undefined) {
      mode = store.getEndpointMode(spec.baseUrl, spec.model).then((stored) => stored ?? 'json_schema');
      // A failed read is not an answer: the next call reads again.
      mode.catch(() => this.known.delete(key));
      this.known.set(key, mode);
    }
    return mode;
  }

  /** The endpoint answered in `mode`: remember it when it is poorer than what was known. */
  async accepted(spec: ModelSpec, mode: EndpointMode, store: Store): Promise<void> {
    if (spec.baseUrl === null) return;
    const known = await this.start(spec, store);
    if (poorerMode(known, mode) === known) return;
    this.known.set(endpointKey(spec), Promise.resolve(mode));
    await store.saveEndpointMode(spec.baseUrl, spec.model, mode);
  }
}

function endpointKey(spec: ModelSpec): string {
  return `${spec.model}\n${spec.baseUrl}`;
}
