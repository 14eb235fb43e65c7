import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { launchBrowser, VIEWPORT, type TestBrowser } from '../support/browser';
import { createTestDatabase, dropTestDatabase } from '../support/database';
import { request } from '../support/http';
import {
  freePort,
  startService,
  stopLeavingNoProcesses,
  uniqueQueuePrefix,
  withServiceOutput,
  type ServiceProcess,
} from '../support/service-process';

const ORCHESTRATOR_ENTRY = path.join(__dirname, '../../apps/orchestrator/dist/main.js');
const API_ENTRY = path.join(__dirname, '../../apps/api/dist/main.js');
const SCREENSHOT = path.join(__dirname, '../../docs/screenshot.png');
const ORCHESTRATOR_KEY = 'browser-tests-orchestrator-key';
const PHONE = { width: 390, height: 844 } as const;
const OPERATOR_TOKEN = 'browser-tests-operator-token';

/** A task whose title carries this runs until it is stopped (the agent below). */
const LONG_RUN = '[long-run]';
/** A task whose title carries this changes the repository it works on (the agent below). */
const EDIT_REPO = '[edit-repo]';
/** A line the agent adds, which the page must show as text: were it markup, it would set this global. */
const HOSTILE_LINE = '<img src=x onerror="window.mosaicPwned = 1">';

/**
 * The agent every session runs: a few seconds of progress, usage, stdout and
 * stderr lines and a result; for a task titled with LONG_RUN, half a minute of
 * nothing, to be cancelled or killed; for one titled with EDIT_REPO, an edit of
 * README.md and a new notes.txt (a hostile line, and one longer than a phone is
 * wide) in its working directory, the task's repository.
 */
const AGENT_SCRIPT = `#!/bin/sh
if grep -qF '${LONG_RUN}' "$MOSAIC_TASK_FILE"; then
  echo started
  sleep 30
  exit 0
fi
if grep -qF '${EDIT_REPO}' "$MOSAIC_TASK_FILE"; then
  sed -i 's/^old line$/new line/' README.md
  printf '%s\\n' 'added by the agent' '${HOSTILE_LINE}' > notes.txt
  printf '%0300d\\n' 0 >> notes.txt
  echo '{"type":"result","summary":"README.md edited, notes.txt added","exit_code":0}'
  exit 0
fi
echo '{"type":"progress","message":"reading the report","percent":20}'
echo '{"type":"usage","input_tokens":1200,"output_tokens":340,"cost_usd":0.0087,"model":"test-model"}'
sleep 1
echo 'found 12 pages'
echo 'page 7 has no title' >&2
echo '{"type":"progress","message":"writing the summary","percent":60}'
sleep 1
echo '{"type":"progress","message":"done","percent":100}'
echo '{"type":"result","summary":"two pages written","exit_code":0}'
`;

const execFileAsync = promisify(execFile);

/** A PNG's width in pixels, from its header. */
function pngWidth(png: Buffer): number {
  return png.readUInt32BE(16);
}

// The project's testTimeout covers the tests; the hooks, which start two services and a browser, take this.
jest.setTimeout(60_000);

interface SessionBody {
  id: string;
  status: string;
}

/** The operators' page in a real chromium, against the built API and orchestrator on a database of its own. */
describe('operators web page (chromium, built services)', () => {
  let scratch: string;
  let database: string;
  let orchestrator: ServiceProcess | undefined;
  let api: ServiceProcess | undefined;
  let browser: TestBrowser | undefined;
  let page: Page;
  let orchestratorPort: number;
  let startOrchestrator: () => Promise<ServiceProcess>;
  const queuePrefix = uniqueQueuePrefix();

  const withOutput = (body: () => Promise<void>) => withServiceOutput(() => [api, orchestrator], body, 10_000);

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'mosaic-browser-'));
    const agent = path.join(scratch, 'agent.sh');
    await writeFile(agent, AGENT_SCRIPT);
    await chmod(agent, 0o755);
    database = await createTestDatabase('web', { migrate: true });
    orchestratorPort = await freePort();
    startOrchestrator = () =>
      startService({
        name: 'orchestrator',
        entry: ORCHESTRATOR_ENTRY,
        port: orchestratorPort,
        // The same queue across a restart, so that the restarted orchestrator is the same cluster.
        env: {
          ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
          QUEUE_PREFIX: queuePrefix,
          AGENT_COMMAND: `sh ${agent}`,
          AGENT_USER: undefined,
          CANCEL_GRACE_MS: '2000',
          SHUTDOWN_GRACE_MS: '1000',
        },
      });
    [orchestrator, browser] = await Promise.all([startOrchestrator(), launchBrowser()]);
    api = await startService({
      name: 'api',
      entry: API_ENTRY,
      healthPath: '/health/orchestrator',
      env: {
        DATABASE_URL: database,
        ORCHESTRATOR_URL: `http://127.0.0.1:${orchestratorPort}`,
        ORCHESTRATOR_API_KEY: ORCHESTRATOR_KEY,
        MOSAIC_API_TOKEN: OPERATOR_TOKEN,
        RECONCILE_INTERVAL_MS: '1000',
        ORCHESTRATOR_RETRY_ATTEMPTS: '0',
        ORCHESTRATOR_HEALTH_TIMEOUT_MS: '500',
        ORCHESTRATOR_BREAKER_HALF_OPEN_AFTER_MS: '500',
      },
    });
  });

  beforeEach(async () => {
    page = await browser!.newPage();
  });

  afterEach(async () => {
    await page?.close();
  });

  afterAll(async () => {
    await browser?.close();
    await stopLeavingNoProcesses(api);
    await stopLeavingNoProcesses(orchestrator);
    if (database) await dropTestDatabase(database);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function call<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
    const answer = await request<T>(method, `${api!.url}${url}`, { body, token: OPERATOR_TOKEN });
    if (answer.status < 200 || answer.status >= 300) throw new Error(`${method} ${url}: ${answer.status} ${answer.text}`);
    return answer.body;
  }

  async function signIn(token = OPERATOR_TOKEN): Promise<void> {
    await page.goto(`${api!.url}/`);
    await page.getByLabel('Operator token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /**
   * Marks the document, so that a later check can prove that what appeared
   * came in live: a reload or navigation would have dropped the mark. (Code run
   * in the page is given as text: this project's TypeScript has no DOM types.)
   */
  async function markDocument(): Promise<void> {
    await page.evaluate("document.documentElement.setAttribute('data-test-mark', 'still here')");
  }

  async function expectSameDocument(): Promise<void> {
    expect(await page.evaluate<string | null>("document.documentElement.getAttribute('data-test-mark')")).toBe('still here');
  }

  /** Records each status the session view's header shows, from now on, however briefly. */
  async function recordHeaderStatuses(): Promise<void> {
    await page.evaluate(`(() => {
      const seen = (window.mosaicTestStatuses = []);
      const note = () => {
        const text = document.querySelector('.session-title .status')?.textContent;
        if (text && seen[seen.length - 1] !== text) seen.push(text);
      };
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
    })()`);
  }

  const sessionStatus = (status: string) => page.locator('.session-title .status', { hasText: new RegExp(`^${status}$`) });

  /** A git repository in the scratch directory: one commit of README.md, on main. */
  async function createRepository(): Promise<string> {
    const directory = path.join(scratch, 'repository');
    await mkdir(directory);
    await writeFile(path.join(directory, 'README.md'), '# Demo\nfirst line\nold line\n');
    const git = (...args: string[]) =>
      execFileAsync(
        'git',
        ['-c', 'user.name=Mosaic tests', '-c', 'user.email=tests@mosaic.invalid', '-c', 'commit.gpgsign=false', ...args],
        { cwd: directory },
      );
    await git('init', '--quiet', '--initial-branch=main');
    await git('add', 'README.md');
    await git('commit', '--quiet', '-m', 'First commit');
    return directory;
  }

  async function dispatchFromPage(title: string): Promise<string> {
    await page.getByRole('link', { name: 'New task' }).click();
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Description').fill('Two pages, for the board.');
    await page.getByLabel('Priority').selectOption('high');
    await page.getByRole('button', { name: 'Create and dispatch' }).click();
    await page.waitForURL(/#\/sessions\/[0-9a-f-]{36}$/);
    return decodeURIComponent(new URL(page.url()).hash.replace('#/sessions/', ''));
  }

  it(
    'refuses a wrong token with the API’s message, not a blank page',
    withOutput(async () => {
      await signIn('not-the-token');

      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(/^Token refused: a valid operator token or key is required/);
      expect(await page.getByLabel('Operator token').isVisible()).toBe(true);
      expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
    }),
  );

  it(
    'signs in with the token, keeps it for the tab only, and signs out',
    withOutput(async () => {
      await signIn();

      await page.getByRole('heading', { name: 'Sessions' }).waitFor();
      await page.locator('.live', { hasText: /^Live$/ }).waitFor();
      expect(await page.evaluate<string[]>('Object.values(sessionStorage)')).toEqual([OPERATOR_TOKEN]);
      expect(await page.evaluate<string[]>('Object.keys(localStorage)')).toEqual([]);
      expect(page.url()).not.toContain(OPERATOR_TOKEN);

      await page.reload();
      await page.getByRole('heading', { name: 'Sessions' }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Operator token').waitFor();
      expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
    }),
  );

  it(
    'shows a session the API created in the list, live, and its status changes',
    withOutput(async () => {
      await signIn();
      await page.locator('.live', { hasText: /^Live$/ }).waitFor();
      await markDocument();

      const task = await call<{ id: string }>('POST', '/tasks', { title: 'Created behind the page’s back' });
      const { session } = await call<{ session: SessionBody }>('POST', `/tasks/${task.id}/dispatch`);

      const row = page.locator(`tr[data-session-id="${session.id}"]`);
      await row.waitFor();
      expect(await row.getByRole('link').textContent()).toBe('Created behind the page’s back');
      expect(await page.locator('tbody tr').first().getAttribute('data-session-id')).toBe(session.id);
      await row.locator('.status', { hasText: /^completed$/ }).waitFor({ timeout: 30_000 });
      await expectSameDocument();

      // Readable on a phone: the table turns into cards, nothing wider than the screen.
      await page.setViewportSize(PHONE);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
      await page.setViewportSize(VIEWPORT);
    }),
  );

  it(
    'dispatches a task from the page and shows its session run and complete, its events coming in live',
    withOutput(async () => {
      await signIn();
      await page.getByRole('heading', { name: 'Sessions' }).waitFor();
      await markDocument();
      await recordHeaderStatuses();
      const id = await dispatchFromPage('Summarise the quarterly report');

      await sessionStatus('completed').waitFor({ timeout: 30_000 });
      expect((await page.evaluate<string[]>('window.mosaicTestStatuses')).slice(-2)).toEqual(['running', 'completed']);
      const events = page.getByRole('region', { name: 'Events' });
      await events.locator('.event-result', { hasText: 'exit code 0 · two pages written' }).waitFor();
      expect(await events.locator('.log-stdout .event-text', { hasText: 'found 12 pages' }).count()).toBe(1);
      expect(await events.locator('.log-stderr .event-text').allTextContents()).toEqual(['page 7 has no title']);
      expect(await events.locator('.event-progress .event-text').allTextContents()).toEqual([
        '20% reading the report',
        '60% writing the summary',
        '100% done',
      ]);
      expect(await page.locator('progress#session-progress').getAttribute('value')).toBe('100');
      expect(await events.locator('.event-usage .event-text').allTextContents()).toEqual(['1200 tokens in · 340 out · $0.0087']);
      await page.locator('dd', { hasText: /^1,200 in · 340 out · \$0\.0087$/ }).waitFor();
      // The day's spend in the header, from GET /usage/today: at least this session's.
      await page.locator('.spend', { hasText: /^\$\d+\.\d{2} today$/ }).waitFor({ timeout: 15_000 });
      await page.locator('.live', { hasText: /^Ended$/ }).waitFor();
      await expectSameDocument();
      expect((await call<SessionBody>('GET', `/orchestrator/sessions/${id}`)).status).toBe('completed');

      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(VIEWPORT.width);
      await page.screenshot({ path: SCREENSHOT, animations: 'disabled', caret: 'hide' });
    }),
  );

  it(
    'shows what an agent changed in a repository: the artifacts, their summary and the diff, escaped, on a phone too',
    withOutput(async () => {
      const url = pathToFileURL(await createRepository()).href;
      await signIn();
      await page.getByRole('heading', { name: 'Sessions' }).waitFor();
      const task = await call<{ id: string }>('POST', '/tasks', { title: `Edit the repository ${EDIT_REPO}`, repository: { url } });
      const { session } = await call<{ session: SessionBody }>('POST', `/tasks/${task.id}/dispatch`);
      await page.getByRole('link', { name: `Edit the repository ${EDIT_REPO}` }).click();
      await page.waitForURL(new RegExp(`#/sessions/${session.id}$`));

      await sessionStatus('completed').waitFor({ timeout: 30_000 });
      await page.locator('dd', { hasText: /^command$/ }).waitFor();
      await page.locator('dd', { hasText: `${url} @ its default branch` }).waitFor();

      const artifacts = page.getByRole('region', { name: 'Artifacts' });
      await artifacts.locator('[data-artifact="changes.patch"]').waitFor();
      expect((await artifacts.locator('.artifact-name').allTextContents()).sort()).toEqual(['changes.json', 'changes.patch']);
      expect(await artifacts.locator('.truncated').count()).toBe(0);

      // changes.json, above the diff: each file with its status and counts.
      const changed = artifacts.getByRole('list', { name: 'Changed files' });
      await changed.waitFor();
      const statuses = await changed.locator('.change-status').allTextContents();
      const counts = await changed.locator('.change-counts').allTextContents();
      const files = (await changed.locator('code').allTextContents()).map((file, index) => `${statuses[index]} ${file} ${counts[index]}`);
      expect(files.sort()).toEqual(['added notes.txt +3 −0', 'modified README.md +1 −1']);
      await artifacts.getByText('2 files changed · +4 −1', { exact: true }).waitFor();

      // changes.patch, file by file, its lines as text: the hostile one made no element and ran nothing.
      const diff = artifacts.getByRole('region', { name: 'Diff' });
      await diff.waitFor();
      expect((await diff.locator('.d2h-file-name').allTextContents()).sort()).toEqual(['README.md', 'notes.txt']);
      expect(await diff.locator('.d2h-del .d2h-code-line-ctn').allTextContents()).toEqual(['old line']);
      expect((await diff.locator('.d2h-ins .d2h-code-line-ctn').allTextContents()).sort()).toEqual(
        ['new line', 'added by the agent', HOSTILE_LINE, '0'.repeat(300)].sort(),
      );
      expect(await diff.locator('img, script').count()).toBe(0);
      expect(await page.evaluate<unknown>('window.mosaicPwned')).toBeUndefined();

      // The download carries the token in a header: the content is the patch itself.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        artifacts.getByRole('button', { name: 'Download changes.patch' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe('changes.patch');
      const patch = await readFile(await download.path(), 'utf8');
      expect(patch).toContain('-old line\n+new line\n');
      expect(patch).toContain(`+${HOSTILE_LINE}\n`);

      // On a phone, the long line scrolls inside the diff's own box; the page is no wider than the screen.
      await page.setViewportSize(PHONE);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
      expect(
        await page.evaluate<boolean>(
          "[...document.querySelectorAll('.patch .d2h-file-diff')].some((box) => box.scrollWidth > box.clientWidth)",
        ),
      ).toBe(true);
      const screenshot = await page.screenshot({ fullPage: true, animations: 'disabled', caret: 'hide' });
      expect(pngWidth(screenshot)).toBe(PHONE.width);
      await page.setViewportSize(VIEWPORT);
    }),
  );

  it(
    'cancels a running session from the page, after a keyboard confirmation',
    withOutput(async () => {
      await signIn();
      const id = await dispatchFromPage(`Cancel me ${LONG_RUN}`);
      await sessionStatus('running').waitFor({ timeout: 30_000 });

      // Escape backs out of the confirmation, and nothing is stopped.
      await page.getByRole('button', { name: 'Cancel…' }).focus();
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: 'Cancel this session?' });
      await dialog.waitFor();
      expect(await page.evaluate<string | null | undefined>('document.activeElement?.textContent')).toBe('Keep it running');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      expect((await call<SessionBody>('GET', `/orchestrator/sessions/${id}`)).status).toBe('running');

      await page.getByRole('button', { name: 'Cancel…' }).focus();
      await page.keyboard.press('Enter');
      await dialog.waitFor();
      await page.keyboard.press('Tab');
      expect(await page.evaluate<string | null | undefined>('document.activeElement?.textContent')).toBe('Cancel session');
      await page.keyboard.press('Enter');

      await sessionStatus('cancelled').waitFor({ timeout: 30_000 });
      expect(await page.getByRole('button', { name: 'Cancel…' }).count()).toBe(0);
      expect((await call<SessionBody>('GET', `/orchestrator/sessions/${id}`)).status).toBe('cancelled');
    }),
  );

  it(
    'kills a running session from the page',
    withOutput(async () => {
      await signIn();
      const id = await dispatchFromPage(`Kill me ${LONG_RUN}`);
      await sessionStatus('running').waitFor({ timeout: 30_000 });

      await page.getByRole('button', { name: 'Kill…' }).click();
      await page.getByRole('dialog', { name: 'Kill this session?' }).getByRole('button', { name: 'Kill session' }).click();

      await sessionStatus('killed').waitFor({ timeout: 30_000 });
      expect(await page.getByRole('button', { name: 'Kill…' }).count()).toBe(0);
      expect((await call<SessionBody>('GET', `/orchestrator/sessions/${id}`)).status).toBe('killed');
    }),
  );

  it(
    'shows a banner while the orchestrator is down, and one for a dispatch it refused, which can be dispatched again',
    withOutput(async () => {
      await signIn();
      await page.getByRole('heading', { name: 'Sessions' }).waitFor();
      expect(await page.locator('.banner').count()).toBe(0);

      await stopLeavingNoProcesses(orchestrator);
      orchestrator = undefined;
      const down = page.locator('.banner-down', { hasText: /^(Orchestrator down|Circuit open):/ });
      // The page polls every 5 s.
      await down.waitFor({ timeout: 15_000 });

      await page.getByRole('link', { name: 'New task' }).click();
      await page.getByLabel('Title').fill('Dispatched while the orchestrator is down');
      await page.getByRole('button', { name: 'Create and dispatch' }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: /^Task created, but its dispatch failed: / })
        .waitFor();
      const refused = page.locator('.banner-refused');
      expect(await refused.textContent()).toMatch(/^(Orchestrator unreachable|Circuit open): /);

      orchestrator = await startOrchestrator();
      await down.waitFor({ state: 'hidden', timeout: 15_000 });
      await page.getByRole('button', { name: 'Dispatch “Dispatched while the orchestrator is down” again' }).click();
      await page.waitForURL(/#\/sessions\/[0-9a-f-]{36}$/);
      await sessionStatus('completed').waitFor({ timeout: 30_000 });
      await refused.getByRole('button', { name: 'Dismiss' }).click();
      expect(await page.locator('.banner').count()).toBe(0);
    }),
  );
});
