// What the browser tests share: Debian's chromium driven by playwright-core, phone-sized pages
// that record script errors, axe-core's serious and critical findings, and signing in through
// the sign-in page.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

import { DEMO_PASSWORD } from './server.mjs';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Where screenshots go: $OCOP_SCREENSHOTS, else a folder under the system's temporary directory. */
export const SHOTS = process.env.OCOP_SCREENSHOTS || path.join(os.tmpdir(), 'ocop-live-screenshots');
export const PHONES = [
  { name: '360x800', width: 360, height: 800 },
  { name: '390x844', width: 390, height: 844 },
];
/** A laptop's window, for the consoles and pages that are also used at a desk. */
export const DESKTOP = { name: '1280x800', width: 1280, height: 800 };
// Flags without which Chromium stalls on a closed network.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Headless chromium ($CHROMIUM, else /usr/bin/chromium). */
export async function launch() {
  fs.mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** A phone-sized page that records script errors; axe needs to get past the CSP to run. */
export async function phone(browser, base, size = PHONES[0]) {
  const context = await browser.newContext({ viewport: { width: size.width, height: size.height }, bypassCSP: true, baseURL: base });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
  });
  return { context, page };
}

/** The serious and critical accessibility violations axe-core finds on the page as it is. */
export async function serious(page) {
  await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => (await window.axe.run()).violations);
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Signs in through /login and waits to be sent on to `next`. */
export async function signIn(page, email, next, password = DEMO_PASSWORD) {
  await page.goto(`/login?next=${encodeURIComponent(next)}`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.locator('form.panel').first().locator('button').click();
  await page.waitForURL(`**${next}`);
}

/**
 * Screenshots of the whole page at each phone size (`<name>-<size>.png`), or at `sizes`, and no
 * serious or critical accessibility violation at any of them.
 */
export async function shoot(page, name, sizes = PHONES) {
  const own = page.viewportSize();
  for (const size of sizes) {
    await page.setViewportSize({ width: size.width, height: size.height });
    // From the top, so a sticky header is where a reader expects it.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, `${name}-${size.name}.png`), fullPage: true });
    assert.deepEqual(await serious(page), [], `${name} at ${size.name}: no serious or critical accessibility violation`);
  }
  await page.setViewportSize(own);
}
