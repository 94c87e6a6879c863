/**
 * Model specs: how a user names a model on the command line or in config, e.g. `openai:gpt-4o-mini`.
 * A spec says where to send requests and which environment variable holds the key; the key itself is read
 * only when a request is made, so it never sits in a spec, a log line or the database.
 */

export type ProviderName = 'offline' | 'openai' | 'openrouter' | 'ollama' | 'openai-compatible';

export interface ModelSpec {
  /** The spec as written (normalised), e.g. `openai:gpt-4o-mini`; what interaction rows record as requested. */
  spec: string;
  provider: ProviderName;
  /** The model name sent to the provider (`offline` for the offline model). */
  model: string;
  /** Base URL of the OpenAI-compatible API, without a trailing slash; null for offline. */
  baseUrl: string | null;
  /** Name of the environment variable holding the API key; null when the provider needs none. */
  apiKeyEnv: string | null;
}

export interface ModelSpecOptions {
  /** Read the key from this variable instead of the provider's usual one. */
  apiKeyEnv?: string;
}

export const ACCEPTED_MODEL_SPECS = 'offline, openai:<model>, openrouter:<model>, ollama:<model>, openai-compatible:<model>@<base-url>';

export class ModelSpecError extends Error {
  constructor(spec: string, why: string) {
    // A URL with user:password must not be echoed back into logs.
    const shown = spec.replace(/\/\/[^/@\s]*@/g, '//***@');
    super(`bad model spec '${shown}': ${why}; accepted forms: ${ACCEPTED_MODEL_SPECS}`);
    this.name = 'ModelSpecError';
  }
}

const KNOWN: Record<Exclude<ProviderName, 'offline' | 'openai-compatible'>, { baseUrl: string; apiKeyEnv: string | null }> = {
  openai: { baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY' },
  openrouter: { baseUrl: 'https://openrouter.ai/api/v1', apiKeyEnv: 'OPENROUTER_API_KEY' },
  ollama: { baseUrl: 'http://127.0.0.1:11434/v1', apiKeyEnv: null },
};

/**
 * A dedicated variable for arbitrary servers: reusing OPENAI_API_KEY would send an OpenAI key to whatever
 * host the user typed.
 */
const COMPATIBLE_KEY_ENV = 'OPENAI_COMPATIBLE_API_KEY';

export function parseModelSpec(input: string = 'offline', options: ModelSpecOptions = {}): ModelSpec {
  const text = input.trim();
  if (text === '' || text === 'offline') {
    return { spec: 'offline', provider: 'offline', model: 'offline', baseUrl: null, apiKeyEnv: null };
  }
  const colon = text.indexOf(':');
  if (colon < 0) throw new ModelSpecError(text, 'missing provider prefix');
  const provider = text.slice(0, colon);
  const rest = text.slice(colon + 1).trim();
  if (rest === '') throw new ModelSpecError(text, 'missing model name');

  if (provider === 'openai-compatible') {
    // Split at the '@' that starts a URL: model names may contain '@', and so may a URL (user info).
    const url = /@[a-z][a-z0-9+.-]*:\/\//i.exec(rest);
    const at = url === null ? rest.lastIndexOf('@') : url.index;
    if (at <= 0) throw new ModelSpecError(text, 'openai-compatible needs <model>@<base-url>');
    const model = rest.slice(0, at);
    const baseUrl = normaliseBaseUrl(text, rest.slice(at + 1));
    return {
      spec: `openai-compatible:${model}@${baseUrl}`,
      provider,
      model,
      baseUrl,
      apiKeyEnv: options.apiKeyEnv ?? COMPATIBLE_KEY_ENV,
    };
  }
  if (provider === 'openai' || provider === 'openrouter' || provider === 'ollama') {
    const known = KNOWN[provider];
    return {
      spec: `${provider}:${rest}`,
      provider,
      model: rest,
      baseUrl: known.baseUrl,
      apiKeyEnv: options.apiKeyEnv ?? known.apiKeyEnv,
    };
  }
  throw new ModelSpecError(text, `unknown provider '${provider}'`);
}

/** Parses a fallback list: a comma-separated string or an array of specs. */
export function parseModelList(input: string | readonly string[], options: ModelSpecOptions = {}): ModelSpec[] {
  const parts = typeof input === 'string' ? input.split(',') : [...input];
  const specs = parts.map((p) => p.trim()).filter((p) => p !== '');
  return (specs.length === 0 ? ['offline'] : specs).map((s) => parseModelSpec(s, options));
}

/**
 * A key belongs to one server. The first key variable that is set and that models on two different base URLs
 * would both read (the default OPENAI_COMPATIBLE_API_KEY with two servers, one variable configured for two
 * providers), with those URLs; null when every key goes to one server only.
 */
export function sharedKeyVariable(
  specs: readonly ModelSpec[],
  env: Readonly<Record<string, string | undefined>>,
): { variable: string; baseUrls: string[] } | null {
  const urlsByVariable = new Map<string, Set<string>>();
  for (const spec of specs) {
    if (spec.apiKeyEnv === null || spec.baseUrl === null || (env[spec.apiKeyEnv] ?? '').trim() === '') continue;
    const urls = urlsByVariable.get(spec.apiKeyEnv) ?? new Set<string>();
    urls.add(spec.baseUrl);
    urlsByVariable.set(spec.apiKeyEnv, urls);
  }
  for (const [variable, urls] of urlsByVariable) if (urls.size > 1) return { variable, baseUrls: [...urls] };
  return null;
}

function normaliseBaseUrl(spec: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ModelSpecError(spec, `'${raw}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ModelSpecError(spec, 'base URL must be http or https');
  }
  if (url.username !== '' || url.password !== '') {
    // A key in the URL would end up in every interaction row; keys belong in the environment.
    throw new ModelSpecError(spec, 'put credentials in an environment variable, not in the URL');
  }
  return url.toString().replace(/\/+$/, '');
}
