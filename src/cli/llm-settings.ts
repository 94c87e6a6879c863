import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../engine/errors.js';
import { ModelSpecError, parseModelSpec, type ModelSpec, type PriceTable } from '../llm/index.js';

/**
 * Model settings from three places, strongest first: command-line flags, the config file
 * (`plan.config.json` in the working dir, or `--config F`), defaults. API keys come only from the environment
 * (and a `.env` file in the working dir, which never overrides a variable already set).
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
}

export interface LlmFlags {
  model?: string[];
  speed?: string;
  maxCost?: number;
  llmConcurrency?: number;
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
  prices?: Record<string, { inputPerM: number; outputPerM: number }>;
  /** The environment variable holding the key for the configured models (instead of the provider's default). */
  apiKeyEnv?: string;
}

export const CONFIG_FILE = 'plan.config.json';

export function resolveLlmSettings(flags: LlmFlags, cwd: string = process.cwd()): LlmSettings {
  loadDotEnv(cwd);
  const config = readConfig(flags.config, cwd);
  const specs = flags.model?.length ? flags.model : (config.models ?? ['offline']);
  const models = specs.map((spec) => {
    try {
      return parseModelSpec(spec, { apiKeyEnv: config.apiKeyEnv });
    } catch (error) {
      if (error instanceof ModelSpecError) throw new UsageError(error.message);
      throw error;
    }
  });
  const speed = flags.speed ?? config.speed;
  if (speed !== undefined && speed !== 'fast' && speed !== 'full') throw new UsageError(`--speed must be fast or full (got '${speed}')`);
  const maxCost = flags.maxCost ?? config.maxCost;
  if (maxCost !== undefined && !(Number.isFinite(maxCost) && maxCost >= 0))
    throw new UsageError(`--max-cost must be a number of USD ≥ 0 (got ${maxCost})`);
  const llmConcurrency = flags.llmConcurrency ?? config.llmConcurrency ?? 4;
  if (!Number.isInteger(llmConcurrency) || llmConcurrency < 1)
    throw new UsageError(`--llm-concurrency must be a whole number ≥ 1 (got ${llmConcurrency})`);
  return {
    models,
    speed,
    maxCostUsd: maxCost ?? null,
    llmConcurrency,
    requestsPerMinute: positive(config.requestsPerMinute, 'requestsPerMinute'),
    tokensPerMinute: positive(config.tokensPerMinute, 'tokensPerMinute'),
    timeoutMs: (positive(config.timeoutSeconds, 'timeoutSeconds') ?? 120) * 1_000,
    prices: config.prices ?? {},
  };
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
