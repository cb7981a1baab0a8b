// "Me": for a buyer, my orders with their live status, my wholesale quote requests (accept or
// decline a seller's quote), the shows I follow (with unfollow), my delivery contact, and the
// orders that wait for an address; for a seller or an organiser, the shows they follow and the
// way to their console (with the quote requests a seller has to answer). Order changes, quotes
// and the notices of followed shows arrive on `user:<id>` and update the page without a reload.

import { OcopLive } from './ocop-live.js';
import { t, el, vnd, vnTime, vnDate, problemText, session, api, lang } from './ui.js';

const TEXT = {
  vi: {
    page: 'Tài khoản của tôi', title: 'Đơn hàng của tôi', follows: 'Phiên live đang theo dõi',
    noFollows: 'Bạn chưa theo dõi phiên live nào. Vào một hội chợ và bấm “Theo dõi” để được nhắc trước giờ live.',
    unfollow: 'Bỏ theo dõi', unfollowed: (x) => `Đã bỏ theo dõi “${x}”.`, soonAt: (x) => `Phát lúc ${x}`,
    liveNow: (x) => `“${x}” đang live!`, startsSoon: (x) => `“${x}” sắp bắt đầu.`, watch: 'Xem ngay',
    contact: 'Địa chỉ nhận hàng', none: 'Bạn chưa có đơn hàng nào.',
    placed: 'Đã đặt', confirmed: 'Người bán đã xác nhận', shipped: 'Đang giao', cancelled: 'Đã hủy',
    waiting: 'Chờ địa chỉ nhận hàng', dueBy: (x) => `Nhập địa chỉ trước ${x}, nếu không đơn sẽ tự hủy.`,
    noAddress: 'hết hạn nhập địa chỉ', save: 'Lưu địa chỉ', saved: 'Đã lưu.', give: 'Gửi địa chỉ cho đơn này',
    signIn: 'Đăng nhập để xem đơn hàng, yêu cầu báo giá và phiên live bạn theo dõi.', cancel: 'Hủy đơn', waitingCount: (n) => `${n} đơn đang chờ địa chỉ`,
    inquiries: 'Yêu cầu báo giá', noInquiries: 'Bạn chưa gửi yêu cầu báo giá nào. Vào gian hàng ở hội chợ để hỏi giá sỉ.',
    anyProduct: 'Yêu cầu chung', asked: (q, u) => `Cần ${q} ${u}`, target: (p) => `giá mong muốn ${p}`, by: (d) => `giao trước ${d}`,
    sentAt: (x) => `Gửi lúc ${x}`, quote: 'Báo giá của người bán', quoteLine: (p, u, q) => `${p} / ${u} × ${q} ${u}`,
    total: (x) => `Thành tiền: ${x}`, validUntil: (x) => `Hiệu lực đến ${x}`, expired: (x) => `Đã hết hạn lúc ${x}`,
    accept: 'Chốt báo giá', decline: 'Từ chối', withdraw: 'Hủy yêu cầu', sure: 'Từ chối báo giá này? Không hoàn tác được.',
    sureWithdraw: 'Hủy yêu cầu này? Không hoàn tác được.', yes: 'Đồng ý', no: 'Thôi', acceptedNote: 'Bạn đã chốt báo giá này với người bán.',
    expiredNote: 'Báo giá đã hết hạn. Bạn có thể gửi yêu cầu mới ở gian hàng.', waitQuote: 'Người bán chưa báo giá.',
    quoted: (x) => `${x} vừa báo giá cho bạn.`, declinedBySeller: (x) => `${x} đã từ chối một yêu cầu báo giá của bạn.`,
    acceptedDone: 'Đã chốt báo giá.', declinedDone: 'Đã từ chối.', withdrawnDone: 'Đã hủy yêu cầu.',
    signedInAs: (n, r) => `Bạn đăng nhập là ${n} (${r}).`, r_seller: 'người bán', r_organiser: 'ban tổ chức', r_admin: 'quản trị viên',
    sellerInquiries: 'Yêu cầu báo giá nhận được', sellerCounts: (o, q, a) => `${o} chờ báo giá · ${q} đã báo giá · ${a} đã chốt`,
    answerThere: 'Trả lời và báo giá ở bàn điều khiển người bán.', openSeller: 'Mở bàn điều khiển người bán',
    openOrganiser: 'Mở bàn điều khiển ban tổ chức', organiserNote: 'Hội chợ, gian hàng, số liệu và báo cáo ở bàn điều khiển ban tổ chức.',
  },
  en: {
    page: 'My account', title: 'My orders', follows: 'Shows I follow',
    noFollows: 'You follow no show yet. Open a fair and press “Follow” to be reminded before a show starts.',
    unfollow: 'Unfollow', unfollowed: (x) => `No longer following “${x}”.`, soonAt: (x) => `Starts at ${x}`,
    liveNow: (x) => `“${x}” is live!`, startsSoon: (x) => `“${x}” starts soon.`, watch: 'Watch',
    contact: 'Delivery address', none: 'You have no orders yet.',
    placed: 'Placed', confirmed: 'Confirmed by the seller', shipped: 'On its way', cancelled: 'Cancelled',
    waiting: 'Waiting for an address', dueBy: (x) => `Add an address before ${x}, or the order cancels itself.`,
    noAddress: 'no address in time', save: 'Save address', saved: 'Saved.', give: 'Send the address for this order',
    signIn: 'Sign in to see your orders, quote requests and the shows you follow.', cancel: 'Cancel order', waitingCount: (n) => `${n} order(s) waiting for an address`,
    inquiries: 'Quote requests', noInquiries: 'You have sent no quote request yet. Open a booth at a fair to ask for a wholesale price.',
    anyProduct: 'General request', asked: (q, u) => `${q} ${u} wanted`, target: (p) => `hoping for ${p}`, by: (d) => `needed by ${d}`,
    sentAt: (x) => `Sent at ${x}`, quote: 'The seller’s quote', quoteLine: (p, u, q) => `${p} / ${u} × ${q} ${u}`,
    total: (x) => `Total: ${x}`, validUntil: (x) => `Valid until ${x}`, expired: (x) => `Expired at ${x}`,
    accept: 'Accept', decline: 'Decline', withdraw: 'Withdraw the request', sure: 'Decline this quote? This cannot be undone.',
    sureWithdraw: 'Withdraw this request? This cannot be undone.', yes: 'Yes', no: 'No', acceptedNote: 'You accepted this quote.',
    expiredNote: 'The quote has expired. You can send a new request from the booth.', waitQuote: 'The seller has not quoted yet.',
    quoted: (x) => `${x} just sent you a quote.`, declinedBySeller: (x) => `${x} declined one of your quote requests.`,
    acceptedDone: 'Quote accepted.', declinedDone: 'Declined.', withdrawnDone: 'Request withdrawn.',
    signedInAs: (n, r) => `You are signed in as ${n} (${r}).`, r_seller: 'seller', r_organiser: 'organiser', r_admin: 'administrator',
    sellerInquiries: 'Quote requests received', sellerCounts: (o, q, a) => `${o} waiting for a quote · ${q} quoted · ${a} accepted`,
    answerThere: 'Answer and quote them in the seller console.', openSeller: 'Open the seller console',
    openOrganiser: 'Open the organiser console', organiserNote: 'Fairs, booths, figures and reports are in the organiser console.',
  },
};
const l = (key, ...args) => {
  const v = TEXT[lang][key] ?? TEXT.vi[key];
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
    message.textContent = r.ok ? l('saved') : problemText(r);
  });
  return form;
}

export async function mePage(root) {
  const me = session();
  document.title = `${l('page')} · ${t('brand')}`;
  if (!me.user || me.user.role === 'guest') {
    root.replaceChildren(el('h1', {}, l('page')), el('p', { class: 'notice' }, l('signIn'), ' ',
      el('a', { href: `/login?next=${encodeURIComponent('/me')}` }, t('signIn'))));
    return;
  }
  const buyer = me.user.role === 'buyer';
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const client = new OcopLive({ url, token: () => session().token });

  const follows = new Map();
  const followList = el('ul', { class: 'orders follows', id: 'follows' });
  const followEmpty = el('p', { class: 'empty', hidden: '' }, l('noFollows'));
  const followResult = el('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const followSection = el('section', { 'aria-labelledby': 'follows-title' },
    el('h2', { id: 'follows-title' }, l('follows')), followResult, followList, followEmpty);

  const drawFollows = () => {
    // Live first, then by start time; ended ones last.
    const rank = { live: 0, scheduled: 1, ended: 2 };
    const all = [...follows.values()].sort((a, b) => rank[a.status] - rank[b.status]
      || String(a.scheduled_at ?? a.started_at ?? '').localeCompare(String(b.scheduled_at ?? b.started_at ?? '')));
    followList.replaceChildren(...all.map(followRow));
    followEmpty.hidden = all.length > 0;
  };
  const followRow = (s) => {
    const badge = s.status === 'live' ? t('liveBadge') : s.status === 'ended' ? t('ended') : t('soonBadge');
    const when = s.status === 'live' ? t('startedAt', vnTime(s.started_at)) : s.status === 'scheduled' && s.scheduled_at ? l('soonAt', vnTime(s.scheduled_at)) : '';
    const stop = el('button', { type: 'button', class: 'secondary small' }, l('unfollow'), el('span', { class: 'sr' }, `: ${s.title}`));
    stop.addEventListener('click', async () => {
      stop.disabled = true;
      const r = await api('DELETE', `/api/shows/${encodeURIComponent(s.id)}/follow`);
      stop.disabled = false;
      if (r.ok) {
        follows.delete(s.id);
        drawFollows();
        followResult.textContent = l('unfollowed', s.title);
      } else {
        followResult.textContent = problemText(r);
      }
    });
    return el('li', { class: `order follow-row status-${s.status}`, 'data-show': s.id },
      el('span', { class: s.status === 'live' ? 'badge' : 'badge soon' }, badge),
      el('p', { class: 'what' }, el('a', { href: `/shows/${encodeURIComponent(s.id)}` }, s.title)),
      when ? el('p', { class: 'when' }, when) : '',
      el('div', { class: 'actions' }, stop));
  };
  const loadFollows = async () => {
    const r = await api('GET', '/api/me/follows');
    if (!r.ok) return;
    follows.clear();
    for (const s of r.body.items) follows.set(s.id, s);
    drawFollows();
  };
  const onShowNotice = (ev) => {
    const show = ev.ev === 'notify' && ev.data.show;
    if (show && (ev.data.kind === 'show.live' || ev.data.kind === 'show.soon')) {
      if (follows.has(show.id)) follows.set(show.id, show);
      drawFollows();
      followResult.replaceChildren(l(ev.data.kind === 'show.live' ? 'liveNow' : 'startsSoon', show.title), ' ',
        el('a', { href: `/shows/${encodeURIComponent(show.id)}` }, l('watch')));
    }
  };

  if (!buyer) {
    otherAccount(root, me.user, client, followSection, loadFollows, onShowNotice);
    return;
  }

  const orders = new Map();
  const list = el('ol', { class: 'orders', 'aria-live': 'polite' });
  const summary = el('p', { class: 'notice' });
  const contactBox = el('section', { 'aria-labelledby': 'contact-title' });
  const quotes = inquiryList(client);
  root.replaceChildren(el('h1', {}, l('page')),
    el('section', { 'aria-labelledby': 'orders-title' }, el('h2', { id: 'orders-title' }, l('title')), summary, list),
    quotes.section, followSection, contactBox);

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

  // Events that arrive while the first reads are on their way are kept: a read never replaces
  // what an event said later.
  client.subscribe(`user:${me.user.id}`, {
    onSnapshot() {
      // Active now: what changed before is in a fresh read, what changes after comes as events.
      quotes.load();
    },
    onEvent(ev) {
      const order = ev.data && ev.data.order;
      if ((ev.ev === 'order' || ev.ev === 'notify') && order) {
        orders.set(order.id, order);
        draw();
      }
      if (ev.ev === 'notify' && ev.data.inquiry) quotes.notice(ev.data.kind, ev.data.inquiry);
      onShowNotice(ev);
    },
  });
  client.connect().catch(() => {});

  const [mine, profile] = await Promise.all([api('GET', '/api/me/orders'), api('GET', '/api/me'), loadFollows(), quotes.load()]);
  for (const o of mine.body?.items ?? []) if (!orders.has(o.id)) orders.set(o.id, o);
  draw();
  contactBox.replaceChildren(el('h2', { id: 'contact-title' }, l('contact')),
    contactForm('me', profile.body?.delivery, l('save'), (c) => api('PUT', '/api/me/delivery', c)));
  // From the booth's "see my requests": once what comes before is drawn.
  if (location.hash === '#inquiries') quotes.section.scrollIntoView();
}

/** A seller's, an organiser's or an admin's /me: who they are, the way to their console, and the shows they follow. */
function otherAccount(root, user, client, followSection, loadFollows, onShowNotice) {
  const role = user.role;
  const box = el('section', { class: 'panel', 'aria-labelledby': 'role-title' });
  root.replaceChildren(el('h1', {}, l('page')),
    el('p', {}, l('signedInAs', user.name, l(`r_${role}`) ?? role)), box, followSection);
  if (role === 'seller') {
    const counts = el('p', { class: 'counts', id: 'seller-inquiries' });
    box.replaceChildren(el('h2', { id: 'role-title' }, l('sellerInquiries')), counts, el('p', { class: 'hint' }, l('answerThere')),
      el('p', {}, el('a', { class: 'button', href: '/seller#inquiries' }, l('openSeller'))));
    const received = new Map();
    const drawCounts = () => {
      const n = (st) => [...received.values()].filter((i) => i.status === st).length;
      counts.textContent = l('sellerCounts', n('open'), n('quoted'), n('accepted'));
    };
    const load = async () => {
      const r = await api('GET', '/api/me/inquiries');
      if (!r.ok) return;
      for (const i of r.body.items) if (!received.has(i.id) || received.get(i.id).updated_at <= i.updated_at) received.set(i.id, i);
      drawCounts();
    };
    client.subscribe(`user:${user.id}`, {
      onSnapshot() { load(); },
      onEvent(ev) {
        const i = ev.ev === 'notify' && ev.data.inquiry;
        if (i) { received.set(i.id, i); drawCounts(); }
        onShowNotice(ev);
      },
    });
    load();
  } else {
    box.replaceChildren(el('h2', { id: 'role-title' }, l('openOrganiser')), el('p', {}, l('organiserNote')),
      el('p', {}, el('a', { class: 'button', href: '/organiser' }, l('openOrganiser'))));
    client.subscribe(`user:${user.id}`, { onEvent: onShowNotice });
  }
  client.connect().catch(() => {});
  loadFollows();
}

/**
 * The buyer's quote requests: each with its status, the seller's quote when there is one, and
 * accept (while the quote is valid) or decline; changed live by `quote` and `inquiry.declined`.
 */
function inquiryList(client) {
  const items = new Map();
  const names = new Map();
  const list = el('ol', { class: 'orders inquiries', id: 'inquiry-list' });
  const empty = el('p', { class: 'empty', hidden: '' }, l('noInquiries'));
  const result = el('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const section = el('section', { id: 'inquiries', 'aria-labelledby': 'inquiries-title' },
    el('h2', { id: 'inquiries-title' }, l('inquiries')), result, list, empty);
  let timer = null;
  let confirming = null;

  const put = (iq) => {
    const old = items.get(iq.id);
    if (!old || old.updated_at <= iq.updated_at) items.set(iq.id, iq);
  };
  const now = () => client.serverNow();
  const qty = (n) => n.toLocaleString('vi-VN');

  /** The product's name, read once per page (a request may name none). */
  const nameOf = (iq) => {
    if (!iq.product_id) return l('anyProduct');
    if (!names.has(iq.product_id)) {
      names.set(iq.product_id, null);
      api('GET', `/api/products/${encodeURIComponent(iq.product_id)}`).then((r) => {
        if (r.ok) { names.set(iq.product_id, r.body.product.name); draw(); }
      });
    }
    return names.get(iq.product_id) || '…';
  };

  function draw() {
    const all = [...items.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    list.replaceChildren(...all.map(row));
    empty.hidden = all.length > 0;
    // Redrawn when the next quote runs out, so its accept button goes at the right moment.
    clearTimeout(timer);
    const next = Math.min(...all.filter((i) => i.status === 'quoted').map((i) => Date.parse(i.quote.valid_until)).filter((x) => x > now()));
    if (Number.isFinite(next)) timer = setTimeout(draw, Math.min(next - now() + 250, 2 ** 31 - 1));
  }

  function row(iq) {
    const q = iq.quote;
    const valid = Boolean(q) && Date.parse(q.valid_until) > now();
    const expired = iq.status === 'quoted' && !valid;
    const asked = [l('asked', qty(iq.quantity), iq.unit), iq.target_price ? l('target', `${vnd(iq.target_price)} / ${iq.unit}`) : '',
      iq.deliver_by ? l('by', vnDate(iq.deliver_by)) : ''].filter(Boolean).join(' · ');
    const li = el('li', { class: `order inquiry iq-${iq.status}`, 'data-inquiry': iq.id },
      el('span', { class: `badge iq-badge iq-${iq.status}` }, t(`iq_${iq.status}`)),
      el('p', { class: 'what' }, nameOf(iq), ' · ', el('a', { href: `/booths/${encodeURIComponent(iq.booth_id)}` }, iq.seller_name)),
      el('p', { class: 'asked' }, asked),
      el('p', { class: 'message' }, iq.message),
      el('p', { class: 'when' }, l('sentAt', vnTime(iq.created_at))));
    if (q) {
      li.append(el('div', { class: 'quote' },
        el('p', { class: 'quote-title' }, l('quote')),
        el('p', { class: 'price' }, l('quoteLine', vnd(q.price), iq.unit, qty(q.quantity))),
        el('p', {}, l('total', vnd(q.price * q.quantity))),
        expired ? el('p', { class: 'when warn' }, l('expired', vnTime(q.valid_until))) : el('p', { class: 'when' }, l('validUntil', vnTime(q.valid_until))),
        q.message ? el('p', { class: 'message' }, q.message) : ''));
    }
    if (iq.status === 'accepted') li.append(el('p', { class: 'ok' }, l('acceptedNote')));
    if (iq.status === 'open') li.append(el('p', { class: 'hint' }, l('waitQuote')));
    if (expired) li.append(el('p', { class: 'hint' }, l('expiredNote')));
    if (iq.status === 'open' || iq.status === 'quoted') li.append(actions(iq, valid));
    return li;
  }

  function actions(iq, valid) {
    const box = el('div', { class: 'actions' });
    const withdraw = iq.status === 'open';
    if (confirming === iq.id) {
      const yes = el('button', { type: 'button', class: 'danger small' }, l('yes'));
      const no = el('button', { type: 'button', class: 'secondary small' }, l('no'));
      yes.addEventListener('click', () => act(iq, 'decline', yes));
      no.addEventListener('click', () => { confirming = null; draw(); });
      box.append(el('p', { class: 'sure' }, l(withdraw ? 'sureWithdraw' : 'sure')), yes, no);
      return box;
    }
    if (valid && iq.status === 'quoted') {
      const accept = el('button', { type: 'button', class: 'accept' }, l('accept'));
      accept.addEventListener('click', () => act(iq, 'accept', accept));
      box.append(accept);
    }
    const decline = el('button', { type: 'button', class: 'secondary' }, l(withdraw ? 'withdraw' : 'decline'));
    decline.addEventListener('click', () => {
      confirming = iq.id;
      draw();
      list.querySelector(`[data-inquiry="${CSS.escape(iq.id)}"] .danger`)?.focus();
    });
    box.append(decline);
    return box;
  }

  async function act(iq, what, button) {
    button.disabled = true;
    const r = await api('POST', `/api/inquiries/${encodeURIComponent(iq.id)}/${what}`);
    confirming = null;
    if (r.ok) {
      put(r.body.inquiry);
      result.textContent = l(what === 'accept' ? 'acceptedDone' : iq.status === 'open' ? 'withdrawnDone' : 'declinedDone');
    } else {
      result.textContent = problemText(r);
      // A refusal (the quote ran out, the seller declined meanwhile): show how it stands now.
      load();
    }
    draw();
  }

  async function load() {
    const r = await api('GET', '/api/me/inquiries');
    if (!r.ok) return;
    for (const iq of r.body.items) put(iq);
    draw();
  }

  return {
    section,
    load,
    notice(kind, iq) {
      put(iq);
      draw();
      if (kind === 'quote') result.textContent = l('quoted', iq.seller_name);
      if (kind === 'inquiry.declined') result.textContent = l('declinedBySeller', iq.seller_name);
    },
  };
}
