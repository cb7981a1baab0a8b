// The show page's weight and time to usable on a cheap phone over a weak network: Chromium with
// 4× CPU slowdown and DevTools' "slow 3G" profile, against a plain static page with the same
// data (the same markup and stylesheet, no script) served by a bare Node server as the floor.
// Prints a table; `--json FILE` writes the numbers. A benchmark: nothing here passes or fails on
// a time.

import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { once } from 'node:events';
import { chromium } from 'playwright-core';

import { api, startServer } from '../testing/server.mjs';

const RUNS = Number(process.env.RUNS || 5);
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// DevTools' "Slow 3G": 400 ms round trips, 400 kbit/s each way (in bytes a second, with its 0.8 factor).
const SLOW_3G = { offline: false, latency: 400, downloadThroughput: (400 * 1000 / 8) * 0.8, uploadThroughput: (400 * 1000 / 8) * 0.8 };

const server = await startServer();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
const show = (await api(server.base, 'GET', '/api/shows?status=live')).items[0];

/** Loads `url` throttled, in a fresh context (no cache); bytes on the wire and time to usable. */
async function measure(url, ready) {
  const context = await browser.newContext({ viewport: { width: 360, height: 800 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', SLOW_3G);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  let bytes = 0;
  const requests = [];
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  cdp.on('Network.requestWillBeSent', (e) => requests.push(e.request.url));
  const start = Date.now();
  await page.goto(url, { waitUntil: 'commit' });
  await page.locator(ready).first().waitFor({ state: 'visible', timeout: 120000 });
  const ms = Date.now() - start;
  // Whatever the page still fetches after it became usable (the seller, the stars) counts too.
  await page.waitForLoadState('networkidle').catch(() => {});
  const html = await page.evaluate(() => document.documentElement.outerHTML);
  await context.close();
  return { ms, bytes, requests: requests.length, html };
}

const real = [];
for (let i = 0; i < RUNS; i += 1) real.push(await measure(`${server.base}/shows/${show.id}`, '.chat-form'));

// The floor: the rendered page as static markup, scripts removed, with the same stylesheet.
const css = fs.readFileSync(new URL('../css/app.css', import.meta.url));
const markup = real[0].html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, '').replace(/<link rel="modulepreload"[^>]*>/gi, '');
const floor = http.createServer((req, res) => {
  const body = req.url === '/css/app.css' ? css : Buffer.from(`<!doctype html>${markup}`);
  const type = req.url === '/css/app.css' ? 'text/css' : 'text/html; charset=utf-8';
  res.writeHead(req.url === '/css/app.css' || req.url === '/' ? 200 : 404, { 'content-type': type, 'content-encoding': 'gzip' });
  res.end(zlib.gzipSync(body));
});
floor.listen(0, '127.0.0.1');
await once(floor, 'listening');
const floorRuns = [];
for (let i = 0; i < RUNS; i += 1) floorRuns.push(await measure(`http://127.0.0.1:${floor.address().port}/`, '.chat-form'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const row = (name, runs) => ({
  name,
  runs: runs.length,
  bytes: median(runs.map((r) => r.bytes)),
  requests: median(runs.map((r) => r.requests)),
  ms_median: median(runs.map((r) => r.ms)),
  ms_all: runs.map((r) => r.ms),
});
const rows = [row(`show page /shows/<id>`, real), row('static floor, same markup and CSS', floorRuns)];
console.log(`show page on Chromium, 4x CPU slowdown, slow 3G (${RUNS} cold loads each, medians)`);
console.log('page                                  bytes  requests  usable (ms)  all runs');
for (const r of rows) {
  console.log(`${r.name.padEnd(36)} ${String(r.bytes).padStart(7)} ${String(r.requests).padStart(9)} ${String(r.ms_median).padStart(12)}  ${r.ms_all.join(', ')}`);
}
console.log(`ratio: ${(rows[0].ms_median / rows[1].ms_median).toFixed(2)}x the floor's time, ${(rows[0].bytes / 1024).toFixed(1)} KiB on the wire (budget 150 KB)`);
const out = process.argv.indexOf('--json');
if (out > 0) fs.writeFileSync(process.argv[out + 1], JSON.stringify(rows, null, 2));

floor.close();
await browser.close();
await server.stop();
