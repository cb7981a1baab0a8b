// "Me": my orders with their live status, my delivery contact, and the orders that wait for an
// address. Order changes arrive on `user:<id>` and update the list without a reload.

import { OcopLive } from './ocop-live.js';
import { t, el, vnd, vnTime, session, api, lang } from './ui.js';

const TEXT = {
  vi: {
    title: 'Đơn hàng của tôi', contact: 'Địa chỉ nhận hàng', none: 'Bạn chưa có đơn hàng nào.',
    placed: 'Đã đặt', confirmed: 'Người bán đã xác nhận', shipped: 'Đang giao', cancelled: 'Đã hủy',
    waiting: 'Chờ địa chỉ nhận hàng', dueBy: (x) => `Nhập địa chỉ trước ${x}, nếu không đơn sẽ tự hủy.`,
    noAddress: 'hết hạn nhập địa chỉ', save: 'Lưu địa chỉ', saved: 'Đã lưu.', give: 'Gửi địa chỉ cho đơn này',
    signIn: 'Đăng nhập tài khoản người mua để xem đơn hàng.', cancel: 'Hủy đơn', waitingCount: (n) => `${n} đơn đang chờ địa chỉ`,
  },
  en: {
    title: 'My orders', contact: 'Delivery address', none: 'You have no orders yet.',
    placed: 'Placed', confirmed: 'Confirmed by the seller', shipped: 'On its way', cancelled: 'Cancelled',
    waiting: 'Waiting for an address', dueBy: (x) => `Add an address before ${x}, or the order cancels itself.`,
    noAddress: 'no address in time', save: 'Save address', saved: 'Saved.', give: 'Send the address for this order',
    signIn: 'Sign in with a buyer account to see your orders.', cancel: 'Cancel order', waitingCount: (n) => `${n} order(s) waiting for an address`,
  },
};
const l = (key, ...args) => {
  const v = TEXT[lang][key];
  return typeof v === 'function' ? v(...args) : v;
};

function contactForm(prefix, contact, button, onSubmit) {
  const name = el('input', { id: `${prefix}-name`, autocomplete: 'name', required: '', maxlength: '80', value: contact?.name ?? '' });
  const phone = el('input', { id: `${prefix}-phone`, autocomplete: 'tel', inputmode: 'tel', required: '', value: contact?.phone ?? '' });
  const address = el('textarea', { id: `${prefix}-address`, autocomplete: 'street-address', required: '', rows: '2', maxlength: '300' });
  address.value = contact?.address ?? '';
  const message = el('p', { class: 'result', role: 'status' });
  const form = el('form', { class: 'address' },
    el('label', { for: `${prefix}-name` }, t('name')), name,
    el('label', { for: `${prefix}-phone` }, t('phone')), phone,
    el('label', { for: `${prefix}-address` }, t('address')), address,
    el('button', { type: 'submit' }, button), message);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await onSubmit({ name: name.value, phone: phone.value, address: address.value });
    message.textContent = r.ok ? l('saved') : (r.body?.errors ? Object.values(r.body.errors).join('; ') : t('tryAgain'));
  });
  return form;
}

export async function mePage(root) {
  const me = session();
  document.title = `${l('title')} · ${t('brand')}`;
  if (!me.user || me.user.role !== 'buyer') {
    root.replaceChildren(el('h1', {}, l('title')), el('p', { class: 'notice' }, l('signIn'), ' ',
      el('a', { href: `/login?next=${encodeURIComponent('/me')}` }, t('signIn'))));
    return;
  }
  const orders = new Map();
  const list = el('ol', { class: 'orders', 'aria-live': 'polite' });
  const summary = el('p', { class: 'notice' });
  const contactBox = el('section', { 'aria-labelledby': 'contact-title' });
  root.replaceChildren(el('h1', {}, l('title')), summary, list, contactBox);

  const draw = () => {
    const all = [...orders.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    list.replaceChildren(...all.map(row));
    const waiting = all.filter((o) => o.needs_address).length;
    summary.textContent = all.length === 0 ? l('none') : waiting ? l('waitingCount', waiting) : '';
  };
  const row = (o) => {
    const item = o.items[0];
    const status = o.needs_address ? l('waiting') : o.status === 'cancelled' && o.cancel_reason === 'address_missing'
      ? `${l('cancelled')} (${l('noAddress')})` : l(o.status);
    const li = el('li', { class: `order status-${o.status}`, 'data-id': o.id },
      el('p', { class: 'what' }, `${item.name} × ${item.qty}`),
      el('p', { class: 'price' }, vnd(o.total)),
      el('p', { class: 'state' }, status),
      el('p', { class: 'when' }, vnTime(o.created_at)));
    if (o.needs_address) {
      li.append(el('p', {}, l('dueBy', vnTime(o.address_due_at))),
        contactForm(`o-${o.id}`, o.delivery, l('give'), (c) => api('PUT', `/api/me/orders/${o.id}/delivery`, c)));
    }
    return li;
  };

  const [mine, profile] = await Promise.all([api('GET', '/api/me/orders'), api('GET', '/api/me')]);
  for (const o of mine.body?.items ?? []) orders.set(o.id, o);
  draw();
  contactBox.replaceChildren(el('h2', { id: 'contact-title' }, l('contact')),
    contactForm('me', profile.body?.delivery, l('save'), (c) => api('PUT', '/api/me/delivery', c)));

  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const client = new OcopLive({ url, token: () => session().token });
  client.subscribe(`user:${me.user.id}`, {
    onEvent(ev) {
      const order = ev.data && ev.data.order;
      if ((ev.ev === 'order' || ev.ev === 'notify') && order) {
        orders.set(order.id, order);
        draw();
      }
    },
  });
  client.connect().catch(() => {});
}
