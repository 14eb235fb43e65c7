import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '@mosaic/http-kit';
import { OrchestratorConfig } from '../../config/orchestrator-config';
import { AGENT_ADAPTERS, AgentAdapters } from './agent-adapters';

describe('AgentAdapters', () => {
  let bin: string;
  const adaptersWith = (environment: Record<string, string>) =>
    new AgentAdapters(OrchestratorConfig.fromEnvironment({ PATH: bin, ...environment }), AGENT_ADAPTERS, {});

  beforeEach(() => {
    bin = mkdtempSync(join(tmpdir(), 'agent-adapters-spec-'));
    for (const program of ['codex', 'gemini']) {
      writeFileSync(join(bin, program), '#!/bin/sh\n');
      chmodSync(join(bin, program), 0o755);
    }
  });

  afterEach(() => rmSync(bin, { recursive: true, force: true }));

  it("finds a kind's program on the agents' PATH, or at its variable's path", () => {
    expect(adaptersWith({}).resolve({ kind: 'codex' }).program).toBe(join(bin, 'codex'));
    expect(adaptersWith({ GEMINI_PATH: join(bin, 'codex') }).resolve({ kind: 'gemini' }).program).toBe(join(bin, 'codex'));
  });

  it('refuses a kind whose program is missing with agent_unavailable, naming the program and its variable', () => {
    const resolve = () => adaptersWith({ CODEX_PATH: 'no-such-codex' }).resolve({ kind: 'codex' });

    expect(resolve).toThrow(AppError);
    expect(resolve).toThrow('agent.kind: the codex agent\'s program "no-such-codex" is not installed on this orchestrator (CODEX_PATH)');
  });

  it('runs AGENT_COMMAND for the command kind, through the shell', () => {
    const adapters = adaptersWith({ AGENT_COMMAND: 'my-agent --flag' });
    const resolved = adapters.resolve({ kind: 'command' });

    expect(adapters.launch(resolved, { agent: { kind: 'command' }, prompt: 'p', home: '/h' }).argv).toEqual([
      '/bin/sh',
      '-c',
      'my-agent --flag',
    ]);
  });

  it('gives each kind only the credentials its adapter names, and a command agent none', () => {
    const adapters = adaptersWith({
      ANTHROPIC_API_KEY: 'anthropic-secret-1234',
      OPENAI_API_KEY: 'openai-secret-12345',
      GEMINI_API_KEY: 'gemini-secret-12345',
    });
    const envOf = (kind: 'codex' | 'gemini' | 'command') =>
      JSON.stringify(adapters.launch(adapters.resolve({ kind }), { agent: { kind }, prompt: 'p', home: '/h' }));

    expect(envOf('codex')).toContain('openai-secret-12345');
    expect(envOf('codex')).not.toMatch(/anthropic-secret|gemini-secret/);
    expect(envOf('gemini')).toContain('gemini-secret-12345');
    expect(envOf('gemini')).not.toMatch(/anthropic-secret|openai-secret/);
    expect(envOf('command')).not.toMatch(/secret/);
  });
});
