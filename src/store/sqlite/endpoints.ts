import type { EndpointMode } from '../store.js';
import { withoutCredentials } from '../url-credentials.js';
import type { SqliteContext } from './context.js';

/** `endpoint_modes`: the structured-output mode each model endpoint accepts, as the LLM layer learned it. */
export class Endpoints {
  constructor(private readonly context: SqliteContext) {}

  async getEndpointMode(baseUrl: string, model: string): Promise<EndpointMode | null> {
    const mode = this.context
      .sql('SELECT mode FROM endpoint_modes WHERE base_url = ? AND model = ?')
      .pluck()
      .get(withoutCredentials(baseUrl), model) as EndpointMode | undefined;
    return mode ?? null;
  }

  async saveEndpointMode(baseUrl: string, model: string, mode: EndpointMode): Promise<void> {
    await this.context.write(() =>
      this.context
        .sql(
          `INSERT INTO endpoint_modes (base_url, model, mode, learned_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (base_url, model) DO UPDATE SET mode = excluded.mode, learned_at = excluded.learned_at`,
        )
        .run(withoutCredentials(baseUrl), model, mode, Date.now()),
    );
  }
}
