//! [`Sales`] on Redis: each operation is one Lua script on the seller's slot.

use async_trait::async_trait;
use redis::{AsyncCommands, Script};
use uuid::Uuid;

use super::EngineError;
use super::redis::{RedisEngine, map_err};
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

/// The shared tail of both placing scripts, as a Lua function: writes the order, logs it,
/// indexes it, records the key and the sales counters.
const STORE_ORDER: &str = r#"
local function store(order_key, log_key, index_key, idem_key, stats_key, moves)
  redis.call('HSET', order_key, 'json', ARGV[6], 'status', 'placed', 'updated_at', '', 'qty', ARGV[2],
    'offer', ARGV[10], 'product', ARGV[9], 'price', ARGV[4], 'buyer', ARGV[13], 'show', ARGV[14], 'moves', moves)
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
local function refuse(idem_key, code)
  redis.call('SET', idem_key, ARGV[1] .. '|!' .. code, 'EX', ARGV[7])
  return {'refused', code}
end
"#;

/// KEYS: offer, idem, bought, order, log, index, stats.
const PLACE_OFFER_LUA: &str = r#"
local prior = seen(KEYS[2])
if prior then return prior end
local o = redis.call('HMGET', KEYS[1], 'status', 'ends_at', 'price', 'limit', 'remaining', 'moves')
if not o[1] then return {'refused', 'no_such_offer'} end
if o[1] == 'sold_out' then return refuse(KEYS[2], 'sold_out') end
if o[1] ~= 'live' or tonumber(ARGV[3]) >= tonumber(o[2]) then return refuse(KEYS[2], 'offer_ended') end
if tonumber(o[3]) ~= tonumber(ARGV[4]) then return {'refused', 'stale_price'} end
local qty = tonumber(ARGV[2])
local bought = tonumber(redis.call('GET', KEYS[3]) or '0')
if bought + qty > tonumber(o[4]) then return refuse(KEYS[2], 'limit_reached') end
local remaining = tonumber(o[5])
if remaining < qty then
  if remaining == 0 then return refuse(KEYS[2], 'sold_out') end
  return refuse(KEYS[2], 'insufficient_stock')
end
remaining = remaining - qty
redis.call('HSET', KEYS[1], 'remaining', remaining)
if remaining == 0 then redis.call('HSET', KEYS[1], 'status', 'sold_out') end
redis.call('INCRBY', KEYS[3], qty)
redis.call('EXPIRE', KEYS[3], ARGV[12])
store(KEYS[4], KEYS[5], KEYS[6], KEYS[2], KEYS[7], o[6])
return {'placed', ARGV[5], remaining}
"#;

/// KEYS: idem, order, log, index, stats, stock counters…; ARGV[15…]: units per product unit.
const PLACE_STOCK_LUA: &str = r#"
local prior = seen(KEYS[1])
if prior then return prior end
local qty = tonumber(ARGV[2])
for i = 6, #KEYS do
  local have = tonumber(redis.call('GET', KEYS[i]) or '0')
  if have == nil then return redis.error_reply('stock is not an integer: ' .. KEYS[i]) end
  if have < qty * tonumber(ARGV[i + 9]) then return refuse(KEYS[1], 'insufficient_stock') end
end
local moves = {}
for i = 6, #KEYS do
  redis.call('DECRBY', KEYS[i], qty * tonumber(ARGV[i + 9]))
  moves[#moves + 1] = KEYS[i] .. ' ' .. ARGV[i + 9]
end
store(KEYS[2], KEYS[3], KEYS[4], KEYS[1], KEYS[5], table.concat(moves, ' '))
return {'placed', ARGV[5], -1}
"#;

/// KEYS: order, log, stats, offer (or the order again), bought (or the order again), stock…;
/// ARGV: action, now, log length, has stats, units per product unit…
const ORDER_ACT_LUA: &str = r#"
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'not_found', ''} end
local a, nxt = ARGV[1], nil
if a == 'confirm' and st == 'placed' then nxt = 'confirmed'
elseif a == 'ship' and st == 'confirmed' then nxt = 'shipped'
elseif (a == 'cancel_buyer' or a == 'cancel_seller') and st == 'placed' then nxt = 'cancelled'
elseif a == 'cancel_seller' and st == 'confirmed' then nxt = 'cancelled'
else return {'invalid', st} end
if nxt == 'cancelled' then
  local f = redis.call('HMGET', KEYS[1], 'qty', 'price', 'product', 'offer')
  local qty = tonumber(f[1])
  for i = 6, #KEYS do redis.call('INCRBY', KEYS[i], qty * tonumber(ARGV[i - 1])) end
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
local id = string.match(KEYS[1], ':order:(.+)$')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'type', 'status', 'order_id', id, 'status', nxt)
return {'ok', nxt}
"#;

/// The Lua of `order_place` for an offer, as Redis runs it (for benchmarks that run the same
/// script directly, such as `redis-benchmark`). KEYS: offer, idempotency, bought, order, log,
/// index, stats; ARGV as `RedisEngine::order_place` sends them.
pub fn place_offer_lua() -> String {
    format!("{STORE_ORDER}\n{PLACE_OFFER_LUA}")
}

pub(super) struct SalesScripts {
    offer_open: Script,
    offer_close: Script,
    place_offer: Script,
    place_stock: Script,
    order_act: Script,
}

impl SalesScripts {
    pub(super) fn all(&self) -> [&Script; 5] {
        [&self.offer_open, &self.offer_close, &self.place_offer, &self.place_stock, &self.order_act]
    }

    pub(super) fn new() -> Self {
        Self {
            offer_open: Script::new(OFFER_OPEN_LUA),
            offer_close: Script::new(OFFER_CLOSE_LUA),
            place_offer: Script::new(&place_offer_lua()),
            place_stock: Script::new(&format!("{STORE_ORDER}\n{PLACE_STOCK_LUA}")),
            order_act: Script::new(ORDER_ACT_LUA),
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
            .arg(&["json", "status", "updated_at", "moves", "offer", "buyer", "show"])
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        let (Some(json), Some(status)) = (fields[0].clone(), fields[1].clone()) else { return Ok(None) };
        let order = StoredOrder { id: order, json, status, updated_at: fields[2].clone().unwrap_or_default() };
        Ok(Some((order, fields)))
    }
}

#[async_trait]
impl Sales for RedisEngine {
    async fn offer_open(&self, o: &OfferOpen) -> Result<OpenOutcome, EngineError> {
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
        Ok(members
            .iter()
            .filter_map(|m| {
                let (s, o) = m.split_once('/')?;
                Some((Uuid::parse_str(s).ok()?, Uuid::parse_str(o).ok()?))
            })
            .collect())
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
        ];
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
                    .key(&stats);
                for a in &args {
                    inv.arg(a);
                }
            }
            Target::Stock { moves } => {
                inv = self.sales_scripts().place_stock.prepare_invoke();
                inv.key(&idem).key(&order).key(&log).key(&index).key(&stats);
                for (k, _) in moves {
                    inv.key(self.key(k));
                }
                for a in &args {
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
                    updated_at: String::new(),
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
        let action = match action {
            OrderAction::Confirm => "confirm",
            OrderAction::Ship => "ship",
            OrderAction::Cancel { by_seller: true } => "cancel_seller",
            OrderAction::Cancel { by_seller: false } => "cancel_buyer",
        };
        inv.arg(action).arg(now).arg(ORDER_LOG_MAX).arg(if show.is_some() { "1" } else { "0" });
        for (_, m) in &moves {
            inv.arg(*m);
        }
        let mut conn = self.conn();
        let (kind, status): (String, String) = inv.invoke_async(&mut conn).await.map_err(map_err)?;
        match kind.as_str() {
            "not_found" => Ok(ActionOutcome::NotFound),
            "invalid" => Ok(ActionOutcome::Invalid { status }),
            "ok" => {
                let (order, _) = self.read_order(seller, order).await?.ok_or_else(|| bad("order"))?;
                Ok(ActionOutcome::Changed(order))
            }
            _ => Err(bad("order action")),
        }
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
