// The buyer's screen of a live show: video, pinned product, flash offer, chat, hearts, buying.
// Everything people typed (chat, names, titles) is put in as text, never as HTML.

import { OcopLive, OcopError } from './ocop-live.js';
import { t, el, vnd, vnTime, session, api, chatForm as sharedChatForm } from './ui.js';

const MAX_CHAT = 200;

export async function showPage(root, showId) {
  const auth = session();
  const state = { show: null, pinned: null, offers: new Map(), me: auth.user, order: null, stuckToBottom: true };

  const title = el('h1', { class: 'show-title' });
  const fairLink = el('a', { class: 'crumb', hidden: '' }, t('backToFair'));
  const status = el('span', { class: 'badge' });
  const viewers = el('span', { class: 'viewers', 'aria-live': 'off' });
  const video = el('div', { class: 'video' });
  const pinned = el('section', { class: 'pinned', 'aria-label': t('onScreen') });
  const offer = el('section', { class: 'offer', 'aria-live': 'polite', 'aria-label': t('flashOffer') });
  const result = el('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const chat = el('ol', { class: 'chat', 'aria-live': 'polite', 'aria-label': t('chat') });
  const hint = el('p', { class: 'hint' });
  const heartCount = el('span', {}, '0');
  const hearts = el('button', { type: 'button', class: 'heart' }, '♥ ', heartCount, el('span', { class: 'sr' }, ` ${t('sendHeart')}`));
  const conn = el('p', { class: 'conn', role: 'status' });
  const notice = el('p', { class: 'announcement', role: 'status', 'aria-live': 'polite' });
  // Why the fair's organiser (or an admin) stopped the show, when they did: kept on screen.
  const stopped = el('p', { class: 'stopped', role: 'alert' });
  const form = chatForm();
  root.replaceChildren(
    el('header', { class: 'show-head' }, fairLink, status, title, viewers),
    video, conn, stopped, notice, pinned, offer, result,
    el('section', { class: 'chat-box', 'aria-label': t('chat') }, chat, hint, el('div', { class: 'chat-actions' }, form, hearts)),
  );

  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const client = new OcopLive({ url, token: () => session().token });
  client.on('state', (s) => {
    conn.textContent = s === 'open' ? '' : s === 'closed' ? t('offline') : t('reconnecting');
  });
  client.on('closed', (code) => {
    if (code === 1008) conn.textContent = t('signInAgain');
  });

  chat.addEventListener('scroll', () => {
    state.stuckToBottom = chat.scrollTop + chat.clientHeight >= chat.scrollHeight - 24;
  });

  function addChat(ev) {
    const d = ev.data;
    const item = el('li', { 'data-id': d.msg_id },
      el('span', { class: `who role-${d.user.role}` }, d.user.name), ' ', el('span', { class: 'text' }, d.text));
    chat.append(item);
    while (chat.childElementCount > MAX_CHAT) chat.firstElementChild.remove();
    if (state.stuckToBottom) chat.scrollTop = chat.scrollHeight;
  }

  function drawShow() {
    const s = state.show;
    title.textContent = s.title;
    if (s.fair_id) {
      fairLink.href = `/fairs/${encodeURIComponent(s.fair_id)}`;
      fairLink.hidden = false;
    }
    document.title = `${s.title} · ${t('brand')}`;
    status.textContent = s.status === 'live' ? t('liveBadge') : s.status === 'ended' ? t('ended') : t('soonBadge');
    status.className = s.status === 'live' ? 'badge' : 'badge soon';
    const codes = s.lineup.map((l) => l.code).join(', ');
    hint.textContent = s.status === 'live' ? t('chotHint', codes) : '';
    drawVideo(video, s);
  }

  /** Who stopped the show and why; a seller who gave a reason for ending it is quoted too. */
  function drawStopped({ reason, by }) {
    const role = by && by.role;
    if (role === 'seller') {
      stopped.textContent = reason ? t('stoppedBySeller', reason) : '';
      return;
    }
    const admin = role === 'admin';
    stopped.textContent = reason ? t(admin ? 'stoppedByAdmin' : 'stoppedByOrganiser', reason) : t(admin ? 'stoppedByAdminBare' : 'stoppedByOrganiserBare');
  }

  function drawPinned() {
    const p = state.pinned;
    if (!p) {
      pinned.replaceChildren();
      pinned.hidden = true;
      return;
    }
    pinned.hidden = false;
    const img = p.images && p.images[0] ? el('img', { src: p.images[0], alt: p.name, width: '96', height: '96' }) : el('div', { class: 'noimg', 'aria-hidden': 'true' }, p.name.slice(0, 1));
    const cert = p.certificate
      ? el('p', { class: 'cert' }, t('certificate', p.certificate.number, p.certificate.issued_by))
      : '';
    const buy = el('button', { type: 'button', class: 'buy secondary' }, t('buyAtList', vnd(p.price)));
    buy.addEventListener('click', () => place({ product_id: p.id }, 1));
    pinned.replaceChildren(
      img,
      el('div', { class: 'pinned-body' },
        el('h2', {}, `${p.code ? p.code + ' · ' : ''}${p.name}`),
        el('p', { class: 'price' }, vnd(p.price), el('span', { class: 'unit' }, ` / ${p.unit}`)),
        el('p', { class: 'stars' }, `${'★'.repeat(p.stars)} OCOP ${p.stars} sao`),
        cert,
        el('p', {}, el('a', { href: `/t/${encodeURIComponent(p.trace_code)}` }, t('trace'))),
        state.show && state.show.status === 'live' ? buy : ''));
  }

  let ticker = null;
  function drawOffer() {
    const live = [...state.offers.values()].filter((o) => o.status === 'live');
    const o = live[live.length - 1] || [...state.offers.values()].pop();
    clearInterval(ticker);
    if (!o) {
      offer.replaceChildren();
      offer.hidden = true;
      return;
    }
    offer.hidden = false;
    const sold = o.quantity - o.remaining;
    const urgent = o.status === 'live' && o.remaining < o.quantity * 0.2;
    offer.classList.toggle('urgent', urgent);
    const clock = el('p', { class: 'countdown', 'aria-live': 'off' });
    const qty = el('input', { type: 'number', min: '1', max: String(o.per_buyer_limit), value: '1', inputmode: 'numeric', id: 'qty' });
    const buy = el('button', { type: 'button', class: 'buy' }, t('buyNow'));
    buy.addEventListener('click', () => place({ offer_id: o.id }, Number(qty.value) || 1));
    const tick = () => {
      const left = Math.max(0, Date.parse(o.ends_at) - client.serverNow());
      const s = Math.ceil(left / 1000);
      clock.textContent = o.status === 'live' ? t('endsIn', Math.floor(s / 60), String(s % 60).padStart(2, '0')) : t(o.status === 'sold_out' ? 'soldOut' : 'offerEnded');
      if (left === 0) clearInterval(ticker);
    };
    tick();
    if (o.status === 'live') ticker = setInterval(tick, 1000);
    offer.replaceChildren(
      el('h2', {}, t('flashOffer'), ': ', o.product_name),
      el('p', { class: 'price' }, vnd(o.price), ' ', el('s', {}, vnd(o.list_price))),
      el('p', { class: 'sold' }, t('sold', sold, o.quantity)),
      el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(o.quantity), 'aria-valuenow': String(sold), 'aria-label': t('soldLabel') },
        el('span', { style: `width:${Math.round((sold / Math.max(1, o.quantity)) * 100)}%` })),
      clock,
      o.status === 'live'
        ? el('div', { class: 'buy-row' }, el('label', { for: 'qty' }, t('quantity')), qty, buy, el('p', { class: 'limit' }, t('limit', o.per_buyer_limit)))
        : '');
  }

  async function place(item, qty) {
    const me = session();
    if (!me.user || me.user.role !== 'buyer') {
      result.textContent = t('signInToBuy');
      result.append(' ', el('a', { href: `/login?next=${encodeURIComponent(location.pathname)}` }, t('signIn')));
      return;
    }
    const key = crypto.randomUUID();
    result.textContent = t('placing');
    for (let attempt = 0; attempt < 4; attempt += 1) {
      try {
        const data = await client.request('order.place', { show: showId, ...item, qty, key });
        state.order = data.order;
        result.textContent = t('placed', data.order.items[0].name, vnd(data.order.total));
        if (data.needs_address) askAddress(data.order);
        return;
      } catch (e) {
        // Same key: a retry can never order twice.
        if (e instanceof OcopError && (e.code === 'unavailable' || e.code === 'disconnected')) {
          await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
          continue;
        }
        result.textContent = refusal(e);
        return;
      }
    }
    result.textContent = t('tryAgain');
  }

  function askAddress(order) {
    const name = el('input', { id: 'd-name', autocomplete: 'name', required: '', value: order.delivery?.name ?? '' });
    const phone = el('input', { id: 'd-phone', autocomplete: 'tel', inputmode: 'tel', required: '', value: order.delivery?.phone ?? '' });
    const address = el('textarea', { id: 'd-address', autocomplete: 'street-address', required: '', rows: '2' });
    const save = el('button', { type: 'submit' }, t('saveAddress'));
    const f = el('form', { class: 'address' },
      el('p', {}, t('needsAddress')),
      el('label', { for: 'd-name' }, t('name')), name,
      el('label', { for: 'd-phone' }, t('phone')), phone,
      el('label', { for: 'd-address' }, t('address')), address, save);
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = { name: name.value, phone: phone.value, address: address.value };
      const r = await api('PUT', '/api/me/delivery', body);
      if (r.ok) {
        f.replaceWith(el('p', { class: 'ok' }, t('addressSaved')));
      } else {
        const errors = r.body && r.body.errors ? Object.values(r.body.errors).join('; ') : t('tryAgain');
        result.textContent = errors;
      }
    });
    result.after(f);
    name.focus();
  }

  function chatForm() {
    return sharedChatForm({
      client: () => client, id: 'chat-text', target: { show: showId }, label: t('chatLabel'), placeholder: t('chatPlaceholder'), send: t('send'),
      onRefused: (err) => { result.textContent = refusal(err); },
    });
  }

  hearts.addEventListener('click', async () => {
    try {
      await client.request('react', { show: showId, kind: 'heart' });
    } catch (err) {
      if (err.code === 'unauthenticated') result.textContent = t('signInToReact');
    }
  });

  client.subscribe(`show:${showId}`, {
    onSnapshot(snap) {
      state.show = snap.show;
      notice.textContent = snap.show.announcement || '';
      state.pinned = snap.pinned;
      state.offers = new Map(snap.offers.map((o) => [o.id, o]));
      chat.replaceChildren();
      for (const ev of snap.chat) addChat(ev);
      viewers.textContent = t('viewers', snap.viewers);
      heartCount.textContent = String(snap.reactions.heart);
      // A show stopped before this page opened says so as well as one stopped in front of it.
      if (snap.show.stopped) drawStopped(snap.show.stopped);
      drawShow();
      drawPinned();
      drawOffer();
    },
    onEvent(ev) {
      const d = ev.data;
      switch (ev.ev) {
        case 'chat': addChat(ev); break;
        case 'chat.deleted': chat.querySelector(`[data-id="${CSS.escape(d.msg_id)}"]`)?.remove(); break;
        case 'pinned': state.pinned = d.product; drawPinned(); break;
        case 'offer': state.offers.set(d.offer.id, d.offer); drawOffer(); break;
        case 'stock': {
          const o = state.offers.get(d.offer_id);
          if (o) { o.remaining = d.remaining; drawOffer(); }
          break;
        }
        case 'status':
          state.show = { ...state.show, status: d.status };
          if (d.by) drawStopped({ reason: d.reason, by: d.by });
          drawShow(); drawPinned(); drawOffer();
          break;
        case 'show': state.show = d.show; drawShow(); if (d.show.stopped) drawStopped(d.show.stopped); break;
        case 'announcement': notice.textContent = d.text || ''; break;
        case 'viewers': viewers.textContent = t('viewers', d.count); break;
        case 'reactions': heartCount.textContent = String(d.heart); break;
        default: break;
      }
    },
    onError(err) {
      root.replaceChildren(el('p', { class: 'notice' }, err.code === 'not_found' ? t('noSuchShow') : refusal(err)));
    },
  });
  client.connect().catch(() => {});
}

function refusal(e) {
  const code = e && e.code;
  const known = ['sold_out', 'limit_reached', 'offer_ended', 'insufficient_stock', 'rate_limited', 'muted', 'invalid_state', 'forbidden'];
  return known.includes(code) ? t(`err_${code}`) : (e && e.message) || t('tryAgain');
}

function drawVideo(box, show) {
  const s = show.stream || { kind: 'none' };
  let node;
  if (s.kind === 'youtube' && s.url) {
    const id = youtubeId(s.url);
    node = id ? el('iframe', { src: `https://www.youtube-nocookie.com/embed/${encodeURIComponent(id)}?autoplay=1&mute=1&playsinline=1`, title: show.title, allow: 'autoplay; encrypted-media; picture-in-picture', allowfullscreen: '' }) : null;
  } else if (s.kind === 'facebook' && s.url) {
    node = el('iframe', { src: `https://www.facebook.com/plugins/video.php?href=${encodeURIComponent(s.url)}&show_text=false`, title: show.title, allow: 'autoplay; encrypted-media; picture-in-picture', allowfullscreen: '' });
  } else if (s.kind === 'hls' && s.url) {
    const v = el('video', { controls: '', playsinline: '', muted: '', autoplay: '', 'aria-label': show.title });
    v.muted = true;
    if (v.canPlayType('application/vnd.apple.mpegurl')) {
      v.src = s.url;
    } else {
      playWithHlsJs(v, s.url, box);
    }
    node = v;
  }
  if (!node) node = el('div', { class: 'poster', role: 'img', 'aria-label': t('noVideo') }, el('span', {}, show.title));
  if (box.firstChild && box.firstChild.dataset && box.firstChild.dataset.stream === `${s.kind}:${s.url}`) return;
  node.dataset.stream = `${s.kind}:${s.url}`;
  box.replaceChildren(node);
}

/**
 * Plays an HLS stream on a browser without native HLS through hls.js, fetched only now (it is
 * most of a show page's weight); a poster says so when neither can play it.
 */
async function playWithHlsJs(video, url, box) {
  const unsupported = () => box.replaceChildren(el('p', { class: 'poster' }, t('hlsUnsupported')));
  let Hls;
  try {
    Hls = (await import('../vendor/hls.light.min.mjs')).default;
  } catch {
    unsupported();
    return;
  }
  if (!Hls.isSupported()) {
    unsupported();
    return;
  }
  // No worker: the page's policy allows scripts from this server only, not blob: workers.
  const hls = new Hls({ enableWorker: false, lowLatencyMode: true });
  hls.on(Hls.Events.ERROR, (_, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    else setTimeout(() => hls.loadSource(url), 5000);
  });
  hls.loadSource(url);
  hls.attachMedia(video);
  video.dataset.player = 'hls.js';
}

function youtubeId(url) {
  try {
    const u = new URL(url);
    if (u.hostname === 'youtu.be') return u.pathname.slice(1);
    if (u.searchParams.get('v')) return u.searchParams.get('v');
    const m = u.pathname.match(/\/(live|embed|shorts)\/([^/?]+)/);
    return m ? m[2] : null;
  } catch {
    return null;
  }
}

export { vnTime };
