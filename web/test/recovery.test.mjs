// Reconnecting and recovering, against a real server behind a TCP proxy the tests cut: the
// server keeps running (and keeps its history), only the client's network drops.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { client, guest, liveShow, nextEvent, startProxy, startServer, until } from '../testing/server.mjs';

/** A viewer through `proxy` and a sender straight to the server, both guests of `live`'s show. */
async function viewerAndSender(server, proxy, live, viewerOptions = {}) {
  const [v, s] = await Promise.all([guest(server.base, 'Người xem'), guest(server.base, 'Người gửi')]);
  const viewer = client(proxy.wsUrl, { token: v.token, ...viewerOptions });
  const sender = client(server.wsUrl, { token: s.token });
  await Promise.all([viewer.connect(), sender.connect()]);
  const seen = { chats: [], snapshots: [], resets: [], resubscribed: [] };
  const sub = viewer.subscribe(`show:${live.show.id}`, {
    onSnapshot: (snapshot, meta) => seen.snapshots.push({ snapshot, meta }),
    onEvent: (e) => e.ev === 'chat' && seen.chats.push({ off: e.off, text: e.data.text }),
    onReset: (meta) => seen.resets.push(meta),
    onResubscribed: (meta) => seen.resubscribed.push(meta),
  });
  await sub.ready;
  const say = (text) => sender.request('chat.send', { show: live.show.id, text });
  return { viewer, sender, sub, seen, say };
}

/** Cuts the viewer's network and keeps it cut until `during` has run. */
async function outage(proxy, viewer, during) {
  proxy.refuse(true);
  const reconnecting = nextEvent(viewer, 'state', (s) => s === 'reconnecting');
  proxy.cut();
  await reconnecting;
  await during();
  proxy.refuse(false);
}

const tag = () => randomUUID().slice(0, 8);

describe('recovery after a network cut', () => {
  let server;
  let proxy;
  let live;
  before(async () => {
    server = await startServer();
    proxy = await startProxy(server.addr);
    live = await liveShow(server.base);
  });
  after(async () => {
    await proxy?.close();
    await server?.stop();
  });

  test('recovered: true, and the missed chat arrives exactly once and in order', async () => {
    const { viewer, sender, seen, say, sub } = await viewerAndSender(server, proxy, live);
    try {
      const t = tag();
      const before = `trước ${t}`;
      await say(before);
      await until(() => seen.chats.some((c) => c.text === before), 'the first chat');
      const missed = [1, 2, 3].map((i) => `lúc mất mạng ${i} ${t}`);
      await outage(proxy, viewer, async () => {
        for (const text of missed) await say(text);
      });
      await until(() => seen.resubscribed.length === 1, 'the resubscribe reply', 15000);
      const meta = seen.resubscribed[0];
      assert.equal(meta.recovered, true);
      assert.equal(meta.resubscribed, true);
      assert.equal(meta.missed, 3);
      assert.equal(seen.snapshots.length, 1, 'a recovered subscription is not rebuilt');
      assert.deepEqual(seen.resets, []);

      const afterwards = `sau ${t}`;
      await say(afterwards);
      await until(() => seen.chats.some((c) => c.text === afterwards), 'the chat after the reconnect');
      const mine = seen.chats.filter((c) => c.text.endsWith(t));
      assert.deepEqual(mine.map((c) => c.text), [before, ...missed, afterwards]);
      const offs = seen.chats.map((c) => c.off);
      for (let i = 1; i < offs.length; i++) assert.ok(offs[i] > offs[i - 1], `offsets not increasing: ${offs}`);
      assert.equal(sub.off, offs.at(-1));
    } finally {
      await Promise.all([viewer.close(), sender.close()]);
    }
  });

  test('a subscription made before any event recovers from epoch "" at offset 0', async () => {
    // A show not started yet takes chat, and its channel has no event when the viewer subscribes.
    const fresh = await liveShow(server.base, 'Trà Shan tuyết', { start: false });
    const { viewer, sender, seen, say, sub } = await viewerAndSender(server, proxy, fresh);
    try {
      assert.deepEqual([seen.snapshots[0].meta.epoch, seen.snapshots[0].meta.off], ['', 0]);
      const t = tag();
      const missed = [`một ${t}`, `hai ${t}`];
      await outage(proxy, viewer, async () => {
        for (const text of missed) await say(text);
      });
      await until(() => seen.resubscribed.length === 1, 'the resubscribe reply', 15000);
      assert.equal(seen.resubscribed[0].recovered, true);
      assert.deepEqual(seen.chats.map((c) => c.text), missed);
      assert.equal(sub.off, seen.chats.at(-1).off);
    } finally {
      await Promise.all([viewer.close(), sender.close()]);
    }
  });

  test('reconnect delays are full jitter of the injected random, capped, and reset after a hello', async () => {
    const g = await guest(server.base, 'Khách');
    const c = client(proxy.wsUrl, { token: g.token, random: () => 0.5, backoff: { baseMs: 16, maxMs: 64 } });
    const drops = [];
    c.on('disconnect', (_code, _reason, d) => drops.push(d));
    await c.connect();
    try {
      proxy.refuse(true);
      proxy.cut();
      await until(() => drops.length >= 6, 'six failed attempts');
      proxy.refuse(false);
      await until(() => c.state === 'open', 'the reconnect');
      // One drop of the open socket, then refused attempts: 0.5 × min(64, 16 × 2^n) = 8, 16, 32, 32, ...
      assert.deepEqual(drops.slice(0, 6).map((d) => d.delayMs), [8, 16, 32, 32, 32, 32]);
      assert.ok(drops.every((d) => d.code === 1006 && d.action === 'reconnect'));
      // A hello resets the count: the next drop waits 0.5 × baseMs again.
      const n = drops.length;
      proxy.cut();
      await until(() => drops.length > n, 'the next drop');
      assert.equal(drops[n].delayMs, 8);
      await until(() => c.state === 'open', 'the second reconnect');
    } finally {
      await c.close();
    }
  });
});

describe('recovery that is not possible', () => {
  let server;
  let proxy;
  let live;
  before(async () => {
    // Two events of history only, so a short outage outlives it.
    server = await startServer(['--history-size', '2']);
    proxy = await startProxy(server.addr);
    live = await liveShow(server.base);
  });
  after(async () => {
    await proxy?.close();
    await server?.stop();
  });

  test('recovered: false after history was overrun: onReset, then onSnapshot again with the new state', async () => {
    const { viewer, sender, seen, say, sub } = await viewerAndSender(server, proxy, live);
    try {
      const t = tag();
      const missed = [1, 2, 3, 4].map((i) => `tin ${i} ${t}`);
      await outage(proxy, viewer, async () => {
        for (const text of missed) await say(text);
      });
      await until(() => seen.snapshots.length === 2, 'the second snapshot', 15000);
      const { snapshot, meta } = seen.snapshots[1];
      assert.equal(meta.recovered, false);
      assert.equal(meta.resubscribed, true);
      assert.equal(seen.resets.length, 1);
      assert.equal(seen.resubscribed.length, 1);
      assert.deepEqual(seen.chats, [], 'missed events are not replayed one by one');
      // The rebuilt state has what was missed (as much chat as the history holds: here the last
      // two messages), and the position moved to the snapshot's.
      const texts = snapshot.chat.map((c) => c.data?.text ?? c.text);
      assert.deepEqual(texts.slice(-2), missed.slice(-2));
      assert.equal(sub.off, meta.off);

      const live2 = `tiếp ${t}`;
      await say(live2);
      await until(() => seen.chats.some((c) => c.text === live2), 'the live chat after the rebuild');
      assert.ok(seen.chats[0].off > meta.off);
    } finally {
      await Promise.all([viewer.close(), sender.close()]);
    }
  });

  test('a subscribe with a wrong epoch is not recovered: onReset and onSnapshot', async () => {
    const c = client(server.wsUrl);
    await c.connect();
    try {
      const snapshots = [];
      const resets = [];
      const sub = c.subscribe(`show:${live.show.id}`, {
        since: { off: 1, epoch: 'not-this-epoch' },
        onSnapshot: (snapshot, meta) => snapshots.push({ snapshot, meta }),
        onReset: (meta) => resets.push(meta),
      });
      const meta = await sub.ready;
      assert.equal(meta.recovered, false);
      assert.equal(snapshots.length, 1);
      assert.equal(snapshots[0].snapshot.show.id, live.show.id);
      assert.equal(resets.length, 1);
      assert.notEqual(sub.epoch, 'not-this-epoch');
      assert.equal(sub.epoch, meta.epoch);
    } finally {
      await c.close();
    }
  });
});
