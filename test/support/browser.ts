import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium; Playwright's own browser download is not used: it fetches from servers beyond the npm registry. */
const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/**
 * Headless as root, and quiet: without the background-networking flags its
 * start is slow and it tries to reach Google's servers.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const VIEWPORT = { width: 1280, height: 800 } as const;

export interface TestBrowser {
  /** A new tab. */
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** The chromium to drive: CHROMIUM_PATH, or Debian's. */
function chromiumPath(): string {
  const executable = process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM;
  try {
    accessSync(executable, constants.X_OK);
  } catch {
    throw new Error(
      `No chromium at ${executable}: the browser tests drive a real one. Install Debian's (\`apt-get update && apt-get install -y chromium\`, as .ci/run does) or set CHROMIUM_PATH to a Chromium or Chrome executable.`,
    );
  }
  return executable;
}

/** A headless chromium at 1280×800 with a profile of its own, deleted on close. */
export async function launchBrowser(): Promise<TestBrowser> {
  const executablePath = chromiumPath();
  const profile = await mkdtemp(path.join(os.tmpdir(), 'mosaic-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: VIEWPORT,
      timeout: 30_000,
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
