// @ts-check
/**
 * The reference JavaScript client of the OCOP Live realtime API (wire contract v1).
 *
 * One dependency-free ES module for browsers and Node 20. It keeps one WebSocket to `/ws`,
 * matches replies to commands by `id`, and keeps subscriptions alive across reconnects: after a
 * drop it reconnects with full-jitter exponential backoff and resubscribes every channel with
 * `since {off, epoch}`, so the application sees each kept event exactly once and in order, or is
 * told to rebuild from a fresh snapshot when the server could not recover what was missed.
 *
 * ```js
 * import { OcopLive } from './ocop-live.js';
 * const client = new OcopLive({ url: 'wss://cho.ocop.vn/ws', token });
 * await client.connect();
 * client.subscribe(`show:${showId}`, {
 *   onSnapshot(snapshot, meta) { render(snapshot); },
 *   onEvent(ev) { if (ev.ev === 'chat') addChat(ev.data); },
 * });
 * const { msg_id } = await client.request('chat.send', { show: showId, text: 'Chào shop' });
 * ```
 *
 * Reconnect rules (close code → what the client does):
 * - 1012 (server restarting), 4008 (too slow / history lost), 1001 (no pong), 1006 (network
 *   error, no close frame), 1011 (internal error), 1000 sent by the server, and any other code:
 *   reconnect with backoff and recover.
 * - 1003 (binary frame), 1008 (token expired, banned, abuse) and 1009 (message too big): stop.
 *   These are the client's faults; reconnecting as before would fail the same way. The client
 *   emits `closed` with the code and reason and goes to state `closed`. After 1008, get a new
 *   token, `setToken()` it and call `connect()` again.
 * - 4029 (rate limits exceeded repeatedly): reconnect, but only after `abuseDelayMs` (60 s by
 *   default) plus a full-jitter delay of up to `backoff.maxMs`, so a misbehaving page does not
 *   hammer the server; with `abuseDelayMs: null` the client stops instead, as for 1008.
 *
 * Requests are never resent by the client: a command in flight when the socket drops rejects
 * with code `disconnected`, because the client cannot know whether the server applied it. Retry
 * yourself where that is safe, for `order.place` with the same idempotency `key`. Commands issued
 * while the client is (re)connecting wait for the connection and are sent once, when it opens.
 *
 * @module ocop-live
 */

/** The WebSocket subprotocol of wire contract v1. */
export const PROTOCOL = 'ocop-live.v1';

/** Close codes after which the client stops instead of reconnecting (client faults). */
export const STOP_CODES = Object.freeze([1003, 1008, 1009]);

/** The close code of "rate limits exceeded repeatedly": reconnect only after a long pause. */
export const ABUSE_CODE = 4029;

/**
 * An error reply from the server, or a failure of the client itself.
 *
 * `code` is one of the server's error codes (`not_found`, `rate_limited`, `unavailable`, ...) or
 * one of the client's own: `disconnected` (the socket dropped or the client was closed before the
 * reply came; the command may or may not have been applied), `timeout` (no reply within
 * `timeoutMs`; likewise unknown) and `already_subscribed`.
 */
export class OcopError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {number | null} [retryAfterMs] the server's `retry_after_ms`, when it sent one
   */
  constructor(code, message, retryAfterMs = null) {
    super(message || code);
    this.name = 'OcopError';
    /** @type {string} */
    this.code = code;
    /** @type {number | null} */
    this.retryAfterMs = retryAfterMs ?? null;
  }
}

/**
 * The full-jitter backoff delay before reconnect attempt number `attempt` (0 for the first
 * reconnect after a good connection): `random() * min(maxMs, baseMs * 2^attempt)`.
 *
 * @param {number} attempt
 * @param {{baseMs: number, maxMs: number}} backoff
 * @param {() => number} [random] a source of numbers in [0, 1); `Math.random` by default
 * @returns {number} milliseconds, from 0 up to (not including) `min(maxMs, baseMs * 2^attempt)`
 */
export function backoffDelay(attempt, backoff, random = Math.random) {
  const cap = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt));
  return random() * cap;
}

/**
 * What the client does after the server (or the network) closed the socket with `code`.
 *
 * @param {number} code
 * @returns {'reconnect' | 'stop' | 'pause'} `pause`: reconnect after the long 4029 delay
 */
export function closeAction(code) {
  if (STOP_CODES.includes(code)) return 'stop';
  if (code === ABUSE_CODE) return 'pause';
  return 'reconnect';
}

/**
 * @typedef {object} Backoff
 * @property {number} baseMs the first reconnect waits up to this long (default 500)
 * @property {number} maxMs no wait is longer than this (default 15000)
 */

/**
 * @typedef {object} OcopLiveOptions
 * @property {string} url the WebSocket endpoint, like `wss://cho.ocop.vn/ws`
 * @property {string | null | (() => string | null | Promise<string | null>)} [token] an access
 *   token (`POST /api/auth/login` or `/api/auth/guest`); absent: an anonymous viewer. A function
 *   is called before every connection attempt, so it can hand out a fresh token.
 * @property {any} [WebSocket] a WebSocket implementation with the browser's interface (for Node
 *   20, the `ws` package); `globalThis.WebSocket` by default
 * @property {string[]} [protocols] subprotocols to offer; `['ocop-live.v1']` by default
 * @property {Backoff} [backoff] full-jitter exponential backoff between reconnect attempts
 * @property {() => number} [random] source of numbers in [0, 1) for the jitter; `Math.random`
 * @property {number | null} [abuseDelayMs] the pause before reconnecting after close code 4029
 *   (default 60000); `null` stops instead
 * @property {number} [helloTimeoutMs] a socket without a hello frame this long after it was
 *   opened is closed and retried (default 10000)
 * @property {number} [requestTimeoutMs] the default `timeoutMs` of `request()` (default 10000)
 */

/**
 * @typedef {object} Hello
 * @property {string} conn the connection's id
 * @property {object | null} user the signed-in user, `null` for an anonymous viewer
 * @property {string} server_time the server's clock, RFC 3339
 * @property {number} ping_interval_s
 * @property {number} protocol
 */

/**
 * @typedef {object} EventFrame
 * @property {string} ch the channel, like `show:<id>`
 * @property {string} ev the event's name, like `chat`
 * @property {number} [off] the event's offset in the channel's history; absent on ephemeral
 *   events (viewers, reactions, stock)
 * @property {any} data
 */

/**
 * @typedef {object} SubscribeMeta
 * @property {string} channel
 * @property {string} epoch the channel's history epoch of the reply
 * @property {number} off the channel's offset as of the reply (the snapshot's position)
 * @property {boolean} recovered whether the missed events were replayed instead of a snapshot
 * @property {number} missed how many missed events the reply carried
 * @property {boolean} resubscribed false for the first reply of this subscription
 */

/**
 * @typedef {object} SubscriptionHandlers
 * @property {(snapshot: any, meta: SubscribeMeta) => void} [onSnapshot] the channel's state to
 *   (re)build from: called after the first subscribe, and again after every reconnect the server
 *   could not recover (`recovered: false`). The events that follow continue from `meta.off`.
 * @property {(ev: EventFrame) => void} [onEvent] every event of the channel, kept ones (with
 *   `off`) exactly once and in order, also those replayed after a reconnect
 * @property {(meta: SubscribeMeta) => void} [onReset] called just before `onSnapshot` when a
 *   resubscribe was not recovered: drop what was built from earlier events
 * @property {(meta: SubscribeMeta) => void} [onResubscribed] called after every resubscribe
 *   reply, once the missed events (if any) were delivered
 * @property {(err: OcopError) => void} [onError] the server refused the subscription (after a
 *   reconnect too, for example `forbidden`); the subscription is then dropped
 * @property {{off: number, epoch: string}} [since] a position kept from an earlier session (for
 *   example across a page reload): the first subscribe asks to recover from there
 */

/**
 * A subscription, as returned by `OcopLive.subscribe`.
 */
export class Subscription {
  /**
   * @param {OcopLive} client
   * @param {string} channel
   * @param {SubscriptionHandlers} handlers
   */
  constructor(client, channel, handlers) {
    /** @readonly */
    this.channel = channel;
    /** @internal */
    this._client = client;
    /** @internal */
    this._handlers = handlers;
    /** @type {string | null} the epoch of the last reply @internal */
    this._epoch = handlers.since ? handlers.since.epoch : null;
    /** @type {number | null} the offset of the last kept event processed @internal */
    this._off = handlers.since ? handlers.since.off : null;
    /** @internal */
    this._hadReply = false;
    /** @internal */
    this._active = false;
    /** @internal */
    this._closed = false;
    /** @type {(meta: SubscribeMeta) => void} @internal */
    this._resolveReady = () => {};
    /** @type {(err: OcopError) => void} @internal */
    this._rejectReady = () => {};
    /**
     * Settles with the first reply: resolves with its meta, rejects with the server's error
     * (`not_found`, `forbidden`, ...). Awaiting it is optional.
     * @type {Promise<SubscribeMeta>}
     */
    this.ready = new Promise((resolve, reject) => {
      this._resolveReady = resolve;
      this._rejectReady = reject;
    });
    // Nobody has to await `ready`; an unobserved refusal must not become an unhandled rejection.
    this.ready.catch(() => {});
  }

  /** The epoch of the channel's history as of the last reply (`null` before the first). */
  get epoch() {
    return this._epoch;
  }

  /** The offset of the last kept event delivered (or of the last reply), `null` before it. */
  get off() {
    return this._off;
  }

  /** Whether the server currently delivers this channel's events on the open socket. */
  get active() {
    return this._active;
  }

  /**
   * Stops the subscription: no handler is called after this returns. Resolves when the server
   * acknowledged it (at once when the socket is not open).
   * @returns {Promise<void>}
   */
  unsubscribe() {
    return this._client._unsubscribe(this);
  }
}

/**
 * The client. Events (`client.on(name, fn)`):
 * - `state` `(state, previous)`: `connecting` (first attempt), `open` (hello received),
 *   `reconnecting` (waiting for or making another attempt), `closed` (stopped, or never started).
 * - `hello` `(hello)`: every hello frame, after the clock offset was refreshed.
 * - `disconnect` `(code, reason, {code, reason, action, delayMs})`: a socket ended without
 *   `close()`; `action` is `reconnect` (after `delayMs`), `pause` (4029, after `delayMs`) or `stop`.
 * - `closed` `(code, reason, {code, reason, byClient})`: the client stopped: a stop code (1003,
 *   1008, 1009, or 4029 with `abuseDelayMs: null`), or `close()` (`byClient: true`).
 * - `event` `(frame)`: every event frame, subscribed or not.
 * - `error` `(err)`: something the client could not attribute (a socket error, a reply with
 *   `re: null`, a subscription refused after a reconnect).
 */
export class OcopLive {
  /** @param {OcopLiveOptions} options */
  constructor(options) {
    if (!options || !options.url) throw new TypeError('OcopLive: options.url is required');
    const WS = options.WebSocket ?? /** @type {any} */ (globalThis).WebSocket;
    if (typeof WS !== 'function') {
      throw new TypeError('OcopLive: no WebSocket implementation; pass options.WebSocket (in Node 20, the "ws" package)');
    }
    /** @internal */
    this._WebSocket = WS;
    /** @internal */
    this._url = options.url;
    /** @internal */
    this._token = options.token ?? null;
    /** @internal */
    this._protocols = options.protocols ?? [PROTOCOL];
    /** @internal */
    this._backoff = { baseMs: 500, maxMs: 15000, ...(options.backoff ?? {}) };
    /** @internal */
    this._random = options.random ?? Math.random;
    /** @internal */
    this._abuseDelayMs = options.abuseDelayMs === undefined ? 60000 : options.abuseDelayMs;
    /** @internal */
    this._helloTimeoutMs = options.helloTimeoutMs ?? 10000;
    /** @internal */
    this._requestTimeoutMs = options.requestTimeoutMs ?? 10000;

    /** @type {'connecting' | 'open' | 'reconnecting' | 'closed'} @internal */
    this._state = 'closed';
    /** @type {Map<string, Set<Function>>} @internal */
    this._listeners = new Map();
    /** @type {any} the current socket @internal */
    this._ws = null;
    /** Whether the application wants a connection (between connect() and close()/stop). @internal */
    this._wanted = false;
    /** Reconnect attempts since the last hello. @internal */
    this._attempt = 0;
    /** @type {any} @internal */
    this._reconnectTimer = null;
    /** @type {any} @internal */
    this._helloTimer = null;
    /** Subscribe retries waiting on their timers, cleared when the socket goes. @type {Set<any>} @internal */
    this._retryTimers = new Set();
    /** Bumped by every connect() and close(), so an attempt started before either gives up. @internal */
    this._generation = 0;
    /** Ids are unique over the client's lifetime, hence per connection. @internal */
    this._nextId = 1;
    /** Commands sent on the current socket, by id. @type {Map<number, Pending>} @internal */
    this._inflight = new Map();
    /** Commands waiting for the socket to open. @type {Pending[]} @internal */
    this._queue = [];
    /** @type {Map<string, Subscription>} @internal */
    this._subs = new Map();
    /** @type {Hello | null} @internal */
    this._hello = null;
    /** server clock − local clock, in ms, from the last hello. @internal */
    this._offsetMs = 0;
    /** @type {{resolve: (h: Hello) => void, reject: (e: OcopError) => void}[]} @internal */
    this._connectWaiters = [];
  }

  /** The connection state: `connecting`, `open`, `reconnecting` or `closed`. */
  get state() {
    return this._state;
  }

  /** The last hello frame's data, `null` before the first. */
  get hello() {
    return this._hello;
  }

  /** The estimated server clock minus the local clock, in ms (0 before the first hello). */
  get clockOffsetMs() {
    return this._offsetMs;
  }

  /**
   * Listens to a client event (see the class documentation).
   * @param {'state' | 'hello' | 'disconnect' | 'closed' | 'event' | 'error'} name
   * @param {Function} fn
   * @returns {() => void} removes the listener
   */
  on(name, fn) {
    let set = this._listeners.get(name);
    if (!set) this._listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => this.off(name, fn);
  }

  /**
   * Removes a listener added with `on`.
   * @param {string} name
   * @param {Function} fn
   */
  off(name, fn) {
    this._listeners.get(name)?.delete(fn);
  }

  /**
   * Opens the connection (and keeps it open: it reconnects by itself until `close()` or a stop
   * code). Resolves with the hello frame's data; rejects with `OcopError` `disconnected` when the
   * client stops before a hello arrived. Calling it while open resolves with the current hello.
   * @returns {Promise<Hello>}
   */
  connect() {
    if (this._state === 'open' && this._hello) return Promise.resolve(this._hello);
    const p = new Promise((resolve, reject) => this._connectWaiters.push({ resolve, reject }));
    if (!this._wanted) {
      this._wanted = true;
      this._attempt = 0;
      this._generation += 1;
      this._open('connecting');
    }
    return /** @type {Promise<Hello>} */ (p);
  }

  /**
   * Closes the connection for good (until the next `connect()`): no reconnect, every pending
   * command rejects with `disconnected`, `closed` is emitted with `byClient: true`.
   * @returns {Promise<void>} resolves once the socket is closed
   */
  close() {
    this._wanted = false;
    this._generation += 1;
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    const ws = this._ws;
    const done = new Promise((resolve) => {
      if (!ws) return resolve(undefined);
      ws._ocopOnGone = resolve;
    });
    if (ws) {
      try {
        ws.close(1000, 'bye');
      } catch {
        // A socket that cannot be closed any more is closed already.
      }
      // The socket's close event finishes the job (state, `closed`, pending commands).
    } else {
      this._stop(1000, 'bye', true);
    }
    return /** @type {Promise<void>} */ (done);
  }

  /**
   * Replaces the token used from the next connection attempt on (the open socket keeps its own).
   * @param {string | null | (() => string | null | Promise<string | null>)} token
   */
  setToken(token) {
    this._token = token;
  }

  /**
   * The server's clock now, in ms since the epoch, estimated from the last hello frame's
   * `server_time` (offset = server_time − local time of receipt, refreshed on every hello). Good
   * for countdowns of flash offers; without a hello yet, the local clock.
   * @returns {number}
   */
  serverNow() {
    return Date.now() + this._offsetMs;
  }

  /**
   * Sends a command and resolves with its reply's `data`.
   *
   * Rejects with `OcopError`: the server's error (`code`, `message`, `retryAfterMs`), or
   * `disconnected` when the socket dropped before the reply (the command may have been applied:
   * it is never resent automatically), or `timeout`. A command issued while (re)connecting is
   * sent when the socket opens; while `closed`, it rejects at once with `disconnected`.
   *
   * @param {string} op the operation, like `chat.send`
   * @param {Record<string, any>} [params] the command's other fields
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<any>}
   */
  request(op, params = {}, options = {}) {
    if ('id' in params || 'op' in params) {
      return Promise.reject(new TypeError('request params must not contain id or op'));
    }
    return new Promise((resolve, reject) => {
      /** @type {Pending} */
      const pending = {
        id: 0,
        frame: { op, ...params },
        resolve,
        reject,
        timer: null,
      };
      this._submit(pending, options.timeoutMs ?? this._requestTimeoutMs);
    });
  }

  /**
   * Subscribes to a channel and keeps the subscription across reconnects (see
   * `SubscriptionHandlers`). One subscription per channel per client.
   * @param {string} channel like `show:<id>`, `user:<id>`
   * @param {SubscriptionHandlers} handlers
   * @returns {Subscription}
   */
  subscribe(channel, handlers = {}) {
    if (this._subs.has(channel)) {
      throw new OcopError('already_subscribed', `already subscribed to ${channel}`);
    }
    const sub = new Subscription(this, channel, handlers);
    this._subs.set(channel, sub);
    if (this._state === 'open') this._sendSubscribe(sub);
    return sub;
  }

  // ---- internals ----------------------------------------------------------------------------

  /**
   * @param {string} name
   * @param {...any} args
   * @internal
   */
  _emit(name, ...args) {
    const set = this._listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        // A listener's bug must not break the connection; report it where it can be seen.
        if (name !== 'error') this._emit('error', err);
      }
    }
  }

  /**
   * @param {'connecting' | 'open' | 'reconnecting' | 'closed'} state
   * @internal
   */
  _setState(state) {
    if (state === this._state) return;
    const previous = this._state;
    this._state = state;
    this._emit('state', state, previous);
  }

  /**
   * @param {'connecting' | 'reconnecting'} state
   * @internal
   */
  async _open(state) {
    this._reconnectTimer = null;
    const generation = this._generation;
    this._setState(state);
    let token;
    try {
      token = typeof this._token === 'function' ? await this._token() : this._token;
    } catch (err) {
      this._emit('error', err);
      this._scheduleReconnect(1006, 'token provider failed');
      return;
    }
    // close(), and perhaps connect() again, happened while the token was being fetched.
    if (!this._wanted || generation !== this._generation) return;
    let url = this._url;
    if (token) url += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
    let ws;
    try {
      ws = new this._WebSocket(url, this._protocols);
    } catch (err) {
      // A URL the implementation refuses will not get better by waiting.
      this._emit('error', err);
      this._stop(1006, String(/** @type {any} */ (err)?.message ?? err), false);
      return;
    }
    this._ws = ws;
    this._hello = null;
    this._helloTimer = setTimeout(() => {
      if (this._ws === ws && !this._hello) {
        try {
          ws.close(4000, 'no hello');
        } catch {
          // Already closing.
        }
      }
    }, this._helloTimeoutMs);
    ws.onmessage = (/** @type {any} */ e) => {
      if (this._ws === ws) this._onFrame(e.data);
    };
    ws.onerror = (/** @type {any} */ e) => {
      // The close event follows and decides; this only makes the failure visible.
      if (this._ws === ws) this._emit('error', e?.error ?? new Error(e?.message ?? 'websocket error'));
    };
    ws.onclose = (/** @type {any} */ e) => this._onClose(ws, e?.code ?? 1006, e?.reason ?? '');
  }

  /**
   * @param {any} raw
   * @internal
   */
  _onFrame(raw) {
    if (typeof raw !== 'string') return; // The server sends text frames only.
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      this._emit('error', new OcopError('bad_frame', 'the server sent a frame that is not JSON'));
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if ('re' in msg) return this._onReply(msg);
    if (msg.ev === 'hello' && msg.ch === undefined) return this._onHello(msg.data);
    if (typeof msg.ch === 'string') return this._onEvent(msg);
  }

  /**
   * @param {Hello} hello
   * @internal
   */
  _onHello(hello) {
    const serverMs = Date.parse(hello?.server_time);
    if (Number.isFinite(serverMs)) this._offsetMs = serverMs - Date.now();
    this._hello = hello;
    clearTimeout(this._helloTimer);
    this._attempt = 0;
    this._setState('open');
    this._emit('hello', hello);
    for (const w of this._connectWaiters.splice(0)) w.resolve(hello);
    // Resubscribe first, so the channels' positions are asked for before anything else happens.
    for (const sub of this._subs.values()) this._sendSubscribe(sub);
    for (const pending of this._queue.splice(0)) this._send(pending);
  }

  /**
   * @param {any} msg
   * @internal
   */
  _onReply(msg) {
    const pending = typeof msg.re === 'number' ? this._inflight.get(msg.re) : undefined;
    if (!pending) {
      if (msg.re === null) {
        const e = msg.error ?? {};
        this._emit('error', new OcopError(e.code ?? 'bad_request', e.message ?? '', e.retry_after_ms));
      }
      return; // A reply after its timeout: the caller was told already.
    }
    this._inflight.delete(msg.re);
    clearTimeout(pending.timer);
    if (msg.ok) {
      pending.resolve(msg.data);
    } else {
      const e = msg.error ?? {};
      pending.reject(new OcopError(e.code ?? 'internal', e.message ?? '', e.retry_after_ms));
    }
  }

  /**
   * @param {EventFrame} frame
   * @internal
   */
  _onEvent(frame) {
    this._emit('event', frame);
    const sub = this._subs.get(frame.ch);
    if (sub && sub._active) this._deliver(sub, frame);
  }

  /**
   * Hands one event to its subscription, dropping kept events at or before the position held.
   * @param {Subscription} sub
   * @param {EventFrame} frame
   * @internal
   */
  _deliver(sub, frame) {
    if (typeof frame.off === 'number') {
      if (sub._off !== null && frame.off <= sub._off) return;
      sub._off = frame.off;
    }
    try {
      sub._handlers.onEvent?.(frame);
    } catch (err) {
      this._emit('error', err);
    }
  }

  /**
   * @param {Pending} pending
   * @param {number} timeoutMs
   * @internal
   */
  _submit(pending, timeoutMs) {
    if (this._state === 'closed' || !this._wanted) {
      pending.reject(new OcopError('disconnected', 'not connected'));
      return;
    }
    pending.timer = setTimeout(() => {
      this._inflight.delete(pending.id);
      const i = this._queue.indexOf(pending);
      if (i >= 0) this._queue.splice(i, 1);
      pending.reject(new OcopError('timeout', `no reply to ${pending.frame.op} within ${timeoutMs} ms`));
    }, timeoutMs);
    if (this._state === 'open') this._send(pending);
    else this._queue.push(pending);
  }

  /**
   * @param {Pending} pending
   * @internal
   */
  _send(pending) {
    pending.id = this._nextId++;
    this._inflight.set(pending.id, pending);
    try {
      this._ws.send(JSON.stringify({ id: pending.id, ...pending.frame }));
    } catch (err) {
      // The close event is on its way; the command was not sent, but say so the same way.
      this._inflight.delete(pending.id);
      clearTimeout(pending.timer);
      pending.reject(new OcopError('disconnected', String(/** @type {any} */ (err)?.message ?? err)));
    }
  }

  /**
   * Sends `subscribe` for `sub` on the open socket, with `since` when a position is held, and
   * applies the reply as soon as it arrives (before any later frame is looked at).
   * @param {Subscription} sub
   * @internal
   */
  _sendSubscribe(sub) {
    /** @type {Record<string, any>} */
    const params = { ch: sub.channel };
    if (sub._epoch !== null && sub._off !== null) params.since = { off: sub._off, epoch: sub._epoch };
    const ws = this._ws;
    /** @type {Pending} */
    const pending = {
      id: 0,
      frame: { op: 'subscribe', ...params },
      resolve: (data) => this._onSubscribed(sub, data),
      reject: (err) => this._onSubscribeRefused(sub, ws, err),
      timer: null,
    };
    // No timeout: the reply comes, or the socket drops and the next hello resubscribes.
    this._send(pending);
  }

  /**
   * @param {Subscription} sub
   * @param {any} data
   * @internal
   */
  _onSubscribed(sub, data) {
    if (sub._closed || this._subs.get(sub.channel) !== sub) return;
    const resubscribed = sub._hadReply;
    const missed = Array.isArray(data.missed) ? data.missed : [];
    /** @type {SubscribeMeta} */
    const meta = {
      channel: sub.channel,
      epoch: data.epoch,
      off: data.off,
      recovered: !!data.recovered,
      missed: missed.length,
      resubscribed,
    };
    sub._hadReply = true;
    sub._epoch = data.epoch;
    sub._active = true;
    const h = sub._handlers;
    const call = (/** @type {() => void} */ fn) => {
      try {
        fn();
      } catch (err) {
        this._emit('error', err);
      }
    };
    if (data.recovered) {
      for (const frame of missed) {
        if (sub._closed) return;
        this._deliver(sub, frame.ch ? frame : { ...frame, ch: sub.channel });
      }
      if (sub._off === null || data.off > sub._off) sub._off = data.off;
    } else {
      sub._off = data.off;
      if (resubscribed || h.since) call(() => h.onReset?.(meta));
      call(() => h.onSnapshot?.(data.snapshot, meta));
    }
    if (resubscribed) call(() => h.onResubscribed?.(meta));
    sub._resolveReady(meta);
  }

  /**
   * @param {Subscription} sub
   * @param {any} ws the socket the subscribe went out on
   * @param {OcopError} err
   * @internal
   */
  _onSubscribeRefused(sub, ws, err) {
    if (sub._closed || this._subs.get(sub.channel) !== sub) return;
    sub._active = false;
    if (err.code === 'disconnected') return; // The next hello resubscribes.
    if (err.code === 'rate_limited' || err.code === 'unavailable' || err.code === 'internal') {
      // Passing trouble: ask again on the same socket after a while.
      const delay = err.retryAfterMs ?? backoffDelay(3, this._backoff, this._random);
      const timer = setTimeout(() => {
        this._retryTimers.delete(timer);
        if (this._ws === ws && this._state === 'open' && this._subs.get(sub.channel) === sub) this._sendSubscribe(sub);
      }, delay);
      this._retryTimers.add(timer);
      return;
    }
    sub._closed = true;
    this._subs.delete(sub.channel);
    sub._rejectReady(err);
    try {
      sub._handlers.onError?.(err);
    } catch (e) {
      this._emit('error', e);
    }
    if (sub._hadReply && !sub._handlers.onError) this._emit('error', err);
  }

  /**
   * @param {Subscription} sub
   * @returns {Promise<void>}
   * @internal
   */
  _unsubscribe(sub) {
    if (sub._closed) return Promise.resolve();
    sub._closed = true;
    sub._active = false;
    if (this._subs.get(sub.channel) === sub) this._subs.delete(sub.channel);
    sub._rejectReady(new OcopError('unsubscribed', 'unsubscribed before the first reply'));
    if (this._state !== 'open') return Promise.resolve();
    return this.request('unsubscribe', { ch: sub.channel }).then(
      () => undefined,
      () => undefined, // A dropped socket unsubscribes too.
    );
  }

  /**
   * @param {any} ws
   * @param {number} code
   * @param {string} reason
   * @internal
   */
  _onClose(ws, code, reason) {
    const gone = ws._ocopOnGone;
    if (this._ws !== ws) {
      gone?.();
      return;
    }
    this._ws = null;
    clearTimeout(this._helloTimer);
    for (const timer of this._retryTimers) clearTimeout(timer);
    this._retryTimers.clear();
    for (const sub of this._subs.values()) sub._active = false;
    const inflight = [...this._inflight.values()];
    this._inflight.clear();
    for (const pending of inflight) {
      clearTimeout(pending.timer);
      pending.reject(new OcopError('disconnected', `the connection closed (${code}${reason ? ' ' + reason : ''}) before the reply`));
    }
    if (!this._wanted) {
      this._stop(code, reason, true);
    } else {
      this._scheduleReconnect(code, reason);
    }
    gone?.();
  }

  /**
   * @param {number} code
   * @param {string} reason
   * @internal
   */
  _scheduleReconnect(code, reason) {
    const action = closeAction(code);
    if (action === 'stop' || (action === 'pause' && this._abuseDelayMs === null)) {
      this._emit('disconnect', code, reason, { code, reason, action: 'stop', delayMs: null });
      this._stop(code, reason, false);
      return;
    }
    let delayMs;
    if (action === 'pause') {
      delayMs = /** @type {number} */ (this._abuseDelayMs) + this._random() * this._backoff.maxMs;
    } else {
      delayMs = backoffDelay(this._attempt, this._backoff, this._random);
    }
    this._attempt += 1;
    this._setState('reconnecting');
    this._emit('disconnect', code, reason, { code, reason, action, delayMs });
    this._reconnectTimer = setTimeout(() => {
      if (this._wanted) this._open('reconnecting');
    }, delayMs);
  }

  /**
   * @param {number} code
   * @param {string} reason
   * @param {boolean} byClient
   * @internal
   */
  _stop(code, reason, byClient) {
    this._wanted = false;
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    for (const pending of this._queue.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(new OcopError('disconnected', 'the client is closed'));
    }
    const err = new OcopError('disconnected', `the client stopped (${code}${reason ? ' ' + reason : ''})`);
    for (const w of this._connectWaiters.splice(0)) w.reject(err);
    this._setState('closed');
    this._emit('closed', code, reason, { code, reason, byClient });
  }
}

/**
 * A command on its way: queued, or sent and waiting for its reply.
 * @typedef {object} Pending
 * @property {number} id
 * @property {Record<string, any> & {op: string}} frame
 * @property {(data: any) => void} resolve
 * @property {(err: OcopError) => void} reject
 * @property {any} timer
 */
