import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

/** The README and every page under docs/ and docs/adr/. */
function documents(): string[] {
  const pages = (dir: string) =>
    readdirSync(path.join(root, dir))
      .filter((name) => name.endsWith('.md'))
      .map((name) => path.join(dir, name));
  return ['README.md', ...pages('docs'), ...pages(path.join('docs', 'adr'))];
}

/** The targets of a page's inline links and images, outside code blocks and code spans. */
function linkTargets(markdown: string): string[] {
  const prose = markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]);
}

/** GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const prose = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, heading] of prose.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** What is wrong with each relative link of `markdown`, read as the page at `page` (relative to the repository root). */
function brokenLinks(page: string, markdown: string): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [file, anchor] = target.split('#', 2) as [string, string | undefined];
    if (file === '') {
      if (!headingAnchors(markdown).has(decodeURIComponent(anchor ?? ''))) problems.push(`${target}: no such heading`);
      continue;
    }
    const resolved = path.resolve(root, path.dirname(page), decodeURIComponent(file));
    if (path.relative(root, resolved).startsWith('..')) {
      problems.push(`${target}: outside the repository`);
      continue;
    }
    if (!existsSync(resolved)) {
      problems.push(`${target}: no such file`);
      continue;
    }
    if (anchor !== undefined && resolved.endsWith('.md') && statSync(resolved).isFile()) {
      if (!headingAnchors(readFileSync(resolved, 'utf8')).has(decodeURIComponent(anchor))) problems.push(`${target}: no such heading`);
    }
  }
  return problems;
}

describe('links of the README and docs/', () => {
  it.each(documents())('every relative link of %s resolves', (page) => {
    expect(brokenLinks(page, readFileSync(path.join(root, page), 'utf8'))).toEqual([]);
  });

  it('finds a missing file, a missing heading and a link out of the repository, and ignores code and URLs', () => {
    const page = [
      '# A page',
      '[fine](architecture.md#one-dispatch) [also fine](#a-page) [a folder](adr/) ![image](screenshot.png)',
      '[gone](no-such-page.md) [no heading](architecture.md#no-such-heading) [outside](../../shared/contract.md)',
      '`[in a code span](nowhere.md)` [a URL](https://example.com/nowhere.md)',
      '```',
      '[in a code block](nowhere.md)',
      '```',
    ].join('\n');
    expect(brokenLinks('docs/page.md', page)).toEqual([
      'no-such-page.md: no such file',
      'architecture.md#no-such-heading: no such heading',
      '../../shared/contract.md: outside the repository',
    ]);
  });
});
