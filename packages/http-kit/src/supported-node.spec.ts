import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SUPPORTED_NODE_RANGE, unsupportedNodeMessage } from './supported-node';

describe('unsupportedNodeMessage', () => {
  it.each(['v22.12.0', 'v22.23.3', '24.0.0', 'v24.21.0', 'v26.1.0'])('accepts %s', (version) => {
    expect(unsupportedNodeMessage(version)).toBeUndefined();
  });

  it.each(['v20.20.2', 'v22.11.0', 'v23.11.1', 'v18.20.8'])('refuses %s in one line naming it and what to use', (version) => {
    const message = unsupportedNodeMessage(version);
    expect(message).toContain(version);
    expect(message).toContain(SUPPORTED_NODE_RANGE);
    expect(message).not.toContain('\n');
  });

  it('states the range package.json declares as engines.node', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(manifest.engines.node).toBe(SUPPORTED_NODE_RANGE);
  });
});
