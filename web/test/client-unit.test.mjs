// The client's own rules, against a scripted socket: backoff bounds, the close-code policy,
// duplicate events, and that nothing is resent. The server-facing behaviour is tested against a
// real server in the other files.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { OcopError, OcopLive, backoffDelay, closeAction } from '../js/ocop-live.js';

/** A WebSocket stand-in the test drives: it records what the client sends and plays frames. */
class ScriptedSocket {
  static instances = [];
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.sent = [];
    this.closedWith = null;
    ScriptedSocket.instances.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code, reason) {
    this.closedWith = { code, reason };
    queueMicrotask(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? '' }));
  }
  // Driven by the test:
  frame(obj) {
    this.onmessage?.({ data: JSON.stringify(obj) });
  }
  hello(serverTime = new Date().toISOString()) {
    this.frame({ ev: 'hello', data: { conn: 'c', user: null, server_time: serverTime, ping_interval_s: 25, protocol: 1 } });
  }
  drop(code, reason = '') {
    this.onclose?.({ code, reason });
  }
  static last() {
    return ScriptedSocket.instances[ScriptedSocket.instances.length - 1];
  }
}

function scriptedClient(options = {}) {
  ScriptedSocket.instances = [];
  return new OcopLive({ url: 'ws://test/ws', WebSocket: ScriptedSocket, backoff: { baseMs: 1, maxMs: 4 }, ...options });
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('backoffDelay', () => {
  test('is full jitter: random() times min(maxMs, baseMs * 2^attempt)', () => {
    const backoff = { baseMs: 500, maxMs: 15000 };
    assert.equal(backoffDelay(0, backoff, () => 0.5), 250);
    assert.equal(backoffDelay(3, backoff, () => 0.5), 2000);
    assert.equal(backoffDelay(5, backoff, () => 0.5), 7500);
    // Capped at maxMs however many attempts failed.
    assert.equal(backoffDelay(6, backoff, () => 0.5), 7500);
    assert.equal(backoffDelay(1000, backoff, () => 0.5), 7500);
    assert.equal(backoffDelay(4, backoff, () => 0), 0);
  });

  test('stays within [0, cap) for every attempt with Math.random', () => {
    const backoff = { baseMs: 500, maxMs: 15000 };
    for (let attempt = 0; attempt < 40; attempt++) {
      const cap = Math.min(15000, 500 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, backoff);
        assert.ok(d >= 0 && d < cap, `attempt ${attempt}: ${d} not in [0, ${cap})`);
      }
    }
  });
});

describe('closeAction', () => {
  test('sorts the close codes of the contract', () => {
    for (const code of [1000, 1001, 1006, 1011, 1012, 4008]) assert.equal(closeAction(code), 'reconnect', String(code));
    for (const code of [1003, 1008, 1009]) assert.equal(closeAction(code), 'stop', String(code));
    assert.equal(closeAction(4029), 'pause');
  });
});

describe('the client against a scripted socket', () => {
  test('offers ocop-live.v1 and puts the token in the query', async () => {
    const c = scriptedClient({ token: 'a b' });
    const connected = c.connect();
    const ws = ScriptedSocket.last();
    assert.deepEqual(ws.protocols, ['ocop-live.v1']);
    assert.equal(ws.url, 'ws://test/ws?token=a%20b');
    ws.hello();
    await connected;
    await c.close();
  });

  test('reconnect delays follow the injected random within the bounds, and reset after a hello', async () => {
    const c = scriptedClient({ random: () => 0.75, backoff: { baseMs: 8, maxMs: 40 } });
    const delays = [];
    c.on('disconnect', (code, reason, d) => delays.push(d.delayMs));
    const connected = c.connect();
    ScriptedSocket.last().hello();
    await connected;
    // Four failed attempts in a row: 0.75 × 8, 16, 32, then capped at 40.
    for (let i = 0; i < 4; i++) {
      const before = ScriptedSocket.instances.length;
      ScriptedSocket.last().drop(1006);
      await new Promise((r) => {
        const t = setInterval(() => {
          if (ScriptedSocket.instances.length > before) {
            clearInterval(t);
            r();
          }
        }, 1);
      });
    }
    assert.deepEqual(delays, [6, 12, 24, 30]);
    // A hello resets the attempts: the next drop waits 0.75 × baseMs again.
    ScriptedSocket.last().hello();
    ScriptedSocket.last().drop(1012, 'server restarting');
    assert.equal(delays.at(-1), 6);
    await c.close();
  });

  for (const code of [1003, 1008, 1009]) {
    test(`close ${code} stops: state closed, a closed event with the code, no new socket`, async () => {
      const c = scriptedClient();
      const connected = c.connect();
      ScriptedSocket.last().hello();
      await connected;
      const closed = [];
      c.on('closed', (...args) => closed.push(args));
      ScriptedSocket.last().drop(code, 'why');
      await new Promise((r) => setTimeout(r, 30)); // Several backoff caps (4 ms) long.
      assert.equal(c.state, 'closed');
      assert.deepEqual(closed, [[code, 'why', { code, reason: 'why', byClient: false }]]);
      assert.equal(ScriptedSocket.instances.length, 1);
      await assert.rejects(c.request('react', {}), (e) => e instanceof OcopError && e.code === 'disconnected');
    });
  }

  test('4029 pauses for abuseDelayMs before reconnecting; with abuseDelayMs null it stops', async () => {
    const c = scriptedClient({ abuseDelayMs: 1000, random: () => 0.5 });
    const connected = c.connect();
    ScriptedSocket.last().hello();
    await connected;
    const [code, reason, d] = await new Promise((r) => {
      c.on('disconnect', (...a) => r(a));
      ScriptedSocket.last().drop(4029, 'rate limits exceeded repeatedly');
    });
    assert.deepEqual([code, reason], [4029, 'rate limits exceeded repeatedly']);
    assert.equal(d.action, 'pause');
    assert.equal(d.delayMs, 1000 + 0.5 * 4);
    assert.equal(c.state, 'reconnecting');
    await c.close();
    assert.equal(c.state, 'closed');

    const s = scriptedClient({ abuseDelayMs: null });
    const sConnected = s.connect();
    ScriptedSocket.last().hello();
    await sConnected;
    ScriptedSocket.last().drop(4029, 'rate limits exceeded repeatedly');
    assert.equal(s.state, 'closed');
  });

  test('kept events at or before the last offset are dropped; ephemeral ones always pass', async () => {
    const c = scriptedClient();
    const connected = c.connect();
    const ws = ScriptedSocket.last();
    ws.hello();
    await connected;
    const seen = [];
    const sub = c.subscribe('show:x', { onSnapshot: () => {}, onEvent: (e) => seen.push(e.off ?? e.ev) });
    const req = ws.sent.at(-1);
    assert.equal(req.op, 'subscribe');
    assert.equal(req.since, undefined);
    ws.frame({ re: req.id, ok: true, data: { epoch: 'e1', off: 4, snapshot: {}, recovered: false, missed: [] } });
    for (const off of [3, 4, 5, 5, 6, 4]) ws.frame({ ch: 'show:x', ev: 'chat', off, data: {} });
    ws.frame({ ch: 'show:x', ev: 'viewers', data: { count: 2 } });
    ws.frame({ ch: 'show:x', ev: 'viewers', data: { count: 2 } });
    assert.deepEqual(seen, [5, 6, 'viewers', 'viewers']);
    assert.equal(sub.off, 6);
    assert.equal(sub.epoch, 'e1');
    await c.close();
  });

  test('a command in flight when the socket drops rejects with disconnected and is not resent', async () => {
    const c = scriptedClient();
    const connected = c.connect();
    ScriptedSocket.last().hello();
    await connected;
    const placing = c.request('order.place', { show: 's', product_id: 'p', qty: 1, key: 'order-key-1' });
    const first = ScriptedSocket.last();
    assert.equal(first.sent.at(-1).op, 'order.place');
    first.drop(1012, 'server restarting');
    await assert.rejects(placing, (e) => e instanceof OcopError && e.code === 'disconnected');
    await new Promise((r) => setTimeout(r, 20));
    const second = ScriptedSocket.last();
    assert.notEqual(second, first);
    second.hello();
    await tick();
    assert.deepEqual(second.sent.filter((f) => f.op === 'order.place'), []);
    await c.close();
  });

  test('a command issued while reconnecting waits and goes out once the socket opens', async () => {
    const c = scriptedClient();
    const connected = c.connect();
    ScriptedSocket.last().hello();
    await connected;
    ScriptedSocket.last().drop(1006);
    assert.equal(c.state, 'reconnecting');
    const reacting = c.request('react', { show: 's', kind: 'heart' });
    await new Promise((r) => setTimeout(r, 20));
    const ws = ScriptedSocket.last();
    assert.deepEqual(ws.sent, []);
    ws.hello();
    const sent = ws.sent.find((f) => f.op === 'react');
    assert.ok(sent);
    ws.frame({ re: sent.id, ok: true, data: {} });
    assert.deepEqual(await reacting, {});
    await c.close();
  });

  test('serverNow follows the hello clock', async () => {
    const c = scriptedClient();
    const connected = c.connect();
    const ahead = 3_600_000;
    ScriptedSocket.last().hello(new Date(Date.now() + ahead).toISOString());
    await connected;
    assert.ok(Math.abs(c.clockOffsetMs - ahead) < 1000, `offset ${c.clockOffsetMs}`);
    assert.ok(Math.abs(c.serverNow() - (Date.now() + ahead)) < 1000);
    await c.close();
  });

  test('a command without a reply rejects with timeout, and its late reply is ignored', async () => {
    const c = scriptedClient();
    const connected = c.connect();
    const ws = ScriptedSocket.last();
    ws.hello();
    await connected;
    const errors = [];
    c.on('error', (e) => errors.push(e));
    const slow = c.request('react', { show: 's', kind: 'heart' }, { timeoutMs: 5 });
    const id = ws.sent.at(-1).id;
    await assert.rejects(slow, (e) => e instanceof OcopError && e.code === 'timeout');
    ws.frame({ re: id, ok: true, data: {} });
    assert.deepEqual(errors, []);
    // The next command still gets its own reply.
    const next = c.request('react', { show: 's', kind: 'heart' });
    const nextId = ws.sent.at(-1).id;
    assert.notEqual(nextId, id);
    ws.frame({ re: nextId, ok: false, error: { code: 'rate_limited', message: 'slow down', retry_after_ms: 250 } });
    await assert.rejects(next, (e) => e.code === 'rate_limited' && e.retryAfterMs === 250 && e.message === 'slow down');
    await c.close();
  });

  test('a token function is asked before every attempt; setToken replaces the token', async () => {
    let n = 0;
    const c = scriptedClient({ token: async () => `t${++n}` });
    const connected = c.connect();
    await tick();
    ScriptedSocket.last().hello();
    await connected;
    assert.equal(ScriptedSocket.last().url, 'ws://test/ws?token=t1');
    ScriptedSocket.last().drop(1006);
    await until(() => ScriptedSocket.instances.length === 2);
    assert.equal(ScriptedSocket.last().url, 'ws://test/ws?token=t2');
    c.setToken('fixed');
    ScriptedSocket.last().drop(1006);
    await until(() => ScriptedSocket.instances.length === 3);
    assert.equal(ScriptedSocket.last().url, 'ws://test/ws?token=fixed');
    await c.close();
  });

  test('close() while the token is being fetched opens no socket', async () => {
    let release;
    const c = scriptedClient({ token: () => new Promise((r) => (release = r)) });
    const connected = c.connect();
    await tick();
    await c.close();
    await assert.rejects(connected, { code: 'disconnected' });
    release('late');
    await tick();
    assert.equal(ScriptedSocket.instances.length, 0);
    assert.equal(c.state, 'closed');
  });

  test('a resubscribe sends since with the last kept offset and epoch, and replays missed events in order', async () => {
    const c = scriptedClient();
    const connected = c.connect();
    let ws = ScriptedSocket.last();
    ws.hello();
    await connected;
    const seen = [];
    const snapshots = [];
    const sub = c.subscribe('show:x', { onSnapshot: (s) => snapshots.push(s), onEvent: (e) => seen.push(e.off) });
    ws.frame({ re: ws.sent.at(-1).id, ok: true, data: { epoch: 'e1', off: 2, snapshot: { n: 1 }, recovered: false, missed: [] } });
    ws.frame({ ch: 'show:x', ev: 'chat', off: 3, data: {} });
    ws.drop(4008, 'too slow to keep up');
    await until(() => ScriptedSocket.instances.length === 2);
    ws = ScriptedSocket.last();
    ws.hello();
    const req = ws.sent.at(-1);
    assert.deepEqual({ op: req.op, ch: req.ch, since: req.since }, { op: 'subscribe', ch: 'show:x', since: { off: 3, epoch: 'e1' } });
    const missed = [3, 4, 5].map((off) => ({ ch: 'show:x', ev: 'chat', off, data: {} }));
    ws.frame({ re: req.id, ok: true, data: { epoch: 'e1', off: 5, snapshot: { n: 2 }, recovered: true, missed } });
    // A live event right behind the reply, in the same turn, is not lost or reordered.
    ws.frame({ ch: 'show:x', ev: 'chat', off: 6, data: {} });
    assert.deepEqual(seen, [3, 4, 5, 6]);
    assert.deepEqual(snapshots, [{ n: 1 }]);
    assert.equal(sub.off, 6);
    await c.close();
  });
});

describe('a socket that never says hello', () => {
  test('is closed after helloTimeoutMs and retried', async () => {
    const c = scriptedClient({ helloTimeoutMs: 5 });
    const connecting = c.connect();
    const first = ScriptedSocket.last();
    await until(() => ScriptedSocket.instances.length === 2);
    assert.deepEqual(first.closedWith, { code: 4000, reason: 'no hello' });
    assert.equal(c.state, 'reconnecting');
    ScriptedSocket.last().hello();
    await connecting;
    assert.equal(c.state, 'open');
    await c.close();
  });
});

/** @param {() => boolean} predicate */
async function until(predicate) {
  const deadline = Date.now() + 5000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 1));
  }
}
