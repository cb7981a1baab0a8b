// Connecting, commands and replies, and a live show's chat, against a real server.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { OcopError } from '../js/ocop-live.js';
import { client, guest, liveShow, nextEvent, startServer, until } from '../testing/server.mjs';

let server;
let live;
before(async () => {
  server = await startServer();
  live = await liveShow(server.base);
});
after(async () => {
  await server?.stop();
});

describe('connecting', () => {
  test('connect resolves with the hello frame; serverNow uses its server_time', async () => {
    const g = await guest(server.base, 'Khách Hà');
    const c = client(server.wsUrl, { token: g.token });
    const states = [];
    c.on('state', (s) => states.push(s));
    const hello = await c.connect();
    try {
      assert.equal(typeof hello.conn, 'string');
      assert.equal(hello.protocol, 1);
      assert.equal(hello.user.id, g.user.id);
      assert.equal(hello.user.role, 'guest');
      assert.deepEqual(states, ['connecting', 'open']);
      assert.equal(c.state, 'open');
      // The offset is server_time minus the local time the hello arrived: the server runs on
      // this machine, so it is small, and serverNow is the local clock shifted by it.
      const serverMs = Date.parse(hello.server_time);
      assert.ok(Number.isFinite(serverMs));
      assert.ok(Math.abs(c.clockOffsetMs) < 5000, `offset ${c.clockOffsetMs} ms`);
      const local = Date.now();
      const now = c.serverNow();
      assert.ok(Math.abs(now - (local + c.clockOffsetMs)) < 1000);
    } finally {
      await c.close();
    }
    assert.deepEqual(states, ['connecting', 'open', 'closed']);
  });

  test('an anonymous viewer gets a hello with user null', async () => {
    const c = client(server.wsUrl);
    const hello = await c.connect();
    assert.equal(hello.user, null);
    await c.close();
  });
});

describe('commands and replies', () => {
  test('several commands in flight at once each resolve to their own caller', async () => {
    const g = await guest(server.base, 'Khách Lan');
    const c = client(server.wsUrl, { token: g.token });
    await c.connect();
    try {
      const chats = [];
      const sub = c.subscribe(`show:${live.show.id}`, { onEvent: (e) => e.ev === 'chat' && chats.push(e.data) });
      await sub.ready;
      const texts = ['một', 'hai', 'ba', 'bốn'].map((w) => `Tin ${w} ${randomUUID().slice(0, 8)}`);
      // All sent before any reply arrives; an error and an unknown op in the same batch.
      const [r0, r1, unknown, r2, missing, r3] = await Promise.allSettled([
        c.request('chat.send', { show: live.show.id, text: texts[0] }),
        c.request('chat.send', { show: live.show.id, text: texts[1] }),
        c.request('show.dance', { show: live.show.id }),
        c.request('chat.send', { show: live.show.id, text: texts[2] }),
        c.request('chat.send', { show: randomUUID(), text: 'không có phiên này' }),
        c.request('chat.send', { show: live.show.id, text: texts[3] }),
      ]);
      assert.equal(unknown.status, 'rejected');
      assert.equal(unknown.reason.code, 'unknown_op');
      assert.equal(missing.status, 'rejected');
      assert.equal(missing.reason.code, 'not_found');
      const replies = [r0, r1, r2, r3].map((r) => {
        assert.equal(r.status, 'fulfilled', String(r.reason));
        return r.value;
      });
      await until(() => chats.length >= 4, 'four chat events');
      // Each caller got the msg_id of the message it sent, told apart by the event's text.
      for (let i = 0; i < 4; i++) {
        const ev = chats.find((m) => m.text === texts[i]);
        assert.ok(ev, `no chat event for ${texts[i]}`);
        assert.equal(replies[i].msg_id, ev.msg_id, `reply ${i} carries another message's id`);
      }
      assert.equal(new Set(replies.map((r) => r.msg_id)).size, 4);
    } finally {
      await c.close();
    }
  });

  test('an error reply rejects with an OcopError carrying the code', async () => {
    const c = client(server.wsUrl);
    await c.connect();
    try {
      await assert.rejects(c.request('no.such.op', {}), (e) => {
        assert.ok(e instanceof OcopError);
        assert.equal(e.code, 'unknown_op');
        assert.equal(typeof e.message, 'string');
        return true;
      });
      // An anonymous viewer may not chat.
      await assert.rejects(c.request('chat.send', { show: live.show.id, text: 'xin chào' }), { code: 'unauthenticated' });
    } finally {
      await c.close();
    }
  });

  test('subscribing to a show that does not exist: ready and onError get not_found, and the channel is free again', async () => {
    const c = client(server.wsUrl);
    await c.connect();
    try {
      const ch = `show:${randomUUID()}`;
      const errors = [];
      const sub = c.subscribe(ch, { onSnapshot: () => assert.fail('no snapshot for a missing show'), onError: (e) => errors.push(e) });
      await assert.rejects(sub.ready, (e) => e instanceof OcopError && e.code === 'not_found');
      assert.deepEqual(errors.map((e) => e.code), ['not_found']);
      // A refused subscription is forgotten: the same channel can be asked for again.
      const again = c.subscribe(ch, {});
      await assert.rejects(again.ready, { code: 'not_found' });
    } finally {
      await c.close();
    }
  });

  test('a request while closed rejects with disconnected at once', async () => {
    const c = client(server.wsUrl);
    await assert.rejects(c.request('react', { show: live.show.id, kind: 'heart' }), { code: 'disconnected' });
  });
});

describe('a live show', () => {
  test('a guest subscribes, gets the snapshot, sends chat and receives its chat event', async () => {
    const g = await guest(server.base, 'Khách Minh');
    const c = client(server.wsUrl, { token: g.token });
    await c.connect();
    try {
      const snapshots = [];
      const chats = [];
      const sub = c.subscribe(`show:${live.show.id}`, {
        onSnapshot: (snapshot, meta) => snapshots.push({ snapshot, meta }),
        onEvent: (e) => e.ev === 'chat' && chats.push(e),
      });
      const meta = await sub.ready;
      assert.equal(snapshots.length, 1);
      const { snapshot } = snapshots[0];
      assert.equal(snapshot.show.id, live.show.id);
      assert.equal(snapshot.show.status, 'live');
      assert.ok(Array.isArray(snapshot.chat));
      assert.equal(meta.recovered, false);
      assert.equal(meta.resubscribed, false);
      assert.equal(sub.off, meta.off);
      assert.equal(sub.epoch, meta.epoch);

      const text = `Mật này có kết tinh không shop? ${randomUUID().slice(0, 8)}`;
      const reply = await c.request('chat.send', { show: live.show.id, text });
      await until(() => chats.some((e) => e.data.text === text), 'the chat event');
      const ev = chats.find((e) => e.data.text === text);
      assert.equal(ev.ch, `show:${live.show.id}`);
      assert.equal(ev.data.msg_id, reply.msg_id);
      assert.equal(ev.data.user.id, g.user.id);
      assert.equal(ev.data.user.role, 'guest');
      assert.ok(ev.off > meta.off);
      assert.equal(sub.off, ev.off);

      // After unsubscribe no handler runs, even for a message the client itself sends.
      await sub.unsubscribe();
      const seen = chats.length;
      const other = await c.request('chat.send', { show: live.show.id, text: 'sau khi hủy theo dõi' });
      assert.equal(typeof other.msg_id, 'string');
      await c.request('react', { show: live.show.id, kind: 'heart' }); // A round trip after the chat.
      assert.equal(chats.length, seen);
    } finally {
      await c.close();
    }
  });

  test('a message over the size limit closes with 1009 and the client stops', async () => {
    const g = await guest(server.base, 'Khách Dài');
    const c = client(server.wsUrl, { token: g.token });
    await c.connect();
    const closed = nextEvent(c, 'closed');
    const reconnects = [];
    c.on('state', (s) => s === 'reconnecting' && reconnects.push(s));
    await assert.rejects(c.request('chat.send', { show: live.show.id, text: 'x'.repeat(20 * 1024) }), { code: 'disconnected' });
    const [code, , info] = await closed;
    assert.equal(code, 1009);
    assert.equal(info.byClient, false);
    assert.equal(c.state, 'closed');
    assert.deepEqual(reconnects, []);
  });
});
