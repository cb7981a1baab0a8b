// The client with no WebSocket option, on the platform's own WebSocket: Node's built-in one
// (behind --experimental-websocket in Node 20) follows the WHATWG interface browsers have, so
// this is the closest the tests get to a browser.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { guest, liveShow, startServer } from '../testing/server.mjs';

const clientUrl = new URL('../js/ocop-live.js', import.meta.url).href;

// Runs in a child Node with the built-in WebSocket: connects with globalThis.WebSocket, subscribes,
// chats, and prints what it saw as one JSON line.
const script = `
import { OcopLive } from ${JSON.stringify(clientUrl)};
const [url, token, showId, text] = process.argv.slice(1);
const client = new OcopLive({ url, token });
const hello = await client.connect();
const seen = { hello, snapshotShow: null, chat: null, reply: null };
await new Promise((resolve, reject) => {
  const sub = client.subscribe('show:' + showId, {
    onSnapshot(snapshot) { seen.snapshotShow = snapshot.show.id; },
    onEvent(ev) { if (ev.ev === 'chat' && ev.data.text === text) { seen.chat = ev; resolve(); } },
    onError: reject,
  });
  sub.ready.then(() => client.request('chat.send', { show: showId, text })).then((r) => { seen.reply = r; }, reject);
  setTimeout(() => reject(new Error('no chat event within 10 s')), 10000);
});
await client.close();
console.log(JSON.stringify({ ...seen, state: client.state }));
`;

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

test('in a runtime with a standard global WebSocket the client needs no WebSocket option', async (t) => {
  const probe = await run(['--experimental-websocket', '-e', 'process.stdout.write(typeof WebSocket)']).catch(() => '');
  if (probe !== 'function') {
    t.skip('this Node has no built-in WebSocket');
    return;
  }
  const live = await liveShow(server.base);
  const g = await guest(server.base, 'Khách Trình Duyệt');
  const text = `chào từ WebSocket chuẩn ${Date.now()}`;
  const out = await run(['--experimental-websocket', '--no-warnings', '--input-type=module', '-e', script, server.wsUrl, g.token, live.show.id, text]);
  const seen = JSON.parse(out.trim().split('\n').at(-1));
  assert.equal(seen.hello.user.id, g.user.id);
  assert.equal(seen.snapshotShow, live.show.id);
  assert.equal(seen.chat.data.msg_id, seen.reply.msg_id);
  assert.equal(typeof seen.chat.off, 'number');
  assert.equal(seen.state, 'closed');
});

/** @param {string[]} args */
function run(args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: fileURLToPath(new URL('.', import.meta.url)), timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
