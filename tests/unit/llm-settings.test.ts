import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { resolveLlmSettings } from '../../src/cli/llm-settings.js';
import { tempDir } from '../support/cli.js';

let dirs: string[] = [];
const emptyDir = (): string => {
  const dir = tempDir('plan-llm-settings-');
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

describe('model calls at once per provider', () => {
  it('a new run takes 8 by default, 4 when one of its models is a local ollama', () => {
    const cwd = emptyDir();
    expect(resolveLlmSettings({ model: ['openai:gpt-4o-mini'] }, cwd).llmConcurrency).toBe(8);
    expect(resolveLlmSettings({}, cwd).llmConcurrency).toBe(8);
    expect(resolveLlmSettings({ model: ['openai:gpt-4o-mini', 'ollama:llama3'] }, cwd).llmConcurrency).toBe(4);
    expect(resolveLlmSettings({ model: ['ollama:llama3'] }, cwd).settings.llmConcurrency).toBe(4);
  });

  it('the flag, then the run, then the config file win over the default', () => {
    const cwd = emptyDir();
    const kept = { models: ['openai:gpt-4o-mini'], llmConcurrency: 4, maxCostUsd: null, prices: {} };
    // A run made when the default was 4 keeps it: resuming does not change how hard it calls the provider.
    expect(resolveLlmSettings({}, cwd, kept).llmConcurrency).toBe(4);
    expect(resolveLlmSettings({ llmConcurrency: 2 }, cwd, kept).llmConcurrency).toBe(2);
    fs.writeFileSync(`${cwd}/plan.config.json`, JSON.stringify({ llmConcurrency: 3 }));
    expect(resolveLlmSettings({ model: ['openai:gpt-4o-mini'] }, cwd).llmConcurrency).toBe(3);
  });
});
