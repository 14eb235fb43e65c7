import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PRICES, loadPriceTable } from './agent-prices';

function pricesFile(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'prices-')), 'prices.json');
  writeFileSync(path, content);
  return path;
}

describe('loadPriceTable', () => {
  it('is the bundled table without a file', () => {
    expect(loadPriceTable(undefined)).toBe(DEFAULT_PRICES);
    expect(DEFAULT_PRICES['gpt-5-codex']).toEqual({ input: 1.25, cached_input: 0.125, output: 10 });
  });

  it("lays the operator's prices over the bundled ones", () => {
    const table = loadPriceTable(pricesFile('{"gpt-5-codex":{"input":2,"output":20},"local-model":{"input":0,"output":0}}'));
    expect(table['gpt-5-codex']).toEqual({ input: 2, output: 20 });
    expect(table['local-model']).toEqual({ input: 0, output: 0 });
    expect(table['gemini-2.5-pro']).toEqual(DEFAULT_PRICES['gemini-2.5-pro']);
  });

  it.each([
    ['a negative price', '{"gpt-5":{"input":-1,"output":1}}', /prices\.json: entry "gpt-5" input: /],
    ['a missing output price', '{"m":{"input":1}}', /entry "m" output: /],
    ['an unknown field', '{"m":{"input":1,"output":1,"cache_write":1}}', /entry "m": /],
    ['a price as text', '{"m":{"input":"1","output":1}}', /entry "m" input: /],
    ['not an object', '[1]', /prices\.json: the file: /],
  ])('refuses %s, naming the file and the entry', (_, content, message) => {
    const path = pricesFile(content);
    expect(() => loadPriceTable(path)).toThrow(message);
    expect(() => loadPriceTable(path)).toThrow(`AGENT_PRICES_FILE ${path}`);
  });

  it('refuses a file that is not JSON, or is missing', () => {
    expect(() => loadPriceTable(pricesFile('{"m":'))).toThrow(/AGENT_PRICES_FILE .*prices\.json: /);
    expect(() => loadPriceTable('/nonexistent/prices.json')).toThrow(/AGENT_PRICES_FILE \/nonexistent\/prices\.json: ENOENT/);
  });
});
