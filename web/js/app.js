// The page script: draws the screen the address names. Everything people typed (titles,
// descriptions) goes in as text, never as HTML.

import { t, el, vnTime, fairWhen, lang, setLang } from './ui.js';

/** GET a JSON document once per page view (sellers and products repeat across shows). */
const cache = new Map();
function getJson(path) {
  if (!cache.has(path)) {
    cache.set(path, fetch(path, { headers: { accept: 'application/json' } }).then((r) => (r.ok ? r.json() : null)).catch(() => null));
  }
  return cache.get(path);
}

function stars(n) {
  return n ? `${'★'.repeat(n)} OCOP ${n} sao` : '';
}

function card(show, live) {
  const when = live ? t('startedAt', vnTime(show.started_at)) : t('at', vnTime(show.scheduled_at));
  const seller = el('p', { class: 'seller' });
  const rating = el('p', { class: 'stars' });
  // The card shows at once; who sells it and how many stars arrive when their reads do.
  getJson(`/api/sellers/${encodeURIComponent(show.seller_id)}`).then((s) => {
    const profile = s && (s.seller || s);
    if (profile && profile.display_name) seller.textContent = `${profile.display_name} · ${profile.province}`;
  });
  const featured = show.pinned_product_id || (show.lineup[0] && show.lineup[0].product_id);
  if (featured) {
    getJson(`/api/products/${encodeURIComponent(featured)}`).then((p) => {
      const product = p && (p.product || p);
      if (product && product.stars) rating.textContent = stars(product.stars);
    });
  }
  return el('li', {},
    el('a', { class: 'card', href: `/shows/${encodeURIComponent(show.id)}` },
      el('span', { class: live ? 'badge' : 'badge soon' }, live ? t('liveBadge') : t('soonBadge')),
      el('h3', {}, show.title),
      seller,
      rating,
      el('p', {}, `${when} · ${t('products', show.lineup.length)}`)));
}

async function shows(status) {
  const r = await fetch(`/api/shows?status=${status}`, { headers: { accept: 'application/json' } });
  if (!r.ok) throw new Error(`shows: ${r.status}`);
  return (await r.json()).items;
}

const FAIR_STATUS = { open: 'fairOpen', published: 'fairPublished', closed: 'fairClosed', draft: 'fairDraft' };

function fairCard(fair) {
  const where = [fair.province, fair.theme].filter(Boolean).join(' · ');
  return el('li', {},
    el('a', { class: 'card fair-card', href: `/fairs/${encodeURIComponent(fair.id)}` },
      el('span', { class: fair.status === 'open' ? 'badge open' : 'badge soon' }, t(FAIR_STATUS[fair.status])),
      el('h3', {}, fair.name),
      el('p', {}, fairWhen(fair)),
      where ? el('p', { class: 'seller' }, where) : ''));
}

async function fairs() {
  // Open fairs first, then those opening later (the server's default list, in that order).
  const r = await fetch('/api/fairs', { headers: { accept: 'application/json' } });
  if (!r.ok) throw new Error(`fairs: ${r.status}`);
  return (await r.json()).items;
}

async function home() {
  const status = document.getElementById('status');
  try {
    // Fairs are extra: the shows still list when the fairs cannot be read.
    const [live, soon, fairList] = await Promise.all([shows('live'), shows('scheduled'), fairs().catch(() => [])]);
    document.getElementById('fairs').replaceChildren(...fairList.map(fairCard));
    // No fair on: the section goes, live shows come first.
    document.getElementById('fairs-section').hidden = fairList.length === 0;
    for (const [id, items, isLive] of [['live', live, true], ['soon', soon, false]]) {
      const list = document.getElementById(id);
      list.replaceChildren(...items.map((s) => card(s, isLive)));
      document.getElementById(`${id}-empty`).hidden = items.length > 0;
    }
    status.textContent = '';
  } catch {
    status.textContent = t('offline');
    setTimeout(home, 5000);
  }
}

function translate() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll('[data-t]')) node.textContent = t(node.dataset.t);
  const button = document.getElementById('lang');
  button.textContent = t('other');
  button.lang = t('otherLang');
}

document.getElementById('lang').addEventListener('click', () => {
  setLang(lang === 'vi' ? 'en' : 'vi');
  location.reload();
});

translate();
const showMatch = location.pathname.match(/^\/shows\/([0-9a-f-]{36})$/);
const fairMatch = location.pathname.match(/^\/fairs\/([0-9a-f-]{36})$/);
const boothMatch = location.pathname.match(/^\/booths\/([0-9a-f-]{36})$/);
if (location.pathname === '/') {
  home();
} else if (showMatch) {
  const main = document.getElementById('main');
  main.classList.add('show-page');
  // Both at once: the client is show.js's import, and on a slow network every round trip counts.
  Promise.all([import('./show.js'), import('./ocop-live.js')]).then(([m]) => m.showPage(main, showMatch[1]));
} else if (fairMatch) {
  Promise.all([import('./fair.js'), import('./ocop-live.js')]).then(([m]) => m.fairPage(document.getElementById('main'), fairMatch[1]));
} else if (boothMatch) {
  Promise.all([import('./booth.js'), import('./ocop-live.js')]).then(([m]) => m.boothPage(document.getElementById('main'), boothMatch[1]));
} else if (location.pathname === '/me') {
  import('./me.js').then((m) => m.mePage(document.getElementById('main')));
} else if (location.pathname === '/seller') {
  import('./seller.js').then((m) => m.sellerPage(document.getElementById('main')));
} else if (location.pathname === '/login') {
  import('./login.js').then((m) => m.loginPage(document.getElementById('main')));
} else if (location.pathname === '/organiser') {
  import('./organiser.js').then((m) => m.organiserPage(document.getElementById('main')));
} else {
  for (const section of document.querySelectorAll('main section')) section.hidden = true;
  document.getElementById('status').textContent = t('building');
}
