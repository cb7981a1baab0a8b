// The seller console, first part: my shows (create, start, end), what is on screen and the flash
// offers of the live one, and the live order table (new orders appear without a reload; confirm,
// ship, cancel; CSV export). Everything typed by people is put in as text.

import { OcopLive, OcopError } from './ocop-live.js';
import { t, el, vnd, vnTime, session, api, lang } from './ui.js';

const TEXT = {
  vi: {
    title: 'Bàn điều khiển người bán', signIn: 'Đăng nhập tài khoản người bán để mở bàn điều khiển.',
    shows: 'Phiên live của tôi', newShow: 'Tạo phiên live', showTitle: 'Tên phiên live', lineup: 'Sản phẩm trong phiên',
    create: 'Tạo phiên', start: 'Bắt đầu live', end: 'Kết thúc', open: 'Mở trang xem',
    live: 'Đang live', scheduled: 'Chưa bắt đầu', ended: 'Đã kết thúc', noShows: 'Chưa có phiên nào.',
    onAir: 'Đang điều khiển', pin: 'Đưa lên màn hình', pinNone: '— không —',
    offer: 'Mở giá sốc', product: 'Sản phẩm', price: 'Giá (đ)', qty: 'Số lượng', limit: 'Mỗi người tối đa', seconds: 'Thời gian (giây)',
    launch: 'Mở giá sốc', stop: 'Dừng', orders: 'Đơn hàng', csv: 'Tải CSV', confirm: 'Xác nhận', ship: 'Đã giao cho vận chuyển', cancel: 'Hủy',
    noOrders: 'Chưa có đơn hàng.', waiting: 'chờ địa chỉ', done: 'Xong.',
    st_placed: 'Mới', st_confirmed: 'Đã xác nhận', st_shipped: 'Đang giao', st_cancelled: 'Đã hủy',
  },
  en: {
    title: 'Seller console', signIn: 'Sign in with a seller account to open the console.',
    shows: 'My shows', newShow: 'New show', showTitle: 'Title', lineup: 'Products in the show',
    create: 'Create', start: 'Go live', end: 'End', open: 'Open the viewer page',
    live: 'Live', scheduled: 'Not started', ended: 'Ended', noShows: 'No show yet.',
    onAir: 'Running', pin: 'Put on screen', pinNone: '— none —',
    offer: 'Flash offer', product: 'Product', price: 'Price (VND)', qty: 'Quantity', limit: 'Per buyer', seconds: 'Duration (s)',
    launch: 'Launch', stop: 'Stop', orders: 'Orders', csv: 'Download CSV', confirm: 'Confirm', ship: 'Shipped', cancel: 'Cancel',
    noOrders: 'No orders yet.', waiting: 'waiting for an address', done: 'Done.',
    st_placed: 'New', st_confirmed: 'Confirmed', st_shipped: 'Shipped', st_cancelled: 'Cancelled',
  },
};
const l = (key, ...args) => {
  const v = TEXT[lang][key];
  return typeof v === 'function' ? v(...args) : v;
};

const say = (node, r) => {
  node.textContent = r.ok ? l('done') : (r.body?.detail || r.body?.title || t('tryAgain'));
};

export async function sellerPage(root) {
  const me = session();
  document.title = `${l('title')} · ${t('brand')}`;
  if (!me.user || me.user.role !== 'seller' || !me.user.seller_id) {
    root.replaceChildren(el('h1', {}, l('title')), el('p', { class: 'notice' }, l('signIn'), ' ',
      el('a', { href: `/login?next=${encodeURIComponent('/seller')}` }, t('signIn'))));
    return;
  }
  const sellerId = me.user.seller_id;
  const message = el('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const showsBox = el('section', { 'aria-labelledby': 'shows-title', class: 'panel' });
  const control = el('section', { 'aria-labelledby': 'control-title', class: 'panel', hidden: '' });
  const ordersBox = el('section', { 'aria-labelledby': 'orders-title', class: 'panel' });
  root.replaceChildren(el('h1', {}, l('title')), message, showsBox, control, ordersBox);

  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const client = new OcopLive({ url, token: () => session().token });
  client.connect().catch(() => {});
  const products = (await api('GET', `/api/products?seller=${encodeURIComponent(sellerId)}&limit=100`)).body?.items ?? [];
  const names = new Map(products.map((p) => [p.id, p.name]));

  async function drawShows() {
    const r = await api('GET', '/api/shows');
    const mine = (r.body?.items ?? []).filter((s) => s.seller_id === sellerId);
    const list = el('ul', { class: 'cards' }, ...mine.map((s) => {
      const actions = [];
      if (s.status === 'scheduled') actions.push(button(l('start'), async () => { say(message, await api('POST', `/api/shows/${s.id}/start`, {})); drawShows(); }));
      if (s.status === 'live') {
        actions.push(button(l('onAir'), () => drawControl(s)));
        actions.push(button(l('end'), async () => { say(message, await api('POST', `/api/shows/${s.id}/end`, {})); control.hidden = true; drawShows(); }, 'secondary'));
      }
      return el('li', { class: 'card', 'data-show': s.id },
        el('h3', {}, s.title), el('p', {}, `${l(s.status)} · ${t('products', s.lineup.length)}`),
        el('p', {}, el('a', { href: `/shows/${s.id}` }, l('open'))), el('div', { class: 'actions' }, ...actions));
    }));
    const title = el('input', { id: 'new-title', required: '', maxlength: '120' });
    const checks = products.map((p, i) => el('label', { class: 'check' },
      el('input', { type: 'checkbox', name: 'p', value: p.id, ...(i < 4 ? { checked: '' } : {}) }), ` ${p.name}`));
    const form = el('form', {}, el('h3', {}, l('newShow')), el('label', { for: 'new-title' }, l('showTitle')), title,
      el('fieldset', {}, el('legend', {}, l('lineup')), ...checks), el('button', { type: 'submit' }, l('create')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const picked = [...form.querySelectorAll('input[name=p]:checked')].map((c) => c.value);
      const r = await api('POST', '/api/shows', { title: title.value, products: picked, stream: { kind: 'none' } });
      say(message, r);
      if (r.ok) drawShows();
    });
    showsBox.replaceChildren(el('h2', { id: 'shows-title' }, l('shows')), mine.length ? list : el('p', {}, l('noShows')), form);
  }

  function drawControl(show) {
    control.hidden = false;
    const pin = el('select', { id: 'pin' }, el('option', { value: '' }, l('pinNone')),
      ...show.lineup.map((x) => el('option', { value: x.product_id, ...(show.pinned_product_id === x.product_id ? { selected: '' } : {}) }, `${x.code} · ${names.get(x.product_id) ?? x.product_id}`)));
    pin.addEventListener('change', async () => {
      try {
        await client.request('show.pin', { show: show.id, product_id: pin.value || null });
        message.textContent = l('done');
      } catch (e) { message.textContent = e instanceof OcopError ? e.message : t('tryAgain'); }
    });
    const field = (id, label, attrs) => [el('label', { for: id }, label), el('input', { id, type: 'number', required: '', inputmode: 'numeric', ...attrs })];
    const product = el('select', { id: 'o-product' }, ...show.lineup.map((x) => el('option', { value: x.product_id }, `${x.code} · ${names.get(x.product_id) ?? ''}`)));
    const form = el('form', { class: 'offer-form' }, el('h3', {}, l('offer')),
      el('label', { for: 'o-product' }, l('product')), product,
      ...field('o-price', l('price'), { min: '1' }).flat(), ...field('o-qty', l('qty'), { min: '1', value: '10' }),
      ...field('o-limit', l('limit'), { min: '1', max: '99', value: '1' }), ...field('o-secs', l('seconds'), { min: '10', max: '7200', value: '60' }),
      el('button', { type: 'submit' }, l('launch')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const num = (id) => Number(form.querySelector(`#${id}`).value);
      try {
        const { offer } = await client.request('offer.start', { show: show.id, product_id: product.value, price: num('o-price'),
          quantity: num('o-qty'), per_buyer_limit: num('o-limit'), duration_s: num('o-secs') });
        message.textContent = `${l('done')} ${offer.product_name}: ${vnd(offer.price)} × ${offer.quantity}`;
        const stop = button(l('stop'), async () => {
          try { await client.request('offer.stop', { show: show.id, offer_id: offer.id }); message.textContent = l('done'); stop.remove(); } catch (err) { message.textContent = err.message; }
        }, 'secondary');
        form.after(stop);
      } catch (err) { message.textContent = err instanceof OcopError ? err.message : t('tryAgain'); }
    });
    control.replaceChildren(el('h2', { id: 'control-title' }, `${l('onAir')}: ${show.title}`),
      el('label', { for: 'pin' }, l('pin')), pin, form);
  }

  // Orders: the list so far, then every new one and every change from seller:<id>.
  const orders = new Map();
  const table = el('ol', { class: 'orders', 'aria-live': 'polite' });
  const row = (o) => {
    const item = o.items[0];
    const acts = [];
    if (o.status === 'placed' && !o.needs_address) acts.push(button(l('confirm'), () => act(o, 'confirm')));
    if (o.status === 'confirmed') acts.push(button(l('ship'), () => act(o, 'ship')));
    if (o.status === 'placed' || o.status === 'confirmed') acts.push(button(l('cancel'), () => act(o, 'cancel'), 'secondary'));
    const who = o.delivery ? [o.delivery.name, o.delivery.phone, o.delivery.address].filter(Boolean).join(' · ') : '';
    return el('li', { class: `order status-${o.status}`, 'data-id': o.id },
      el('p', { class: 'what' }, `${item.name} × ${item.qty} · ${vnd(o.total)}`),
      el('p', { class: 'state' }, `${l(`st_${o.status}`)}${o.needs_address ? ` (${l('waiting')})` : ''}`),
      el('p', {}, who), el('p', { class: 'when' }, vnTime(o.created_at)), el('div', { class: 'actions' }, ...acts));
  };
  const draw = () => {
    const all = [...orders.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    table.replaceChildren(...all.map(row));
    if (!all.length) table.replaceChildren(el('li', {}, l('noOrders')));
  };
  async function act(o, what) {
    const r = await api('POST', `/api/seller/orders/${o.id}/${what}`, {});
    if (r.ok) { orders.set(r.body.order.id, r.body.order); draw(); }
    say(message, r);
  }
  const csv = button(l('csv'), async () => {
    const r = await fetch('/api/seller/orders?format=csv&limit=1000', { headers: { authorization: `Bearer ${session().token}` } });
    if (!r.ok) return;
    const a = el('a', { href: URL.createObjectURL(await r.blob()), download: 'don-hang.csv' });
    a.click();
    URL.revokeObjectURL(a.href);
  }, 'secondary');
  ordersBox.replaceChildren(el('h2', { id: 'orders-title' }, l('orders')), csv, table);
  const first = await api('GET', '/api/seller/orders?limit=1000');
  for (const o of first.body?.items ?? []) orders.set(o.id, o);
  draw();
  client.subscribe(`seller:${sellerId}`, {
    onEvent(ev) {
      if (ev.ev === 'order' && ev.data.order) { orders.set(ev.data.order.id, ev.data.order); draw(); }
    },
  });
  drawShows();
}

function button(label, onClick, kind = '') {
  const b = el('button', { type: 'button', class: kind }, label);
  b.addEventListener('click', onClick);
  return b;
}
