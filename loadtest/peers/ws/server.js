// A minimal Node `ws` server speaking the JSON the load generator uses in the `idle`,
// `fanout` and `flash-sale` scenarios, as a comparison peer for ocop-live (see BENCHMARKS.md,
// "Peers").
//
//   on connect:  {"ev":"hello","data":{"conn":"c1","protocol":1}}
//   subscribe:   {"id":1,"op":"subscribe","ch":"show:x"}
//             -> {"re":1,"ok":true,"data":{"epoch":"","off":0,"snapshot":{},"recovered":false,"missed":[]}}
//   chat.send:   {"id":2,"op":"chat.send","show":"x","text":"..."}
//             -> every subscriber of show:x gets {"ch":"show:x","ev":"chat","off":n,"data":{...}}
//             -> the sender gets {"re":2,"ok":true,"data":{"msg_id":"m1"}}
//   GET /healthz on the same port answers 200.
//
// With REDIS_URL and ORDER_SCRIPT set, it also runs the flash sale of ../common/sale.js
// (offer.start, order.place, GET /orders, GET /summary); `?token=<id>` in the WebSocket URL
// names the user ("seller" or a buyer id).
//
// Usage: node server.js [--port N]   (or PORT=N; default 8090; HOST default 127.0.0.1)
'use strict';

const http = require('node:http');
const { WebSocketServer } = require('ws');
const { createSale } = require('../common/sale.js');

function portFromArgs() {
  const i = process.argv.indexOf('--port');
  if (i >= 0 && process.argv[i + 1]) return Number(process.argv[i + 1]);
  if (process.argv[2] && /^\d+$/.test(process.argv[2])) return Number(process.argv[2]);
  return Number(process.env.PORT || 8090);
}

const port = portFromArgs();
const host = process.env.HOST || '127.0.0.1';

/** channel name -> { subs: Set<WebSocket>, off: number } */
const channels = new Map();
let nextConn = 0;
let nextMsg = 0;
/** The flash sale, when REDIS_URL is set. */
let sale = null;

function channel(name) {
  let c = channels.get(name);
  if (!c) {
    c = { subs: new Set(), off: 0 };
    channels.set(name, c);
  }
  return c;
}

/** Sends the event `ev` to every subscriber of channel `name`, with the channel's next offset. */
function publish(name, ev, data) {
  const c = channel(name);
  c.off += 1;
  const frame = JSON.stringify({ ch: name, ev, off: c.off, data });
  for (const sub of c.subs) sub.send(frame);
}

function reply(ws, id, data) {
  ws.send(JSON.stringify({ re: id, ok: true, data }));
}

function fail(ws, id, code, message) {
  ws.send(JSON.stringify({ re: id, ok: false, error: { code, message } }));
}

const server = http.createServer((req, res) => {
  if (sale && sale.http(req, res)) return;
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  res.writeHead(404);
  res.end();
});

const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });

wss.on('connection', (ws, req) => {
  nextConn += 1;
  ws.subs = new Set();
  ws.user = new URL(req.url, 'http://peer').searchParams.get('token') || null;
  ws.send(JSON.stringify({ ev: 'hello', data: { conn: `c${nextConn}`, protocol: 1 } }));

  ws.on('message', (raw, isBinary) => {
    if (isBinary) return;
    let msg;
    try {
      msg = JSON.parse(raw.toString());
    } catch {
      return;
    }
    const id = msg.id;
    switch (msg.op) {
      case 'subscribe': {
        if (typeof msg.ch !== 'string') return fail(ws, id, 'bad_request', 'ch is required');
        const c = channel(msg.ch);
        c.subs.add(ws);
        ws.subs.add(msg.ch);
        return reply(ws, id, { epoch: '', off: c.off, snapshot: {}, recovered: false, missed: [] });
      }
      case 'unsubscribe': {
        const c = channels.get(msg.ch);
        if (c) c.subs.delete(ws);
        ws.subs.delete(msg.ch);
        return reply(ws, id, {});
      }
      case 'chat.send': {
        if (typeof msg.show !== 'string' || typeof msg.text !== 'string') {
          return fail(ws, id, 'bad_request', 'show and text are required');
        }
        nextMsg += 1;
        const msgId = `m${nextMsg}`;
        publish(`show:${msg.show}`, 'chat', {
          msg_id: msgId,
          user: { id: 'u0', name: 'peer', role: 'guest' },
          text: msg.text,
          at: Date.now(),
        });
        return reply(ws, id, { msg_id: msgId });
      }
      case 'offer.start':
      case 'order.place': {
        if (!sale) return fail(ws, id, 'unavailable', 'the flash sale needs REDIS_URL and ORDER_SCRIPT');
        const op = msg.op === 'offer.start' ? sale.offerStart : sale.orderPlace;
        op(msg, ws.user).then(
          (data) => reply(ws, id, data),
          (e) => fail(ws, id, e.code || 'internal', e.message),
        );
        return undefined;
      }
      default:
        return fail(ws, id, 'unknown_op', `unknown op ${msg.op}`);
    }
  });

  ws.on('close', () => {
    for (const name of ws.subs) {
      const c = channels.get(name);
      if (c) c.subs.delete(ws);
    }
    ws.subs.clear();
  });
  ws.on('error', () => {});
});

async function main() {
  if (process.env.REDIS_URL) {
    const { createClient } = require('redis');
    sale = await createSale({
      createClient,
      redisUrl: process.env.REDIS_URL,
      scriptPath: process.env.ORDER_SCRIPT,
      publish,
    });
    console.log(`flash sale on ${process.env.REDIS_URL}`);
  }
  server.listen(port, host, () => {
    console.log(`peer ws listening on ${host}:${server.address().port}`);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

function shutdown() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
