// A fair's lobby: the fair and its hours (Vietnam time), the organiser's announcement, what is
// live now, the stage agenda with a follow button per show, and the booths, filterable by
// province and OCOP group. Everything arrives on `fair:<id>` and changes without a reload.
// Everything people typed (names, titles, the announcement) is put in as text, never as HTML.

import { OcopLive } from './ocop-live.js';
import { t, el, vnTime, fairWhen, session, api, lang } from './ui.js';

const TEXT = {
  vi: {
    live: 'Đang live', noLive: 'Chưa có gian hàng nào đang live.', agenda: 'Lịch phát sóng',
    noAgenda: 'Chưa có phiên live nào trên lịch.', booths: 'Gian hàng', noBooths: 'Chưa có gian hàng nào.',
    noMatch: 'Không có gian hàng nào khớp bộ lọc.', province: 'Tỉnh, thành', group: 'Nhóm sản phẩm', all: 'Tất cả',
    follow: 'Theo dõi', following: 'Đang theo dõi', followed: (x) => `Đã theo dõi “${x}”: bạn sẽ được nhắc trước giờ live.`,
    unfollowed: (x) => `Đã bỏ theo dõi “${x}”.`,
    registerToFollow: 'Đăng ký tài khoản (miễn phí) để theo dõi phiên live và được nhắc trước giờ phát.',
    register: 'Đăng ký hoặc đăng nhập', visitors: (n) => `${n} người đang tham quan`, noSuchFair: 'Không tìm thấy hội chợ này.',
    startedAt: (x) => `Live từ ${x}`, watch: 'Xem ngay', showing: (n) => `${n} gian hàng`,
    closedNote: 'Hội chợ đã đóng cửa. Cảm ơn bạn đã ghé thăm.', opensNote: (x) => `Hội chợ mở cửa lúc ${x}.`,
  },
  en: {
    live: 'Live now', noLive: 'No booth is live right now.', agenda: 'Stage agenda',
    noAgenda: 'No show is on the agenda yet.', booths: 'Booths', noBooths: 'No booth yet.',
    noMatch: 'No booth matches these filters.', province: 'Province', group: 'OCOP group', all: 'All',
    follow: 'Follow', following: 'Following', followed: (x) => `Following “${x}”: you will be reminded before it starts.`,
    unfollowed: (x) => `No longer following “${x}”.`,
    registerToFollow: 'Create a free account to follow shows and be reminded before they start.',
    register: 'Register or sign in', visitors: (n) => `${n} visiting now`, noSuchFair: 'No such fair.',
    startedAt: (x) => `Live since ${x}`, watch: 'Watch', showing: (n) => `${n} booth${n === 1 ? '' : 's'}`,
    closedNote: 'The fair has closed. Thank you for visiting.', opensNote: (x) => `The fair opens at ${x}.`,
  },
};
const l = (key, ...args) => {
  const v = TEXT[lang][key] ?? TEXT.vi[key];
  return typeof v === 'function' ? v(...args) : v;
};

export const GROUPS = ['food', 'drinks', 'herbal', 'handicraft', 'ornamental', 'tourism'];
const FAIR_STATUS = { open: 'fairOpen', published: 'fairPublished', closed: 'fairClosed', draft: 'fairDraft' };
const collator = new Intl.Collator('vi');

const zone = { timeZone: 'Asia/Ho_Chi_Minh' };
const dayFormat = new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', { ...zone, weekday: 'long', day: '2-digit', month: '2-digit' });
const clockFormat = new Intl.DateTimeFormat('en-GB', { ...zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
/** The day in Vietnam, as its people write it: "Thứ Ba, 01/12". */
const vnDay = (iso) => {
  const d = dayFormat.format(new Date(iso));
  return d.charAt(0).toUpperCase() + d.slice(1);
};
/** The time of day in Vietnam: "19:30". */
const vnClock = (iso) => clockFormat.format(new Date(iso));

/**
 * GET a JSON document once per page view; `null` when it cannot be read. At most four reads run
 * at once, so a fair with many booths does not hold up the lobby's other requests on a slow
 * network.
 */
const cache = new Map();
const queue = [];
let running = 0;
function getJson(path) {
  if (!cache.has(path)) {
    cache.set(path, new Promise((resolve) => {
      queue.push(() => api('GET', path).then((r) => resolve(r.ok ? r.body : null)));
      pump();
    }));
  }
  return cache.get(path);
}
function pump() {
  while (running < 4 && queue.length) {
    running += 1;
    queue.shift()().finally(() => { running -= 1; pump(); });
  }
}

/**
 * What a booth sells, for the filters and its card: its featured products, one small read each
 * (shared across booths and redraws), or a dozen of the seller's when none is featured.
 */
async function boothProducts(booth) {
  if (booth.featured_products.length) {
    const found = await Promise.all(booth.featured_products.map((id) => getJson(`/api/products/${encodeURIComponent(id)}`)));
    return found.filter(Boolean).map((r) => r.product);
  }
  const page = await getJson(`/api/products?seller=${encodeURIComponent(booth.seller_id)}&limit=12`);
  return page?.items ?? [];
}

export async function fairPage(root, fairId) {
  const state = { fair: null, live: [], upcoming: [], booths: new Map(), follows: new Set(), groups: new Map(), province: '', group: '' };
  const me = session();
  const canFollow = me.user && me.user.role !== 'guest';

  const badge = el('span', { class: 'badge soon' });
  const title = el('h1', { class: 'fair-title' });
  const when = el('p', { class: 'when' });
  const where = el('p', { class: 'where' });
  const visitors = el('p', { class: 'visitors', 'aria-live': 'off' });
  const note = el('p', { class: 'notice' });
  const description = el('p', { class: 'description' });
  const conn = el('p', { class: 'conn', role: 'status' });
  const announcement = el('p', { class: 'announcement', role: 'status', 'aria-live': 'polite' });
  const liveList = el('ul', { class: 'cards', id: 'fair-live' });
  const liveEmpty = el('p', { class: 'empty' }, l('noLive'));
  const agenda = el('ol', { class: 'agenda', id: 'agenda' });
  const agendaEmpty = el('p', { class: 'empty' }, l('noAgenda'));
  const result = el('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const provinceSelect = el('select', { id: 'f-province' });
  const groupSelect = el('select', { id: 'f-group' });
  const boothList = el('ul', { class: 'cards', id: 'booths' });
  const boothCount = el('p', { class: 'hint', 'aria-live': 'polite' });
  const boothEmpty = el('p', { class: 'empty' });

  root.replaceChildren(
    el('header', { class: 'fair-head' }, badge, title, when, where, visitors),
    conn, announcement, note, description,
    el('section', { 'aria-labelledby': 'live-h' }, el('h2', { id: 'live-h' }, l('live')), liveList, liveEmpty),
    el('section', { 'aria-labelledby': 'agenda-h' }, el('h2', { id: 'agenda-h' }, l('agenda')), result, agenda, agendaEmpty),
    el('section', { 'aria-labelledby': 'booths-h' }, el('h2', { id: 'booths-h' }, l('booths')),
      el('div', { class: 'grid2 filters' },
        el('div', {}, el('label', { for: 'f-province' }, l('province')), provinceSelect),
        el('div', {}, el('label', { for: 'f-group' }, l('group')), groupSelect)),
      boothCount, boothList, boothEmpty),
  );

  const sellerName = (sellerId) => {
    for (const b of state.booths.values()) if (b.seller_id === sellerId) return b.seller_name;
    return '';
  };

  function drawFair() {
    const f = state.fair;
    document.title = `${f.name} · ${t('brand')}`;
    title.textContent = f.name;
    badge.textContent = t(FAIR_STATUS[f.status]);
    badge.className = f.status === 'open' ? 'badge open' : 'badge soon';
    when.textContent = fairWhen(f);
    where.textContent = [f.province, f.theme].filter(Boolean).join(' · ');
    description.textContent = f.description || '';
    note.textContent = f.status === 'closed' ? l('closedNote') : f.status === 'published' ? l('opensNote', vnTime(f.opens_at)) : '';
  }

  function showCard(show) {
    const seller = sellerName(show.seller_id);
    return el('li', { 'data-show': show.id },
      el('a', { class: 'card', href: `/shows/${encodeURIComponent(show.id)}` },
        el('span', { class: 'badge' }, t('liveBadge')),
        el('h3', {}, show.title),
        seller ? el('p', { class: 'seller' }, seller) : '',
        el('p', {}, l('startedAt', vnTime(show.started_at)), ' · ', el('span', { class: 'go' }, l('watch')))));
  }

  function drawLive() {
    liveList.replaceChildren(...state.live.map(showCard));
    liveEmpty.hidden = state.live.length > 0;
  }

  function followButton(show) {
    const on = state.follows.has(show.id);
    const b = el('button', { type: 'button', class: on ? 'follow on' : 'follow secondary', 'aria-pressed': String(on) },
      on ? `✓ ${l('following')}` : l('follow'), el('span', { class: 'sr' }, `: ${show.title}`));
    b.addEventListener('click', () => toggleFollow(show, b));
    return b;
  }

  function agendaItem(show) {
    const seller = sellerName(show.seller_id);
    return el('li', { 'data-show': show.id },
      el('p', { class: 'slot' }, el('time', { datetime: show.scheduled_at }, vnClock(show.scheduled_at))),
      el('div', { class: 'what' },
        el('a', { href: `/shows/${encodeURIComponent(show.id)}` }, show.title),
        seller ? el('p', { class: 'seller' }, seller) : ''),
      followButton(show));
  }

  function drawAgenda() {
    // By day (Vietnam's), then by time.
    const upcoming = [...state.upcoming].sort((a, b) => Date.parse(a.scheduled_at) - Date.parse(b.scheduled_at));
    const days = new Map();
    for (const show of upcoming) {
      const day = vnDay(show.scheduled_at);
      if (!days.has(day)) days.set(day, []);
      days.get(day).push(show);
    }
    agenda.replaceChildren(...[...days].map(([day, shows]) => el('li', { class: 'day' },
      el('h3', {}, day), el('ol', {}, ...shows.map(agendaItem)))));
    agendaEmpty.hidden = upcoming.length > 0;
  }

  async function toggleFollow(show, button) {
    if (!canFollow) {
      result.replaceChildren(l('registerToFollow'), ' ',
        el('a', { href: `/login?next=${encodeURIComponent(location.pathname)}` }, l('register')));
      return;
    }
    const on = !state.follows.has(show.id);
    button.disabled = true;
    const r = await api(on ? 'POST' : 'DELETE', `/api/shows/${encodeURIComponent(show.id)}/follow`);
    button.disabled = false;
    if (r.ok) {
      if (r.body.following) state.follows.add(show.id); else state.follows.delete(show.id);
      result.textContent = r.body.following ? l('followed', show.title) : l('unfollowed', show.title);
      const fresh = followButton(show);
      button.replaceWith(fresh);
      fresh.focus();
    } else if (r.status === 401 || r.status === 403) {
      result.replaceChildren(l('registerToFollow'), ' ',
        el('a', { href: `/login?next=${encodeURIComponent(location.pathname)}` }, l('register')));
    } else {
      result.textContent = r.body?.detail || t('tryAgain');
    }
  }

  function boothCard(booth) {
    const groups = state.groups.get(booth.id);
    const tags = el('p', { class: 'tags' });
    const products = el('p', { class: 'products' });
    if (groups) {
      tags.textContent = [...groups.groups].map((g) => t(`g_${g}`)).join(' · ');
      products.textContent = groups.names.slice(0, 3).join(', ');
    }
    return el('li', { 'data-booth': booth.id },
      el('a', { class: 'card', href: `/booths/${encodeURIComponent(booth.id)}` },
        el('h3', {}, booth.title),
        // A booth named after its seller says the name once.
        el('p', { class: 'seller' }, booth.title === booth.seller_name ? booth.province : `${booth.seller_name} · ${booth.province}`),
        products, tags,
        groups && groups.stars ? el('p', { class: 'stars' }, t('starsLabel', groups.stars)) : ''));
  }

  function options(select, values, current) {
    select.replaceChildren(el('option', { value: '' }, l('all')), ...values.map(([v, text]) => el('option', { value: v }, text)));
    select.value = values.some(([v]) => v === current) ? current : '';
  }

  function drawBooths() {
    const all = [...state.booths.values()].sort((a, b) => collator.compare(a.title, b.title));
    const provinces = [...new Set(all.map((b) => b.province).filter(Boolean))].sort(collator.compare);
    options(provinceSelect, provinces.map((p) => [p, p]), state.province);
    const known = new Set();
    for (const g of state.groups.values()) for (const x of g.groups) known.add(x);
    options(groupSelect, GROUPS.filter((g) => known.has(g)).map((g) => [g, t(`g_${g}`)]), state.group);
    const shown = all.filter((b) => (!state.province || b.province === state.province)
      && (!state.group || state.groups.get(b.id)?.groups.has(state.group)));
    boothList.replaceChildren(...shown.map(boothCard));
    boothCount.textContent = all.length ? l('showing', shown.length) : '';
    boothEmpty.textContent = all.length === 0 ? l('noBooths') : shown.length === 0 ? l('noMatch') : '';
    boothEmpty.hidden = shown.length > 0;
  }

  // Redraws are coalesced: a burst of booth groups arriving draws the list once.
  let pending = null;
  const redrawBooths = () => {
    if (pending) return;
    pending = requestAnimationFrame(() => { pending = null; drawBooths(); });
  };

  function learnGroups(booth) {
    if (state.groups.has(booth.id)) return;
    boothProducts(booth).then((products) => {
      state.groups.set(booth.id, {
        groups: new Set(products.map((p) => p.group)),
        names: products.map((p) => p.name),
        stars: Math.max(0, ...products.map((p) => p.stars || 0)),
      });
      redrawBooths();
    });
  }

  provinceSelect.addEventListener('change', () => { state.province = provinceSelect.value; drawBooths(); });
  groupSelect.addEventListener('change', () => { state.group = groupSelect.value; drawBooths(); });

  if (canFollow) {
    api('GET', '/api/me/follows').then((r) => {
      if (!r.ok) return;
      state.follows = new Set(r.body.items.map((s) => s.id));
      if (state.fair) drawAgenda();
    });
  }

  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const client = new OcopLive({ url, token: () => session().token });
  client.on('state', (s) => {
    conn.textContent = s === 'open' ? '' : s === 'closed' ? t('offline') : t('reconnecting');
  });

  const upsertBooth = (booth) => {
    if (booth.status === 'approved') {
      state.booths.set(booth.id, booth);
      // Its featured products may have changed.
      state.groups.delete(booth.id);
      learnGroups(booth);
    } else {
      state.booths.delete(booth.id);
    }
  };

  client.subscribe(`fair:${fairId}`, {
    onSnapshot(snap) {
      state.fair = snap.fair;
      state.live = snap.live;
      state.upcoming = snap.upcoming;
      state.booths = new Map(snap.booths.map((b) => [b.id, b]));
      announcement.textContent = snap.announcement || '';
      // The count may be from just before this visitor came in; the next `visitors` corrects it.
      visitors.textContent = l('visitors', Math.max(1, snap.visitors));
      for (const b of snap.booths) learnGroups(b);
      drawFair();
      drawLive();
      drawAgenda();
      drawBooths();
    },
    onEvent(ev) {
      const d = ev.data;
      switch (ev.ev) {
        case 'fair': state.fair = d.fair; drawFair(); break;
        case 'show.live':
          state.upcoming = state.upcoming.filter((s) => s.id !== d.show.id);
          state.live = [...state.live.filter((s) => s.id !== d.show.id), d.show];
          drawLive(); drawAgenda();
          break;
        case 'show.ended':
          state.upcoming = state.upcoming.filter((s) => s.id !== d.show_id);
          state.live = state.live.filter((s) => s.id !== d.show_id);
          drawLive(); drawAgenda();
          break;
        case 'agenda':
          state.upcoming = [...state.upcoming.filter((s) => s.id !== d.show.id), d.show];
          drawAgenda();
          break;
        case 'announcement': announcement.textContent = d.text || ''; break;
        case 'booth': {
          // A new booth may name the seller of a show already listed.
          const known = state.booths.has(d.booth.id);
          upsertBooth(d.booth);
          drawBooths();
          if (!known) { drawLive(); drawAgenda(); }
          break;
        }
        case 'visitors': visitors.textContent = l('visitors', d.count); break;
        default: break;
      }
    },
    onError(err) {
      root.replaceChildren(el('h1', {}, t('fairsTitle')),
        el('p', { class: 'notice' }, err.code === 'not_found' ? l('noSuchFair') : err.message || t('tryAgain')),
        el('p', {}, el('a', { href: '/' }, t('brand'))));
    },
  });
  client.connect().catch(() => {});
}
