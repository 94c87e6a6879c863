import { describe, expect, it } from 'vitest';
import { ModelSpecError, parseModelList, parseModelSpec } from '../../src/llm/model-spec.js';

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
