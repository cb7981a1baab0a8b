// What every screen shares: texts in Vietnamese (and English), money and time formats, building
// elements (text is always text, never HTML), the signed-in session and REST calls.

const TEXT = {
  vi: {
    brand: 'Chợ OCOP trực tuyến', title: 'Chợ OCOP trực tuyến',
    live: 'Đang phát trực tiếp', soon: 'Sắp diễn ra', noLive: 'Chưa có phiên live nào lúc này.',
    noSoon: 'Chưa có phiên nào được lên lịch.', liveBadge: 'LIVE', soonBadge: 'Sắp live', ended: 'Đã kết thúc',
    products: (n) => `${n} sản phẩm`, startedAt: (x) => `Bắt đầu lúc ${x}`, at: (x) => `Lúc ${x}`,
    foot: 'Sản phẩm OCOP — Mỗi xã một sản phẩm. Thanh toán khi nhận hàng.',
    offline: 'Mất kết nối. Đang thử lại…', reconnecting: 'Đang kết nối lại…', signInAgain: 'Phiên đăng nhập đã hết hạn, hãy đăng nhập lại.',
    other: 'English', otherLang: 'en', building: 'Trang này đang được hoàn thiện.',
    organiser: 'Bàn điều khiển ban tổ chức',
    onScreen: 'Sản phẩm đang giới thiệu', flashOffer: 'Giá sốc', chat: 'Bình luận', sendHeart: 'Thả tim',
    certificate: (n, by) => `Chứng nhận OCOP số ${n}, ${by}`, trace: 'Truy xuất nguồn gốc',
    buyAtList: (p) => `Mua giá ${p}`, buyNow: 'Mua ngay', quantity: 'Số lượng', limit: (n) => `Tối đa ${n} mỗi người`,
    endsIn: (m, s) => `Còn ${m}:${s}`, soldOut: 'Đã hết hàng', offerEnded: 'Đã kết thúc',
    sold: (x, y) => `Đã bán ${x}/${y}`, soldLabel: 'Đã bán',
    signInToBuy: 'Đăng nhập tài khoản người mua để đặt hàng.', signIn: 'Đăng nhập', signInToReact: 'Đăng nhập hoặc vào với tên khách để thả tim.',
    placing: 'Đang đặt hàng…', placed: (name, total) => `Đã chốt đơn: ${name}, ${total}. Thanh toán khi nhận hàng.`,
    tryAgain: 'Chưa đặt được, vui lòng thử lại.',
    needsAddress: 'Đơn đã giữ hàng cho bạn. Nhập địa chỉ nhận hàng để người bán xác nhận:',
    name: 'Họ tên người nhận', phone: 'Số điện thoại', address: 'Địa chỉ nhận hàng', saveAddress: 'Lưu địa chỉ',
    addressSaved: 'Đã lưu địa chỉ. Người bán sẽ xác nhận đơn.',
    chatPlaceholder: 'Hỏi shop, hoặc gõ “chốt 1”…', chatLabel: 'Viết bình luận', send: 'Gửi', guestName: 'Khách',
    chotHint: (codes) => `Gõ “chốt 2” để mua sản phẩm đang giới thiệu, hoặc “chốt 1 A2” theo mã: ${codes}.`,
    viewers: (n) => `${n} người xem`, noSuchShow: 'Không tìm thấy phiên live này.',
    hlsUnsupported: 'Trình duyệt này chưa phát được luồng video; bạn vẫn xem sản phẩm và đặt hàng được.',
    noVideo: 'Chưa có video',
    err_sold_out: 'Rất tiếc, đã hết hàng.', err_limit_reached: 'Bạn đã mua tối đa số lượng cho phép.',
    err_offer_ended: 'Ưu đãi đã kết thúc.', err_insufficient_stock: 'Không còn đủ hàng cho số lượng này.',
    err_rate_limited: 'Bạn gửi nhanh quá, chờ một chút nhé.', err_muted: 'Bạn đang bị tạm khóa bình luận.',
    err_invalid_state: 'Phiên live chưa bắt đầu hoặc đã kết thúc.', err_forbidden: 'Tài khoản này không làm được việc đó.',
    fairsTitle: 'Hội chợ OCOP trực tuyến', fairOpen: 'Đang mở cửa', fairPublished: 'Sắp mở cửa', fairClosed: 'Đã đóng cửa',
    fairDraft: 'Bản nháp', backToFair: '← Về hội chợ', fairWhen: (a, b) => `Từ ${a} đến ${b}`,
    g_food: 'Thực phẩm', g_drinks: 'Đồ uống', g_herbal: 'Thảo dược', g_handicraft: 'Thủ công mỹ nghệ', g_ornamental: 'Sinh vật cảnh',
    g_tourism: 'Du lịch cộng đồng', starsLabel: (n) => `${'★'.repeat(n)} OCOP ${n} sao`,
    stoppedByOrganiser: (r) => `Phiên live đã bị ban tổ chức dừng: ${r}`, stoppedByAdmin: (r) => `Phiên live đã bị quản trị viên dừng: ${r}`,
    stoppedByOrganiserBare: 'Phiên live đã bị ban tổ chức dừng.', stoppedByAdminBare: 'Phiên live đã bị quản trị viên dừng.',
    stoppedBySeller: (r) => `Người bán đã kết thúc phiên live: ${r}`,
    iq_open: 'Chờ báo giá', iq_quoted: 'Đã báo giá', iq_accepted: 'Đã chốt', iq_declined: 'Đã từ chối',
    fe_empty: 'Không được để trống.', fe_range: (a, b) => `Phải từ ${a} đến ${b}.`, fe_today: 'Phải từ hôm nay trở đi.',
    fe_future: 'Phải là một thời điểm sắp tới.', fe_product: 'Không phải sản phẩm của gian hàng này.',
  },
  en: {
    brand: 'OCOP online market', title: 'OCOP online market',
    live: 'Live now', soon: 'Coming up', noLive: 'No live show right now.', noSoon: 'No show is scheduled yet.',
    liveBadge: 'LIVE', soonBadge: 'Soon', ended: 'Ended', products: (n) => `${n} product${n === 1 ? '' : 's'}`,
    startedAt: (x) => `Started at ${x}`, at: (x) => `At ${x}`,
    foot: 'OCOP products — One Commune One Product. Cash on delivery.',
    offline: 'Offline. Retrying…', reconnecting: 'Reconnecting…', signInAgain: 'Your sign-in expired; please sign in again.',
    other: 'Tiếng Việt', otherLang: 'vi', building: 'This page is being finished.',
    organiser: 'Organiser console',
    onScreen: 'On screen', flashOffer: 'Flash offer', chat: 'Chat', sendHeart: 'Send a heart',
    certificate: (n, by) => `OCOP certificate ${n}, ${by}`, trace: 'Trace its origin',
    buyAtList: (p) => `Buy at ${p}`, buyNow: 'Buy now', quantity: 'Quantity', limit: (n) => `At most ${n} each`,
    endsIn: (m, s) => `${m}:${s} left`, soldOut: 'Sold out', offerEnded: 'Ended',
    sold: (x, y) => `Sold ${x}/${y}`, soldLabel: 'Sold',
    signInToBuy: 'Sign in with a buyer account to order.', signIn: 'Sign in', signInToReact: 'Sign in or join as a guest to send hearts.',
    placing: 'Ordering…', placed: (name, total) => `Ordered: ${name}, ${total}. Cash on delivery.`,
    tryAgain: 'Not ordered yet; please try again.',
    needsAddress: 'Your units are held. Add a delivery address so the seller can confirm:',
    name: 'Recipient', phone: 'Phone', address: 'Delivery address', saveAddress: 'Save address',
    addressSaved: 'Address saved. The seller will confirm your order.',
    chatPlaceholder: 'Ask the seller, or type “chốt 1”…', chatLabel: 'Write a comment', send: 'Send', guestName: 'Guest',
    chotHint: (codes) => `Type “chốt 2” to buy the product on screen, or “chốt 1 A2” by code: ${codes}.`,
    viewers: (n) => `${n} watching`, noSuchShow: 'No such show.',
    hlsUnsupported: 'This browser cannot play the stream; you can still see the products and order.',
    noVideo: 'No video yet',
    err_sold_out: 'Sorry, sold out.', err_limit_reached: 'You reached the limit for this offer.',
    err_offer_ended: 'The offer has ended.', err_insufficient_stock: 'Not enough left for that quantity.',
    err_rate_limited: 'Too fast; wait a moment.', err_muted: 'You are muted in this chat for now.',
    err_invalid_state: 'The show has not started or has ended.', err_forbidden: 'This account cannot do that.',
    fairsTitle: 'Online OCOP fairs', fairOpen: 'Open now', fairPublished: 'Opening soon', fairClosed: 'Closed',
    fairDraft: 'Draft', backToFair: '← Back to the fair', fairWhen: (a, b) => `From ${a} to ${b}`,
    g_food: 'Food', g_drinks: 'Drinks', g_herbal: 'Herbal', g_handicraft: 'Handicraft', g_ornamental: 'Ornamental plants',
    g_tourism: 'Community tourism', starsLabel: (n) => `${'★'.repeat(n)} OCOP ${n} stars`,
    stoppedByOrganiser: (r) => `The fair's organiser stopped this show: ${r}`, stoppedByAdmin: (r) => `An administrator stopped this show: ${r}`,
    stoppedByOrganiserBare: 'The fair’s organiser stopped this show.', stoppedByAdminBare: 'An administrator stopped this show.',
    stoppedBySeller: (r) => `The seller ended this show: ${r}`,
    iq_open: 'Waiting for a quote', iq_quoted: 'Quoted', iq_accepted: 'Accepted', iq_declined: 'Declined',
    fe_empty: 'Required.', fe_range: (a, b) => `Must be from ${a} to ${b}.`, fe_today: 'Must be today or later.',
    fe_future: 'Must be a time still to come.', fe_product: 'Not one of this booth’s products.',
  },
};

export let lang = localStorage.getItem('ocop.lang') === 'en' ? 'en' : 'vi';

export function setLang(next) {
  lang = next;
  localStorage.setItem('ocop.lang', next);
}

export function t(key, ...args) {
  const v = TEXT[lang][key] ?? TEXT.vi[key] ?? key;
  return typeof v === 'function' ? v(...args) : v;
}

const money = new Intl.NumberFormat('vi-VN', { style: 'currency', currency: 'VND' });
/** VND as Vietnam writes it, whatever the page's language: 390.000 ₫. */
export const vnd = (n) => money.format(n);

/** Vietnam time, whatever the phone's own zone. */
export function vnTime(iso) {
  if (!iso) return '';
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  // As Vietnam writes it: 19:30 ngày 01/12 (and 19:30, 01/12 in English).
  return lang === 'vi' ? `${parts.hour}:${parts.minute} ngày ${parts.day}/${parts.month}` : `${parts.hour}:${parts.minute}, ${parts.day}/${parts.month}`;
}

/** A `YYYY-MM-DD` date as Vietnam writes it: 15/01/2027. */
export const vnDate = (ymd) => (ymd ? ymd.split('-').reverse().join('/') : '');

/** Today's date in Vietnam, `YYYY-MM-DD` (for a date field's `min`). */
export const todayInVietnam = () => new Date(Date.now() + 7 * 3600 * 1000).toISOString().slice(0, 10);

/**
 * A field's message from a problem document, in the page's language where the server's wording
 * is a known one (the server writes English), else as the server wrote it.
 */
export function fieldMessage(msg) {
  const range = /^must be from (\d+) to (\d+)$/.exec(msg);
  if (range) return t('fe_range', Number(range[1]).toLocaleString('vi-VN'), Number(range[2]).toLocaleString('vi-VN'));
  const known = { 'must not be empty': 'fe_empty', 'must be today or later': 'fe_today', 'must be in the future': 'fe_future',
    "not one of this booth's products": 'fe_product' };
  return known[msg] ? t(known[msg]) : msg;
}

/** What a refused REST call says as one line: its detail, or each field's message. */
export function problemText(r) {
  const b = r.body;
  if (r.status === 0) return t('offline');
  if (b && b.errors) return Object.values(b.errors).map(fieldMessage).join(' ');
  return (b && (b.detail || b.title)) || t('tryAgain');
}

/**
 * Downloads `path` with the session's token (a link cannot carry it) and saves it as
 * `filename`: `{ok, status}`.
 */
export async function download(path, filename) {
  const { token } = session();
  try {
    const r = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (!r.ok) return { ok: false, status: r.status };
    const blob = await r.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
    // Revoked later: some browsers read the blob only after the click has returned.
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    return { ok: true };
  } catch {
    return { ok: false, status: 0 };
  }
}

/** A fair's opening hours in Vietnam time: "Từ 08:00 ngày 01/12 đến 20:00 ngày 08/12". */
export const fairWhen = (fair) => t('fairWhen', vnTime(fair.opens_at), vnTime(fair.closes_at));

/** `2026-12-01T19:30` typed in a form as Vietnam time (UTC+7 all year, no daylight saving) → RFC 3339. */
export const fromVietnamLocal = (v) => (v ? `${v}:00+07:00` : undefined);

/** RFC 3339 → the `2026-12-01T19:30` a datetime-local field shows, in Vietnam time. */
export function toVietnamLocal(iso) {
  if (!iso) return '';
  const d = new Date(Date.parse(iso) + 7 * 3600 * 1000);
  return d.toISOString().slice(0, 16);
}

/** An element with attributes and children; strings become text nodes, never markup. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'style') node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === '' || c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** The signed-in user and token, kept in this browser (`null`s when signed out). */
export function session() {
  try {
    const raw = JSON.parse(localStorage.getItem('ocop.session') || 'null');
    if (raw && raw.token) return raw;
  } catch {
    // A damaged entry is the same as none.
  }
  return { token: null, user: null };
}
session.save = (token, user) => localStorage.setItem('ocop.session', JSON.stringify({ token, user }));
session.clear = () => localStorage.removeItem('ocop.session');

/** A JSON REST call with the session's token: `{ok, status, body}`, never throwing. */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  const { token } = session();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
    return { ok: r.ok, status: r.status, body: parsed };
  } catch {
    return { ok: false, status: 0, body: null };
  }
}

/**
 * The chat form of a show or a booth: sends `chat.send` with `target` ({show} or {booth}),
 * taking a guest token first when nobody is signed in. `client()` gives the page's client (it
 * may be made after the form), `onSent()` is called after a sent message, `onRefused(err)` with
 * the server's refusal.
 */
export function chatForm({ client, id, target, label, placeholder, send, onSent, onRefused }) {
  const input = el('input', { id, maxlength: '500', autocomplete: 'off', placeholder });
  const f = el('form', { class: 'chat-form' }, el('label', { for: id, class: 'sr' }, label), input,
    el('button', { type: 'submit' }, send));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (!session().token) {
      const r = await api('POST', '/api/auth/guest', { name: t('guestName') });
      if (!r.ok) return;
      session.save(r.body.token, r.body.user);
      await client().close();
      await client().connect();
    }
    try {
      await client().request('chat.send', { ...target, text });
      input.value = '';
      onSent?.();
    } catch (err) {
      onRefused(err);
    }
  });
  return f;
}

