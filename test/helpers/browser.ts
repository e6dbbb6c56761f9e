import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

import { startRole } from './processes.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, with a fresh profile; never a browser a tool downloads. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'jobcast-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1000, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Collects uncaught page errors and console errors, so a test can fail on any. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return errors;
}

/** Where tests save screenshots (gitignored). */
export const ARTIFACTS = join(process.cwd(), 'test-artifacts');

export type { Browser, Page };

/**
 * The demo (`jobcast all`) in its own process with its own key prefix, and a browser, for the
 * browser suites; `close()` asserts nothing, it returns the app's exit code.
 */
export async function demoWithBrowser(tag: string, env: Record<string, string> = {}) {
  const prefix = uniquePrefix(tag);
  const redisUrl = await testRedisUrl();
  const [started, launched] = await Promise.allSettled([
    startRole('all', { REDIS_URL: redisUrl, JOBCAST_PREFIX: prefix, JOBCAST_SECRET: `${tag}-test-secret-0123456789`, ...env }),
    launchBrowser(),
  ]);
  if (started.status === 'rejected' || launched.status === 'rejected') {
    // Whichever half did start must not outlive the failure (a live child keeps the run open).
    if (started.status === 'fulfilled') await started.value.stop();
    if (launched.status === 'fulfilled') await launched.value.close();
    await deleteKeys(redisUrl, prefix);
    throw started.status === 'rejected' ? started.reason : (launched as PromiseRejectedResult).reason;
  }
  const app = started.value;
  const browser = launched.value;
  await mkdir(ARTIFACTS, { recursive: true });
  return {
    app,
    browser,
    async close(): Promise<number | null> {
      await browser.close();
      const code = await app.stop();
      await deleteKeys(redisUrl, prefix);
      return code;
    },
  };
}
