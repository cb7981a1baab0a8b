// The page script: draws the screen the address names. Everything people typed (titles,
// descriptions) goes in as text, never as HTML.

const TEXT = {
  vi: {
    live: 'Đang phát trực tiếp', soon: 'Sắp diễn ra', noLive: 'Chưa có phiên live nào lúc này.',
    noSoon: 'Chưa có phiên nào được lên lịch.', liveBadge: 'LIVE', soonBadge: 'Sắp live',
    products: (n) => `${n} sản phẩm`, startedAt: (t) => `Bắt đầu lúc ${t}`, at: (t) => `Lúc ${t}`,
    foot: 'Sản phẩm OCOP — Mỗi xã một sản phẩm. Thanh toán khi nhận hàng.',
    offline: 'Không tải được danh sách phiên live. Đang thử lại…', other: 'English', otherLang: 'en',
    title: 'Chợ OCOP trực tuyến',
    building: 'Trang này đang được hoàn thiện.',
  },
  en: {
    live: 'Live now', soon: 'Coming up', noLive: 'No live show right now.', noSoon: 'No show is scheduled yet.',
    liveBadge: 'LIVE', soonBadge: 'Soon', products: (n) => `${n} product${n === 1 ? '' : 's'}`,
    startedAt: (t) => `Started at ${t}`, at: (t) => `At ${t}`,
    foot: 'OCOP products — One Commune One Product. Cash on delivery.',
    offline: 'Could not load the shows. Retrying…', other: 'Tiếng Việt', otherLang: 'vi',
    title: 'OCOP online market',
    building: 'This page is being finished.',
  },
};

let lang = localStorage.getItem('ocop.lang') === 'en' ? 'en' : 'vi';
const t = (key, ...args) => {
  const v = TEXT[lang][key];
  return typeof v === 'function' ? v(...args) : v;
};

/** Vietnam time, whatever the phone's own zone. */
function vnTime(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', {
    timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit',
  }).format(new Date(iso));
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

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

async function home() {
  const status = document.getElementById('status');
  try {
    const [live, soon] = await Promise.all([shows('live'), shows('scheduled')]);
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
  lang = lang === 'vi' ? 'en' : 'vi';
  localStorage.setItem('ocop.lang', lang);
  translate();
  if (location.pathname === '/') home();
});

translate();
if (location.pathname === '/') {
  home();
} else {
  for (const section of document.querySelectorAll('main section')) section.hidden = true;
  document.getElementById('status').textContent = t('building');
}
