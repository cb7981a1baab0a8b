// What the tests in web/test share: a real server on a free port, REST calls against it, a TCP
// proxy that can be cut, and small waiting helpers. Nothing here mocks the server. It lives outside
// web/test because `node --test web/test/` would run every module in there as a test file.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

import { OcopLive } from '../js/ocop-live.js';

export const DEMO_PASSWORD = 'ocop-demo-2026';
export const DEMO_SELLER = 'htx.caonguyenda@demo.ocop.vn';
export const DEMO_BUYER = 'thuha.nguyen@demo.ocop.vn';

/** The server binary: `OCOP_LIVE_BIN`, else the release build in the cargo target directory. */
export function serverBinary() {
  if (process.env.OCOP_LIVE_BIN) return process.env.OCOP_LIVE_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'ocop-live-target');
  return path.join(target, 'release', 'ocop-live');
}

/** The environment of the tests' servers: the in-memory engine whatever the shell has set. */
function serverEnv() {
  const env = { ...process.env };
  delete env.REDIS_URL;
  return env;
}

/**
 * Starts `ocop-live --listen 127.0.0.1:0 --demo --log-format json` (plus `args`) and resolves
 * once it logged the address it listens on.
 * @param {string[]} [args]
 */
export async function startServer(args = []) {
  const bin = serverBinary();
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--demo', '--log-format', 'json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: serverEnv(),
  });
  const log = [];
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not log its address within 20 s:\n${log.join('\n')}`)), 20000);
    const onLine = (line) => {
      log.push(line);
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      if (rec.message === 'listening' && rec.addr) {
        clearTimeout(timer);
        resolve(rec.addr);
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin}: ${err.message} (build it with cargo build --release, or set OCOP_LIVE_BIN)`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited with ${code} before listening:\n${log.join('\n')}`));
    });
  });
  const base = `http://${addr}`;
  return {
    addr,
    base,
    wsUrl: `ws://${addr}/ws`,
    log,
    /** Sends the server a signal (SIGTERM: it shuts down gracefully, closing sockets with 1012). */
    signal(sig) {
      child.kill(sig);
    },
    /** Stops the server (SIGKILL: the tests need no graceful shutdown) and waits for it. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A JSON REST call; throws on a non-2xx answer.
 * @param {string} base
 * @param {string} method
 * @param {string} pathname
 * @param {{token?: string, body?: any}} [opts]
 */
export async function api(base, method, pathname, { token, body } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + pathname, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathname}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export async function login(base, email) {
  return api(base, 'POST', '/api/auth/login', { body: { email, password: DEMO_PASSWORD } });
}

export async function guest(base, name) {
  return api(base, 'POST', '/api/auth/guest', { body: { name } });
}

/**
 * Creates a show of the demo seller with its first product and starts it (unless `start` is
 * false: the show stays scheduled, and its channel has no event yet).
 */
export async function liveShow(base, title = 'Mật ong mùa hoa', { start = true } = {}) {
  const seller = await login(base, DEMO_SELLER);
  const products = await api(base, 'GET', `/api/products?seller=${encodeURIComponent(seller.user.seller_id)}`);
  if (!products.items.length) throw new Error('the demo seller has no products');
  const { show } = await api(base, 'POST', '/api/shows', {
    token: seller.token,
    body: { title, stream: { kind: 'none' }, products: [products.items[0].id] },
  });
  if (!start) return { show, seller, products: products.items };
  const started = await api(base, 'POST', `/api/shows/${show.id}/start`, { token: seller.token });
  return { show: started.show, seller, products: products.items };
}

/** A client on the `ws` package, with the test's defaults (short backoff) under `options`. */
export function client(url, options = {}) {
  return new OcopLive({ url, WebSocket, backoff: { baseMs: 20, maxMs: 200 }, ...options });
}

/**
 * A TCP proxy in front of `target` (host:port) whose connections can be cut, and which can
 * refuse new ones for a while, so a client sees its network drop while the server keeps running.
 * @param {string} target
 */
export async function startProxy(target) {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set();
  let refusing = false;
  let accepted = 0;
  const server = net.createServer((down) => {
    accepted += 1;
    if (refusing) {
      down.destroy();
      return;
    }
    const up = net.connect(port, host);
    sockets.add(down);
    sockets.add(up);
    const end = () => {
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
    down.pipe(up);
    up.pipe(down);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port: proxyPort } = /** @type {net.AddressInfo} */ (server.address());
  return {
    wsUrl: `ws://127.0.0.1:${proxyPort}/ws`,
    /** Connections accepted so far, refused ones included. */
    get accepted() {
      return accepted;
    },
    /** Drops every open connection at once, without a WebSocket close frame (the client sees 1006). */
    cut() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    /** @param {boolean} on while on, new connections are closed as soon as they are accepted */
    refuse(on) {
      refusing = on;
    },
    async close() {
      this.cut();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * Resolves once `predicate()` is true, checking on every turn of the event loop for at most
 * `timeoutMs` (an upper bound against hangs, not a timing assertion).
 * @param {() => boolean} predicate
 * @param {string} what
 * @param {number} [timeoutMs]
 */
export async function until(predicate, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Resolves with the arguments of the next `name` event of `client` that `filter` accepts.
 * @param {OcopLive} c
 * @param {string} name
 * @param {(...args: any[]) => boolean} [filter]
 * @param {number} [timeoutMs]
 */
export function nextEvent(c, name, filter = () => true, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${name}`));
    }, timeoutMs);
    const off = c.on(name, (...args) => {
      if (!filter(...args)) return;
      clearTimeout(timer);
      off();
      resolve(args);
    });
  });
}
