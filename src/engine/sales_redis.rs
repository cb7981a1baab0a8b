//! [`Sales`] on Redis: each operation is one Lua script on the seller's slot.

use crate::realtime::channel::Channel;
use async_trait::async_trait;
use redis::{AsyncCommands, Script};
use uuid::Uuid;

use super::EngineError;
use super::redis::{PUBLISH_FN, RedisEngine, map_err};
use super::sales::*;

/// Takes the quantity from every stock counter (or none) and writes the offer.
const OFFER_OPEN_LUA: &str = r#"
local q = tonumber(ARGV[1])
local n = #KEYS - 1
for i = 1, n do
  local have = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
  if have == nil then return redis.error_reply('stock is not an integer: ' .. KEYS[i + 1]) end
  if have < q * tonumber(ARGV[i + 1]) then return {0, i - 1, have} end
end
for i = 1, n do redis.call('DECRBY', KEYS[i + 1], q * tonumber(ARGV[i + 1])) end
local fields = {}
for i = n + 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return {1, 0, 0}
"#;

/// Ends a live or sold-out offer once, returning what it did not sell.
const OFFER_CLOSE_LUA: &str = r#"
local st = redis.call('HGET', KEYS[1], 'status')
if (not st) or st == 'ended' then return {0, 0} end
if ARGV[1] == 'expire' and tonumber(redis.call('HGET', KEYS[1], 'ends_at')) > tonumber(ARGV[2]) then return {0, 0} end
local unsold = tonumber(redis.call('HGET', KEYS[1], 'remaining'))
for i = 2, #KEYS do redis.call('INCRBY', KEYS[i], unsold * tonumber(ARGV[i + 1])) end
redis.call('HSET', KEYS[1], 'status', 'ended', 'remaining', 0)
return {1, unsold}
"#;

/// The shared tail of both placing scripts, as Lua functions: writes the order, logs it,
/// indexes it, records the key and the sales counters, and publishes it on the seller's
/// channel. ARGV (both scripts): 1 fingerprint, 2 qty, 3 now, 4 unit price, 5 order id,
/// 6 order JSON, 7 key TTL, 8 log length, 9 product, 10 offer, 11 has stats, 12 bought TTL,
/// 13 buyer, 14 show, 15 address deadline ('' when the address is known), 16–21 the seller
/// event (`publish_event`'s arguments). Callers that pass only the first 14 arguments and no
/// event keys (the benchmark peers) get no event, no deadline and no buyers set.
const STORE_ORDER: &str = r#"
local function store(order_key, log_key, index_key, idem_key, stats_key, moves, meta, chlog)
  local due = ARGV[15] or ''
  local needs = '0'
  if due ~= '' then needs = '1' end
  redis.call('HSET', order_key, 'json', ARGV[6], 'status', 'placed', 'updated_at', '', 'qty', ARGV[2],
    'offer', ARGV[10], 'product', ARGV[9], 'price', ARGV[4], 'buyer', ARGV[13], 'show', ARGV[14], 'moves', moves,
    'needs_address', needs, 'address_due', due)
  redis.call('XADD', log_key, 'MAXLEN', '~', ARGV[8], '*', 'type', 'placed', 'order_id', ARGV[5], 'status', 'placed',
    'order', ARGV[6])
  redis.call('ZADD', index_key, 0, ARGV[5])
  redis.call('SET', idem_key, ARGV[1] .. '|' .. ARGV[5], 'EX', ARGV[7])
  if ARGV[11] == '1' then
    local qty = tonumber(ARGV[2])
    local revenue = qty * tonumber(ARGV[4])
    local prefixes = {'p:' .. ARGV[9]}
    if ARGV[10] ~= '' then prefixes[2] = 'o:' .. ARGV[10] end
    for _, p in ipairs(prefixes) do
      redis.call('HINCRBY', stats_key, p .. ':orders', 1)
      redis.call('HINCRBY', stats_key, p .. ':units', qty)
      redis.call('HINCRBY', stats_key, p .. ':revenue', revenue)
    end
  end
  if meta then
    publish_event(meta, chlog, ARGV[16], ARGV[17], ARGV[18], ARGV[19], ARGV[20], ARGV[21])
  end
end
local function seen(idem_key)
  local s = redis.call('GET', idem_key)
  if not s then return nil end
  local sep = string.find(s, '|', 1, true)
  local fp, res = string.sub(s, 1, sep - 1), string.sub(s, sep + 1)
  if fp ~= ARGV[1] then return {'refused', 'idempotency_conflict'} end
  if string.sub(res, 1, 1) == '!' then return {'refused', string.sub(res, 2)} end
  return {'dup', res}
end
local function remember_buyer(buyers_key)
  if buyers_key then
    redis.call('SADD', buyers_key, ARGV[13])
    redis.call('EXPIRE', buyers_key, ARGV[12])
  end
end
local function refuse(idem_key, code, buyers_key)
  redis.call('SET', idem_key, ARGV[1] .. '|!' .. code, 'EX', ARGV[7])
  if code ~= 'sold_out' then remember_buyer(buyers_key) end
  return {'refused', code}
end
"#;

/// KEYS: offer, idem, bought, order, log, index, stats, and (optional) the offer's buyers set
/// and the seller channel's meta and log.
const PLACE_OFFER_LUA: &str = r#"
local prior = seen(KEYS[2])
if prior then return prior end
local o = redis.call('HMGET', KEYS[1], 'status', 'ends_at', 'price', 'limit', 'remaining', 'moves')
if not o[1] then return {'refused', 'no_such_offer'} end
if o[1] == 'sold_out' then return refuse(KEYS[2], 'sold_out', KEYS[8]) end
if o[1] ~= 'live' or tonumber(ARGV[3]) >= tonumber(o[2]) then return refuse(KEYS[2], 'offer_ended', KEYS[8]) end
if tonumber(o[3]) ~= tonumber(ARGV[4]) then return {'refused', 'stale_price'} end
local qty = tonumber(ARGV[2])
local bought = tonumber(redis.call('GET', KEYS[3]) or '0')
if bought + qty > tonumber(o[4]) then return refuse(KEYS[2], 'limit_reached', KEYS[8]) end
local remaining = tonumber(o[5])
if remaining < qty then
  if remaining == 0 then return refuse(KEYS[2], 'sold_out', KEYS[8]) end
  return refuse(KEYS[2], 'insufficient_stock', KEYS[8])
end
remaining = remaining - qty
redis.call('HSET', KEYS[1], 'remaining', remaining)
if remaining == 0 then redis.call('HSET', KEYS[1], 'status', 'sold_out') end
redis.call('INCRBY', KEYS[3], qty)
redis.call('EXPIRE', KEYS[3], ARGV[12])
remember_buyer(KEYS[8])
store(KEYS[4], KEYS[5], KEYS[6], KEYS[2], KEYS[7], o[6], KEYS[9], KEYS[10])
return {'placed', ARGV[5], remaining}
"#;

/// KEYS: idem, order, log, index, stats, the seller channel's meta and log, stock counters…;
/// ARGV[22…]: units per product unit.
const PLACE_STOCK_LUA: &str = r#"
local prior = seen(KEYS[1])
if prior then return prior end
local qty = tonumber(ARGV[2])
for i = 8, #KEYS do
  local have = tonumber(redis.call('GET', KEYS[i]) or '0')
  if have == nil then return redis.error_reply('stock is not an integer: ' .. KEYS[i]) end
  if have < qty * tonumber(ARGV[i + 14]) then return refuse(KEYS[1], 'insufficient_stock', nil) end
end
local moves = {}
for i = 8, #KEYS do
  redis.call('DECRBY', KEYS[i], qty * tonumber(ARGV[i + 14]))
  moves[#moves + 1] = KEYS[i] .. ' ' .. ARGV[i + 14]
end
store(KEYS[2], KEYS[3], KEYS[4], KEYS[1], KEYS[5], table.concat(moves, ' '), KEYS[6], KEYS[7])
return {'placed', ARGV[5], -1}
"#;

/// KEYS: order, log, stats, offer (or the order again), bought (or the order again), stock…;
/// ARGV: action, now, log length, has stats, now (ms), units per product unit…
const ORDER_ACT_LUA: &str = r#"
local f0 = redis.call('HMGET', KEYS[1], 'status', 'needs_address', 'address_due')
local st = f0[1]
if not st then return {'not_found', ''} end
local a, nxt = ARGV[1], nil
local waiting = f0[2] == '1'
if a == 'confirm' and st == 'placed' and waiting then return {'awaiting_address', st}
elseif a == 'confirm' and st == 'placed' then nxt = 'confirmed'
elseif a == 'ship' and st == 'confirmed' then nxt = 'shipped'
elseif (a == 'cancel_buyer' or a == 'cancel_seller') and st == 'placed' then nxt = 'cancelled'
elseif a == 'cancel_seller' and st == 'confirmed' then nxt = 'cancelled'
elseif a == 'expire_address' and st == 'placed' and waiting and tonumber(f0[3]) <= tonumber(ARGV[5]) then
  nxt = 'cancelled'
else return {'invalid', st} end
if nxt == 'cancelled' then
  local f = redis.call('HMGET', KEYS[1], 'qty', 'price', 'product', 'offer')
  local qty = tonumber(f[1])
  for i = 6, #KEYS do redis.call('INCRBY', KEYS[i], qty * tonumber(ARGV[i])) end
  if KEYS[4] ~= KEYS[1] and redis.call('HGET', KEYS[4], 'status') == 'live' then
    redis.call('DECRBY', KEYS[5], qty)
  end
  if ARGV[4] == '1' then
    local prefixes = {'p:' .. f[3]}
    if f[4] ~= '' then prefixes[2] = 'o:' .. f[4] end
    for _, p in ipairs(prefixes) do
      redis.call('HINCRBY', KEYS[3], p .. ':orders', -1)
      redis.call('HINCRBY', KEYS[3], p .. ':units', -qty)
      redis.call('HINCRBY', KEYS[3], p .. ':revenue', -qty * tonumber(f[2]))
    end
  end
end
redis.call('HSET', KEYS[1], 'status', nxt, 'updated_at', ARGV[2])
-- Kept only when the deadline cancelled it: that is the reason the order shows.
if nxt == 'cancelled' and a ~= 'expire_address' then redis.call('HSET', KEYS[1], 'needs_address', '0') end
local id = string.match(KEYS[1], ':order:(.+)$')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'type', 'status', 'order_id', id, 'status', nxt)
return {'ok', nxt}
"#;

/// Gives a placed order its delivery contact. KEYS: order, log; ARGV: delivery (JSON), now,
/// log length.
const ORDER_DELIVER_LUA: &str = r#"
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'not_found', ''} end
if st ~= 'placed' then return {'invalid', st} end
redis.call('HSET', KEYS[1], 'delivery', ARGV[1], 'needs_address', '0', 'updated_at', ARGV[2])
local id = string.match(KEYS[1], ':order:(.+)$')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'type', 'delivery', 'order_id', id, 'status', st,
  'delivery', ARGV[1])
return {'ok', st}
"#;

/// Files an order on the buyer's side, once. KEYS: order → seller map, the buyer's index, the
/// buyer channel's meta and log; ARGV: order, seller, then `publish_event`'s arguments.
const ORDER_FILE_LUA: &str = r#"
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
publish_event(KEYS[3], KEYS[4], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
return 1
"#;

/// The Lua of `order_place` for an offer, as Redis runs it (for benchmarks that run the same
/// script directly, such as `redis-benchmark`). KEYS: offer, idempotency, bought, order, log,
/// index, stats; ARGV as `RedisEngine::order_place` sends them.
pub fn place_offer_lua() -> String {
    format!("{PUBLISH_FN}\n{STORE_ORDER}\n{PLACE_OFFER_LUA}")
}

pub(super) struct SalesScripts {
    offer_open: Script,
    offer_close: Script,
    place_offer: Script,
    place_stock: Script,
    order_act: Script,
    order_deliver: Script,
    order_file: Script,
}

impl SalesScripts {
    pub(super) fn all(&self) -> [&Script; 7] {
        [
            &self.offer_open,
            &self.offer_close,
            &self.place_offer,
            &self.place_stock,
            &self.order_act,
            &self.order_deliver,
            &self.order_file,
        ]
    }

    pub(super) fn new() -> Self {
        Self {
            offer_open: Script::new(OFFER_OPEN_LUA),
            offer_close: Script::new(OFFER_CLOSE_LUA),
            place_offer: Script::new(&place_offer_lua()),
            place_stock: Script::new(&format!("{PUBLISH_FN}\n{STORE_ORDER}\n{PLACE_STOCK_LUA}")),
            order_act: Script::new(ORDER_ACT_LUA),
            order_deliver: Script::new(ORDER_DELIVER_LUA),
            order_file: Script::new(&format!("{PUBLISH_FN}\n{ORDER_FILE_LUA}")),
        }
    }
}

fn parse_moves(prefix: &str, text: &str) -> Vec<StockMove> {
    let parts: Vec<&str> = text.split(' ').filter(|p| !p.is_empty()).collect();
    parts
        .chunks(2)
        .filter_map(|c| match c {
            [k, q] => Some((k.strip_prefix(prefix).unwrap_or(k).to_owned(), q.parse().ok()?)),
            _ => None,
        })
        .collect()
}

/// `seller/id` schedule members.
fn parse_pairs(members: &[String]) -> Vec<(Uuid, Uuid)> {
    members
        .iter()
        .filter_map(|m| {
            let (s, o) = m.split_once('/')?;
            Some((Uuid::parse_str(s).ok()?, Uuid::parse_str(o).ok()?))
        })
        .collect()
}

fn bad(what: &str) -> EngineError {
    EngineError::Internal(format!("malformed {what} reply"))
}

impl RedisEngine {
    async fn read_order(
        &self,
        seller: Uuid,
        order: Uuid,
    ) -> Result<Option<(StoredOrder, Vec<Option<String>>)>, EngineError> {
        let mut conn = self.conn();
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.key(&order_key(seller, order)))
            .arg(&["json", "status", "updated_at", "moves", "offer", "buyer", "show", "delivery", "needs_address"])
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        let (Some(json), Some(status)) = (fields[0].clone(), fields[1].clone()) else { return Ok(None) };
        let order = StoredOrder {
            id: order,
            json,
            status,
            updated_at: fields[2].clone().unwrap_or_default(),
            delivery: fields[7].clone().filter(|d| !d.is_empty()),
            needs_address: fields[8].as_deref() == Some("1"),
        };
        Ok(Some((order, fields)))
    }

    /// Runs the status script with `action` (`confirm`, `ship`, `cancel_buyer`,
    /// `cancel_seller`, `expire_address`).
    async fn act(
        &self,
        seller: Uuid,
        order: Uuid,
        action: &str,
        now: &str,
        now_ms: u64,
    ) -> Result<ActionOutcome, EngineError> {
        let Some((_, fields)) = self.read_order(seller, order).await? else { return Ok(ActionOutcome::NotFound) };
        let moves = parse_moves(self.prefix(), fields[3].as_deref().unwrap_or_default());
        let order_k = self.key(&order_key(seller, order));
        let offer = fields[4].as_deref().and_then(|o| Uuid::parse_str(o).ok());
        let buyer = fields[5].as_deref().and_then(|b| Uuid::parse_str(b).ok());
        let show = fields[6].as_deref().and_then(|s| Uuid::parse_str(s).ok());
        let mut inv = self.sales_scripts().order_act.prepare_invoke();
        inv.key(&order_k).key(self.key(&order_log_key(seller)));
        match show {
            Some(s) => inv.key(self.key(&sales_key(seller, s))),
            None => inv.key(&order_k),
        };
        match (offer, buyer) {
            (Some(o), Some(b)) => inv.key(self.key(&offer_key(seller, o))).key(self.key(&buyer_key(seller, o, b))),
            _ => inv.key(&order_k).key(&order_k),
        };
        for (k, _) in &moves {
            inv.key(self.key(k));
        }
        inv.arg(action).arg(now).arg(ORDER_LOG_MAX).arg(if show.is_some() { "1" } else { "0" }).arg(now_ms);
        for (_, m) in &moves {
            inv.arg(*m);
        }
        let mut conn = self.conn();
        let (kind, status): (String, String) = inv.invoke_async(&mut conn).await.map_err(map_err)?;
        match kind.as_str() {
            "not_found" => Ok(ActionOutcome::NotFound),
            "invalid" => Ok(ActionOutcome::Invalid { status }),
            "awaiting_address" => Ok(ActionOutcome::AwaitingAddress),
            "ok" => {
                let (order, _) = self.read_order(seller, order).await?.ok_or_else(|| bad("order"))?;
                Ok(ActionOutcome::Changed(order))
            }
            _ => Err(bad("order action")),
        }
    }
}

#[async_trait]
impl Sales for RedisEngine {
    async fn offer_open(&self, o: &OfferState) -> Result<OpenOutcome, EngineError> {
        let mut conn = self.conn();
        let member = format!("{}/{}", o.seller, o.id);
        // Scheduled first: an offer that opens can never miss its expiry.
        let _: i64 = conn.zadd(self.key(EXPIRY_SCHEDULE), &member, o.ends_at_ms).await.map_err(map_err)?;
        let moves: Vec<String> = o.moves.iter().map(|(k, m)| format!("{} {m}", self.key(k))).collect();
        let mut inv = self.sales_scripts().offer_open.prepare_invoke();
        inv.key(self.key(&offer_key(o.seller, o.id)));
        for (k, _) in &o.moves {
            inv.key(self.key(k));
        }
        inv.arg(o.quantity);
        for (_, m) in &o.moves {
            inv.arg(*m);
        }
        let fields: Vec<(&str, String)> = vec![
            ("status", "live".into()),
            ("remaining", o.quantity.to_string()),
            ("quantity", o.quantity.to_string()),
            ("price", o.price.to_string()),
            ("list_price", o.list_price.to_string()),
            ("limit", o.per_buyer_limit.to_string()),
            ("starts_at", o.starts_at_ms.to_string()),
            ("ends_at", o.ends_at_ms.to_string()),
            ("show", o.show.to_string()),
            ("product", o.product.to_string()),
            ("product_name", o.product_name.clone()),
            ("moves", moves.join(" ")),
        ];
        for (f, v) in &fields {
            inv.arg(*f).arg(v);
        }
        let (opened, index, available): (i64, usize, i64) = inv.invoke_async(&mut conn).await.map_err(map_err)?;
        if opened == 1 {
            return Ok(OpenOutcome::Opened);
        }
        let _: i64 = conn.zrem(self.key(EXPIRY_SCHEDULE), &member).await.map_err(map_err)?;
        Ok(OpenOutcome::Short { index, available })
    }

    async fn offer_get(&self, seller: Uuid, offer: Uuid) -> Result<Option<OfferState>, EngineError> {
        let mut conn = self.conn();
        let map: std::collections::HashMap<String, String> =
            conn.hgetall(self.key(&offer_key(seller, offer))).await.map_err(map_err)?;
        if map.is_empty() {
            return Ok(None);
        }
        let s = |k: &str| map.get(k).cloned().ok_or_else(|| bad("offer"));
        let n = |k: &str| -> Result<i64, EngineError> { s(k)?.parse().map_err(|_| bad("offer")) };
        let u = |k: &str| -> Result<Uuid, EngineError> { Uuid::parse_str(&s(k)?).map_err(|_| bad("offer")) };
        Ok(Some(OfferState {
            seller,
            id: offer,
            show: u("show")?,
            product: u("product")?,
            product_name: s("product_name")?,
            price: n("price")?,
            list_price: n("list_price")?,
            quantity: n("quantity")?,
            remaining: n("remaining")?,
            per_buyer_limit: n("limit")?,
            starts_at_ms: n("starts_at")? as u64,
            ends_at_ms: n("ends_at")? as u64,
            status: OfferStatus::parse(&s("status")?).ok_or_else(|| bad("offer"))?,
            moves: parse_moves(self.prefix(), &s("moves")?),
        }))
    }

    async fn offer_close(
        &self,
        seller: Uuid,
        offer: Uuid,
        reason: CloseReason,
    ) -> Result<Option<OfferState>, EngineError> {
        let Some(state) = self.offer_get(seller, offer).await? else { return Ok(None) };
        let mut inv = self.sales_scripts().offer_close.prepare_invoke();
        inv.key(self.key(&offer_key(seller, offer)));
        for (k, _) in &state.moves {
            inv.key(self.key(k));
        }
        match reason {
            CloseReason::Stopped => inv.arg("stop").arg(0),
            CloseReason::Expired { now_ms } => inv.arg("expire").arg(now_ms),
        };
        for (_, m) in &state.moves {
            inv.arg(*m);
        }
        let mut conn = self.conn();
        let (closed, unsold): (i64, i64) = inv.invoke_async(&mut conn).await.map_err(map_err)?;
        if closed == 0 {
            return Ok(None);
        }
        self.offer_unschedule(seller, offer).await?;
        Ok(Some(OfferState { status: OfferStatus::Ended, remaining: unsold, ..state }))
    }

    async fn offers_due(&self, now_ms: u64, limit: usize) -> Result<Vec<(Uuid, Uuid)>, EngineError> {
        let mut conn = self.conn();
        let members: Vec<String> = conn
            .zrangebyscore_limit(self.key(EXPIRY_SCHEDULE), "-inf", now_ms, 0, limit as isize)
            .await
            .map_err(map_err)?;
        Ok(parse_pairs(&members))
    }

    async fn offer_unschedule(&self, seller: Uuid, offer: Uuid) -> Result<(), EngineError> {
        let mut conn = self.conn();
        let _: i64 = conn.zrem(self.key(EXPIRY_SCHEDULE), format!("{seller}/{offer}")).await.map_err(map_err)?;
        Ok(())
    }

    async fn order_place(&self, r: &PlaceOrder) -> Result<PlaceOutcome, EngineError> {
        let (show, has_stats) = match r.show {
            Some(s) => (s.to_string(), "1"),
            None => (String::new(), "0"),
        };
        let stats = match r.show {
            Some(s) => self.key(&sales_key(r.seller, s)),
            None => self.key(&order_key(r.seller, r.order_id)),
        };
        let offer_id = match &r.target {
            Target::Offer { offer } => offer.to_string(),
            Target::Stock { .. } => String::new(),
        };
        let args: Vec<String> = vec![
            r.fingerprint.clone(),
            r.qty.to_string(),
            r.now_ms.to_string(),
            r.unit_price.to_string(),
            r.order_id.to_string(),
            r.order_json.clone(),
            IDEMPOTENCY_TTL_S.to_string(),
            ORDER_LOG_MAX.to_string(),
            r.product.to_string(),
            offer_id,
            has_stats.to_owned(),
            (3 * 24 * 3600).to_string(),
            r.buyer.to_string(),
            show,
            r.address_due_ms.map(|d| d.to_string()).unwrap_or_default(),
        ];
        let ([meta, chlog], event) =
            self.event_target(&Channel::seller(r.seller).to_string(), "order", &r.seller_event);
        let idem = self.key(&idem_key(r.seller, r.buyer, &r.key));
        let order = self.key(&order_key(r.seller, r.order_id));
        let log = self.key(&order_log_key(r.seller));
        let index = self.key(&order_index_key(r.seller));
        let mut inv;
        match &r.target {
            Target::Offer { offer } => {
                inv = self.sales_scripts().place_offer.prepare_invoke();
                inv.key(self.key(&offer_key(r.seller, *offer)))
                    .key(&idem)
                    .key(self.key(&buyer_key(r.seller, *offer, r.buyer)))
                    .key(&order)
                    .key(&log)
                    .key(&index)
                    .key(&stats)
                    .key(self.key(&offer_buyers_key(r.seller, *offer)))
                    .key(&meta)
                    .key(&chlog);
                for a in args.iter().chain(&event) {
                    inv.arg(a);
                }
            }
            Target::Stock { moves } => {
                inv = self.sales_scripts().place_stock.prepare_invoke();
                inv.key(&idem).key(&order).key(&log).key(&index).key(&stats).key(&meta).key(&chlog);
                for (k, _) in moves {
                    inv.key(self.key(k));
                }
                for a in args.iter().chain(&event) {
                    inv.arg(a);
                }
                for (_, m) in moves {
                    inv.arg(*m);
                }
            }
        }
        let mut conn = self.conn();
        let reply: Vec<redis::Value> = inv.invoke_async(&mut conn).await.map_err(map_err)?;
        let mut it = reply.into_iter();
        let kind: String = it.next().and_then(|v| redis::from_redis_value(v).ok()).ok_or_else(|| bad("place"))?;
        let detail: String = it.next().and_then(|v| redis::from_redis_value(v).ok()).ok_or_else(|| bad("place"))?;
        match kind.as_str() {
            "refused" => Refusal::parse(&detail).map(PlaceOutcome::Refused).ok_or_else(|| bad("refusal")),
            "dup" => {
                let id = Uuid::parse_str(&detail).map_err(|_| bad("dup"))?;
                let (order, _) = self.read_order(r.seller, id).await?.ok_or_else(|| bad("dup order"))?;
                Ok(PlaceOutcome::Replayed { order })
            }
            "placed" => {
                let remaining: i64 =
                    it.next().and_then(|v| redis::from_redis_value(v).ok()).ok_or_else(|| bad("place"))?;
                let order = StoredOrder {
                    id: r.order_id,
                    json: r.order_json.clone(),
                    status: "placed".into(),
                    needs_address: r.address_due_ms.is_some(),
                    ..StoredOrder::default()
                };
                let remaining = (remaining >= 0).then_some(remaining);
                Ok(PlaceOutcome::Placed { order, remaining, sold_out: remaining == Some(0) })
            }
            _ => Err(bad("place")),
        }
    }

    async fn order_act(
        &self,
        seller: Uuid,
        order: Uuid,
        action: OrderAction,
        now: &str,
    ) -> Result<ActionOutcome, EngineError> {
        let action = match action {
            OrderAction::Confirm => "confirm",
            OrderAction::Ship => "ship",
            OrderAction::Cancel { by_seller: true } => "cancel_seller",
            OrderAction::Cancel { by_seller: false } => "cancel_buyer",
        };
        self.act(seller, order, action, now, 0).await
    }

    async fn order_expire_address(
        &self,
        seller: Uuid,
        order: Uuid,
        now_ms: u64,
        now: &str,
    ) -> Result<Option<StoredOrder>, EngineError> {
        Ok(match self.act(seller, order, "expire_address", now, now_ms).await? {
            ActionOutcome::Changed(order) => Some(order),
            _ => None,
        })
    }

    async fn order_deliver(
        &self,
        seller: Uuid,
        order: Uuid,
        delivery: &str,
        now: &str,
    ) -> Result<ActionOutcome, EngineError> {
        let mut conn = self.conn();
        let (kind, status): (String, String) = self
            .sales_scripts()
            .order_deliver
            .key(self.key(&order_key(seller, order)))
            .key(self.key(&order_log_key(seller)))
            .arg(delivery)
            .arg(now)
            .arg(ORDER_LOG_MAX)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        match kind.as_str() {
            "not_found" => Ok(ActionOutcome::NotFound),
            "invalid" => Ok(ActionOutcome::Invalid { status }),
            "ok" => {
                let (order, _) = self.read_order(seller, order).await?.ok_or_else(|| bad("order"))?;
                Ok(ActionOutcome::Changed(order))
            }
            _ => Err(bad("order delivery")),
        }
    }

    async fn address_schedule(&self, seller: Uuid, order: Uuid, due_ms: u64) -> Result<(), EngineError> {
        let mut conn = self.conn();
        let _: i64 =
            conn.zadd(self.key(ADDRESS_SCHEDULE), format!("{seller}/{order}"), due_ms).await.map_err(map_err)?;
        Ok(())
    }

    async fn addresses_due(&self, now_ms: u64, limit: usize) -> Result<Vec<(Uuid, Uuid)>, EngineError> {
        let mut conn = self.conn();
        let members: Vec<String> = conn
            .zrangebyscore_limit(self.key(ADDRESS_SCHEDULE), "-inf", now_ms, 0, limit as isize)
            .await
            .map_err(map_err)?;
        Ok(parse_pairs(&members))
    }

    async fn address_unschedule(&self, seller: Uuid, order: Uuid) -> Result<(), EngineError> {
        let mut conn = self.conn();
        let _: i64 = conn.zrem(self.key(ADDRESS_SCHEDULE), format!("{seller}/{order}")).await.map_err(map_err)?;
        Ok(())
    }

    async fn order_file(&self, buyer: Uuid, seller: Uuid, order: Uuid, event: &str) -> Result<(), EngineError> {
        let ([meta, chlog], publish) = self.event_target(&Channel::user(buyer).to_string(), "order", event);
        let mut inv = self.sales_scripts().order_file.prepare_invoke();
        inv.key(self.key(&buyer_sellers_key(buyer)))
            .key(self.key(&buyer_orders_key(buyer)))
            .key(meta)
            .key(chlog)
            .arg(order.to_string())
            .arg(seller.to_string());
        for a in &publish {
            inv.arg(a);
        }
        let mut conn = self.conn();
        let _: i64 = inv.invoke_async(&mut conn).await.map_err(map_err)?;
        Ok(())
    }

    async fn buyer_order_seller(&self, buyer: Uuid, order: Uuid) -> Result<Option<Uuid>, EngineError> {
        let mut conn = self.conn();
        let seller: Option<String> =
            conn.hget(self.key(&buyer_sellers_key(buyer)), order.to_string()).await.map_err(map_err)?;
        Ok(seller.and_then(|s| Uuid::parse_str(&s).ok()))
    }

    async fn offer_buyers(&self, seller: Uuid, offer: Uuid, cap: usize) -> Result<Option<Vec<Uuid>>, EngineError> {
        let mut conn = self.conn();
        let key = self.key(&offer_buyers_key(seller, offer));
        let n: usize = conn.scard(&key).await.map_err(map_err)?;
        if n > cap {
            return Ok(None);
        }
        let members: Vec<String> = conn.smembers(&key).await.map_err(map_err)?;
        Ok(Some(members.iter().filter_map(|m| Uuid::parse_str(m).ok()).collect()))
    }

    async fn order_get(&self, seller: Uuid, order: Uuid) -> Result<Option<StoredOrder>, EngineError> {
        Ok(self.read_order(seller, order).await?.map(|(o, _)| o))
    }

    async fn seller_orders(
        &self,
        seller: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<StoredOrder>, EngineError> {
        let ids = crate::engine::State::index_range(
            self,
            &order_index_key(seller),
            after.map(|a| a.to_string()).as_deref(),
            limit,
        )
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids.iter().filter_map(|i| Uuid::parse_str(i).ok()) {
            if let Some((o, _)) = self.read_order(seller, id).await? {
                out.push(o);
            }
        }
        Ok(out)
    }

    async fn show_sales(&self, seller: Uuid, show: Uuid) -> Result<Vec<(String, i64)>, EngineError> {
        let mut conn = self.conn();
        let map: std::collections::HashMap<String, i64> =
            conn.hgetall(self.key(&sales_key(seller, show))).await.map_err(map_err)?;
        let mut out: Vec<(String, i64)> = map.into_iter().collect();
        out.sort();
        Ok(out)
    }
}
