/**
 * Opens eipd's /docs in Debian's headless Chromium (driven by playwright-core) and records every
 * request the page makes, so that a test can check that none leaves eipd's origin.
 */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Chromium's own background traffic (updates, sync, safe browsing, QUIC probes) off. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Any host but the loopback resolves to nothing: a request that tried to leave the machine
  // would fail instead of reaching the network. It would still be recorded, and fail the test.
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

export interface DocsPageVisit {
  /** Every URL the page requested, in order. */
  requests: string[];
  /** Console errors and uncaught page errors (a Content-Security-Policy refusal shows here). */
  errors: string[];
  /** The `METHOD path` of every operation the page rendered. */
  operations: string[];
  title: string;
}

export async function visitDocs(
  baseUrl: string,
  options: { screenshotPath?: string; timeoutMs?: number } = {},
): Promise<DocsPageVisit> {
  // Fails (it never skips) when Chromium is missing: .ci/run installs it.
  await access(CHROMIUM).catch(() => {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
  });
  const timeout = options.timeoutMs ?? 60_000;
  const profile = await mkdtemp(join(tmpdir(), 'eipd-docs-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 1000 },
    timeout,
  });
  try {
    const requests: string[] = [];
    const errors: string[] = [];
    context.on('request', (request) => void requests.push(request.url()));
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => void errors.push(`page: ${error.message}`));
    await page.goto(new URL('/docs', baseUrl).href, { waitUntil: 'load', timeout });
    const post = page
      .locator('.opblock-post .opblock-summary-path', { hasText: /^\/v1\/elastic-ips$/ })
      .first();
    await post.waitFor({ state: 'visible', timeout });
    await page.waitForLoadState('networkidle', { timeout });
    const methods = await page.locator('.opblock-summary-method').allTextContents();
    const paths = await page.locator('.opblock-summary-path').allTextContents();
    const operations = methods.map((method, i) => `${method} ${paths[i] ?? ''}`);
    if (options.screenshotPath !== undefined) {
      await page.screenshot({ path: options.screenshotPath });
    }
    return { requests, errors, operations, title: await page.title() };
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}
