// A minimal Socket.IO v4 server speaking the load generator's JSON for the `idle`, `fanout`
// and `flash-sale` scenarios, as a comparison peer for ocop-live (see BENCHMARKS.md, "Peers").
// Every frame travels as the event "frame" whose argument is the same JSON object that
// ocop-live sends or receives as a WebSocket text frame:
//
//   on connect:  emit("frame", {"ev":"hello","data":{"conn":"<socket id>","protocol":1}})
//   subscribe:   {"id":1,"op":"subscribe","ch":"show:x"}  -> socket joins room show:x, reply
//   chat.send:   {"id":2,"op":"chat.send","show":"x","text":"..."}
//             -> io.to("show:x").emit("frame", {"ch":"show:x","ev":"chat","off":n,"data":{...}})
//             -> reply {"re":2,"ok":true,"data":{"msg_id":"m1"}}
//   GET /healthz on the same port answers 200.
//
// With REDIS_URL set, rooms go through @socket.io/redis-adapter; otherwise the default
// in-memory adapter is used. With REDIS_URL and ORDER_SCRIPT set, it also runs the flash sale
// of ../common/sale.js (offer.start, order.place, GET /orders, GET /summary); the handshake
// query `token=<id>` names the user ("seller" or a buyer id).
//
// Usage: node server.js [--port N]   (or PORT=N; default 8091; HOST default 127.0.0.1)
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');
const { createSale } = require('../common/sale.js');

function portFromArgs() {
  const i = process.argv.indexOf('--port');
  if (i >= 0 && process.argv[i + 1]) return Number(process.argv[i + 1]);
  if (process.argv[2] && /^\d+$/.test(process.argv[2])) return Number(process.argv[2]);
  return Number(process.env.PORT || 8091);
}

const port = portFromArgs();
const host = process.env.HOST || '127.0.0.1';

/** The flash sale, when REDIS_URL and ORDER_SCRIPT are set. */
let sale = null;

const server = http.createServer((req, res) => {
  if (sale && sale.http(req, res)) return;
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
  }
  // Other requests are Socket.IO's (it registers its own listener) or unanswered 404s.
  else if (!req.url.startsWith('/socket.io/')) {
    res.writeHead(404);
    res.end();
  }
});

const io = new Server(server, { serveClient: false, perMessageDeflate: false });

/** channel name -> last offset */
const offsets = new Map();
let nextMsg = 0;

/** Emits the event `ev` to room `name`, with the room's next offset. */
function publish(name, ev, data) {
  const off = (offsets.get(name) || 0) + 1;
  offsets.set(name, off);
  io.to(name).emit('frame', { ch: name, ev, off, data });
}

io.on('connection', (socket) => {
  const user = socket.handshake.query.token || null;
  socket.emit('frame', { ev: 'hello', data: { conn: socket.id, protocol: 1 } });

  socket.on('frame', (msg) => {
    if (typeof msg === 'string') {
      try {
        msg = JSON.parse(msg);
      } catch {
        return;
      }
    }
    if (!msg || typeof msg !== 'object') return;
    const id = msg.id;
    const reply = (data) => socket.emit('frame', { re: id, ok: true, data });
    const fail = (code, message) => socket.emit('frame', { re: id, ok: false, error: { code, message } });
    switch (msg.op) {
      case 'subscribe': {
        if (typeof msg.ch !== 'string') return fail('bad_request', 'ch is required');
        socket.join(msg.ch);
        return reply({ epoch: '', off: offsets.get(msg.ch) || 0, snapshot: {}, recovered: false, missed: [] });
      }
      case 'unsubscribe':
        socket.leave(msg.ch);
        return reply({});
      case 'chat.send': {
        if (typeof msg.show !== 'string' || typeof msg.text !== 'string') {
          return fail('bad_request', 'show and text are required');
        }
        nextMsg += 1;
        const msgId = `m${nextMsg}`;
        publish(`show:${msg.show}`, 'chat', {
          msg_id: msgId,
          user: { id: 'u0', name: 'peer', role: 'guest' },
          text: msg.text,
          at: Date.now(),
        });
        return reply({ msg_id: msgId });
      }
      case 'offer.start':
      case 'order.place': {
        if (!sale) return fail('unavailable', 'the flash sale needs REDIS_URL and ORDER_SCRIPT');
        const op = msg.op === 'offer.start' ? sale.offerStart : sale.orderPlace;
        op(msg, user).then(reply, (e) => fail(e.code || 'internal', e.message));
        return undefined;
      }
      default:
        return fail('unknown_op', `unknown op ${msg.op}`);
    }
  });
});

async function main() {
  if (process.env.REDIS_URL) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: process.env.REDIS_URL });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
    console.log(`redis adapter on ${process.env.REDIS_URL}`);
    if (process.env.ORDER_SCRIPT) {
      sale = await createSale({ createClient, redisUrl: process.env.REDIS_URL, scriptPath: process.env.ORDER_SCRIPT, publish });
      console.log('flash sale on');
    }
  }
  server.listen(port, host, () => {
    console.log(`peer socket.io listening on ${host}:${server.address().port}`);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

function shutdown() {
  io.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
