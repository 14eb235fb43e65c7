import { describeAgent, describeRepository } from './task-facts';

describe('task facts', () => {
  it('names the agent’s kind and model, the command agent when the task names none', () => {
    expect(describeAgent({ kind: 'claude-code', model: 'claude-sonnet-4-5' })).toBe('claude-code · claude-sonnet-4-5');
    expect(describeAgent({ kind: 'codex' })).toBe('codex');
    expect(describeAgent(null)).toBe('command');
    expect(describeAgent(undefined)).toBe('command');
  });

  it('names the repository and its ref', () => {
    expect(describeRepository({ url: 'file:///srv/app.git', ref: 'main' })).toBe('file:///srv/app.git @ main');
    expect(describeRepository({ url: 'https://git.example/app.git' })).toBe('https://git.example/app.git @ its default branch');
    expect(describeRepository(null)).toBe('none (an empty workspace)');
  });
});
