// The flash-sale part shared by the Node peers (ws/server.js, socketio/server.js): offers and
// orders on Redis, placed by the very Lua script ocop-live's Redis engine runs
// (`loadtest order-script` prints it), with the same keys and arguments. See BENCHMARKS.md,
// "Peers".
//
//   offer.start {show, product_id, price, quantity, per_buyer_limit, duration_s}   (token "seller")
//     -> reply {"offer": {...}}, and the event {"ev":"offer","data":{"offer":{...}}} on show:<show>
//   order.place {show, offer_id, qty, key, delivery}   (token = the buyer's id)
//     -> reply {"order": {...}} or the error sold_out / limit_reached / insufficient_stock / ...;
//        the event {"ev":"order","data":{"order":{...}}} on seller:peer-seller; when the offer
//        sells out, {"ev":"offer"} with status sold_out on show:<show>, and from then on the
//        process refuses orders for it without calling Redis (as each ocop-live node does).
//   GET /orders?offer=ID        -> the stored orders of the offer (JSON array)
//   GET /summary?offer=ID&show=ID -> {"orders": n, "units": n} from the script's counters
//
// The caller gives the Redis client factory (each peer resolves `redis` from its own
// node_modules), the Lua file (ORDER_SCRIPT) and a `publish(channel, event)` that broadcasts
// an event frame to a channel's subscribers.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');

const SELLER = 'peer-seller';
const TAG = `peer:{s:${SELLER}}`;
const IDEMPOTENCY_TTL_S = 86400;
const ORDER_LOG_MAX = 100000;
const BOUGHT_TTL_S = 3 * 24 * 3600;

class SaleError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function int(v, name, min, max) {
  if (!Number.isInteger(v) || v < min || v > max) throw new SaleError('bad_request', `${name} must be an integer from ${min} to ${max}`);
  return v;
}

function str(v, name) {
  if (typeof v !== 'string' || v.length === 0 || v.length > 200) throw new SaleError('bad_request', `${name} is required`);
  return v;
}

async function createSale({ createClient, redisUrl, scriptPath, publish }) {
  if (!redisUrl) throw new Error('REDIS_URL is required for the flash sale');
  if (!scriptPath) throw new Error('ORDER_SCRIPT (the file `loadtest order-script` writes) is required');
  const lua = fs.readFileSync(scriptPath, 'utf8');
  const redis = createClient({ url: redisUrl });
  redis.on('error', (e) => console.error('redis:', e.message));
  await redis.connect();
  let sha = await redis.scriptLoad(lua);
  /** offer id -> {show, price, product_id, name} for offers this process started */
  const offers = new Map();
  /** offer ids known to be sold out */
  const soldOut = new Set();

  const offerKey = (offer) => `${TAG}:offer:${offer}`;
  const indexKey = (offer) => `${TAG}:order-index:${offer}`;
  const statsKey = (show) => `${TAG}:show:${show}:sales`;

  async function evalsha(keys, args) {
    try {
      return await redis.evalSha(sha, { keys, arguments: args });
    } catch (e) {
      if (!String(e.message).startsWith('NOSCRIPT')) throw e;
      sha = await redis.scriptLoad(lua);
      return redis.evalSha(sha, { keys, arguments: args });
    }
  }

  async function offerStart(msg, user) {
    if (user !== 'seller') throw new SaleError('forbidden', 'only the seller starts offers');
    const show = str(msg.show, 'show');
    const productId = str(msg.product_id, 'product_id');
    const price = int(msg.price, 'price', 1, 1e12);
    const quantity = int(msg.quantity, 'quantity', 1, 1e9);
    const limit = int(msg.per_buyer_limit, 'per_buyer_limit', 1, 1e9);
    const duration = int(msg.duration_s, 'duration_s', 10, 7200);
    const id = crypto.randomUUID();
    const now = Date.now();
    const endsAt = now + duration * 1000;
    await redis.hSet(offerKey(id), {
      status: 'live',
      remaining: String(quantity),
      quantity: String(quantity),
      price: String(price),
      limit: String(limit),
      starts_at: String(now),
      ends_at: String(endsAt),
      show,
      product: productId,
      moves: '',
    });
    const name = 'Mật ong bạc hà';
    offers.set(id, { show, price, productId, name });
    const offer = {
      id,
      show_id: show,
      product_id: productId,
      product_name: name,
      price,
      quantity,
      remaining: quantity,
      per_buyer_limit: limit,
      status: 'live',
      ends_at: new Date(endsAt).toISOString(),
    };
    publish(`show:${show}`, 'offer', { offer });
    return { offer };
  }

  async function orderPlace(msg, user) {
    if (!user || user === 'seller') throw new SaleError('unauthorized', 'sign in as a buyer to order');
    const show = str(msg.show, 'show');
    const offerId = str(msg.offer_id, 'offer_id');
    const key = str(msg.key, 'key');
    const qty = int(msg.qty, 'qty', 1, 1000);
    if (soldOut.has(offerId)) throw new SaleError('sold_out', 'the offer is sold out');
    const offer = offers.get(offerId);
    if (!offer) throw new SaleError('not_found', 'no such offer');
    const orderId = crypto.randomUUID();
    const order = {
      id: orderId,
      buyer_id: user,
      seller_id: SELLER,
      show_id: show,
      offer_id: offerId,
      key,
      items: [{ product_id: offer.productId, name: offer.name, qty, unit_price: offer.price }],
      total: qty * offer.price,
      delivery: msg.delivery || null,
      payment: 'cod',
      source: 'offer',
      created_at: new Date().toISOString(),
    };
    const json = JSON.stringify(order);
    const keys = [
      offerKey(offerId),
      `${TAG}:idem:${user}:${key}`,
      `${offerKey(offerId)}:buyer:${user}`,
      `${TAG}:order:${orderId}`,
      `${TAG}:orders`,
      indexKey(offerId),
      statsKey(show),
    ];
    const args = [
      `o:${offerId}:${qty}`,
      String(qty),
      String(Date.now()),
      String(offer.price),
      orderId,
      json,
      String(IDEMPOTENCY_TTL_S),
      String(ORDER_LOG_MAX),
      offer.productId,
      offerId,
      '1',
      String(BOUGHT_TTL_S),
      user,
      show,
    ];
    const [kind, detail, remaining] = await evalsha(keys, args);
    if (kind === 'refused') {
      if (detail === 'sold_out') soldOut.add(offerId);
      throw new SaleError(detail, `refused: ${detail}`);
    }
    if (kind === 'dup') {
      const stored = await redis.hGet(`${TAG}:order:${detail}`, 'json');
      return { order: JSON.parse(stored), replayed: true };
    }
    publish(`seller:${SELLER}`, 'order', { order });
    if (remaining === 0 && !soldOut.has(offerId)) {
      soldOut.add(offerId);
      publish(`show:${show}`, 'offer', { offer: { id: offerId, status: 'sold_out', remaining: 0 } });
    }
    return { order };
  }

  /** Answers GET /orders and GET /summary; false for other paths. */
  function http(req, res) {
    const url = new URL(req.url, 'http://peer');
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const offer = url.searchParams.get('offer');
    if (url.pathname === '/orders' && offer) {
      redis
        .zRange(indexKey(offer), 0, -1)
        .then((ids) => Promise.all(ids.map((id) => redis.hGet(`${TAG}:order:${id}`, 'json'))))
        .then((jsons) => send(200, jsons.filter(Boolean).map((j) => JSON.parse(j))))
        .catch((e) => send(500, { error: e.message }));
      return true;
    }
    const show = url.searchParams.get('show');
    if (url.pathname === '/summary' && offer && show) {
      redis
        .hmGet(statsKey(show), [`o:${offer}:orders`, `o:${offer}:units`])
        .then(([orders, units]) => send(200, { orders: Number(orders || 0), units: Number(units || 0) }))
        .catch((e) => send(500, { error: e.message }));
      return true;
    }
    return false;
  }

  return { offerStart, orderPlace, http, SaleError };
}

module.exports = { createSale, SaleError, SELLER };
