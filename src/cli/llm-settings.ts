import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../engine/errors.js';
import { ModelSpecError, parseModelSpec, priceFor, type ModelSpec, type Price, type PriceTable, type ProviderName } from '../llm/index.js';
import { sharedKeyVariable } from '../llm/model-spec.js';
import type { RunSettings } from './run-settings.js';

/**
 * Model settings from four places, strongest first: command-line flags, the settings the run was last built
 * with, the config file (`plan.config.json` in the working dir, or `--config F`), defaults. API keys come only
 * from the environment (and a `.env` file in the working dir, which never overrides a variable already set).
 */
export interface LlmSettings {
  models: ModelSpec[];
  speed: 'fast' | 'full' | undefined;
  maxCostUsd: number | null;
  llmConcurrency: number;
  requestsPerMinute: number | undefined;
  tokensPerMinute: number | undefined;
  timeoutMs: number;
  prices: PriceTable;
  /** Worth a line on stderr before the build starts (never a key's value). */
  warnings: string[];
  /** What to keep with the run, so that its next build goes on with the same. */
  settings: RunSettings;
}

export interface LlmFlags {
  model?: string[];
  speed?: string;
  maxCost?: number;
  llmConcurrency?: number;
  /** `IN,OUT`: USD per million input and output tokens, for the models that have no price of their own. */
  price?: string;
  config?: string;
}

interface ConfigFile {
  models?: string[];
  speed?: string;
  maxCost?: number;
  llmConcurrency?: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  timeoutSeconds?: number;
  /** By model spec, or by model name as the server answers. */
  prices?: Record<string, Price>;
  /**
   * Which environment variable holds the key, by model spec or by provider (`openrouter`); a spec wins over
   * its provider. A plain string is the older form: the variable for openai-compatible models only.
   */
  apiKeyEnv?: string | Record<string, string>;
}

export const CONFIG_FILE = 'plan.config.json';

export function resolveLlmSettings(flags: LlmFlags, cwd: string = process.cwd(), run: RunSettings | null = null): LlmSettings {
  loadDotEnv(cwd);
  const config = readConfig(flags.config, cwd);
  // A run goes on with the models, budget and concurrency it was built with, not the config file's or the
  // defaults: a resumed run never drops to the offline model unasked.
  const specs = flags.model?.length ? flags.model : (run?.models ?? config.models ?? ['offline']);
  const keyVariables = keyVariablesOf(config.apiKeyEnv);
  const models = specs.map((text) => {
    const spec = parseSpec(text);
    const variable = keyVariables.get(spec.spec) ?? keyVariables.get(spec.provider);
    return variable === undefined ? spec : { ...spec, apiKeyEnv: variable };
  });
  // One variable for two servers may be meant (one gateway, two paths), but it is the one way a key can
  // reach a host it was not made for: say so, and how to keep each key with its server.
  const shared = sharedKeyVariable(models, process.env);
  const warnings =
    shared === null
      ? []
      : [
          `${shared.variable} goes to ${shared.baseUrls.length} servers (${shared.baseUrls.join(', ')}); to keep each key with its server, ` +
            `name one variable per model in ${CONFIG_FILE}: "apiKeyEnv": { "<model spec>": "MY_KEY" }`,
        ];
  const speed = flags.speed ?? config.speed;
  if (speed !== undefined && speed !== 'fast' && speed !== 'full') throw new UsageError(`--speed must be fast or full (got '${speed}')`);
  const maxCost = flags.maxCost ?? (run === null ? config.maxCost : (run.maxCostUsd ?? undefined));
  if (maxCost !== undefined && !(Number.isFinite(maxCost) && maxCost >= 0))
    throw new UsageError(`--max-cost must be a number of USD ≥ 0 (got ${maxCost})`);
  const llmConcurrency = flags.llmConcurrency ?? run?.llmConcurrency ?? config.llmConcurrency ?? defaultConcurrency(models);
  if (!Number.isInteger(llmConcurrency) || llmConcurrency < 1)
    throw new UsageError(`--llm-concurrency must be a whole number ≥ 1 (got ${llmConcurrency})`);
  const { prices, given } = pricesFor(models, config.prices ?? {}, flags.price, run?.prices ?? {});
  const unpriced = models.filter((model) => priceFor(model, prices) === null).map((model) => model.spec);
  if (maxCost !== undefined && unpriced.length > 0) {
    throw new UsageError(
      `--max-cost needs to know what ${unpriced.join(', ')} costs: give --price IN,OUT (USD per million input,output tokens) ` +
        `or "prices": { "${unpriced[0]}": { "inputPerM": …, "outputPerM": … } } in ${CONFIG_FILE}`,
    );
  }
  return {
    models,
    speed,
    maxCostUsd: maxCost ?? null,
    llmConcurrency,
    requestsPerMinute: positive(config.requestsPerMinute, 'requestsPerMinute'),
    tokensPerMinute: positive(config.tokensPerMinute, 'tokensPerMinute'),
    timeoutMs: (positive(config.timeoutSeconds, 'timeoutSeconds') ?? 120) * 1_000,
    prices,
    warnings,
    settings: { models: models.map((model) => model.spec), llmConcurrency, maxCostUsd: maxCost ?? null, prices: given },
  };
}

/**
 * Model calls at once per provider when nothing says: 8 — a whole plan's review tail asks up to 20 questions at
 * once, and a hosted API takes that (its rate limits answer 429s, which are waited out) — but 4 when a model is a
 * local ollama, which by default answers one request at a time, so that queued calls do not run into the per-try
 * timeout. A run keeps the number it was created with.
 */
export function defaultConcurrency(models: readonly ModelSpec[]): number {
  return models.some((model) => model.provider === 'ollama') ? 4 : 8;
}

function parseSpec(text: string): ModelSpec {
  try {
    return parseModelSpec(text);
  } catch (error) {
    if (error instanceof ModelSpecError) throw new UsageError(error.message);
    throw error;
  }
}

const PROVIDERS: readonly ProviderName[] = ['openai', 'openrouter', 'ollama', 'openai-compatible'];
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Key variables by normalised model spec or provider name. */
function keyVariablesOf(setting: ConfigFile['apiKeyEnv']): Map<string, string> {
  if (setting === undefined) return new Map();
  // The single-variable form names the key of self-hosted servers; OpenAI and OpenRouter keep their own, so it never reaches them.
  const entries = typeof setting === 'string' ? [['openai-compatible', setting] as const] : Object.entries(setting);
  return new Map(
    entries.map(([model, variable]) => {
      if (typeof variable !== 'string' || !VARIABLE_NAME.test(variable)) {
        throw new UsageError(`config: "apiKeyEnv" for ${model} must name an environment variable (got ${JSON.stringify(variable)})`);
      }
      return [PROVIDERS.includes(model as ProviderName) ? model : parseSpec(model).spec, variable];
    }),
  );
}

/**
 * The config's prices (a key written as a spec is normalised like the spec), plus, for every model of the list
 * that has none there nor in the built-in table, `--price` or else the price `--price` gave it in an earlier
 * build of the run. `given` is those last ones, to keep with the run.
 */
function pricesFor(
  models: readonly ModelSpec[],
  configured: Record<string, unknown>,
  flag: string | undefined,
  kept: Record<string, unknown>,
): { prices: PriceTable; given: Record<string, Price> } {
  const prices: Record<string, Price> = {};
  for (const [key, value] of Object.entries(configured)) prices[specOrName(key)] = checkPrice(value, `config: price of ${key}`);
  const flagged = flag === undefined ? undefined : parsePriceFlag(flag);
  const given: Record<string, Price> = {};
  for (const model of models) {
    if (priceFor(model, prices) !== null) continue;
    const keptPrice = kept[model.spec];
    const price = flagged ?? (keptPrice === undefined ? undefined : checkPrice(keptPrice, `the run's price of ${model.spec}`));
    if (price !== undefined) prices[model.spec] = given[model.spec] = price;
  }
  return { prices, given };
}

function specOrName(key: string): string {
  try {
    return parseModelSpec(key).spec;
  } catch {
    return key;
  }
}

function checkPrice(value: unknown, what: string): Price {
  const { inputPerM, outputPerM } = (value ?? {}) as Partial<Record<keyof Price, unknown>>;
  const valid = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  if (!valid(inputPerM) || !valid(outputPerM)) {
    throw new UsageError(`${what} must be { "inputPerM": USD, "outputPerM": USD } per million tokens, each a number ≥ 0`);
  }
  return { inputPerM, outputPerM };
}

function parsePriceFlag(flag: string): Price {
  const parts = flag.split(',').map((part) => part.trim());
  const numbers = parts.map(Number);
  if (parts.length !== 2 || parts.some((part) => part === '') || !numbers.every((n) => Number.isFinite(n) && n >= 0)) {
    throw new UsageError(`--price takes IN,OUT: USD per million input and output tokens, e.g. --price 0.5,1.5 (got '${flag}')`);
  }
  return { inputPerM: numbers[0]!, outputPerM: numbers[1]! };
}

function readConfig(explicit: string | undefined, cwd: string): ConfigFile {
  const file = explicit ?? path.join(cwd, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (explicit === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`config file ${file} must hold a JSON object`);
  const config = parsed as ConfigFile;
  if (config.models !== undefined && !(Array.isArray(config.models) && config.models.every((m) => typeof m === 'string'))) {
    throw new UsageError(`config file ${file}: "models" must be a list of model specs`);
  }
  const keys = config.apiKeyEnv;
  if (keys !== undefined && typeof keys !== 'string' && (typeof keys !== 'object' || keys === null || Array.isArray(keys))) {
    throw new UsageError(`config file ${file}: "apiKeyEnv" must map model specs or providers to variable names, e.g. { "openrouter": "MY_KEY" }`);
  }
  return config;
}

function positive(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value > 0)) throw new UsageError(`config: ${name} must be a positive number`);
  return value;
}

/** KEY=VALUE lines of `.env` in the working dir; variables already set win. Values are never printed. */
export function loadDotEnv(cwd: string): void {
  let text: string;
  try {
    text = fs.readFileSync(path.join(cwd, '.env'), 'utf8');
  } catch {
    return;
  }
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith('#')) continue;
    const [, key, raw] = match as unknown as [string, string, string];
    const value = /^(['"])(.*)\1$/.exec(raw)?.[2] ?? raw.replace(/\s+#.*$/, '');
    if (process.env[key] === undefined) process.env[key] = value;
  }
}
