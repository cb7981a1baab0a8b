// The organiser console: the organiser's fairs (create, edit, publish, close), and for one fair
// the control room: live figures (read again every few seconds) with two small charts over the
// fair's minute-by-minute series, the split by booth, province, OCOP group and stars, the
// announcement, booths by status (approve, reject, add one for a seller), the stage agenda with
// the kill switch for a live show, moderation of the booths' Q&A chats, and the report: its CSV,
// the quote requests' CSV and their list. Written with Preact and htm like the seller console:
// everything people typed is put in as text, and the charts are SVG elements, never markup.

import { OcopLive, OcopError } from './ocop-live.js';
import { html, render, useState, useEffect, useRef, useCallback } from './h.js';
import { t, vnd, vnTime, vnDate, fairWhen, fromVietnamLocal, toVietnamLocal, session, api, download, lang } from './ui.js';

const TEXT = {
  vi: {
    title: 'Bàn điều khiển ban tổ chức', signIn: 'Đăng nhập tài khoản ban tổ chức để mở bàn điều khiển.',
    myFairs: 'Hội chợ của tôi', noFairs: 'Bạn chưa tạo hội chợ nào.', newFair: 'Tạo hội chợ', editFair: (x) => `Sửa: ${x}`,
    name: 'Tên hội chợ', description: 'Giới thiệu', province: 'Tỉnh, thành (không bắt buộc)', theme: 'Chủ đề (không bắt buộc)',
    opens: 'Mở cửa lúc (giờ Việt Nam)', closes: 'Đóng cửa lúc (giờ Việt Nam)', timesLocked: 'Giờ mở và đóng cửa chỉ đổi được trước khi hội chợ mở.',
    create: 'Tạo bản nháp', save: 'Lưu', cancel: 'Thôi', edit: 'Sửa', manage: 'Điều hành', publish: 'Công bố',
    close: 'Đóng hội chợ', closeSure: 'Đóng hội chợ ngay? Gian hàng và lịch live sẽ dừng.', closeYes: 'Đóng ngay',
    done: 'Xong.', loading: 'Đang tải…', openLobby: 'Mở sảnh hội chợ', back: 'Về danh sách hội chợ',
    room: 'Phòng điều hành', figures: 'Số liệu trực tiếp', visitors: 'Người đang tham quan', showsLive: 'Phiên đang live',
    boothsApproved: 'Gian hàng đã duyệt',
    peak: 'Cao nhất cùng lúc', unique: 'Lượt khách (không trùng)', orders: 'Đơn hàng', revenue: 'Doanh thu', units: 'Sản phẩm đã bán',
    inquiries: 'Yêu cầu báo giá', boothsWaiting: (p) => ` · ${p} chờ duyệt`, updatedAt: (x) => `Cập nhật lúc ${x}, tự làm mới mỗi 10 giây.`, finalAt: (x) => `Hội chợ đã đóng; số liệu đọc lúc ${x}.`,
    statsError: (x) => `Chưa đọc được số liệu: ${x}`, viewersByShow: 'Người xem từng phiên đang live', viewers: (n) => `${n} người xem`,
    trends: 'Diễn biến theo thời gian', visitorsChart: 'Người tham quan', revenueChart: 'Doanh thu cộng dồn (đồng)',
    chartDesc: (name, a, b, lo, hi, last) => `${name} từ ${a} đến ${b}: thấp nhất ${lo}, cao nhất ${hi}, lúc cuối ${last}.`,
    chartOne: (name, a, v) => `${name} lúc ${a}: ${v}. Số liệu được lấy mẫu mỗi phút khi hội chợ mở cửa.`,
    chartNone: 'Chưa có số liệu theo thời gian: được lấy mẫu mỗi phút khi hội chợ mở cửa.', chartTable: 'Xem bảng số liệu',
    time: 'Thời điểm', breakdown: 'Doanh số và lượt khách theo gian hàng, tỉnh, nhóm, hạng sao', byBooth: 'Theo gian hàng',
    byProvince: 'Theo tỉnh, thành', byGroup: 'Theo nhóm sản phẩm OCOP', byStars: 'Theo hạng sao', booth: 'Gian hàng',
    provinceCol: 'Tỉnh, thành', groupCol: 'Nhóm', starsCol: 'Hạng sao', showsCol: 'Phiên', visitorsCol: 'Khách', timeCol: 'Thời gian xem',
    noSales: 'Chưa có đơn hàng.', stars: (n) => `${n} sao`, mins: (m) => `${m} phút`,
    colOrders: 'Đơn', colUnits: 'SL', colInquiries: 'Báo giá', colTime: 'Thời gian',
    report: 'Báo cáo hội chợ', reportCsv: 'Tải báo cáo (CSV, mỗi gian hàng một dòng)', inquiriesCsv: 'Tải yêu cầu báo giá (CSV)',
    downloaded: (x) => `Đã tải ${x}.`, inquiryList: 'Yêu cầu báo giá của hội chợ', noInquiries: 'Chưa có yêu cầu báo giá nào.',
    iqLine: (b, s) => `${b} → ${s}`, iqAsked: (q, u) => `${q} ${u}`, iqQuote: (p, u) => `báo giá ${p} / ${u}`, iqBy: (d) => `giao trước ${d}`,
    showAll: (n) => `Xem tất cả (${n})`,
    announcement: 'Thông báo trên sảnh', annText: 'Nội dung thông báo (tối đa 500 ký tự)', announce: 'Đăng thông báo', unannounce: 'Gỡ thông báo', current: (x) => `Đang hiện: ${x}`, none: 'Chưa có thông báo.',
    booths: 'Gian hàng', refresh: 'Tải lại', st_pending: 'Chờ duyệt', st_approved: 'Đã duyệt', st_rejected: 'Đã từ chối',
    approve: 'Duyệt', reject: 'Từ chối', noBooths: 'Không có.', addBooth: 'Thêm gian hàng cho người bán', sellerId: 'Mã người bán (seller id)',
    boothTitle: 'Tên gian hàng (không bắt buộc)', add: 'Thêm và duyệt',
    agenda: 'Lịch sân khấu', noAgenda: 'Chưa có phiên nào trên lịch.', live: 'Đang live', upcoming: 'Sắp diễn ra', ended: 'Đã kết thúc',
    kill: 'Dừng phiên live', reason: 'Lý do (người xem sẽ thấy)', killSure: 'Dừng ngay', killed: (x) => `Đã dừng phiên “${x}”.`,
    watch: 'Xem', moderation: 'Kiểm duyệt hỏi đáp gian hàng', pickBooth: 'Gian hàng', noChat: 'Chưa có câu hỏi.', delete: 'Xóa',
    mute: 'Khóa chat 10 phút', noApproved: 'Chưa có gian hàng nào được duyệt.',
    fs_draft: 'Bản nháp', fs_published: 'Đã công bố', fs_open: 'Đang mở cửa', fs_closed: 'Đã đóng',
  },
  en: {
    title: 'Organiser console', signIn: 'Sign in with an organiser account to open the console.',
    myFairs: 'My fairs', noFairs: 'You have not created a fair yet.', newFair: 'New fair', editFair: (x) => `Edit: ${x}`,
    name: 'Name', description: 'About the fair', province: 'Province (optional)', theme: 'Theme (optional)',
    opens: 'Opens at (Vietnam time)', closes: 'Closes at (Vietnam time)', timesLocked: 'The opening hours change only before the fair opens.',
    create: 'Create a draft', save: 'Save', cancel: 'Cancel', edit: 'Edit', manage: 'Run it', publish: 'Publish',
    close: 'Close the fair', closeSure: 'Close the fair now? Booths and shows stop.', closeYes: 'Close now',
    done: 'Done.', loading: 'Loading…', openLobby: 'Open the lobby', back: 'Back to my fairs',
    room: 'Control room', figures: 'Live figures', visitors: 'Visiting now', showsLive: 'Shows live',
    boothsApproved: 'Booths approved',
    peak: 'Most at once', unique: 'Visitors (distinct)', orders: 'Orders', revenue: 'Revenue', units: 'Units sold',
    inquiries: 'Quote requests', boothsWaiting: (p) => ` · ${p} waiting`, updatedAt: (x) => `Updated at ${x}, refreshed every 10 seconds.`, finalAt: (x) => `The fair has closed; figures read at ${x}.`,
    statsError: (x) => `The figures could not be read: ${x}`, viewersByShow: 'Viewers of each live show', viewers: (n) => `${n} watching`,
    trends: 'Over time', visitorsChart: 'Visitors', revenueChart: 'Revenue so far (VND)',
    chartDesc: (name, a, b, lo, hi, last) => `${name} from ${a} to ${b}: lowest ${lo}, highest ${hi}, last ${last}.`,
    chartOne: (name, a, v) => `${name} at ${a}: ${v}. Figures are sampled once a minute while the fair is open.`,
    chartNone: 'No figures over time yet: they are sampled once a minute while the fair is open.', chartTable: 'Show the figures as a table',
    time: 'Time', breakdown: 'Sales and visits by booth, province, group and stars', byBooth: 'By booth',
    byProvince: 'By province', byGroup: 'By OCOP group', byStars: 'By stars', booth: 'Booth',
    provinceCol: 'Province', groupCol: 'Group', starsCol: 'Stars', showsCol: 'Shows', visitorsCol: 'Visitors', timeCol: 'Time spent',
    noSales: 'No order yet.', stars: (n) => `${n} stars`, mins: (m) => `${m} min`,
    colOrders: 'Orders', colUnits: 'Units', colInquiries: 'Quotes', colTime: 'Time',
    report: 'Fair report', reportCsv: 'Download the report (CSV, a row per booth)', inquiriesCsv: 'Download the quote requests (CSV)',
    downloaded: (x) => `Downloaded ${x}.`, inquiryList: 'The fair’s quote requests', noInquiries: 'No quote request yet.',
    iqLine: (b, s) => `${b} → ${s}`, iqAsked: (q, u) => `${q} ${u}`, iqQuote: (p, u) => `quoted ${p} / ${u}`, iqBy: (d) => `needed by ${d}`,
    showAll: (n) => `Show all (${n})`,
    announcement: 'Lobby announcement', annText: 'Text (at most 500 characters)', announce: 'Post it', unannounce: 'Remove it', current: (x) => `Showing: ${x}`, none: 'No announcement.',
    booths: 'Booths', refresh: 'Reload', st_pending: 'Waiting', st_approved: 'Approved', st_rejected: 'Rejected',
    approve: 'Approve', reject: 'Reject', noBooths: 'None.', addBooth: 'Add a booth for a seller', sellerId: 'Seller id',
    boothTitle: 'Booth name (optional)', add: 'Add and approve',
    agenda: 'Stage agenda', noAgenda: 'No show on the agenda yet.', live: 'Live', upcoming: 'Coming up', ended: 'Ended',
    kill: 'Stop this show', reason: 'Reason (viewers see it)', killSure: 'Stop it now', killed: (x) => `Stopped “${x}”.`,
    watch: 'Watch', moderation: 'Booth Q&A moderation', pickBooth: 'Booth', noChat: 'No question yet.', delete: 'Delete',
    mute: 'Mute 10 min', noApproved: 'No booth approved yet.',
    fs_draft: 'Draft', fs_published: 'Published', fs_open: 'Open', fs_closed: 'Closed',
  },
};
const l = (key, ...args) => {
  const v = TEXT[lang][key] ?? TEXT.vi[key] ?? key;
  return typeof v === 'function' ? v(...args) : v;
};

const STATUSES = ['draft', 'published', 'open', 'closed'];
const BOOTH_STATUSES = ['pending', 'approved', 'rejected'];
const MAX_CHAT = 200;
/** Applications raise no event for the organiser, so the booth list is read again this often. */
const BOOTH_POLL_MS = 20000;
/** How often the control room reads the figures again (while the page is in sight). */
const STATS_POLL_MS = 10000;
/** Points a chart draws at most: a phone's width has no room for more, and the SVG stays small. */
const CHART_POINTS = 240;
/** Rows a chart's table fallback shows at most (evenly spread over the series). */
const TABLE_ROWS = 24;
/** Quote requests listed before "show all". */
const INQUIRIES_SHOWN = 20;
const GROUPS = ['food', 'drinks', 'herbal', 'handicraft', 'ornamental', 'tourism'];

/** What a refused request says, field by field when the server named the fields. */
function problem(r) {
  const b = r.body;
  if (b && b.errors) return Object.entries(b.errors).map(([k, v]) => `${k}: ${v}`).join('; ');
  return (b && (b.detail || b.title)) || t('tryAgain');
}

const refusal = (e) => (e instanceof OcopError ? e.message : t('tryAgain'));

export function organiserPage(root) {
  document.title = `${l('title')} · ${t('brand')}`;
  root.replaceChildren();
  render(html`<${Console} />`, root);
}

function Console() {
  const me = session();
  if (!me.user || (me.user.role !== 'organiser' && me.user.role !== 'admin')) {
    return html`<h1>${l('title')}</h1>
      <p class="notice">${l('signIn')} <a href=${`/login?next=${encodeURIComponent('/organiser')}`}>${t('signIn')}</a></p>`;
  }
  return html`<${SignedIn} me=${me.user} />`;
}

function SignedIn({ me }) {
  const [fairs, setFairs] = useState(null);
  const [selected, setSelected] = useState(() => location.hash.match(/^#fair=([0-9a-f-]{36})$/)?.[1] ?? null);
  const [editing, setEditing] = useState(null);
  const [message, setMessage] = useState('');
  const client = useRef(null);
  if (!client.current) {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    client.current = new OcopLive({ url, token: () => session().token });
  }

  const load = useCallback(async () => {
    // Drafts are the organiser's own; the other lists hold every organiser's fairs.
    const lists = await Promise.all(STATUSES.map((s) => api('GET', `/api/fairs?status=${s}`)));
    const mine = lists.flatMap((r) => r.body?.items ?? []).filter((f) => me.role === 'admin' || f.organiser_id === me.id);
    setFairs(new Map(mine.map((f) => [f.id, f])));
  }, [me.id]);

  useEffect(() => {
    client.current.connect().catch(() => {});
    load();
    return () => client.current.close();
  }, []);

  const choose = (id) => {
    setSelected(id);
    history.replaceState(null, '', id ? `#fair=${id}` : location.pathname);
    window.scrollTo(0, 0);
  };
  const act = async (fair, what) => {
    const r = await api('POST', `/api/fairs/${fair.id}/${what}`);
    setMessage(r.ok ? l('done') : problem(r));
    if (r.ok) setFairs((m) => new Map(m).set(fair.id, r.body.fair));
  };
  const putFair = useCallback((f) => setFairs((m) => (m && m.has(f.id) ? new Map(m).set(f.id, { ...m.get(f.id), ...f }) : m)), []);

  if (!fairs) return html`<h1>${l('title')}</h1><p>${l('loading')}</p>`;
  const fair = selected && fairs.get(selected);
  return html`
    <h1>${l('title')}</h1>
    <p class="result" role="status" aria-live="polite">${message}</p>
    ${fair ? html`<${FairDesk} key=${fair.id} fair=${fair} client=${client.current} say=${setMessage} putFair=${putFair}
        onBack=${() => choose(null)} act=${act} />`
      : html`
      <section class="panel" aria-labelledby="fairs-title">
        <h2 id="fairs-title">${l('myFairs')}</h2>
        ${fairs.size === 0 && html`<p>${l('noFairs')}</p>`}
        <ul class="cards">
          ${[...fairs.values()].sort((a, b) => (a.opens_at < b.opens_at ? 1 : -1)).map((f) => html`
            <${FairCard} key=${f.id} fair=${f} act=${act} onManage=${() => choose(f.id)} onEdit=${() => setEditing(f)} />`)}
        </ul>
      </section>
      <${FairForm} key=${editing?.id ?? 'new'} editing=${editing}
        onDone=${(f) => { setEditing(null); setMessage(l('done')); setFairs((m) => new Map(m).set(f.id, f)); }}
        onCancel=${() => setEditing(null)} />`}`;
}

function FairCard({ fair, act, onManage, onEdit }) {
  const [closing, setClosing] = useState(false);
  return html`<li class="card" data-fair=${fair.id}>
    <span class=${fair.status === 'open' ? 'badge open' : 'badge soon'}>${l(`fs_${fair.status}`)}</span>
    <h3>${fair.name}</h3>
    <p>${fairWhen(fair)}</p>
    ${(fair.province || fair.theme) && html`<p>${[fair.province, fair.theme].filter(Boolean).join(' · ')}</p>`}
    <div class="actions">
      <button type="button" onClick=${onManage}>${l('manage')}</button>
      ${fair.status === 'draft' && html`<button type="button" class="secondary" onClick=${() => act(fair, 'publish')}>${l('publish')}</button>`}
      ${fair.status !== 'closed' && html`<button type="button" class="secondary" onClick=${onEdit}>${l('edit')}</button>`}
      ${(fair.status === 'published' || fair.status === 'open') && !closing
        && html`<button type="button" class="secondary" onClick=${() => setClosing(true)}>${l('close')}</button>`}
    </div>
    ${closing && html`<div class="confirm" role="group" aria-label=${l('close')}>
      <p>${l('closeSure')}</p>
      <div class="actions">
        <button type="button" class="danger" onClick=${() => { setClosing(false); act(fair, 'close'); }}>${l('closeYes')}</button>
        <button type="button" class="secondary" onClick=${() => setClosing(false)}>${l('cancel')}</button>
      </div>
    </div>`}
  </li>`;
}

function FairForm({ editing, onDone, onCancel }) {
  const blank = { name: '', description: '', province: '', theme: '', opens: '', closes: '' };
  const [f, setF] = useState(() => (editing ? {
    name: editing.name, description: editing.description ?? '', province: editing.province ?? '', theme: editing.theme ?? '',
    opens: toVietnamLocal(editing.opens_at), closes: toVietnamLocal(editing.closes_at),
  } : blank));
  const [error, setError] = useState('');
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const timesLocked = editing && (editing.status === 'open' || editing.status === 'closed');
  const submit = async (e) => {
    e.preventDefault();
    let r;
    if (editing) {
      // Only what changed: the times are refused once the fair has opened.
      const body = {};
      for (const k of ['name', 'description', 'province', 'theme']) if (f[k] !== (editing[k] ?? '')) body[k] = f[k];
      if (!timesLocked && f.opens !== toVietnamLocal(editing.opens_at)) body.opens_at = fromVietnamLocal(f.opens);
      if (!timesLocked && f.closes !== toVietnamLocal(editing.closes_at)) body.closes_at = fromVietnamLocal(f.closes);
      r = await api('PATCH', `/api/fairs/${editing.id}`, body);
    } else {
      const body = { name: f.name, opens_at: fromVietnamLocal(f.opens), closes_at: fromVietnamLocal(f.closes) };
      for (const k of ['description', 'province', 'theme']) if (f[k]) body[k] = f[k];
      r = await api('POST', '/api/fairs', body);
    }
    setError(r.ok ? '' : problem(r));
    if (r.ok) {
      setF(blank);
      onDone(r.body.fair);
    }
  };
  const text = (id, key, label, attrs = {}) => html`<label for=${id}>${label}</label>
    <input id=${id} value=${f[key]} onInput=${set(key)} ...${attrs} />`;
  return html`
    <form class="panel" id="fair-form" onSubmit=${submit} aria-labelledby="fair-form-title">
      <h2 id="fair-form-title">${editing ? l('editFair', editing.name) : l('newFair')}</h2>
      ${text('fa-name', 'name', l('name'), { required: true, maxlength: 120 })}
      <label for="fa-description">${l('description')}</label>
      <textarea id="fa-description" rows="3" maxlength="2000" value=${f.description} onInput=${set('description')}></textarea>
      <div class="grid2">
        <div>${text('fa-province', 'province', l('province'), { maxlength: 60 })}</div>
        <div>${text('fa-theme', 'theme', l('theme'), { maxlength: 120 })}</div>
      </div>
      ${text('fa-opens', 'opens', l('opens'), { type: 'datetime-local', required: true, disabled: timesLocked })}
      ${text('fa-closes', 'closes', l('closes'), { type: 'datetime-local', required: true, disabled: timesLocked })}
      ${timesLocked && html`<p class="hint">${l('timesLocked')}</p>`}
      <p class="error" role="alert">${error}</p>
      <div class="actions">
        <button type="submit">${editing ? l('save') : l('create')}</button>
        ${editing && html`<button type="button" class="secondary" onClick=${onCancel}>${l('cancel')}</button>`}
      </div>
    </form>`;
}

/** One fair's control room, live from `fair:<id>`. */
function FairDesk({ fair: initial, client, say, putFair, onBack, act }) {
  const id = initial.id;
  const [lobby, setLobby] = useState({ fair: initial, live: [], upcoming: [], ended: [], visitors: 0, announcement: null });
  const [booths, setBooths] = useState(null);
  const [text, setText] = useState('');
  const fair = lobby.fair;
  const { stats, statsError } = useStats(id, fair.status !== 'closed');

  const loadBooths = useCallback(async () => {
    const r = await api('GET', `/api/fairs/${id}/booths`);
    if (r.ok) setBooths(r.body.items);
  }, [id]);

  useEffect(() => {
    // Shows that ended before the console opened come from the fair's agenda.
    api('GET', `/api/fairs/${id}`).then((r) => {
      if (r.ok) setLobby((x) => ({ ...x, ended: r.body.agenda.filter((s) => s.status === 'ended') }));
    });
    loadBooths();
    const timer = setInterval(loadBooths, BOOTH_POLL_MS);
    // A seller's application is told to the organiser at once.
    const notices = client.subscribe(`user:${session().user.id}`, {
      onEvent(ev) {
        if (ev.ev === 'notify' && ev.data.kind === 'booth.applied' && ev.data.booth?.fair_id === id) loadBooths();
      },
    });
    const sub = client.subscribe(`fair:${id}`, {
      onSnapshot(snap) {
        setLobby((x) => ({ ...x, fair: snap.fair, live: snap.live, upcoming: snap.upcoming, visitors: snap.visitors, announcement: snap.announcement }));
        putFair(snap.fair);
      },
      onEvent(ev) {
        const d = ev.data;
        if (ev.ev === 'fair') putFair(d.fair);
        if (ev.ev === 'booth') loadBooths();
        setLobby((x) => {
          const without = (list, showId) => list.filter((s) => s.id !== showId);
          switch (ev.ev) {
            case 'fair': return { ...x, fair: d.fair };
            case 'show.live': return { ...x, upcoming: without(x.upcoming, d.show.id), live: [...without(x.live, d.show.id), d.show] };
            case 'show.ended': {
              const gone = [...x.live, ...x.upcoming].find((s) => s.id === d.show_id);
              return { ...x, live: without(x.live, d.show_id), upcoming: without(x.upcoming, d.show_id),
                ended: gone ? [...without(x.ended, d.show_id), { ...gone, status: 'ended' }] : x.ended };
            }
            case 'agenda': return { ...x, upcoming: [...without(x.upcoming, d.show.id), d.show] };
            case 'announcement': return { ...x, announcement: d.text };
            case 'visitors': return { ...x, visitors: d.count };
            default: return x;
          }
        });
      },
      onError(err) { say(refusal(err)); },
    });
    return () => { clearInterval(timer); sub.unsubscribe?.(); notices.unsubscribe?.(); };
  }, [id]);

  const decide = async (booth, what) => {
    const r = await api('POST', `/api/booths/${booth.id}/${what}`);
    say(r.ok ? l('done') : problem(r));
    loadBooths();
  };
  const announce = async (value) => {
    const r = await api('POST', `/api/fairs/${id}/announcements`, { text: value });
    say(r.ok ? l('done') : problem(r));
    if (r.ok) setText('');
  };
  const sellers = new Map((booths ?? []).map((b) => [b.seller_id, b.seller_name]));
  const byStatus = (s) => (booths ?? []).filter((b) => b.status === s);
  const approved = byStatus('approved');
  const sortAt = (list) => [...list].sort((a, b) => String(a.scheduled_at ?? a.started_at ?? '').localeCompare(String(b.scheduled_at ?? b.started_at ?? '')));

  return html`
    <p><button type="button" class="secondary" onClick=${onBack}>← ${l('back')}</button></p>
    <section class="panel desk" aria-labelledby="desk-title">
      <span class=${fair.status === 'open' ? 'badge open' : 'badge soon'}>${l(`fs_${fair.status}`)}</span>
      <h2 id="desk-title">${l('room')}: ${fair.name}</h2>
      <p>${fairWhen(fair)}</p>
      <div class="actions">
        <a class="button secondary" href=${`/fairs/${id}`}>${l('openLobby')}</a>
        ${fair.status === 'draft' && html`<button type="button" onClick=${() => act(fair, 'publish')}>${l('publish')}</button>`}
      </div>
      <h3>${l('figures')}</h3>
      <${Figures} stats=${stats} lobby=${lobby} approved=${approved.length} pending=${byStatus('pending').length} />
      <p class="error" role="alert">${statsError && l('statsError', statsError)}</p>
      <p class="hint" id="stats-at">${stats ? l(fair.status === 'closed' ? 'finalAt' : 'updatedAt', clock(stats.at)) : !statsError && l('loading')}</p>
      ${stats && stats.viewers_by_show.length > 0 && html`<h3>${l('viewersByShow')}</h3>
        <ul class="plain viewers-by-show">${[...stats.viewers_by_show].sort((a, b) => b.viewers - a.viewers).map((v) => html`<li key=${v.show_id} data-show=${v.show_id}>
          <a href=${`/shows/${v.show_id}`}>${v.title}</a> · <strong>${l('viewers', num(v.viewers))}</strong></li>`)}</ul>`}
      ${stats && html`<${Trends} stats=${stats} />`}
    </section>

    ${stats && html`<${Breakdowns} stats=${stats} />`}

    <section class="panel" aria-labelledby="agenda-title">
      <h2 id="agenda-title">${l('agenda')}</h2>
      ${lobby.live.length + lobby.upcoming.length + lobby.ended.length === 0 && html`<p>${l('noAgenda')}</p>`}
      ${lobby.live.length > 0 && html`<h3>${l('live')}</h3>
        <ul class="plain agenda-live">${sortAt(lobby.live).map((s) => html`<${LiveShow} key=${s.id} show=${s} seller=${sellers.get(s.seller_id)} say=${say} />`)}</ul>`}
      ${lobby.upcoming.length > 0 && html`<h3>${l('upcoming')}</h3>
        <ul class="plain">${sortAt(lobby.upcoming).map((s) => html`<li key=${s.id} data-show=${s.id}>
          <strong>${vnTime(s.scheduled_at)}</strong> · <a href=${`/shows/${s.id}`}>${s.title}</a>${sellers.get(s.seller_id) ? ` · ${sellers.get(s.seller_id)}` : ''}</li>`)}</ul>`}
      ${lobby.ended.length > 0 && html`<h3>${l('ended')}</h3>
        <ul class="plain">${sortAt(lobby.ended).map((s) => html`<li key=${s.id} data-show=${s.id}>${s.title}${sellers.get(s.seller_id) ? ` · ${sellers.get(s.seller_id)}` : ''}</li>`)}</ul>`}
    </section>

    <section class="panel" aria-labelledby="ann-title">
      <h2 id="ann-title">${l('announcement')}</h2>
      <p class=${lobby.announcement ? 'announcement' : 'empty'}>${lobby.announcement ? l('current', lobby.announcement) : l('none')}</p>
      <form class="announce" onSubmit=${(e) => { e.preventDefault(); announce(text); }}>
        <label for="fair-announcement">${l('annText')}</label>
        <input id="fair-announcement" required maxlength="500" value=${text} onInput=${(e) => setText(e.target.value)} />
        <div class="actions">
          <button type="submit">${l('announce')}</button>
          ${lobby.announcement && html`<button type="button" class="secondary" onClick=${() => announce('')}>${l('unannounce')}</button>`}
        </div>
      </form>
    </section>

    <section class="panel" aria-labelledby="booths-title">
      <h2 id="booths-title">${l('booths')}</h2>
      <button type="button" class="secondary small" onClick=${loadBooths}>${l('refresh')}</button>
      ${!booths && html`<p>${l('loading')}</p>`}
      ${booths && BOOTH_STATUSES.map((st) => html`<div key=${st} class="booth-group" data-status=${st}>
        <h3>${l(`st_${st}`)} (${byStatus(st).length})</h3>
        ${byStatus(st).length === 0 ? html`<p class="empty">${l('noBooths')}</p>` : html`<ul class="plain">
          ${byStatus(st).map((b) => html`<li key=${b.id} data-booth=${b.id}>
            <a href=${`/booths/${b.id}`}><strong>${b.title}</strong></a> · ${b.seller_name} · ${b.province}
            <div class="actions">
              ${st !== 'approved' && html`<button type="button" class="small" onClick=${() => decide(b, 'approve')}>${l('approve')}<span class="sr">: ${b.title}</span></button>`}
              ${st !== 'rejected' && html`<button type="button" class="secondary small" onClick=${() => decide(b, 'reject')}>${l('reject')}<span class="sr">: ${b.title}</span></button>`}
            </div>
          </li>`)}</ul>`}
      </div>`)}
      <${AddBooth} fairId=${id} say=${say} onDone=${loadBooths} />
    </section>

    <section class="panel" aria-labelledby="mod-title">
      <h2 id="mod-title">${l('moderation')}</h2>
      ${approved.length === 0 ? html`<p>${l('noApproved')}</p>` : html`<${Moderation} booths=${approved} client=${client} say=${say} />`}
    </section>

    <${Report} fair=${fair} count=${stats?.inquiries} />`;
}

/** `n` as Vietnam writes numbers: 1.200. */
const num = (n) => Number(n).toLocaleString('vi-VN');
const clockFormat = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
/** The time of day in Vietnam, to the second: 14:05:09. */
const clock = (iso) => clockFormat.format(new Date(iso));
const shortClock = (iso) => clock(iso).slice(0, 5);

/**
 * The fair's figures, read now and, while the fair is `live` (not closed), every STATS_POLL_MS
 * while the page is in sight (a hidden tab on a phone costs no data), and at once when it comes
 * back into sight.
 */
function useStats(id, live) {
  const [stats, setStats] = useState(null);
  const [statsError, setError] = useState('');
  useEffect(() => {
    let stopped = false;
    const read = async () => {
      if (document.hidden) return;
      const r = await api('GET', `/api/fairs/${id}/stats`);
      if (stopped) return;
      if (r.ok) { setStats(r.body); setError(''); } else setError(problem(r));
    };
    read();
    if (!live) return () => { stopped = true; };
    const timer = setInterval(read, STATS_POLL_MS);
    const onVisible = () => { if (!document.hidden) read(); };
    document.addEventListener('visibilitychange', onVisible);
    return () => { stopped = true; clearInterval(timer); document.removeEventListener('visibilitychange', onVisible); };
  }, [id, live]);
  return { stats, statsError };
}

function Figures({ stats, lobby, approved, pending }) {
  // Visitors now come from the fair's channel (every second); the rest from the figures read.
  const visitors = lobby.visitors;
  const tile = (key, id, value, sub) => html`<div><dt>${l(key)}</dt><dd id=${id}>${value}${sub && html`<span class="sub">${sub}</span>`}</dd></div>`;
  const dash = '–';
  return html`<dl class="figures-grid" id="figures">
    ${tile('visitors', 'fig-visitors', num(visitors))}
    ${tile('peak', 'fig-peak', stats ? num(Math.max(stats.peak_visitors, visitors)) : dash)}
    ${tile('unique', 'fig-unique', stats ? num(stats.unique_visitors) : dash)}
    ${tile('showsLive', 'fig-shows-live', lobby.live.length)}
    ${tile('orders', 'fig-orders', stats ? num(stats.orders) : dash)}
    ${tile('revenue', 'fig-revenue', stats ? vnd(stats.revenue) : dash)}
    ${tile('inquiries', 'fig-inquiries', stats ? num(stats.inquiries) : dash)}
    ${tile('boothsApproved', 'fig-booths', approved, pending > 0 && l('boothsWaiting', pending))}
  </dl>`;
}

/** At most `n` items of `list`, evenly spread, always with its first and last. */
function spread(list, n) {
  if (list.length <= n) return list;
  const step = (list.length - 1) / (n - 1);
  return Array.from({ length: n }, (_, i) => list[Math.round(i * step)]);
}

/** The series, and the figures now as its last point (the series gains a point a minute). */
function Trends({ stats }) {
  const points = [...stats.series];
  if (!points.length || points[points.length - 1].at < stats.at) {
    points.push({ at: stats.at, visitors: stats.visitors, orders: stats.orders, revenue: stats.revenue });
  }
  return html`<h3>${l('trends')}</h3>
    ${stats.series.length === 0 && html`<p class="hint">${l('chartNone')}</p>`}
    <div class="charts">
      <${LineChart} id="chart-visitors" name=${l('visitorsChart')} points=${points} value=${(p) => p.visitors} format=${num} floor=${2} />
      <${LineChart} id="chart-revenue" name=${l('revenueChart')} points=${points} value=${(p) => p.revenue} format=${vnd} floor=${100000} compact />
    </div>`;
}

const compactFormat = new Intl.NumberFormat('vi-VN', { notation: 'compact', maximumFractionDigits: 1 });

/** A rounded top for the y axis: 1, 2 or 5 times a power of ten, at least `max` and `floor`. */
function niceMax(max, floor) {
  const top = Math.max(max, floor);
  const p = 10 ** Math.floor(Math.log10(top));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= top);
}

/**
 * A small line chart as SVG elements, with its figures in words (for screen readers) and as a
 * table (for anyone): the chart is a picture of the table, not the only way to read it.
 */
function LineChart({ id, name, points, value, format, floor, compact }) {
  const W = 320; const H = 132; const left = 40; const right = 8; const top = 10; const bottom = 22;
  const shown = spread(points, CHART_POINTS);
  const values = shown.map(value);
  const times = shown.map((p) => Date.parse(p.at));
  const max = niceMax(Math.max(...values, 0), floor);
  // Whole numbers on the axis: no "2,5 visitors".
  const marks = Number.isInteger(max / 2) ? [0, 0.5, 1] : [0, 1];
  const t0 = times[0]; const t1 = times[times.length - 1];
  const x = (tm) => (t1 === t0 ? left + (W - left - right) / 2 : left + ((tm - t0) / (t1 - t0)) * (W - left - right));
  const y = (v) => top + (1 - v / max) * (H - top - bottom);
  const line = shown.map((p, i) => `${x(times[i]).toFixed(1)},${y(values[i]).toFixed(1)}`).join(' ');
  const base = y(0).toFixed(1);
  const area = shown.length > 1 ? `${x(t0).toFixed(1)},${base} ${line} ${x(t1).toFixed(1)},${base}` : '';
  const axis = (v) => (compact ? compactFormat.format(v) : num(v));
  const last = values[values.length - 1];
  const desc = shown.length === 1 ? l('chartOne', name, shortClock(shown[0].at), format(last))
    : l('chartDesc', name, shortClock(shown[0].at), shortClock(shown[shown.length - 1].at), format(Math.min(...values)), format(Math.max(...values)), format(last));
  const rows = spread(points, TABLE_ROWS);
  return html`<figure class="chart" id=${id}>
    <figcaption id=${`${id}-title`}>${name}: <strong>${format(last)}</strong></figcaption>
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-labelledby=${`${id}-title ${id}-desc`} focusable="false">
      <desc id=${`${id}-desc`}>${desc}</desc>
      ${marks.map((f) => html`<g key=${f} class="grid">
        <line x1=${left} x2=${W - right} y1=${y(max * f)} y2=${y(max * f)} />
        <text x=${left - 4} y=${y(max * f) + 4} text-anchor="end">${axis(max * f)}</text>
      </g>`)}
      ${area && html`<polygon class="area" points=${area} />`}
      ${shown.length > 1 && html`<polyline class="line" points=${line} />`}
      <circle class="dot" cx=${x(t1)} cy=${y(last)} r="3.5" />
      ${shown.length === 1 ? html`<text class="tick" x=${x(t0)} y=${H - 6} text-anchor="middle">${shortClock(shown[0].at)}</text>`
        : html`<text class="tick" x=${left} y=${H - 6} text-anchor="start">${shortClock(shown[0].at)}</text>
        <text class="tick" x=${W - right} y=${H - 6} text-anchor="end">${shortClock(shown[shown.length - 1].at)}</text>`}
    </svg>
    <details class="chart-table">
      <summary>${l('chartTable')}<span class="sr">: ${name}</span></summary>
      <table>
        <thead><tr><th scope="col">${l('time')}</th><th scope="col">${name}</th></tr></thead>
        <tbody>${rows.map((p) => html`<tr key=${p.at}><th scope="row">${vnTime(p.at)}</th><td>${format(value(p))}</td></tr>`)}</tbody>
      </table>
    </details>
  </figure>`;
}

/** A column's short heading, read out in full. */
const Col = ({ short, full }) => html`<th scope="col"><span aria-hidden="true">${l(short)}</span><span class="sr">${l(full)}</span></th>`;

/** A table that scrolls sideways on a phone; focusable so a keyboard can scroll it too. */
function Wide({ label, children }) {
  return html`<div class="table-wrap" role="region" aria-label=${label} tabindex="0">${children}</div>`;
}

function Breakdowns({ stats }) {
  const byRevenue = (list) => [...list].sort((a, b) => b.revenue - a.revenue || b.orders - a.orders);
  const booths = [...stats.by_booth].sort((a, b) => b.revenue - a.revenue || b.unique_visitors - a.unique_visitors || a.title.localeCompare(b.title, 'vi'));
  const sales = (title, list, keyLabel, label) => html`<h3>${title}</h3>
    ${list.length === 0 ? html`<p class="empty">${l('noSales')}</p>` : html`<${Wide} label=${title}><table class="figures-table">
      <thead><tr><th scope="col">${keyLabel}</th><${Col} short="colOrders" full="orders" /><${Col} short="colUnits" full="units" /><th scope="col">${l('revenue')}</th></tr></thead>
      <tbody>${byRevenue(list).map((r) => html`<tr key=${r.key}><th scope="row">${label(r.key)}</th>
        <td>${num(r.orders)}</td><td>${num(r.units)}</td><td>${vnd(r.revenue)}</td></tr>`)}</tbody>
    </table><//>`}`;
  return html`<section class="panel" id="breakdown" aria-labelledby="breakdown-title">
    <h2 id="breakdown-title">${l('breakdown')}</h2>
    <h3>${l('byBooth')}</h3>
    ${booths.length === 0 ? html`<p class="empty">${l('noApproved')}</p>` : html`<${Wide} label=${l('byBooth')}><table class="figures-table" id="by-booth">
      <thead><tr><th scope="col">${l('booth')}</th><th scope="col">${l('provinceCol')}</th><th scope="col">${l('showsCol')}</th>
        <${Col} short="colOrders" full="orders" /><${Col} short="colUnits" full="units" /><th scope="col">${l('revenue')}</th>
        <th scope="col">${l('visitorsCol')}</th><${Col} short="colTime" full="timeCol" /><${Col} short="colInquiries" full="inquiries" /></tr></thead>
      <tbody>${booths.map((b) => html`<tr key=${b.booth_id} data-booth=${b.booth_id}>
        <th scope="row"><a href=${`/booths/${b.booth_id}`}>${b.title}</a>${b.seller_name !== b.title ? html`<br /><span class="hint">${b.seller_name}</span>` : ''}</th>
        <td>${b.province}</td><td>${num(b.shows)}</td><td>${num(b.orders)}</td><td>${num(b.units)}</td><td>${vnd(b.revenue)}</td>
        <td>${num(b.unique_visitors)}</td><td>${l('mins', num(Math.round(b.time_spent_s / 60)))}</td><td>${num(b.inquiries)}</td></tr>`)}</tbody>
    </table><//>`}
    ${sales(l('byProvince'), stats.by_province, l('provinceCol'), (k) => k)}
    ${sales(l('byGroup'), stats.by_group, l('groupCol'), (k) => (GROUPS.includes(k) ? t(`g_${k}`) : k))}
    ${sales(l('byStars'), stats.by_stars, l('starsCol'), (k) => `${'★'.repeat(Number(k) || 0)} ${l('stars', k)}`)}
  </section>`;
}

/** A file name from the fair's name: "Hội chợ Đà Lạt" → hoi-cho-da-lat. */
function slug(name) {
  const plain = name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, 'd').toLowerCase();
  return plain.replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'hoi-cho';
}

/** The report: its CSV and the quote requests' CSV (fetched with the token, saved as files), and the requests. */
function Report({ fair, count }) {
  const [items, setItems] = useState(null);
  const [saved, setSaved] = useState('');
  const [all, setAll] = useState(false);
  const [busy, setBusy] = useState('');
  // Read again when the figures say the number of requests changed.
  useEffect(() => {
    api('GET', `/api/fairs/${fair.id}/inquiries`).then((r) => { if (r.ok) setItems(r.body.items); });
  }, [fair.id, count]);
  const save = async (what, path, filename) => {
    setBusy(what);
    const r = await download(path, filename);
    setBusy('');
    setSaved(r.ok ? l('downloaded', filename) : t('tryAgain'));
  };
  const name = slug(fair.name);
  const shown = items ? (all ? items : items.slice(0, INQUIRIES_SHOWN)) : [];
  return html`<section class="panel" id="report" aria-labelledby="report-title">
    <h2 id="report-title">${l('report')}</h2>
    <div class="actions downloads">
      <button type="button" class="secondary" id="report-csv" disabled=${busy === 'report'}
        onClick=${() => save('report', `/api/fairs/${fair.id}/report?format=csv`, `bao-cao-${name}.csv`)}>${l('reportCsv')}</button>
      <button type="button" class="secondary" id="inquiries-csv" disabled=${busy === 'inquiries'}
        onClick=${() => save('inquiries', `/api/fairs/${fair.id}/inquiries?format=csv`, `yeu-cau-bao-gia-${name}.csv`)}>${l('inquiriesCsv')}</button>
    </div>
    <p class="result" role="status" aria-live="polite">${saved}</p>
    <h3>${l('inquiryList')}${items ? ` (${items.length})` : ''}</h3>
    ${!items && html`<p>${l('loading')}</p>`}
    ${items && items.length === 0 && html`<p class="empty">${l('noInquiries')}</p>`}
    ${items && items.length > 0 && html`<ul class="plain fair-inquiries" id="fair-inquiries">
      ${shown.map((i) => html`<li key=${i.id} data-inquiry=${i.id}>
        <span class=${`badge iq-badge iq-${i.status}`}>${t(`iq_${i.status}`)}</span>
        <p><strong>${l('iqLine', i.buyer_name, i.seller_name)}</strong></p>
        <p>${[l('iqAsked', num(i.quantity), i.unit), i.deliver_by ? l('iqBy', vnDate(i.deliver_by)) : '',
          i.quote ? l('iqQuote', vnd(i.quote.price), i.unit) : ''].filter(Boolean).join(' · ')}</p>
        <p class="hint">${vnTime(i.created_at)}</p>
      </li>`)}
    </ul>
    ${!all && items.length > INQUIRIES_SHOWN && html`<button type="button" class="secondary small" onClick=${() => setAll(true)}>${l('showAll', items.length)}</button>`}`}
  </section>`;
}


/** A live show of the agenda, with the kill switch: a reason is required. */
function LiveShow({ show, seller, say }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [error, setError] = useState('');
  const stop = async (e) => {
    e.preventDefault();
    const r = await api('POST', `/api/shows/${show.id}/end`, { reason });
    setError(r.ok ? '' : problem(r));
    if (r.ok) say(l('killed', show.title));
  };
  const field = `kill-${show.id}`;
  return html`<li data-show=${show.id} class="live-show">
    <span class="badge">${t('liveBadge')}</span> <a href=${`/shows/${show.id}`}>${show.title}</a>${seller ? ` · ${seller}` : ''}
    ${show.started_at && html` · ${t('startedAt', vnTime(show.started_at))}`}
    ${!open && html`<div class="actions"><button type="button" class="danger" onClick=${() => setOpen(true)}>${l('kill')}</button></div>`}
    ${open && html`<form class="kill" onSubmit=${stop}>
      <label for=${field}>${l('reason')}</label>
      <textarea id=${field} required maxlength="300" rows="2" value=${reason} onInput=${(e) => setReason(e.target.value)}></textarea>
      <p class="error" role="alert">${error}</p>
      <div class="actions">
        <button type="submit" class="danger">${l('killSure')}</button>
        <button type="button" class="secondary" onClick=${() => setOpen(false)}>${l('cancel')}</button>
      </div>
    </form>`}
  </li>`;
}

function AddBooth({ fairId, say, onDone }) {
  const [seller, setSeller] = useState('');
  const [title, setTitle] = useState('');
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const r = await api('POST', `/api/fairs/${fairId}/booths`, { seller_id: seller.trim(), title: title || undefined });
    setError(r.ok ? '' : problem(r));
    if (r.ok) { setSeller(''); setTitle(''); say(l('done')); onDone(); }
  };
  return html`<form class="add-booth" onSubmit=${submit}>
    <h3>${l('addBooth')}</h3>
    <label for="ab-seller">${l('sellerId')}</label>
    <input id="ab-seller" required pattern="[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}" autocomplete="off" spellcheck="false" value=${seller} onInput=${(e) => setSeller(e.target.value)} />
    <label for="ab-title">${l('boothTitle')}</label>
    <input id="ab-title" maxlength="120" value=${title} onInput=${(e) => setTitle(e.target.value)} />
    <p class="error" role="alert">${error}</p>
    <button type="submit">${l('add')}</button>
  </form>`;
}

/** One booth's Q&A at a time, live from `booth:<id>`: delete a message, mute its writer. */
function Moderation({ booths, client, say }) {
  const [boothId, setBoothId] = useState(booths[0].id);
  const current = booths.some((b) => b.id === boothId) ? boothId : booths[0].id;
  return html`
    <label for="mod-booth">${l('pickBooth')}</label>
    <select id="mod-booth" value=${current} onChange=${(e) => setBoothId(e.target.value)}>
      ${booths.map((b) => html`<option value=${b.id}>${b.title} · ${b.seller_name}</option>`)}
    </select>
    <${BoothChat} key=${current} booth=${booths.find((b) => b.id === current)} client=${client} say=${say} />`;
}

function BoothChat({ booth, client, say }) {
  const [chat, setChat] = useState([]);
  useEffect(() => {
    const sub = client.subscribe(`booth:${booth.id}`, {
      onSnapshot(snap) { setChat(snap.chat.slice(-MAX_CHAT)); },
      onEvent(ev) {
        if (ev.ev === 'chat') setChat((c) => [...c, ev].slice(-MAX_CHAT));
        if (ev.ev === 'chat.deleted') setChat((c) => c.filter((x) => x.data.msg_id !== ev.data.msg_id));
      },
      onError(err) { say(refusal(err)); },
    });
    return () => sub.unsubscribe?.();
  }, [booth.id]);
  const command = async (op, params) => {
    try {
      await client.request(op, { booth: booth.id, ...params });
      say(l('done'));
    } catch (e) {
      say(refusal(e));
    }
  };
  return html`<ol class="chat mod-chat" aria-label=${`${l('moderation')}: ${booth.title}`}>
    ${chat.length === 0 && html`<li>${l('noChat')}</li>`}
    ${chat.map((c) => html`<li key=${c.data.msg_id} data-id=${c.data.msg_id}>
      <span class=${`who role-${c.data.user.id === booth.seller_user_id ? 'seller' : c.data.user.role}`}>${c.data.user.name}</span>: <span class="text">${c.data.text}</span>
      <span class="at"> · ${vnTime(c.data.at)}</span>
      ${c.data.user.id !== booth.seller_user_id && c.data.user.role !== 'organiser' && html`<div class="actions">
        <button type="button" class="secondary small" onClick=${() => command('chat.delete', { msg_id: c.data.msg_id })}>${l('delete')}</button>
        <button type="button" class="secondary small" onClick=${() => command('chat.mute', { user_id: c.data.user.id, minutes: 10 })}>${l('mute')}</button>
      </div>`}
    </li>`)}
  </ol>`;
}
