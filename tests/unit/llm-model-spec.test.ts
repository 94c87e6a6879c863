import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveLlmSettings } from '../../src/cli/llm-settings.js';
import { ModelSpecError, parseModelList, parseModelSpec, sharedKeyVariable } from '../../src/llm/model-spec.js';

describe('parseModelSpec', () => {
  it('defaults to offline', () => {
    expect(parseModelSpec()).toEqual({ spec: 'offline', provider: 'offline', model: 'offline', baseUrl: null, apiKeyEnv: null });
    expect(parseModelSpec('offline').provider).toBe('offline');
    expect(parseModelSpec('  ').provider).toBe('offline');
  });

  it('knows openai, openrouter and ollama', () => {
    expect(parseModelSpec('openai:gpt-4o-mini')).toEqual({
      spec: 'openai:gpt-4o-mini',
      provider: 'openai',
      model: 'gpt-4o-mini',
      baseUrl: 'https://api.openai.com/v1',
      apiKeyEnv: 'OPENAI_API_KEY',
    });
    const router = parseModelSpec('openrouter:google/gemini-2.0-flash-001');
    expect(router.model).toBe('google/gemini-2.0-flash-001');
    expect(router.baseUrl).toBe('https://openrouter.ai/api/v1');
    expect(router.apiKeyEnv).toBe('OPENROUTER_API_KEY');
    const ollama = parseModelSpec('ollama:llama3.1:8b');
    expect(ollama.model).toBe('llama3.1:8b');
    expect(ollama.baseUrl).toBe('http://127.0.0.1:11434/v1');
    expect(ollama.apiKeyEnv).toBeNull();
  });

  it('parses openai-compatible with a base URL and normalises it', () => {
    const spec = parseModelSpec('openai-compatible:qwen2.5@http://127.0.0.1:1234/v1/');
    expect(spec.provider).toBe('openai-compatible');
    expect(spec.model).toBe('qwen2.5');
    expect(spec.baseUrl).toBe('http://127.0.0.1:1234/v1');
    expect(spec.spec).toBe('openai-compatible:qwen2.5@http://127.0.0.1:1234/v1');
    expect(spec.apiKeyEnv).toBe('OPENAI_COMPATIBLE_API_KEY');
  });

  it('takes the key variable name from options', () => {
    expect(parseModelSpec('openai:gpt-4o', { apiKeyEnv: 'MY_KEY' }).apiKeyEnv).toBe('MY_KEY');
  });

  it.each([
    ['gpt-4o', 'missing provider prefix'],
    ['openai:', 'missing model name'],
    ['anthropic:claude', "unknown provider 'anthropic'"],
    ['openai-compatible:model', 'needs <model>@<base-url>'],
    ['openai-compatible:model@not a url', 'is not a URL'],
    ['openai-compatible:model@ftp://host/v1', 'http or https'],
    ['openai-compatible:model@http://user:secret@host/v1', 'environment variable'],
  ])('rejects %s with a one-line message listing accepted forms', (input, why) => {
    expect(() => parseModelSpec(input)).toThrow(ModelSpecError);
    try {
      parseModelSpec(input);
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain(why);
      expect(message).toContain('openai-compatible:<model>@<base-url>');
      expect(message).not.toContain('\n');
      expect(message).not.toContain('secret');
    }
  });

  it('parses a fallback list', () => {
    expect(parseModelList('openai:gpt-4o-mini, offline').map((s) => s.spec)).toEqual(['openai:gpt-4o-mini', 'offline']);
    expect(parseModelList('').map((s) => s.spec)).toEqual(['offline']);
    expect(parseModelList(['ollama:a', 'ollama:b']).map((s) => s.model)).toEqual(['a', 'b']);
  });
});

describe('sharedKeyVariable', () => {
  const a = parseModelSpec('openai-compatible:m@http://127.0.0.1:1/v1');
  const b = parseModelSpec('openai-compatible:m@https://api.example.com/v1');

  it('finds a key variable that two servers of the list would read, so one key is never sent to both', () => {
    expect(sharedKeyVariable([a, b], { OPENAI_COMPATIBLE_API_KEY: 'sk-1' })).toEqual({
      variable: 'OPENAI_COMPATIBLE_API_KEY',
      baseUrls: ['http://127.0.0.1:1/v1', 'https://api.example.com/v1'],
    });
    const openai = parseModelSpec('openai:gpt-4o', { apiKeyEnv: 'MY_KEY' });
    const router = parseModelSpec('openrouter:openai/gpt-4o', { apiKeyEnv: 'MY_KEY' });
    expect(sharedKeyVariable([openai, router], { MY_KEY: 'sk-2' })?.variable).toBe('MY_KEY');
  });

  it('allows a variable that is unset, or read by models of one server only', () => {
    expect(sharedKeyVariable([a, b], {})).toBeNull();
    expect(sharedKeyVariable([a, b], { OPENAI_COMPATIBLE_API_KEY: '  ' })).toBeNull();
    const sameServer = parseModelSpec('openai-compatible:other@http://127.0.0.1:1/v1');
    expect(sharedKeyVariable([a, sameServer], { OPENAI_COMPATIBLE_API_KEY: 'sk-1' })).toBeNull();
    const defaults = [parseModelSpec('openai:gpt-4o'), parseModelSpec('openrouter:openai/gpt-4o'), parseModelSpec('offline')];
    expect(sharedKeyVariable(defaults, { OPENAI_API_KEY: 'sk-o', OPENROUTER_API_KEY: 'sk-r' })).toBeNull();
  });
});

describe('key variables from plan.config.json', () => {
  function settingsWith(config: unknown, models: string[]) {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-keys-'));
    try {
      fs.writeFileSync(path.join(cwd, 'plan.config.json'), JSON.stringify(config));
      return resolveLlmSettings({ model: models }, cwd).models.map((m) => [m.spec, m.apiKeyEnv]);
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  }
  const local = 'openai-compatible:m@http://127.0.0.1:1/v1';

  it('the older "apiKeyEnv": "VAR" names the key of openai-compatible models only: OpenAI and OpenRouter keep their own', () => {
    expect(settingsWith({ apiKeyEnv: 'MY_KEY' }, ['openai:gpt-4o-mini', 'openrouter:openai/gpt-4o', local])).toEqual([
      ['openai:gpt-4o-mini', 'OPENAI_API_KEY'],
      ['openrouter:openai/gpt-4o', 'OPENROUTER_API_KEY'],
      [local, 'MY_KEY'],
    ]);
  });

  it('"apiKeyEnv" as a map names a variable per model spec or per provider; the spec wins', () => {
    const config = { apiKeyEnv: { openrouter: 'ROUTER_KEY', 'openai-compatible:m@http://127.0.0.1:1/v1/': 'LOCAL_KEY', openai: 'WORK_KEY' } };
    expect(settingsWith(config, ['openrouter:x/y', local, 'openai:gpt-4o', 'ollama:llama3'])).toEqual([
      ['openrouter:x/y', 'ROUTER_KEY'],
      [local, 'LOCAL_KEY'],
      ['openai:gpt-4o', 'WORK_KEY'],
      ['ollama:llama3', null],
    ]);
    expect(() => settingsWith({ apiKeyEnv: { openai: 'not a name' } }, ['openai:gpt-4o'])).toThrow(/must name an environment variable/);
  });
});
