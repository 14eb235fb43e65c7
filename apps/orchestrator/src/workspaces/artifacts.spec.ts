import { artifactDataSchema } from '@mosaic/orchestrator-contract';
import { createHash } from 'node:crypto';
import { artifactOf, mediaTypeOf } from './artifacts';

describe('mediaTypeOf', () => {
  it.each([
    ['out/notes.md', 'text/markdown'],
    ['out/a.txt', 'text/plain'],
    ['out/data.JSON', 'application/json'],
    ['out/page.html', 'text/html'],
    ['out/table.csv', 'text/csv'],
    ['out/fix.patch', 'text/x-diff'],
    ['out/fix.diff', 'text/x-diff'],
    ['out/chart.png', 'image/png'],
    ['out/archive.tar.gz', 'application/octet-stream'],
    ['out/Makefile', 'application/octet-stream'],
  ])('%s is %s', (name, type) => {
    expect(mediaTypeOf(name)).toBe(type);
  });
});

describe('artifactOf', () => {
  it('sends a small content whole', () => {
    const content = Buffer.from('hello\n');
    const data = artifactOf('out/a.txt', 'text/plain', content, content.length, 1024);
    expect(artifactDataSchema.parse(data)).toEqual({
      name: 'out/a.txt',
      media_type: 'text/plain',
      size: 6,
      sha256: createHash('sha256').update(content).digest('hex'),
      content_base64: content.toString('base64'),
    });
  });

  it('cuts at maxBytes, keeping the whole size and hashing what is sent', () => {
    const content = Buffer.from('0123456789');
    const data = artifactOf('changes.patch', 'text/x-diff', content, 5000, 4);
    expect(data).toMatchObject({ size: 5000, truncated: true, content_base64: Buffer.from('0123').toString('base64') });
    expect(data.sha256).toBe(createHash('sha256').update('0123').digest('hex'));
  });
});
