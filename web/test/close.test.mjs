// How the client answers the server's own close codes, each against a server of its own.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';

import { client, guest, liveShow, nextEvent, startServer, until } from '../testing/server.mjs';

/** A `ws` WebSocket that counts the sockets the client opens. */
function countingWebSocket() {
  const counter = { opened: 0 };
  counter.WebSocket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      counter.opened += 1;
    }
  };
  return counter;
}

describe('close codes from the server', () => {
  test('1008 (token expired) stops the client; setToken and connect start again', async () => {
    const server = await startServer(['--token-ttl-s', '2']);
    try {
      const counter = countingWebSocket();
      const g = await guest(server.base, 'Khách Ngắn');
      const c = client(server.wsUrl, { token: g.token, WebSocket: counter.WebSocket });
      await c.connect();
      const [code, reason, info] = await nextEvent(c, 'closed', () => true, 15000);
      assert.deepEqual([code, reason], [1008, 'token expired']);
      assert.equal(info.code, 1008);
      assert.equal(info.byClient, false);
      assert.equal(c.state, 'closed');
      // Nothing is retried: longer than several backoff caps (200 ms) later, still one socket.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(counter.opened, 1);
      assert.equal(c.state, 'closed');

      const fresh = await guest(server.base, 'Khách Mới');
      c.setToken(fresh.token);
      const hello = await c.connect();
      assert.equal(hello.user.id, fresh.user.id);
      assert.equal(counter.opened, 2);
      await c.close();
    } finally {
      await server.stop();
    }
  });

  test('1012 (server restarting, on SIGTERM) makes the client reconnect', async () => {
    const server = await startServer(['--shutdown-timeout-s', '1']);
    try {
      const live = await liveShow(server.base);
      const c = client(server.wsUrl);
      await c.connect();
      const sub = c.subscribe(`show:${live.show.id}`, {});
      await sub.ready;
      const pending = [];
      const disconnected = nextEvent(c, 'disconnect', () => true, 15000);
      server.signal('SIGTERM');
      const [code, , d] = await disconnected;
      assert.equal(code, 1012);
      assert.equal(d.code, 1012);
      assert.equal(d.action, 'reconnect');
      assert.equal(c.state, 'reconnecting');
      // The server is gone; the client keeps trying (each failure another `disconnect`).
      c.on('disconnect', (_code, _reason, x) => pending.push(x));
      await until(() => pending.length >= 2, 'further attempts', 15000);
      assert.ok(pending.every((x) => x.action === 'reconnect'));
      const closed = nextEvent(c, 'closed');
      await c.close();
      const [, , info] = await closed;
      assert.equal(info.byClient, true);
      assert.equal(c.state, 'closed');
    } finally {
      await server.stop();
    }
  });

  test('4029 (rate limits exceeded repeatedly) pauses for abuseDelayMs, then reconnects; with null it stops', async () => {
    // One command a second and five refusals in a row close the connection.
    const server = await startServer(['--command-rate', '1', '--command-burst', '1', '--abuse-threshold', '5']);
    try {
      const flood = (c) => Promise.allSettled(Array.from({ length: 10 }, () => c.request('no.such.op', {})));

      const pausing = client(server.wsUrl, { abuseDelayMs: 50 });
      await pausing.connect();
      const disconnected = nextEvent(pausing, 'disconnect', () => true, 15000);
      const outcomes = await flood(pausing);
      const [, , d] = await disconnected;
      assert.equal(d.code, 4029);
      assert.equal(d.action, 'pause');
      assert.ok(d.delayMs >= 50, `paused ${d.delayMs} ms`);
      assert.ok(outcomes.some((o) => o.status === 'rejected' && o.reason.code === 'rate_limited'));
      await until(() => pausing.state === 'open', 'the reconnect after the pause', 15000);
      await pausing.close();

      const stopping = client(server.wsUrl, { abuseDelayMs: null });
      await stopping.connect();
      const closed = nextEvent(stopping, 'closed', () => true, 15000);
      await flood(stopping);
      const [code, , info] = await closed;
      assert.equal(code, 4029);
      assert.equal(info.byClient, false);
      assert.equal(stopping.state, 'closed');
    } finally {
      await server.stop();
    }
  });
});
