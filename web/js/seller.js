// The seller console: the profile; products and gift combos (certificate, story, pictures,
// stock); shows (create, schedule, go live, end, the summary after); during a show: what is on
// screen, flash offers, the chat and its moderation; and the live order table (new orders appear
// without a reload; confirm, ship, cancel; CSV export); fairs: the seller's booths (apply, edit,
// their status as the organiser decides), shows on a fair's agenda, and the wholesale quote
// requests buyers send the booths (quote, decline; new ones and the buyers' answers arrive
// live). Written with Preact and htm: everything people typed is put in as text.

import { OcopLive, OcopError } from './ocop-live.js';
import { html, render, useState, useEffect, useRef, useCallback } from './h.js';
import { t, vnd, vnTime, vnDate, fairWhen, fromVietnamLocal, toVietnamLocal, fieldMessage, session, api, download, lang } from './ui.js';

const TEXT = {
  vi: {
    title: 'Bàn điều khiển người bán', signIn: 'Đăng nhập tài khoản người bán để mở bàn điều khiển.',
    tabShows: 'Phiên live', tabProducts: 'Sản phẩm', tabOrders: 'Đơn hàng', tabFairs: 'Hội chợ', tabProfile: 'Hồ sơ',
    myBooths: 'Gian hàng của tôi', noBooths: 'Bạn chưa có gian hàng nào ở hội chợ.', apply: 'Đăng ký gian hàng',
    fair: 'Hội chợ', noFairToApply: 'Hiện chưa có hội chợ nào đang nhận gian hàng mới của bạn.', boothTitle: 'Tên gian hàng',
    boothDescription: 'Giới thiệu gian hàng', featured: 'Sản phẩm nổi bật (tối đa 12)', sendApplication: 'Gửi đăng ký',
    editBooth: (x) => `Sửa gian hàng: ${x}`, openBooth: 'Mở gian hàng', b_pending: 'Chờ duyệt', b_approved: 'Đã duyệt',
    b_rejected: 'Bị từ chối', applied: 'Đã gửi đăng ký. Ban tổ chức sẽ duyệt gian hàng.',
    boothApproved: (x) => `Ban tổ chức đã duyệt gian hàng “${x}”.`, boothRejected: (x) => `Ban tổ chức đã từ chối gian hàng “${x}”.`,
    showFair: 'Đưa lên lịch hội chợ', noFair: '— Không thuộc hội chợ —', fairNeedsTime: 'Phiên của hội chợ cần giờ phát, trong giờ mở cửa của hội chợ.',
    duration: 'Thời lượng (phút)', scheduledAtFair: 'Giờ phát (giờ Việt Nam)', inFair: (x) => `Hội chợ: ${x}`,
    shows: 'Phiên live của tôi', newShow: 'Tạo phiên live', showTitle: 'Tên phiên live', description: 'Mô tả',
    lineup: 'Sản phẩm trong phiên', scheduledAt: 'Giờ phát (giờ Việt Nam), để trống nếu chưa hẹn',
    stream: 'Nguồn video', streamUrl: 'Đường dẫn video', sk_none: 'Chưa có video', sk_hls: 'Luồng HLS (.m3u8)',
    sk_youtube: 'YouTube', sk_facebook: 'Facebook',
    create: 'Tạo phiên', start: 'Bắt đầu live', end: 'Kết thúc phiên', open: 'Mở trang xem', control: 'Điều khiển',
    summary: 'Xem tổng kết', live: 'Đang live', scheduled: 'Chưa bắt đầu', ended: 'Đã kết thúc', noShows: 'Chưa có phiên nào.',
    at: (x) => `Hẹn lúc ${x}`, startedAt: (x) => `Bắt đầu lúc ${x}`, endedAt: (x) => `Kết thúc lúc ${x}`,
    onAir: 'Đang điều khiển', pin: 'Sản phẩm trên màn hình', pinNone: '— không có —', close: 'Đóng',
    viewers: (n) => `${n} người xem`, hearts: (n) => `${n} lượt tim`,
    offer: 'Mở giá sốc', product: 'Sản phẩm', price: 'Giá (đồng)', qty: 'Số lượng', limit: 'Mỗi người mua tối đa',
    seconds: 'Thời gian (giây)', launch: 'Mở giá sốc', stop: 'Dừng', offers: 'Giá sốc trong phiên', noOffers: 'Chưa mở giá sốc nào.',
    remaining: (r, q) => `Còn ${r}/${q}`, endsAt: (x) => `đến ${x}`, of_live: 'Đang mở', of_sold_out: 'Hết hàng', of_ended: 'Đã kết thúc',
    moderation: 'Bình luận và kiểm duyệt', noChat: 'Chưa có bình luận.', delete: 'Xóa', mute: (m) => `Khóa chat ${m} phút`,
    ban: 'Cấm khỏi phiên', makeMod: 'Cho làm kiểm duyệt', muteFor: 'Thời gian khóa chat',
    minutes: (m) => `${m} phút`, slow: 'Chế độ chậm', slowOff: 'Tắt', slowEvery: (s) => `Mỗi người ${s} giây một bình luận`,
    announcement: 'Thông báo ghim trên phiên', announce: 'Ghim thông báo', unannounce: 'Bỏ thông báo',
    moderators: 'Người kiểm duyệt', noModerators: 'Chỉ có bạn kiểm duyệt phiên này.', removeMod: 'Bỏ quyền',
    log: 'Nhật ký kiểm duyệt', act_delete: 'xóa bình luận', act_mute: 'khóa chat', act_ban: 'cấm', act_slow: 'chế độ chậm',
    act_announce: 'thông báo', act_moderators: 'người kiểm duyệt',
    sumTitle: (x) => `Tổng kết: ${x}`, duration: 'Thời lượng', peak: 'Người xem cao nhất', unique: 'Người xem khác nhau',
    chatCount: 'Bình luận', heartCount: 'Lượt tim', orderCount: 'Đơn hàng', units: 'Số đơn vị', revenue: 'Doanh thu',
    perProduct: 'Theo sản phẩm', perOffer: 'Theo giá sốc', offerN: (n) => `Giá sốc ${n}`, mins: (m, s) => `${m} phút ${s} giây`,
    products: 'Sản phẩm của tôi', noProducts: 'Chưa có sản phẩm nào.', newProduct: 'Thêm sản phẩm', editProduct: (x) => `Sửa: ${x}`,
    kind: 'Loại', single: 'Sản phẩm đơn', combo: 'Hộp quà (combo)', name: 'Tên sản phẩm', unit: 'Đơn vị tính (ví dụ: hũ 500ml)',
    listPrice: 'Giá niêm yết (đồng)', stock: 'Tồn kho', province: 'Tỉnh, thành', group: 'Nhóm sản phẩm OCOP', stars: 'Hạng sao OCOP',
    potential: 'Tiềm năng 5 sao', story: 'Câu chuyện sản phẩm', images: 'Ảnh (mỗi dòng một đường dẫn)',
    cert: 'Giấy chứng nhận OCOP', certNumber: 'Số giấy chứng nhận', certBy: 'Cơ quan cấp', certAt: 'Ngày cấp', certUntil: 'Ngày hết hạn',
    components: 'Thành phần hộp quà (số lượng mỗi hộp)', save: 'Lưu', edit: 'Sửa', cancelEdit: 'Thôi',
    stockOf: (n) => `Tồn kho: ${n}`, certExpired: 'Giấy chứng nhận đã hết hạn', certOk: (n) => `Chứng nhận ${n}`, noCert: 'Chưa nhập giấy chứng nhận',
    g_food: 'Thực phẩm', g_drinks: 'Đồ uống', g_herbal: 'Thảo dược', g_handicraft: 'Thủ công mỹ nghệ', g_ornamental: 'Sinh vật cảnh',
    g_tourism: 'Du lịch cộng đồng',
    profile: 'Hồ sơ người bán', displayName: 'Tên hiển thị', sellerKind: 'Hình thức', k_cooperative: 'Hợp tác xã',
    k_household: 'Hộ sản xuất', k_enterprise: 'Doanh nghiệp', commune: 'Xã, phường', intro: 'Giới thiệu', phone: 'Số điện thoại',
    orders: 'Đơn hàng', csv: 'Tải CSV', confirm: 'Xác nhận', ship: 'Đã giao cho vận chuyển', cancel: 'Hủy đơn',
    noOrders: 'Chưa có đơn hàng.', waiting: 'chờ địa chỉ', done: 'Xong.', filter: 'Lọc đơn', all: 'Tất cả',
    st_placed: 'Mới', st_confirmed: 'Đã xác nhận', st_shipped: 'Đang giao', st_cancelled: 'Đã hủy',
    src_offer: 'giá sốc', src_pinned: 'nút mua', src_chat: 'chốt qua bình luận', loading: 'Đang tải…',
    inquiries: 'Yêu cầu báo giá (kết nối cung cầu)', noInquiries: 'Chưa có yêu cầu báo giá nào.', iqAll: 'Tất cả',
    iqFrom: (x) => `Từ ${x}`, iqAny: 'Yêu cầu chung', iqAsked: (q, u) => `Cần ${q} ${u}`, iqTarget: (p) => `giá mong muốn ${p}`,
    iqBy: (d) => `giao trước ${d}`, iqAt: (x) => `Gửi lúc ${x}`, iqQuote: 'Báo giá', iqQuoteTitle: 'Báo giá cho yêu cầu này',
    iqPrice: 'Giá mỗi đơn vị (đồng)', iqQty: 'Số lượng', iqValid: 'Hiệu lực đến (giờ Việt Nam)', iqMessage: 'Lời nhắn (không bắt buộc)',
    iqSend: 'Gửi báo giá', iqDecline: 'Từ chối', iqSure: 'Từ chối yêu cầu này? Người mua sẽ được báo.', iqYes: 'Từ chối', iqNo: 'Thôi',
    iqQuoted: (p, u, q, d) => `Bạn đã báo ${p} / ${u} × ${q}, hiệu lực đến ${d}`, iqTotal: (x) => `Thành tiền: ${x}`,
    iqAccepted: 'Người mua đã chốt báo giá.', iqDeclined: 'Yêu cầu đã bị từ chối.', iqExpired: 'Báo giá đã hết hạn; người mua chưa chốt.',
    iqNew: (x) => `Yêu cầu báo giá mới từ ${x}.`, iqWasAccepted: (x) => `${x} đã chốt báo giá của bạn.`, iqWasDeclined: (x) => `${x} đã từ chối hoặc hủy một yêu cầu báo giá.`,
    iqBooth: (x) => `Gian hàng: ${x}`, iqFilter: 'Lọc theo trạng thái',
  },
  en: {
    title: 'Seller console', signIn: 'Sign in with a seller account to open the console.',
    tabShows: 'Shows', tabProducts: 'Products', tabOrders: 'Orders', tabFairs: 'Fairs', tabProfile: 'Profile',
    myBooths: 'My booths', noBooths: 'You have no booth at a fair yet.', apply: 'Apply for a booth',
    fair: 'Fair', noFairToApply: 'No fair is taking a new booth of yours right now.', boothTitle: 'Booth name',
    boothDescription: 'About the booth', featured: 'Featured products (at most 12)', sendApplication: 'Apply',
    editBooth: (x) => `Edit booth: ${x}`, openBooth: 'Open the booth', b_pending: 'Waiting for approval', b_approved: 'Approved',
    b_rejected: 'Rejected', applied: 'Applied. The organiser will review the booth.',
    boothApproved: (x) => `The organiser approved the booth “${x}”.`, boothRejected: (x) => `The organiser rejected the booth “${x}”.`,
    showFair: 'Put it on a fair’s agenda', noFair: '— Not in a fair —', fairNeedsTime: 'A fair’s show needs a start time within the fair’s hours.',
    duration: 'Duration (minutes)', scheduledAtFair: 'Start time (Vietnam time)', inFair: (x) => `Fair: ${x}`,
    shows: 'My shows', newShow: 'New show', showTitle: 'Title', description: 'Description',
    lineup: 'Products in the show', scheduledAt: 'Start time (Vietnam time), empty when not set',
    stream: 'Video source', streamUrl: 'Video link', sk_none: 'No video yet', sk_hls: 'HLS stream (.m3u8)',
    sk_youtube: 'YouTube', sk_facebook: 'Facebook',
    create: 'Create', start: 'Go live', end: 'End the show', open: 'Open the viewer page', control: 'Control',
    summary: 'Summary', live: 'Live', scheduled: 'Not started', ended: 'Ended', noShows: 'No show yet.',
    at: (x) => `Set for ${x}`, startedAt: (x) => `Started at ${x}`, endedAt: (x) => `Ended at ${x}`,
    onAir: 'Running', pin: 'On screen', pinNone: '— none —', close: 'Close',
    viewers: (n) => `${n} watching`, hearts: (n) => `${n} hearts`,
    offer: 'Flash offer', product: 'Product', price: 'Price (VND)', qty: 'Quantity', limit: 'Per buyer at most',
    seconds: 'Duration (s)', launch: 'Launch', stop: 'Stop', offers: 'Flash offers', noOffers: 'No flash offer yet.',
    remaining: (r, q) => `${r}/${q} left`, endsAt: (x) => `until ${x}`, of_live: 'Open', of_sold_out: 'Sold out', of_ended: 'Ended',
    moderation: 'Chat and moderation', noChat: 'No comment yet.', delete: 'Delete', mute: (m) => `Mute ${m} min`,
    ban: 'Ban from the show', makeMod: 'Make moderator', muteFor: 'Mute for',
    minutes: (m) => `${m} min`, slow: 'Slow mode', slowOff: 'Off', slowEvery: (s) => `One comment per ${s} s each`,
    announcement: 'Pinned announcement', announce: 'Pin it', unannounce: 'Remove it',
    moderators: 'Moderators', noModerators: 'Only you moderate this show.', removeMod: 'Remove',
    log: 'Moderation log', act_delete: 'deleted a comment', act_mute: 'muted', act_ban: 'banned', act_slow: 'slow mode',
    act_announce: 'announcement', act_moderators: 'moderators',
    sumTitle: (x) => `Summary: ${x}`, duration: 'Duration', peak: 'Peak viewers', unique: 'Unique viewers',
    chatCount: 'Comments', heartCount: 'Hearts', orderCount: 'Orders', units: 'Units', revenue: 'Revenue',
    perProduct: 'Per product', perOffer: 'Per flash offer', offerN: (n) => `Offer ${n}`, mins: (m, s) => `${m} min ${s} s`,
    products: 'My products', noProducts: 'No product yet.', newProduct: 'Add a product', editProduct: (x) => `Edit: ${x}`,
    kind: 'Kind', single: 'Single product', combo: 'Gift combo', name: 'Product name', unit: 'Unit (e.g. 500 ml jar)',
    listPrice: 'List price (VND)', stock: 'Stock', province: 'Province', group: 'OCOP group', stars: 'OCOP stars',
    potential: 'Potential five-star', story: 'The product’s story', images: 'Pictures (one link per line)',
    cert: 'OCOP certificate', certNumber: 'Certificate number', certBy: 'Issued by', certAt: 'Issued on', certUntil: 'Expires on',
    components: 'What a combo holds (units each)', save: 'Save', edit: 'Edit', cancelEdit: 'Cancel',
    stockOf: (n) => `Stock: ${n}`, certExpired: 'Certificate expired', certOk: (n) => `Certificate ${n}`, noCert: 'No certificate entered',
    g_food: 'Food', g_drinks: 'Drinks', g_herbal: 'Herbal', g_handicraft: 'Handicraft', g_ornamental: 'Ornamental plants',
    g_tourism: 'Community tourism',
    profile: 'Seller profile', displayName: 'Display name', sellerKind: 'Kind', k_cooperative: 'Cooperative',
    k_household: 'Household', k_enterprise: 'Enterprise', commune: 'Commune', intro: 'About', phone: 'Phone',
    orders: 'Orders', csv: 'Download CSV', confirm: 'Confirm', ship: 'Shipped', cancel: 'Cancel order',
    noOrders: 'No orders yet.', waiting: 'waiting for an address', done: 'Done.', filter: 'Show', all: 'All',
    st_placed: 'New', st_confirmed: 'Confirmed', st_shipped: 'Shipped', st_cancelled: 'Cancelled',
    src_offer: 'flash offer', src_pinned: 'buy button', src_chat: 'ordered in chat', loading: 'Loading…',
    inquiries: 'Quote requests (wholesale)', noInquiries: 'No quote request yet.', iqAll: 'All',
    iqFrom: (x) => `From ${x}`, iqAny: 'General request', iqAsked: (q, u) => `${q} ${u} wanted`, iqTarget: (p) => `hoping for ${p}`,
    iqBy: (d) => `needed by ${d}`, iqAt: (x) => `Sent at ${x}`, iqQuote: 'Quote', iqQuoteTitle: 'Quote for this request',
    iqPrice: 'Price per unit (VND)', iqQty: 'Quantity', iqValid: 'Valid until (Vietnam time)', iqMessage: 'Message (optional)',
    iqSend: 'Send the quote', iqDecline: 'Decline', iqSure: 'Decline this request? The buyer is told.', iqYes: 'Decline', iqNo: 'Cancel',
    iqQuoted: (p, u, q, d) => `You quoted ${p} / ${u} × ${q}, valid until ${d}`, iqTotal: (x) => `Total: ${x}`,
    iqAccepted: 'The buyer accepted the quote.', iqDeclined: 'This request was declined.', iqExpired: 'The quote has expired without an answer.',
    iqNew: (x) => `New quote request from ${x}.`, iqWasAccepted: (x) => `${x} accepted your quote.`, iqWasDeclined: (x) => `${x} declined or withdrew a quote request.`,
    iqBooth: (x) => `Booth: ${x}`, iqFilter: 'Show',
  },
};
const l = (key, ...args) => {
  const v = TEXT[lang][key] ?? TEXT.vi[key] ?? key;
  return typeof v === 'function' ? v(...args) : v;
};

const GROUPS = ['food', 'drinks', 'herbal', 'handicraft', 'ornamental', 'tourism'];
const TABS = ['shows', 'products', 'orders', 'fairs', 'profile'];
const MAX_CHAT = 200;

/** What a refused request says, field by field when the server named the fields. */
function problem(r) {
  const b = r.body;
  if (b && b.errors) return Object.entries(b.errors).map(([k, v]) => `${k}: ${v}`).join('; ');
  return (b && (b.detail || b.title)) || t('tryAgain');
}

/** What a refused command says. */
const refusal = (e) => (e instanceof OcopError ? e.message : t('tryAgain'));

export function sellerPage(root) {
  document.title = `${l('title')} · ${t('brand')}`;
  root.replaceChildren();
  render(html`<${Console} />`, root);
}

function Console() {
  const me = session();
  if (!me.user || me.user.role !== 'seller' || !me.user.seller_id) {
    return html`<h1>${l('title')}</h1>
      <p class="notice">${l('signIn')} <a href=${`/login?next=${encodeURIComponent('/seller')}`}>${t('signIn')}</a></p>`;
  }
  return html`<${SignedIn} sellerId=${me.user.seller_id} />`;
}

function SignedIn({ sellerId }) {
  // `#inquiries` (linked from /me and the booth page) opens the fairs tab, where they are.
  const [tab, setTab] = useState(() => {
    const hash = location.hash.slice(1);
    return hash === 'inquiries' ? 'fairs' : TABS.includes(hash) ? hash : 'shows';
  });
  const [message, setMessage] = useState('');
  const [products, setProducts] = useState(null);
  const [shows, setShows] = useState(null);
  const [orders, setOrders] = useState(() => new Map());
  const client = useRef(null);
  if (!client.current) {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    client.current = new OcopLive({ url, token: () => session().token });
  }

  const loadProducts = useCallback(async () => {
    const r = await api('GET', `/api/products?seller=${encodeURIComponent(sellerId)}&limit=100`);
    setProducts(r.body?.items ?? []);
  }, [sellerId]);
  const loadShows = useCallback(async () => {
    const all = [];
    let cursor = null;
    // A seller's shows, a hundred at a time, newest first on screen (at most 1,000 read).
    for (let page = 0; page < 10; page += 1) {
      const r = await api('GET', `/api/seller/shows?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      if (!r.ok) break;
      all.push(...r.body.items);
      cursor = r.body.next_cursor;
      if (!cursor) break;
    }
    setShows(all.reverse());
  }, []);
  const putOrder = useCallback((o) => setOrders((m) => new Map(m).set(o.id, o)), []);
  const [inquiries, setInquiries] = useState(null);
  // A read never replaces what a later event said about the same request.
  const putInquiries = useCallback((list) => setInquiries((m) => {
    const next = new Map(m ?? []);
    for (const i of list) if (!next.has(i.id) || next.get(i.id).updated_at <= i.updated_at) next.set(i.id, i);
    return next;
  }), []);
  const loadInquiries = useCallback(async () => {
    const r = await api('GET', '/api/me/inquiries');
    if (r.ok) putInquiries(r.body.items);
  }, []);
  const [booths, setBooths] = useState(null);
  const [fairs, setFairs] = useState(() => new Map());
  const loadFairs = useCallback(async () => {
    // Fairs taking booths and shows (open and published), and those of the seller's booths.
    const [list, mine] = await Promise.all([api('GET', '/api/fairs'), api('GET', '/api/seller/booths')]);
    const known = new Map((list.body?.items ?? []).map((f) => [f.id, f]));
    const own = mine.body?.items ?? [];
    const missing = [...new Set(own.map((b) => b.fair_id))].filter((id) => !known.has(id));
    for (const r of await Promise.all(missing.map((id) => api('GET', `/api/fairs/${id}`)))) {
      if (r.ok) known.set(r.body.fair.id, r.body.fair);
    }
    setFairs(known);
    setBooths(own);
  }, []);

  useEffect(() => {
    const c = client.current;
    c.connect().catch(() => {});
    loadProducts();
    loadShows();
    loadFairs();
    api('GET', '/api/seller/orders?limit=1000').then((r) => {
      setOrders((m) => {
        const next = new Map(m);
        for (const o of r.body?.items ?? []) if (!next.has(o.id)) next.set(o.id, o);
        return next;
      });
    });
    // Every new order and every change, live, whichever tab is open.
    const sub = c.subscribe(`seller:${sellerId}`, {
      onEvent(ev) {
        if (ev.ev === 'order' && ev.data.order) putOrder(ev.data.order);
      },
    });
    // The organiser's decisions on the seller's booths, and buyers' quote requests and answers.
    const notices = c.subscribe(`user:${session().user.id}`, {
      onSnapshot() {
        // Subscribed: anything earlier is in this read, anything later arrives as an event.
        loadInquiries();
      },
      onEvent(ev) {
        const d = ev.data;
        if (ev.ev !== 'notify') return;
        if (d.inquiry) {
          putInquiries([d.inquiry]);
          if (d.kind === 'inquiry') setMessage(l('iqNew', d.inquiry.buyer_name));
          if (d.kind === 'inquiry.accepted') setMessage(l('iqWasAccepted', d.inquiry.buyer_name));
          if (d.kind === 'inquiry.declined') setMessage(l('iqWasDeclined', d.inquiry.buyer_name));
          return;
        }
        if (!d.booth) return;
        if (d.kind === 'booth.approved') setMessage(l('boothApproved', d.booth.title));
        if (d.kind === 'booth.rejected') setMessage(l('boothRejected', d.booth.title));
        loadFairs();
      },
    });
    return () => { sub.unsubscribe?.(); notices.unsubscribe?.(); c.close(); };
  }, [sellerId]);

  const choose = (next) => {
    setTab(next);
    history.replaceState(null, '', `#${next}`);
    // A console stays open for hours: fairs published meanwhile show when the tab is opened.
    if (next === 'fairs') loadFairs();
  };
  const fresh = [...orders.values()].filter((o) => o.status === 'placed').length;
  const waitingQuote = [...(inquiries?.values() ?? [])].filter((i) => i.status === 'open').length;
  const say = setMessage;
  const names = new Map((products ?? []).map((p) => [p.id, p.name]));

  return html`
    <h1>${l('title')}</h1>
    <nav class="tabs" aria-label=${l('title')}>
      ${TABS.map((k) => html`
        <button type="button" id=${`tab-${k}`} class="tab" aria-current=${tab === k ? 'page' : undefined}
          onClick=${() => choose(k)}>
          ${l(`tab${k[0].toUpperCase()}${k.slice(1)}`)}${k === 'orders' && fresh ? html` <span class="count">${fresh}</span>` : ''}${k === 'fairs' && waitingQuote ? html` <span class="count" title=${l('inquiries')}>${waitingQuote}</span>` : ''}
        </button>`)}
    </nav>
    <p class="result" role="status" aria-live="polite">${message}</p>
    ${tab === 'shows' && html`<${ShowsTab} shows=${shows} products=${products} names=${names} client=${client.current}
      reload=${loadShows} say=${say} booths=${booths} fairs=${fairs} />`}
    ${tab === 'fairs' && html`<${FairsTab} booths=${booths} fairs=${fairs} products=${products} reload=${loadFairs} say=${say}
      inquiries=${inquiries} putInquiries=${putInquiries} names=${names} />`}
    ${tab === 'products' && html`<${ProductsTab} products=${products} reload=${loadProducts} say=${say} sellerId=${sellerId} />`}
    ${tab === 'orders' && html`<${OrdersTab} orders=${orders} putOrder=${putOrder} say=${say} />`}
    ${tab === 'profile' && html`<${ProfileTab} sellerId=${sellerId} say=${say} />`}`;
}

// ---------------------------------------------------------------- shows

function ShowsTab({ shows, products, names, client, reload, say, booths, fairs }) {
  const [controlled, setControlled] = useState(null);
  const [summaryOf, setSummaryOf] = useState(null);
  if (!shows || !products) return html`<p>${l('loading')}</p>`;
  const live = controlled && shows.find((s) => s.id === controlled && s.status === 'live');
  const act = async (show, what) => {
    const r = await api('POST', `/api/shows/${show.id}/${what}`, {});
    say(r.ok ? l('done') : problem(r));
    if (r.ok && what === 'start') setControlled(show.id);
    if (r.ok && what === 'end') { setControlled(null); setSummaryOf(r.body.show); }
    reload();
  };
  return html`
    ${live && html`<${Control} key=${live.id} show=${live} names=${names} client=${client} say=${say}
      onClose=${() => setControlled(null)} onEnd=${() => act(live, 'end')} />`}
    ${summaryOf && html`<${Summary} key=${summaryOf.id} show=${summaryOf} names=${names} onClose=${() => setSummaryOf(null)} />`}
    <section class="panel" aria-labelledby="shows-title">
      <h2 id="shows-title">${l('shows')}</h2>
      ${shows.length === 0 && html`<p>${l('noShows')}</p>`}
      <ul class="cards">
        ${shows.map((s) => html`
          <li class="card" data-show=${s.id} key=${s.id}>
            <span class=${s.status === 'live' ? 'badge' : 'badge soon'}>${l(s.status)}</span>
            <h3>${s.title}</h3>
            <p>${s.status === 'scheduled' && s.scheduled_at ? l('at', vnTime(s.scheduled_at)) : ''}
              ${s.status === 'live' ? l('startedAt', vnTime(s.started_at)) : ''}
              ${s.status === 'ended' ? l('endedAt', vnTime(s.ended_at)) : ''}
              ${' · '}${t('products', s.lineup.length)}</p>
            ${s.fair_id && html`<p class="in-fair"><a href=${`/fairs/${s.fair_id}`}>${l('inFair', fairs.get(s.fair_id)?.name ?? '')}</a></p>`}
            <p><a href=${`/shows/${s.id}`}>${l('open')}</a></p>
            <div class="actions">
              ${s.status === 'scheduled' && html`<button type="button" onClick=${() => act(s, 'start')}>${l('start')}</button>`}
              ${s.status === 'live' && html`<button type="button" onClick=${() => setControlled(s.id)}>${l('control')}</button>
                <button type="button" class="secondary" onClick=${() => act(s, 'end')}>${l('end')}</button>`}
              ${s.status === 'ended' && html`<button type="button" class="secondary" onClick=${() => setSummaryOf(s)}>${l('summary')}</button>`}
            </div>
          </li>`)}
      </ul>
    </section>
    <${ShowForm} products=${products} reload=${reload} say=${say} booths=${booths} fairs=${fairs} />`;
}

function ShowForm({ products, reload, say, booths, fairs }) {
  const [f, setF] = useState({ title: '', description: '', when: '', kind: 'none', url: '', fair: '', duration: '60' });
  // A show joins the agenda of a fair where the seller's booth is approved, while the fair takes shows.
  const agendas = (booths ?? []).filter((b) => b.status === 'approved')
    .map((b) => fairs.get(b.fair_id)).filter((x) => x && (x.status === 'open' || x.status === 'published'));
  const [picked, setPicked] = useState(() => new Set(products.slice(0, 4).map((p) => p.id)));
  const [error, setError] = useState('');
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const toggle = (id) => setPicked((s) => { const n = new Set(s); if (n.has(id)) n.delete(id); else n.add(id); return n; });
  const submit = async (e) => {
    e.preventDefault();
    const body = {
      title: f.title, description: f.description || undefined, scheduled_at: fromVietnamLocal(f.when),
      stream: f.kind === 'none' ? { kind: 'none' } : { kind: f.kind, url: f.url },
      products: products.filter((p) => picked.has(p.id)).map((p) => p.id),
    };
    if (f.fair) {
      body.fair_id = f.fair;
      body.duration_min = Number(f.duration) || 60;
    }
    const r = await api('POST', '/api/shows', body);
    setError(r.ok ? '' : problem(r));
    if (r.ok) {
      say(l('done'));
      setF({ title: '', description: '', when: '', kind: 'none', url: '', fair: '', duration: '60' });
      reload();
    }
  };
  return html`
    <form class="panel" id="new-show" onSubmit=${submit}>
      <h2>${l('newShow')}</h2>
      <label for="new-title">${l('showTitle')}</label>
      <input id="new-title" required maxlength="120" value=${f.title} onInput=${set('title')} />
      <label for="new-description">${l('description')}</label>
      <textarea id="new-description" rows="2" maxlength="2000" value=${f.description} onInput=${set('description')}></textarea>
      ${agendas.length > 0 && html`<label for="new-fair">${l('showFair')}</label>
        <select id="new-fair" value=${f.fair} onChange=${set('fair')}>
          <option value="">${l('noFair')}</option>
          ${agendas.map((x) => html`<option value=${x.id}>${x.name}</option>`)}
        </select>
        ${f.fair && html`<p class="hint">${l('fairNeedsTime')} ${fairWhen(fairs.get(f.fair))}</p>`}`}
      <label for="new-when">${l(f.fair ? 'scheduledAtFair' : 'scheduledAt')}</label>
      <input id="new-when" type="datetime-local" value=${f.when} onInput=${set('when')} required=${Boolean(f.fair)} />
      ${f.fair && html`<label for="new-duration">${l('duration')}</label>
        <input id="new-duration" type="number" min="15" max="600" inputmode="numeric" value=${f.duration} onInput=${set('duration')} />`}
      <label for="new-stream">${l('stream')}</label>
      <select id="new-stream" value=${f.kind} onChange=${set('kind')}>
        ${['none', 'hls', 'youtube', 'facebook'].map((k) => html`<option value=${k}>${l(`sk_${k}`)}</option>`)}
      </select>
      ${f.kind !== 'none' && html`<label for="new-url">${l('streamUrl')}</label>
        <input id="new-url" type="url" required maxlength="500" inputmode="url" value=${f.url} onInput=${set('url')} />`}
      <fieldset>
        <legend>${l('lineup')}</legend>
        ${products.map((p) => html`<label class="check" key=${p.id}>
          <input type="checkbox" name="p" value=${p.id} checked=${picked.has(p.id)} onChange=${() => toggle(p.id)} /> ${p.name}</label>`)}
      </fieldset>
      <p class="error" role="alert">${error}</p>
      <button type="submit">${l('create')}</button>
    </form>`;
}

/** The live room, for its seller: on screen, offers, chat and moderation, as they happen. */
function Control({ show: initial, names, client, say, onClose, onEnd }) {
  const [room, setRoom] = useState({ show: initial, pinned: null, offers: new Map(), chat: [], viewers: 0, hearts: 0 });
  const [log, setLog] = useState([]);
  const [muteMinutes, setMuteMinutes] = useState(10);
  const [announcement, setAnnouncement] = useState(initial.announcement ?? '');
  const [, tick] = useState(0);
  const id = initial.id;
  const show = room.show;

  const loadLog = useCallback(async () => {
    const r = await api('GET', `/api/shows/${id}/moderation`);
    if (r.ok) setLog(r.body.items.slice(-20).reverse());
  }, [id]);

  useEffect(() => {
    const sub = client.subscribe(`show:${id}`, {
      onSnapshot(snap) {
        setRoom({ show: snap.show, pinned: snap.pinned, offers: new Map(snap.offers.map((o) => [o.id, o])),
          chat: snap.chat.slice(-MAX_CHAT), viewers: snap.viewers, hearts: snap.reactions.heart });
        setAnnouncement(snap.show.announcement ?? '');
      },
      onEvent(ev) {
        const d = ev.data;
        setRoom((r) => {
          switch (ev.ev) {
            case 'chat': return { ...r, chat: [...r.chat, ev].slice(-MAX_CHAT) };
            case 'chat.deleted': return { ...r, chat: r.chat.filter((c) => c.data.msg_id !== d.msg_id) };
            case 'pinned': return { ...r, pinned: d.product };
            case 'offer': return { ...r, offers: new Map(r.offers).set(d.offer.id, d.offer) };
            case 'stock': {
              const o = r.offers.get(d.offer_id);
              return o ? { ...r, offers: new Map(r.offers).set(o.id, { ...o, remaining: d.remaining }) } : r;
            }
            case 'show': return { ...r, show: d.show };
            case 'status': return { ...r, show: { ...r.show, status: d.status } };
            case 'announcement': return { ...r, show: { ...r.show, announcement: d.text || null } };
            case 'viewers': return { ...r, viewers: d.count };
            case 'reactions': return { ...r, hearts: d.heart };
            default: return r;
          }
        });
      },
    });
    loadLog();
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => { clearInterval(timer); sub.unsubscribe?.(); };
  }, [id]);

  const command = async (op, params, after) => {
    try {
      const reply = await client.request(op, { show: id, ...params });
      say(l('done'));
      if (after) after(reply);
      loadLog();
      return reply;
    } catch (e) {
      say(refusal(e));
      return null;
    }
  };
  const userNames = new Map(room.chat.map((c) => [c.data.user.id, c.data.user.name]));
  const offers = [...room.offers.values()].sort((a, b) => (a.starts_at < b.starts_at ? 1 : -1));
  const now = client.serverNow();

  return html`
    <section class="panel control" aria-labelledby="control-title">
      <h2 id="control-title">${l('onAir')}: ${show.title}</h2>
      <p class="figures"><span>${l('viewers', room.viewers)}</span> · <span>${l('hearts', room.hearts)}</span></p>
      <label for="pin">${l('pin')}</label>
      <select id="pin" value=${room.pinned?.id ?? ''}
        onChange=${(e) => command('show.pin', { product_id: e.target.value || null })}>
        <option value="">${l('pinNone')}</option>
        ${show.lineup.map((x) => html`<option value=${x.product_id}>${x.code} · ${names.get(x.product_id) ?? x.product_id}</option>`)}
      </select>
      <${OfferForm} show=${show} names=${names} command=${command} />
      <h3>${l('offers')}</h3>
      ${offers.length === 0 && html`<p>${l('noOffers')}</p>`}
      <ul class="offers-list">
        ${offers.map((o) => html`<li key=${o.id} data-offer=${o.id} class=${`offer-row of-${o.status}`}>
          <strong>${o.product_name}</strong> · ${vnd(o.price)} · ${l('remaining', o.remaining, o.quantity)}${' · '}${o.status === 'live' ? `${l('of_live')} ${countdown(Date.parse(o.ends_at) - now)}` : l(`of_${o.status}`)}
          ${o.status === 'live' && html` <button type="button" class="secondary small"
            onClick=${() => command('offer.stop', { offer_id: o.id })}>${l('stop')}</button>`}
        </li>`)}
      </ul>
      <h3>${l('moderation')}</h3>
      <div class="mod-settings">
        <label for="slow">${l('slow')}</label>
        <select id="slow" value=${String(show.slow_mode_s ?? 0)} onChange=${(e) => command('chat.slow', { seconds: Number(e.target.value) })}>
          ${[0, 5, 10, 30, 60].map((s) => html`<option value=${String(s)}>${s ? l('slowEvery', s) : l('slowOff')}</option>`)}
        </select>
        <label for="mute-minutes">${l('muteFor')}</label>
        <select id="mute-minutes" value=${String(muteMinutes)} onChange=${(e) => setMuteMinutes(Number(e.target.value))}>
          ${[5, 10, 30, 60, 1440].map((m) => html`<option value=${String(m)}>${l('minutes', m)}</option>`)}
        </select>
      </div>
      <form class="announce" onSubmit=${(e) => { e.preventDefault(); command('show.announce', { text: announcement }); }}>
        <label for="announcement">${l('announcement')}</label>
        <input id="announcement" maxlength="500" value=${announcement} onInput=${(e) => setAnnouncement(e.target.value)} />
        <div class="actions">
          <button type="submit">${l('announce')}</button>
          <button type="button" class="secondary" onClick=${() => { setAnnouncement(''); command('show.announce', { text: '' }); }}>${l('unannounce')}</button>
        </div>
      </form>
      <ol class="chat mod-chat" aria-label=${l('moderation')}>
        ${room.chat.length === 0 && html`<li>${l('noChat')}</li>`}
        ${room.chat.map((c) => html`<li key=${c.data.msg_id} data-id=${c.data.msg_id}>
          <span class=${`who role-${c.data.user.role}`}>${c.data.user.name}</span>: <span class="text">${c.data.text}</span>
          ${c.data.user.role !== 'seller' && html`<div class="actions">
            <button type="button" class="secondary small" onClick=${() => command('chat.delete', { msg_id: c.data.msg_id })}>${l('delete')}</button>
            <button type="button" class="secondary small" onClick=${() => command('chat.mute', { user_id: c.data.user.id, minutes: muteMinutes })}>${l('mute', muteMinutes)}</button>
            <button type="button" class="secondary small" onClick=${() => command('chat.ban', { user_id: c.data.user.id })}>${l('ban')}</button>
            ${c.data.user.role === 'buyer' && !(show.moderators ?? []).includes(c.data.user.id) && html`<button type="button" class="secondary small"
              onClick=${() => command('show.moderators', { add: [c.data.user.id] }, (r) => setRoom((x) => ({ ...x, show: { ...x.show, moderators: r.moderators } })))}>${l('makeMod')}</button>`}
          </div>`}
        </li>`)}
      </ol>
      <h3>${l('moderators')}</h3>
      ${(show.moderators ?? []).length === 0 ? html`<p>${l('noModerators')}</p>` : html`<ul class="plain">
        ${show.moderators.map((m) => html`<li key=${m}>${userNames.get(m) ?? m}
          <button type="button" class="secondary small" onClick=${() => command('show.moderators', { remove: [m] },
            (r) => setRoom((x) => ({ ...x, show: { ...x.show, moderators: r.moderators } })))}>${l('removeMod')}</button></li>`)}
      </ul>`}
      ${log.length > 0 && html`<details class="log"><summary>${l('log')}</summary><ul class="plain">
        ${log.map((e) => html`<li key=${e.id}>${vnTime(e.at)} · ${e.by?.name ?? ''} · ${l(`act_${e.action}`)}${e.detail ? ` · ${e.detail}` : ''}</li>`)}
      </ul></details>`}
      <div class="actions">
        <button type="button" class="secondary" onClick=${onClose}>${l('close')}</button>
        <button type="button" class="secondary" onClick=${onEnd}>${l('end')}</button>
      </div>
    </section>`;
}

function countdown(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function OfferForm({ show, names, command }) {
  const [f, setF] = useState({ product: show.lineup[0]?.product_id ?? '', price: '', qty: '10', limit: '1', secs: '60' });
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const reply = await command('offer.start', { product_id: f.product, price: Number(f.price), quantity: Number(f.qty),
      per_buyer_limit: Number(f.limit), duration_s: Number(f.secs) });
    if (reply) setF({ ...f, price: '' });
  };
  const field = (id, key, label, attrs) => html`<label for=${id}>${label}</label>
    <input id=${id} type="number" required inputmode="numeric" value=${f[key]} onInput=${set(key)} ...${attrs} />`;
  return html`
    <form class="offer-form" onSubmit=${submit}>
      <h3>${l('offer')}</h3>
      <label for="o-product">${l('product')}</label>
      <select id="o-product" value=${f.product} onChange=${set('product')}>
        ${show.lineup.map((x) => html`<option value=${x.product_id}>${x.code} · ${names.get(x.product_id) ?? ''}</option>`)}
      </select>
      <div class="grid2">
        <div>${field('o-price', 'price', l('price'), { min: 1 })}</div>
        <div>${field('o-qty', 'qty', l('qty'), { min: 1 })}</div>
        <div>${field('o-limit', 'limit', l('limit'), { min: 1, max: 99 })}</div>
        <div>${field('o-secs', 'secs', l('seconds'), { min: 10, max: 7200 })}</div>
      </div>
      <button type="submit">${l('launch')}</button>
    </form>`;
}

function Summary({ show, names, onClose }) {
  const [s, setS] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api('GET', `/api/shows/${show.id}/summary`).then((r) => (r.ok ? setS(r.body.summary) : setError(problem(r))));
  }, [show.id]);
  const row = (k, v) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`;
  const lines = (items, label) => html`<table>
    <thead><tr><th scope="col">${label}</th><th scope="col">${l('orderCount')}</th><th scope="col">${l('units')}</th><th scope="col">${l('revenue')}</th></tr></thead>
    <tbody>${items.map((x, i) => html`<tr key=${x.id}><th scope="row">${label === l('perOffer') ? l('offerN', i + 1) : (names.get(x.id) ?? x.id)}</th>
      <td>${x.orders}</td><td>${x.units}</td><td>${vnd(x.revenue)}</td></tr>`)}</tbody></table>`;
  return html`
    <section class="panel summary" aria-labelledby="summary-title">
      <h2 id="summary-title">${l('sumTitle', show.title)}</h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${!s && !error && html`<p>${l('loading')}</p>`}
      ${s && html`<dl class="figures-grid">
          ${row(l('duration'), l('mins', Math.floor(s.duration_s / 60), s.duration_s % 60))}
          ${row(l('peak'), s.peak_viewers)} ${row(l('unique'), s.unique_viewers)}
          ${row(l('chatCount'), s.chat_messages)} ${row(l('heartCount'), s.hearts)}
          ${row(l('orderCount'), s.orders)} ${row(l('units'), s.units)} ${row(l('revenue'), vnd(s.revenue))}
        </dl>
        ${s.products.length > 0 && lines(s.products, l('perProduct'))}
        ${s.offers.length > 0 && lines(s.offers, l('perOffer'))}`}
      <button type="button" class="secondary" onClick=${onClose}>${l('close')}</button>
    </section>`;
}

// ---------------------------------------------------------------- fairs

function FairsTab({ booths, fairs, products, reload, say, inquiries, putInquiries, names }) {
  const [editing, setEditing] = useState(null);
  useEffect(() => {
    if (location.hash === '#inquiries') document.getElementById('inquiries-title')?.scrollIntoView();
  }, [Boolean(inquiries && booths && products)]);
  if (!booths || !products) return html`<p>${l('loading')}</p>`;
  const taken = new Set(booths.map((b) => b.fair_id));
  const open = [...fairs.values()].filter((f) => (f.status === 'open' || f.status === 'published') && !taken.has(f.id));
  return html`
    <section class="panel" aria-labelledby="booths-title">
      <h2 id="booths-title">${l('myBooths')}</h2>
      ${booths.length === 0 && html`<p>${l('noBooths')}</p>`}
      <ul class="cards">
        ${[...booths].reverse().map((b) => html`<li class="card" key=${b.id} data-booth=${b.id}>
          <span class=${`badge booth-${b.status}`}>${l(`b_${b.status}`)}</span>
          <h3>${b.title}</h3>
          <p>${fairs.get(b.fair_id)?.name ?? ''}</p>
          ${fairs.get(b.fair_id) && html`<p>${fairWhen(fairs.get(b.fair_id))}</p>`}
          <p>${t('products', b.featured_products.length)}</p>
          <div class="actions">
            <a class="button secondary" href=${`/booths/${b.id}`}>${l('openBooth')}</a>
            <button type="button" class="secondary" onClick=${() => setEditing(b)}>${l('edit')}</button>
          </div>
        </li>`)}
      </ul>
    </section>
    ${editing && html`<${BoothForm} key=${editing.id} booth=${editing} products=${products}
      onDone=${() => { setEditing(null); say(l('done')); reload(); }} onCancel=${() => setEditing(null)} />`}
    <${Inquiries} inquiries=${inquiries} put=${putInquiries} names=${names} booths=${booths} say=${say} />
    ${!editing && html`<${BoothForm} key="apply" fairsOpen=${open} products=${products}
      onDone=${() => { say(l('applied')); reload(); }} />`}`;
}

const INQUIRY_STATUSES = ['open', 'quoted', 'accepted', 'declined'];

/** The quote requests buyers sent the seller's booths, newest first, filtered by status. */
function Inquiries({ inquiries, put, names, booths, say }) {
  const [filter, setFilter] = useState('all');
  const [, tick] = useState(0);
  const all = [...(inquiries?.values() ?? [])].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  // Redrawn when the next quote runs out, so the row says so at the right moment.
  useEffect(() => {
    const now = Date.now();
    const next = Math.min(...all.filter((i) => i.status === 'quoted').map((i) => Date.parse(i.quote.valid_until)).filter((x) => x > now));
    if (!Number.isFinite(next)) return undefined;
    const timer = setTimeout(() => tick((n) => n + 1), Math.min(next - now + 250, 2 ** 31 - 1));
    return () => clearTimeout(timer);
  });
  const shown = all.filter((i) => filter === 'all' || i.status === filter);
  const boothTitles = new Map((booths ?? []).map((b) => [b.id, b.title]));
  const count = (st) => all.filter((i) => i.status === st).length;
  return html`
    <section class="panel" id="inquiries" aria-labelledby="inquiries-title">
      <h2 id="inquiries-title">${l('inquiries')}</h2>
      ${!inquiries && html`<p>${l('loading')}</p>`}
      ${inquiries && html`<label for="iq-filter">${l('iqFilter')}</label>
        <select id="iq-filter" value=${filter} onChange=${(e) => setFilter(e.target.value)}>
          <option value="all">${l('iqAll')} (${all.length})</option>
          ${INQUIRY_STATUSES.map((st) => html`<option value=${st}>${t(`iq_${st}`)} (${count(st)})</option>`)}
        </select>
        <ol class="orders inquiries" aria-live="polite">
          ${shown.length === 0 && html`<li class="empty">${l('noInquiries')}</li>`}
          ${shown.map((i) => html`<${InquiryRow} key=${i.id} iq=${i} put=${put} say=${say}
            product=${i.product_id ? names.get(i.product_id) ?? '' : l('iqAny')} booth=${boothTitles.get(i.booth_id)} />`)}
        </ol>`}
    </section>`;
}

/** `n` as Vietnam writes numbers: 1.200. */
const num = (n) => Number(n).toLocaleString('vi-VN');

/** A datetime-local value this many hours from now, in Vietnam time, on the minute. */
const vnLocalIn = (hours) => toVietnamLocal(new Date(Date.now() + hours * 3600 * 1000).toISOString());

function InquiryRow({ iq, put, say, product, booth }) {
  const [quoting, setQuoting] = useState(false);
  const [declining, setDeclining] = useState(false);
  const q = iq.quote;
  const expired = iq.status === 'quoted' && Date.parse(q.valid_until) <= Date.now();
  const decline = async () => {
    const r = await api('POST', `/api/inquiries/${iq.id}/decline`);
    setDeclining(false);
    if (r.ok) put([r.body.inquiry]);
    say(r.ok ? l('done') : problem(r));
  };
  const asked = [l('iqAsked', num(iq.quantity), iq.unit), iq.target_price ? l('iqTarget', `${vnd(iq.target_price)} / ${iq.unit}`) : '',
    iq.deliver_by ? l('iqBy', vnDate(iq.deliver_by)) : ''].filter(Boolean).join(' · ');
  return html`<li class=${`order inquiry iq-${iq.status}`} data-inquiry=${iq.id}>
    <span class=${`badge iq-badge iq-${iq.status}`}>${t(`iq_${iq.status}`)}</span>
    <p class="what">${product || '…'} · ${l('iqFrom', iq.buyer_name)}</p>
    <p class="asked">${asked}</p>
    <p class="message">${iq.message}</p>
    <p class="when">${l('iqAt', vnTime(iq.created_at))}${booth ? ` · ${l('iqBooth', booth)}` : ''}</p>
    ${q && html`<div class="quote">
      <p class="price">${l('iqQuoted', vnd(q.price), iq.unit, num(q.quantity), vnTime(q.valid_until))}</p>
      <p>${l('iqTotal', vnd(q.price * q.quantity))}</p>
      ${q.message && html`<p class="message">${q.message}</p>`}
    </div>`}
    ${iq.status === 'accepted' && html`<p class="ok">${l('iqAccepted')}</p>`}
    ${iq.status === 'declined' && html`<p class="hint">${l('iqDeclined')}</p>`}
    ${expired && html`<p class="hint warn">${l('iqExpired')}</p>`}
    ${(iq.status === 'open' || iq.status === 'quoted') && !quoting && !declining && html`<div class="actions">
      ${iq.status === 'open' && html`<button type="button" class="quote-button" onClick=${() => setQuoting(true)}>${l('iqQuote')}<span class="sr">: ${iq.buyer_name}</span></button>`}
      <button type="button" class="secondary" onClick=${() => setDeclining(true)}>${l('iqDecline')}<span class="sr">: ${iq.buyer_name}</span></button>
    </div>`}
    ${declining && html`<div class="confirm" role="group" aria-label=${l('iqDecline')}>
      <p>${l('iqSure')}</p>
      <div class="actions">
        <button type="button" class="danger" onClick=${decline}>${l('iqYes')}</button>
        <button type="button" class="secondary" onClick=${() => setDeclining(false)}>${l('iqNo')}</button>
      </div>
    </div>`}
    ${quoting && iq.status === 'open' && html`<${QuoteForm} iq=${iq} onCancel=${() => setQuoting(false)}
      onDone=${(next) => { setQuoting(false); put([next]); say(l('done')); }} />`}
  </li>`;
}

/** The seller's one quote: price per unit, quantity, until when (typed in Vietnam time, sent in UTC). */
function QuoteForm({ iq, onDone, onCancel }) {
  const [f, setF] = useState({ price: iq.target_price ? String(iq.target_price) : '', quantity: String(iq.quantity), until: vnLocalIn(72), message: '' });
  const [errors, setErrors] = useState({});
  const [error, setError] = useState('');
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const id = (k) => `q-${iq.id}-${k}`;
  const submit = async (e) => {
    e.preventDefault();
    const body = { price: Number(f.price), quantity: Number(f.quantity),
      valid_until: f.until ? new Date(fromVietnamLocal(f.until)).toISOString() : '', message: f.message || undefined };
    const r = await api('POST', `/api/inquiries/${iq.id}/quote`, body);
    if (r.ok) { onDone(r.body.inquiry); return; }
    const fieldErrors = r.body?.errors ?? {};
    setErrors(Object.fromEntries(Object.entries(fieldErrors).map(([k, v]) => [k, fieldMessage(v)])));
    setError(r.body?.errors ? '' : problem(r));
  };
  const field = (k, name, label, attrs) => html`<div class="field">
    <label for=${id(k)}>${label}</label>
    <input id=${id(k)} value=${f[k]} onInput=${set(k)} aria-invalid=${errors[name] ? 'true' : undefined}
      aria-describedby=${`${id(k)}-error`} ...${attrs} />
    <p class="field-error" id=${`${id(k)}-error`}>${errors[name] ?? ''}</p>
  </div>`;
  const total = Number(f.price) * Number(f.quantity);
  return html`<form class="quote-form" onSubmit=${submit} aria-label=${l('iqQuoteTitle')}>
    <div class="grid2">
      ${field('price', 'price', l('iqPrice'), { type: 'number', min: 1, required: true, inputmode: 'numeric' })}
      ${field('quantity', 'quantity', `${l('iqQty')} (${iq.unit})`, { type: 'number', min: 1, required: true, inputmode: 'numeric' })}
    </div>
    ${total > 0 && html`<p class="hint">${l('iqTotal', vnd(total))}</p>`}
    ${field('until', 'valid_until', l('iqValid'), { type: 'datetime-local', required: true })}
    <label for=${id('message')}>${l('iqMessage')}</label>
    <textarea id=${id('message')} rows="2" maxlength="2000" value=${f.message} onInput=${set('message')}></textarea>
    <p class="field-error">${errors.message ?? ''}</p>
    <p class="error" role="alert">${error}</p>
    <div class="actions">
      <button type="submit">${l('iqSend')}</button>
      <button type="button" class="secondary" onClick=${onCancel}>${l('cancelEdit')}</button>
    </div>
  </form>`;
}

/** Applies for a booth (`fairsOpen` to choose from), or edits `booth`. */
function BoothForm({ booth, fairsOpen, products, onDone, onCancel }) {
  const [f, setF] = useState(() => ({ fair: fairsOpen?.[0]?.id ?? '', title: booth?.title ?? '', description: booth?.description ?? '' }));
  const [picked, setPicked] = useState(() => new Set(booth?.featured_products ?? []));
  const [error, setError] = useState('');
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const toggle = (id) => setPicked((x) => { const n = new Set(x); if (n.has(id)) n.delete(id); else if (n.size < 12) n.add(id); return n; });
  if (!booth && fairsOpen.length === 0) {
    return html`<section class="panel" aria-labelledby="apply-title"><h2 id="apply-title">${l('apply')}</h2><p>${l('noFairToApply')}</p></section>`;
  }
  // The fair chosen, or the first one still taking booths once the list changed.
  const fairId = fairsOpen?.some((x) => x.id === f.fair) ? f.fair : fairsOpen?.[0]?.id;
  const submit = async (e) => {
    e.preventDefault();
    const body = { title: f.title || undefined, description: f.description || undefined,
      featured_products: products.filter((p) => picked.has(p.id)).map((p) => p.id) };
    const r = booth ? await api('PATCH', `/api/booths/${booth.id}`, body) : await api('POST', `/api/fairs/${fairId}/booths`, body);
    setError(r.ok ? '' : problem(r));
    if (r.ok) {
      if (!booth) { setF({ fair: '', title: '', description: '' }); setPicked(new Set()); }
      onDone(r.body.booth);
    }
  };
  return html`
    <form class="panel" id="booth-form" onSubmit=${submit} aria-labelledby="apply-title">
      <h2 id="apply-title">${booth ? l('editBooth', booth.title) : l('apply')}</h2>
      ${!booth && html`<label for="b-fair">${l('fair')}</label>
        <select id="b-fair" value=${fairId} onChange=${set('fair')}>
          ${fairsOpen.map((x) => html`<option value=${x.id}>${x.name} (${t(x.status === 'open' ? 'fairOpen' : 'fairPublished')})</option>`)}
        </select>`}
      <label for="b-title">${l('boothTitle')}</label>
      <input id="b-title" maxlength="120" value=${f.title} onInput=${set('title')} />
      <label for="b-description">${l('boothDescription')}</label>
      <textarea id="b-description" rows="3" maxlength="2000" value=${f.description} onInput=${set('description')}></textarea>
      <fieldset>
        <legend>${l('featured')}</legend>
        ${products.length === 0 && html`<p>${l('noProducts')}</p>`}
        ${products.map((p) => html`<label class="check" key=${p.id}>
          <input type="checkbox" value=${p.id} checked=${picked.has(p.id)} onChange=${() => toggle(p.id)} /> ${p.name}</label>`)}
      </fieldset>
      <p class="error" role="alert">${error}</p>
      <div class="actions">
        <button type="submit">${booth ? l('save') : l('sendApplication')}</button>
        ${booth && html`<button type="button" class="secondary" onClick=${onCancel}>${l('cancelEdit')}</button>`}
      </div>
    </form>`;
}

// ---------------------------------------------------------------- products

const EMPTY_PRODUCT = {
  kind: 'single', name: '', unit: '', price: '', stock: '0', province: '', group: 'food', stars: '3', potential: false,
  description: '', story: '', images: '', certNumber: '', certBy: '', certAt: '', certUntil: '', components: {},
};

function formOf(p) {
  return {
    kind: p.kind, name: p.name, unit: p.unit, price: String(p.price), stock: String(p.stock), province: p.province,
    group: p.group, stars: String(p.stars), potential: p.potential_five_star, description: p.description, story: p.story,
    images: p.images.join('\n'), certNumber: p.certificate?.number ?? '', certBy: p.certificate?.issued_by ?? '',
    certAt: p.certificate?.issued_at ?? '', certUntil: p.certificate?.expires_at ?? '',
    components: Object.fromEntries((p.components ?? []).map((c) => [c.product_id, String(c.qty)])),
  };
}

function ProductsTab({ products, reload, say, sellerId }) {
  const [editing, setEditing] = useState(null);
  const [province, setProvince] = useState('');
  useEffect(() => {
    api('GET', `/api/sellers/${sellerId}`).then((r) => setProvince(r.body?.seller?.province ?? ''));
  }, [sellerId]);
  if (!products) return html`<p>${l('loading')}</p>`;
  return html`
    <section class="panel" aria-labelledby="products-title">
      <h2 id="products-title">${l('products')}</h2>
      ${products.length === 0 && html`<p>${l('noProducts')}</p>`}
      <ul class="cards">
        ${products.map((p) => html`<li class="card" key=${p.id} data-product=${p.id}>
          <h3>${p.name}</h3>
          <p>${vnd(p.price)} / ${p.unit} · ${'★'.repeat(p.stars)} · ${l(p.kind === 'combo' ? 'combo' : 'single')}</p>
          <p class="stock">${l('stockOf', p.stock)}</p>
          <p class=${p.certificate_expired ? 'warn' : ''}>${p.certificate ? (p.certificate_expired ? l('certExpired') : l('certOk', p.certificate.number)) : l('noCert')}</p>
          <div class="actions"><button type="button" class="secondary" onClick=${() => setEditing(p)}>${l('edit')}</button></div>
        </li>`)}
      </ul>
    </section>
    <${ProductForm} key=${editing?.id ?? 'new'} editing=${editing} products=${products} province=${province}
      onDone=${() => { setEditing(null); reload(); say(l('done')); }} onCancel=${() => setEditing(null)} />`;
}

function ProductForm({ editing, products, province, onDone, onCancel }) {
  const [f, setF] = useState(() => (editing ? formOf(editing) : { ...EMPTY_PRODUCT }));
  const [error, setError] = useState('');
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const combo = f.kind === 'combo';
  const singles = products.filter((p) => p.kind === 'single' && p.id !== editing?.id);
  const submit = async (e) => {
    e.preventDefault();
    const stars = Number(f.stars);
    const cert = f.certNumber || f.certBy || f.certAt || f.certUntil
      ? { number: f.certNumber, issued_by: f.certBy, issued_at: f.certAt, expires_at: f.certUntil } : undefined;
    const body = {
      name: f.name, unit: f.unit, price: Number(f.price), province: f.province || province, group: f.group, stars,
      potential_five_star: stars === 4 && f.potential, description: f.description, story: f.story,
      images: f.images.split('\n').map((x) => x.trim()).filter(Boolean),
      certificate: cert,
      components: combo ? Object.entries(f.components).filter(([, q]) => Number(q) > 0).map(([id, q]) => ({ product_id: id, qty: Number(q) })) : undefined,
    };
    if (!combo) body.stock = Number(f.stock);
    if (!editing) body.kind = f.kind;
    const r = editing ? await api('PATCH', `/api/products/${editing.id}`, body) : await api('POST', '/api/products', body);
    setError(r.ok ? '' : problem(r));
    if (r.ok) { setF({ ...EMPTY_PRODUCT }); onDone(); }
  };
  const text = (id, key, label, attrs = {}) => html`<label for=${id}>${label}</label>
    <input id=${id} value=${f[key]} onInput=${set(key)} ...${attrs} />`;
  return html`
    <form class="panel product-form" id="product-form" onSubmit=${submit}>
      <h2>${editing ? l('editProduct', editing.name) : l('newProduct')}</h2>
      ${!editing && html`<label for="p-kind">${l('kind')}</label>
        <select id="p-kind" value=${f.kind} onChange=${set('kind')}>
          <option value="single">${l('single')}</option><option value="combo">${l('combo')}</option>
        </select>`}
      ${text('p-name', 'name', l('name'), { required: true, maxlength: 120 })}
      ${text('p-unit', 'unit', l('unit'), { required: true, maxlength: 30 })}
      <div class="grid2">
        <div>${text('p-price', 'price', l('listPrice'), { required: true, type: 'number', min: 1, max: 1000000000, inputmode: 'numeric' })}</div>
        ${!combo && html`<div>${text('p-stock', 'stock', l('stock'), { required: true, type: 'number', min: 0, max: 1000000, inputmode: 'numeric' })}</div>`}
      </div>
      ${text('p-province', 'province', l('province'), { maxlength: 60, placeholder: province })}
      <div class="grid2">
        <div><label for="p-group">${l('group')}</label>
          <select id="p-group" value=${f.group} onChange=${set('group')}>${GROUPS.map((g) => html`<option value=${g}>${l(`g_${g}`)}</option>`)}</select></div>
        <div><label for="p-stars">${l('stars')}</label>
          <select id="p-stars" value=${f.stars} onChange=${set('stars')}>${['3', '4', '5'].map((s) => html`<option value=${s}>${s} ★</option>`)}</select></div>
      </div>
      ${f.stars === '4' && html`<label class="check"><input type="checkbox" id="p-potential" checked=${f.potential} onChange=${set('potential')} /> ${l('potential')}</label>`}
      <label for="p-description">${l('description')}</label>
      <textarea id="p-description" rows="2" maxlength="500" value=${f.description} onInput=${set('description')}></textarea>
      <label for="p-story">${l('story')}</label>
      <textarea id="p-story" rows="4" maxlength="2000" value=${f.story} onInput=${set('story')}></textarea>
      <label for="p-images">${l('images')}</label>
      <textarea id="p-images" rows="2" value=${f.images} onInput=${set('images')} inputmode="url"></textarea>
      <fieldset>
        <legend>${l('cert')}</legend>
        ${text('p-cert-number', 'certNumber', l('certNumber'), { maxlength: 64 })}
        ${text('p-cert-by', 'certBy', l('certBy'), { maxlength: 120 })}
        <div class="grid2">
          <div>${text('p-cert-at', 'certAt', l('certAt'), { type: 'date' })}</div>
          <div>${text('p-cert-until', 'certUntil', l('certUntil'), { type: 'date' })}</div>
        </div>
      </fieldset>
      ${combo && html`<fieldset>
        <legend>${l('components')}</legend>
        ${singles.map((p) => html`<div class="component" key=${p.id}>
          <label for=${`c-${p.id}`}>${p.name}</label>
          <input id=${`c-${p.id}`} type="number" min="0" max="100" inputmode="numeric" value=${f.components[p.id] ?? '0'}
            onInput=${(e) => setF({ ...f, components: { ...f.components, [p.id]: e.target.value } })} />
        </div>`)}
      </fieldset>`}
      <p class="error" role="alert">${error}</p>
      <div class="actions">
        <button type="submit">${l('save')}</button>
        ${editing && html`<button type="button" class="secondary" onClick=${onCancel}>${l('cancelEdit')}</button>`}
      </div>
    </form>`;
}

// ---------------------------------------------------------------- orders

function OrdersTab({ orders, putOrder, say }) {
  const [filter, setFilter] = useState('all');
  const all = [...orders.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  const shown = all.filter((o) => filter === 'all' || (filter === 'waiting' ? o.needs_address : o.status === filter));
  const act = async (o, what) => {
    const r = await api('POST', `/api/seller/orders/${o.id}/${what}`, {});
    if (r.ok) putOrder(r.body.order);
    say(r.ok ? l('done') : problem(r));
  };
  const csv = async () => {
    const r = await download('/api/seller/orders?format=csv&limit=1000', 'don-hang.csv');
    if (!r.ok) say(t('tryAgain'));
  };
  return html`
    <section class="panel" aria-labelledby="orders-title">
      <h2 id="orders-title">${l('orders')}</h2>
      <div class="grid2">
        <div><label for="order-filter">${l('filter')}</label>
          <select id="order-filter" value=${filter} onChange=${(e) => setFilter(e.target.value)}>
            <option value="all">${l('all')}</option>
            ${['placed', 'confirmed', 'shipped', 'cancelled'].map((s) => html`<option value=${s}>${l(`st_${s}`)}</option>`)}
            <option value="waiting">${l('waiting')}</option>
          </select></div>
        <div><button type="button" class="secondary" onClick=${csv}>${l('csv')}</button></div>
      </div>
      <ol class="orders" aria-live="polite">
        ${shown.length === 0 && html`<li>${l('noOrders')}</li>`}
        ${shown.map((o) => html`<${OrderRow} key=${o.id} o=${o} act=${act} />`)}
      </ol>
    </section>`;
}

function OrderRow({ o, act }) {
  const item = o.items[0];
  const who = o.delivery ? [o.delivery.name, o.delivery.phone, o.delivery.address].filter(Boolean).join(' · ') : '';
  return html`<li class=${`order status-${o.status}`} data-id=${o.id}>
    <p class="what">${item.name} × ${item.qty} · ${vnd(o.total)}</p>
    <p class="state">${l(`st_${o.status}`)}${o.needs_address ? ` (${l('waiting')})` : ''}</p>
    <p>${who}</p>
    <p class="when">${vnTime(o.created_at)} · ${l(`src_${o.source}`)}</p>
    <div class="actions">
      ${o.status === 'placed' && !o.needs_address && html`<button type="button" onClick=${() => act(o, 'confirm')}>${l('confirm')}</button>`}
      ${o.status === 'confirmed' && html`<button type="button" onClick=${() => act(o, 'ship')}>${l('ship')}</button>`}
      ${(o.status === 'placed' || o.status === 'confirmed') && html`<button type="button" class="secondary" onClick=${() => act(o, 'cancel')}>${l('cancel')}</button>`}
    </div>
  </li>`;
}

// ---------------------------------------------------------------- profile

function ProfileTab({ sellerId, say }) {
  const [f, setF] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api('GET', `/api/sellers/${sellerId}`).then((r) => {
      const s = r.body?.seller ?? {};
      setF({ display_name: s.display_name ?? session().user.name, kind: s.kind ?? 'household', province: s.province ?? '',
        commune: s.commune ?? '', intro: s.intro ?? '', phone: s.phone ?? '' });
    });
  }, [sellerId]);
  if (!f) return html`<p>${l('loading')}</p>`;
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const body = { ...f };
    for (const k of ['province', 'commune', 'intro', 'phone']) if (!body[k]) delete body[k];
    const r = await api('PUT', '/api/seller/profile', body);
    setError(r.ok ? '' : problem(r));
    if (r.ok) say(l('done'));
  };
  const text = (id, key, label, attrs = {}) => html`<label for=${id}>${label}</label><input id=${id} value=${f[key]} onInput=${set(key)} ...${attrs} />`;
  return html`
    <form class="panel" id="profile-form" onSubmit=${submit}>
      <h2>${l('profile')}</h2>
      ${text('s-name', 'display_name', l('displayName'), { required: true, maxlength: 120 })}
      <label for="s-kind">${l('sellerKind')}</label>
      <select id="s-kind" value=${f.kind} onChange=${set('kind')}>
        ${['cooperative', 'household', 'enterprise'].map((k) => html`<option value=${k}>${l(`k_${k}`)}</option>`)}
      </select>
      ${text('s-province', 'province', l('province'), { maxlength: 60 })}
      ${text('s-commune', 'commune', l('commune'), { maxlength: 80 })}
      ${text('s-phone', 'phone', l('phone'), { type: 'tel', inputmode: 'tel', autocomplete: 'tel' })}
      <label for="s-intro">${l('intro')}</label>
      <textarea id="s-intro" rows="3" maxlength="500" value=${f.intro} onInput=${set('intro')}></textarea>
      <p class="error" role="alert">${error}</p>
      <button type="submit">${l('save')}</button>
    </form>`;
}
