import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * A real headless Chromium for the dashboard's tests, driven by playwright-core. No browser is ever downloaded:
 * Debian's own is used (`chromium-headless-shell`, which `.ci/run` installs with apt-get, or `chromium`). Without
 * one the browser tests skip, saying so once per file.
 */

const CANDIDATES = [process.env.PLAN_TEST_CHROMIUM, '/usr/bin/chromium-headless-shell', '/usr/bin/chromium'];

export const CHROMIUM: string | undefined = CANDIDATES.find((file): file is string => file !== undefined && file !== '' && fs.existsSync(file));

/** Call at the top of a browser test file: prints the visible skip line when there is no browser. */
export function noteWhenBrowserMissing(file: string): void {
  if (CHROMIUM === undefined)
    console.log(`${file}: browser tests skipped (no /usr/bin/chromium-headless-shell or /usr/bin/chromium; apt-get install chromium-headless-shell)`);
}

export interface LaunchedBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Starts the browser with a fresh profile of its own (`--user-data-dir`, which Playwright passes for a
 * persistent context) in a temp dir, removed on close.
 */
export async function launchBrowser(viewport = { width: 1400, height: 900 }): Promise<LaunchedBrowser> {
  if (CHROMIUM === undefined) throw new Error('no Chromium on this machine');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
