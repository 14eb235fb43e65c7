import { readFileSync } from 'node:fs';
import { capPatch, patchHtml } from './patch-html';

/** The elements the library's line-by-line output is made of; anything else would have come from the patch. */
const LIBRARY_ELEMENTS = new Set(['div', 'span', 'svg', 'path', 'label', 'input', 'table', 'tbody', 'tr', 'td', 'ins', 'del']);

function tagsOf(html: string): { readonly name: string; readonly attributes: readonly string[] }[] {
  return [...html.matchAll(/<([a-zA-Z][\w-]*)([^>]*)>/g)].map(([, name = '', rest = '']) => ({
    name: name.toLowerCase(),
    attributes: [...rest.matchAll(/([^\s=/]+)\s*=/g)].map(([, attribute = '']) => attribute.toLowerCase()),
  }));
}

const HOSTILE_PATCH = [
  'diff --git a/<img src=x onerror=alert(2)>.md b/<img src=x onerror=alert(2)>.md',
  'index 1111111..2222222 100644',
  '--- a/<img src=x onerror=alert(2)>.md',
  '+++ b/<img src=x onerror=alert(2)>.md',
  '@@ -1,2 +1,3 @@ <script>alert(3)</script>',
  ' kept',
  '-<b onmouseover="alert(4)">removed</b>',
  '+<script>alert(1)</script>',
  '+<img src=x onerror="alert(5)">',
  '',
].join('\n');

/** What a reader sees of the HTML: its text, tags dropped and the escapes the library uses read back. */
function textOf(html: string): string {
  const entities: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#x27;': "'", '&#x2F;': '/', '&amp;': '&' };
  return html.replace(/<[^>]*>/g, '').replace(/&(lt|gt|quot|#x27|#x2F|amp);/g, (entity) => entities[entity] ?? entity);
}

describe('patchHtml', () => {
  const html = patchHtml(HOSTILE_PATCH);

  it('renders an added <script> line as escaped text, not as an element', () => {
    const added = patchHtml(['--- a/x.md', '+++ b/x.md', '@@ -0,0 +1 @@', '+<script>alert(1)</script>', ''].join('\n'));
    expect(added).toContain('&lt;script&gt;alert(1)&lt;&#x2F;script&gt;');
    expect(added).not.toMatch(/<script/i);
  });

  it('shows every piece of markup of a hostile patch as text: names, hunk headers, lines', () => {
    const text = textOf(html);
    for (const markup of [
      '<img src=x onerror=alert(2)>.md',
      '<script>alert(3)</script>',
      '<b onmouseover="alert(4)">removed</b>',
      '<script>alert(1)</script>',
      '<img src=x onerror="alert(5)">',
    ]) {
      expect(text).toContain(markup);
    }
  });

  it('makes no element nor handler of it: only the library’s own elements, none with an on… attribute', () => {
    const tags = tagsOf(html);
    expect(tags.length).toBeGreaterThan(0);
    expect(tags.filter((tag) => !LIBRARY_ELEMENTS.has(tag.name))).toEqual([]);
    expect(tags.flatMap((tag) => tag.attributes).filter((attribute) => attribute.startsWith('on'))).toEqual([]);
    expect(html).not.toMatch(/<script|<img|<b[\s>]/i);
  });

  it('renders each file line by line, additions and deletions marked', () => {
    const patch = [
      'diff --git a/a.txt b/a.txt',
      '--- a/a.txt',
      '+++ b/a.txt',
      '@@ -1 +1 @@',
      '-old',
      '+new',
      'diff --git a/b.txt b/b.txt',
      'new file mode 100644',
      '--- /dev/null',
      '+++ b/b.txt',
      '@@ -0,0 +1 @@',
      '+added',
      '',
    ].join('\n');
    const rendered = patchHtml(patch);
    expect(rendered.match(/class="d2h-file-wrapper"/g)).toHaveLength(2);
    expect(rendered).toMatch(/class="d2h-del[^"]*"[\s\S]*old/);
    expect(rendered).toMatch(/class="d2h-ins[^"]*"[\s\S]*new/);
    expect(rendered).not.toContain('d2h-files-diff');
  });
});

describe('capPatch', () => {
  it('keeps a patch within the limit whole', () => {
    expect(capPatch('+a\n+b\n', 6)).toEqual({ text: '+a\n+b\n', cut: false });
  });

  it('cuts a longer one at its last whole line within the limit', () => {
    expect(capPatch('+a\n+bcd\n+e\n', 8)).toEqual({ text: '+a\n+bcd\n', cut: true });
    expect(capPatch('+a\n+bcd\n+e\n', 7)).toEqual({ text: '+a\n', cut: true });
  });

  it('counts bytes, not characters, and never leaves half a character', () => {
    // 'é' is two bytes: the limit falls inside the second line.
    const { text, cut } = capPatch('+é\n+éé\n', 6);
    expect(cut).toBe(true);
    expect(text).toBe('+é\n');
  });
});

describe('the diff library’s styles', () => {
  it('only style its own classes, so that they cannot restyle the page', () => {
    const css = readFileSync(require.resolve('diff2html/bundles/css/diff2html.min.css', { paths: [__dirname] }), 'utf8');
    const selectors = css
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\{[^{}]*\}/g, '\n')
      .replace(/@media[^{]*\{/g, '\n')
      .split(/[\n,]/)
      .map((selector) => selector.trim())
      .filter((selector) => selector !== '' && selector !== '}');
    expect(selectors.length).toBeGreaterThan(50);
    // Custom properties on the root are all --d2h-…; .line-num1/2 are the library's too (the page has no such class).
    const foreign = selectors.filter((selector) => !/^(\.d2h-|\.line-num[12]\b|:root$|:host$)/.test(selector));
    expect(foreign).toEqual([]);
    const rootProperties = [...css.matchAll(/(?::host,)?:root\{([^}]*)\}/g)].flatMap(([, body = '']) =>
      body.split(';').map((declaration) => declaration.split(':')[0]?.trim()),
    );
    expect(rootProperties.filter((property) => property !== '' && !property?.startsWith('--d2h-'))).toEqual([]);
  });
});
