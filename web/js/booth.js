// A booth at a fair: the producer, its featured products (stars, price, a trace link each), the
// Q&A chat with the seller over `booth:<id>`, and whether the seller is in the booth now.
// Everything people typed (questions, names, descriptions) is put in as text, never as HTML.

import { OcopLive, OcopError } from './ocop-live.js';
import { t, el, vnd, vnTime, vnDate, todayInVietnam, fieldMessage, problemText, session, api, lang, chatForm as sharedChatForm } from './ui.js';

const TEXT = {
  vi: {
    producer: 'Chủ thể OCOP', featured: 'Sản phẩm nổi bật', noFeatured: 'Gian hàng chưa chọn sản phẩm nổi bật.',
    qa: 'Hỏi đáp với người bán', noQuestions: 'Chưa có câu hỏi nào. Hãy hỏi người bán về sản phẩm, giá sỉ, giao hàng…',
    online: 'Người bán đang trực gian hàng', offline: 'Người bán đang vắng; câu hỏi vẫn được lưu để trả lời sau.',
    ask: 'Đặt câu hỏi cho người bán', placeholder: 'Hỏi về giá sỉ, giao hàng…', send: 'Gửi',
    seller: 'Người bán', organiser: 'Ban tổ chức', delete: 'Xóa', noSuchBooth: 'Không tìm thấy gian hàng này.',
    k_cooperative: 'Hợp tác xã', k_household: 'Hộ sản xuất', k_enterprise: 'Doanh nghiệp', pending: 'Gian hàng đang chờ ban tổ chức duyệt.',
    rejected: 'Gian hàng chưa được ban tổ chức chấp nhận.', closed: 'Hội chợ đã đóng cửa; gian hàng không nhận câu hỏi mới.',
    inquiry: 'Kết nối cung cầu: hỏi giá sỉ', inquiryIntro: 'Mua số lượng lớn cho cửa hàng, đại lý hay quà tặng doanh nghiệp? Gửi yêu cầu, người bán sẽ báo giá cho bạn.',
    iqProduct: 'Sản phẩm', iqAnyProduct: 'Chưa chọn (hỏi chung)', iqQuantity: 'Số lượng', iqUnit: 'Đơn vị tính',
    iqUnitHint: 'vd: thùng, hộp', iqTarget: 'Giá mong muốn mỗi đơn vị (đồng, không bắt buộc)', iqDeliverBy: 'Cần giao trước ngày (không bắt buộc)',
    iqMessage: 'Lời nhắn cho người bán', iqMessageHint: 'Nơi giao, quy cách đóng gói, hóa đơn…', iqSend: 'Gửi yêu cầu báo giá',
    iqSending: 'Đang gửi…', iqFix: 'Vui lòng sửa các ô được đánh dấu.', iqNeedQuantity: 'Nhập số lượng.',
    iqSent: (x) => `Đã gửi yêu cầu báo giá tới ${x}.`, iqSentNext: 'Khi người bán báo giá, bạn sẽ thấy ngay ở trang tài khoản và chốt ở đó.',
    iqMine: 'Xem yêu cầu báo giá của tôi', iqAnother: 'Gửi yêu cầu khác', iqPerUnit: (p, u) => `${p} / ${u}`,
    iqSignIn: 'Đăng nhập tài khoản người mua để gửi yêu cầu báo giá.', iqOwn: 'Đây là gian hàng của bạn: yêu cầu báo giá nhận được ở bàn điều khiển.',
    iqConsole: 'Mở bàn điều khiển', iqClosed: 'Hội chợ đã đóng cửa; gian hàng không nhận yêu cầu báo giá mới.', askWholesale: 'Hỏi giá sỉ',
    iqSummary: (q, u, d) => `${q} ${u}${d ? `, giao trước ${d}` : ''}`,
  },
  en: {
    producer: 'OCOP producer', featured: 'Featured products', noFeatured: 'No featured product yet.',
    qa: 'Questions for the seller', noQuestions: 'No question yet. Ask the seller about the products, wholesale prices, delivery…',
    online: 'The seller is in the booth now', offline: 'The seller is away; questions are kept for them to answer later.',
    ask: 'Ask the seller', placeholder: 'Ask about wholesale, delivery…', send: 'Send',
    seller: 'Seller', organiser: 'Organiser', delete: 'Delete', noSuchBooth: 'No such booth.',
    k_cooperative: 'Cooperative', k_household: 'Household', k_enterprise: 'Enterprise', pending: 'This booth waits for the organiser’s approval.',
    rejected: 'The organiser has not accepted this booth.', closed: 'The fair has closed; the booth takes no new questions.',
    inquiry: 'Wholesale: ask for a quote', inquiryIntro: 'Buying in bulk for a shop, a reseller or company gifts? Send a request and the seller will quote.',
    iqProduct: 'Product', iqAnyProduct: 'None (a general request)', iqQuantity: 'Quantity', iqUnit: 'Unit',
    iqUnitHint: 'e.g. case, box', iqTarget: 'Price you hope for, per unit (VND, optional)', iqDeliverBy: 'Needed by (optional)',
    iqMessage: 'Message to the seller', iqMessageHint: 'Where to deliver, packing, invoice…', iqSend: 'Ask for a quote',
    iqSending: 'Sending…', iqFix: 'Please correct the marked fields.', iqNeedQuantity: 'Enter a quantity.',
    iqSent: (x) => `Your request went to ${x}.`, iqSentNext: 'When the seller quotes, it shows on your account page at once, and you accept it there.',
    iqMine: 'See my quote requests', iqAnother: 'Send another request', iqPerUnit: (p, u) => `${p} / ${u}`,
    iqSignIn: 'Sign in with a buyer account to ask for a quote.', iqOwn: 'This is your booth: the requests you receive are in the console.',
    iqConsole: 'Open the console', iqClosed: 'The fair has closed; the booth takes no new quote requests.', askWholesale: 'Wholesale price',
    iqSummary: (q, u, d) => `${q} ${u}${d ? `, needed by ${d}` : ''}`,
  },
};
const l = (key, ...args) => {
  const v = TEXT[lang][key] ?? TEXT.vi[key];
  return typeof v === 'function' ? v(...args) : v;
};

const MAX_CHAT = 200;

export async function boothPage(root, boothId) {
  const state = { booth: null, fair: null, seller: null, chat: [], stuckToBottom: true, productsOf: null };
  const crumb = el('a', { class: 'crumb', href: '/' }, t('backToFair'));
  const title = el('h1', { class: 'booth-title' });
  const producer = el('p', { class: 'producer' });
  const presence = el('p', { class: 'presence', role: 'status' });
  const status = el('p', { class: 'notice' });
  const intro = el('p', { class: 'description' });
  const products = el('ul', { class: 'product-list', id: 'featured' });
  const productsEmpty = el('p', { class: 'empty', hidden: '' }, l('noFeatured'));
  const chat = el('ol', { class: 'chat qa', 'aria-live': 'polite', 'aria-label': l('qa') });
  const chatEmpty = el('p', { class: 'empty' }, l('noQuestions'));
  const result = el('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const conn = el('p', { class: 'conn', role: 'status' });
  const form = chatForm();
  const inquiry = inquiryBox(boothId, state);
  root.replaceChildren(
    el('nav', { class: 'crumbs', 'aria-label': t('fairsTitle') }, crumb),
    el('header', { class: 'booth-head' }, title, producer, presence),
    conn, status, intro,
    el('section', { 'aria-labelledby': 'featured-h' }, el('h2', { id: 'featured-h' }, l('featured')), products, productsEmpty),
    el('section', { class: 'chat-box', 'aria-labelledby': 'qa-h' }, el('h2', { id: 'qa-h' }, l('qa')), chat, chatEmpty, form, result),
    inquiry.section,
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

  /** The booth's seller and the fair's organiser may delete messages. */
  const moderator = () => {
    const me = session().user;
    return Boolean(me && state.booth && (me.id === state.booth.seller_user_id || (state.fair && me.id === state.fair.organiser_id)));
  };

  function addChat(ev) {
    state.chat.push(ev);
    if (state.chat.length > MAX_CHAT) state.chat.shift();
    chat.append(chatLine(ev));
    while (chat.childElementCount > MAX_CHAT) chat.firstElementChild.remove();
    chatEmpty.hidden = true;
    if (state.stuckToBottom) chat.scrollTop = chat.scrollHeight;
  }

  function redrawChat() {
    chat.replaceChildren(...state.chat.map(chatLine));
    chatEmpty.hidden = state.chat.length > 0;
    if (state.stuckToBottom) chat.scrollTop = chat.scrollHeight;
  }

  function chatLine(ev) {
    const d = ev.data;
    const b = state.booth;
    const fromSeller = b && d.user.id === b.seller_user_id;
    const fromOrganiser = state.fair && d.user.id === state.fair.organiser_id;
    const item = el('li', { 'data-id': d.msg_id, class: fromSeller ? 'from-seller' : '' },
      el('span', { class: `who role-${fromSeller ? 'seller' : d.user.role}` }, d.user.name),
      fromSeller ? el('span', { class: 'tag' }, l('seller')) : fromOrganiser ? el('span', { class: 'tag' }, l('organiser')) : '',
      ' ', el('span', { class: 'text' }, d.text),
      el('time', { class: 'at', datetime: d.at }, vnTime(d.at)));
    if (moderator() && !fromSeller) {
      const del = el('button', { type: 'button', class: 'secondary small' }, l('delete'));
      del.addEventListener('click', async () => {
        try {
          await client.request('chat.delete', { booth: boothId, msg_id: d.msg_id });
        } catch (e) {
          result.textContent = e.message || t('tryAgain');
        }
      });
      item.append(' ', del);
    }
    return item;
  }

  function drawBooth() {
    const b = state.booth;
    document.title = `${b.title} · ${t('brand')}`;
    title.textContent = b.title;
    crumb.href = `/fairs/${encodeURIComponent(b.fair_id)}`;
    drawProducer();
    intro.textContent = b.description || state.seller?.intro || '';
    status.textContent = b.status === 'pending' ? l('pending') : b.status === 'rejected' ? l('rejected') : '';
    drawPresence(b.seller_online);
    const key = b.featured_products.join(',');
    if (state.productsOf !== key) {
      state.productsOf = key;
      drawProducts(b.featured_products);
    }
    inquiry.draw();
  }

  function drawPresence(online) {
    presence.className = online ? 'presence on' : 'presence';
    presence.textContent = online ? l('online') : l('offline');
  }

  async function drawProducts(ids) {
    const found = await Promise.all(ids.map((id) => api('GET', `/api/products/${encodeURIComponent(id)}`).then((r) => (r.ok ? r.body.product : null))));
    const list = found.filter(Boolean);
    products.replaceChildren(...list.map(productCard));
    productsEmpty.hidden = list.length > 0;
    inquiry.setProducts(list);
  }

  function productCard(p) {
    const img = p.images && p.images[0]
      ? el('img', { src: p.images[0], alt: p.name, width: '96', height: '96', loading: 'lazy' })
      : el('div', { class: 'noimg', 'aria-hidden': 'true' }, p.name.slice(0, 1));
    return el('li', { class: 'product', 'data-product': p.id },
      img,
      el('div', {},
        el('h3', {}, p.name),
        el('p', { class: 'price' }, vnd(p.price), el('span', { class: 'unit' }, ` / ${p.unit}`)),
        el('p', { class: 'stars' }, t('starsLabel', p.stars), ' · ', t(`g_${p.group}`)),
        p.certificate ? el('p', { class: 'cert' }, t('certificate', p.certificate.number, p.certificate.issued_by)) : '',
        el('p', { class: 'links' }, el('a', { href: `/t/${encodeURIComponent(p.trace_code)}` }, t('trace'), el('span', { class: 'sr' }, `: ${p.name}`)),
          wholesaleLink(p))));
  }

  /** To the inquiry form with this product chosen (buyers; others see there what to do). */
  function wholesaleLink(p) {
    const b = el('button', { type: 'button', class: 'secondary small ask-wholesale', 'aria-controls': 'inquiry' },
      l('askWholesale'), el('span', { class: 'sr' }, `: ${p.name}`));
    b.addEventListener('click', () => inquiry.pick(p.id));
    return b;
  }

  async function loadContext(b) {
    // The fair (for the way back and to know its organiser) and the producer's profile.
    const [fair, seller] = await Promise.all([
      api('GET', `/api/fairs/${encodeURIComponent(b.fair_id)}`),
      api('GET', `/api/sellers/${encodeURIComponent(b.seller_id)}`),
    ]);
    if (fair.ok) {
      state.fair = fair.body.fair;
      crumb.textContent = `← ${state.fair.name}`;
      inquiry.draw();
    }
    if (seller.ok) {
      state.seller = seller.body.seller;
      drawProducer();
      if (!state.booth.description && state.seller.intro) intro.textContent = state.seller.intro;
    }
  }

  /** Who makes what the booth shows: the seller's profile once read, else what the booth says. */
  function drawProducer() {
    const b = state.booth;
    const s = state.seller;
    const name = s ? s.display_name : b.seller_name;
    const place = s ? [s.commune, s.province].filter(Boolean).join(', ') : b.province;
    const about = s ? `${l(`k_${s.kind}`)}${place ? ` · ${place}` : ''}` : place;
    // A booth named after its producer says the name once.
    if (name === b.title) producer.replaceChildren(about);
    else producer.replaceChildren(el('strong', {}, name), ` · ${about}`);
  }

  function chatForm() {
    return sharedChatForm({
      client: () => client, id: 'qa-text', target: { booth: boothId }, label: l('ask'), placeholder: l('placeholder'), send: l('send'),
      onSent: () => { result.textContent = ''; },
      onRefused: (err) => { result.textContent = refusal(err); },
    });
  }

  let first = true;
  client.subscribe(`booth:${boothId}`, {
    onSnapshot(snap) {
      state.booth = { ...snap.booth, seller_online: snap.seller_online };
      drawBooth();
      state.chat = snap.chat.slice(-MAX_CHAT);
      redrawChat();
      if (first) {
        first = false;
        // Once the fair is known, the organiser's messages are marked and moderators get buttons.
        loadContext(state.booth).then(redrawChat);
      }
    },
    onEvent(ev) {
      const d = ev.data;
      switch (ev.ev) {
        case 'chat': addChat(ev); break;
        case 'chat.deleted':
          state.chat = state.chat.filter((c) => c.data.msg_id !== d.msg_id);
          chat.querySelector(`[data-id="${CSS.escape(d.msg_id)}"]`)?.remove();
          chatEmpty.hidden = state.chat.length > 0;
          break;
        case 'booth': state.booth = { ...d.booth, seller_online: state.booth.seller_online }; drawBooth(); break;
        case 'presence': state.booth.seller_online = d.seller_online; drawPresence(d.seller_online); break;
        default: break;
      }
    },
    onError(err) {
      root.replaceChildren(el('h1', {}, t('fairsTitle')),
        el('p', { class: 'notice' }, err.code === 'not_found' ? l('noSuchBooth') : err.message || t('tryAgain')),
        el('p', {}, el('a', { href: '/' }, t('brand'))));
    },
  });
  client.connect().catch(() => {});
}

/** The fields of an inquiry, as the server names them, and the ids of their inputs. */
const INQUIRY_FIELDS = { product_id: 'iq-product', quantity: 'iq-quantity', unit: 'iq-unit', target_price: 'iq-target', deliver_by: 'iq-deliver', message: 'iq-message' };

/**
 * "Kết nối cung cầu": a signed-in buyer asks the booth for a wholesale quote. The server checks
 * every field; what it says about one is shown under that field. Others are told what to do.
 */
function inquiryBox(boothId, state) {
  const body = el('div', { class: 'inquiry-body' });
  const section = el('section', { class: 'panel inquiry', id: 'inquiry', 'aria-labelledby': 'inquiry-h', tabindex: '-1' },
    el('h2', { id: 'inquiry-h' }, l('inquiry')), body);
  let mode = null;
  let productList = [];
  let form = null;

  const field = (name, label, input, hint) => {
    const id = INQUIRY_FIELDS[name];
    input.id = id;
    const error = el('p', { class: 'field-error', id: `${id}-error` });
    const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(' ');
    input.setAttribute('aria-describedby', described);
    return el('div', { class: 'field', 'data-field': name },
      el('label', { for: id }, label), input, hint ? el('p', { class: 'hint', id: `${id}-hint` }, hint) : '', error);
  };

  function buildForm() {
    const product = el('select', {}, el('option', { value: '' }, l('iqAnyProduct')));
    const quantity = el('input', { type: 'number', min: '1', max: '1000000000', step: '1', inputmode: 'numeric', required: '' });
    const unit = el('input', { maxlength: '30', required: '', autocomplete: 'off', placeholder: l('iqUnitHint') });
    const target = el('input', { type: 'number', min: '1', step: '1', inputmode: 'numeric' });
    const deliver = el('input', { type: 'date', min: todayInVietnam() });
    const message = el('textarea', { rows: '3', maxlength: '2000', required: '', placeholder: l('iqMessageHint') });
    const targetHint = el('span', {}, '');
    const summary = el('p', { class: 'error', role: 'alert' });
    const send = el('button', { type: 'submit' }, l('iqSend'));
    // The server is the one judge of the fields (its messages go under them), so the browser's
    // own checks are off; the attributes still tell assistive technology what is expected.
    const f = el('form', { class: 'inquiry-form', novalidate: '' },
      el('p', { class: 'hint' }, l('inquiryIntro')),
      field('product_id', l('iqProduct'), product),
      el('div', { class: 'grid2' }, field('quantity', l('iqQuantity'), quantity), field('unit', l('iqUnit'), unit)),
      field('target_price', l('iqTarget'), target, targetHint),
      field('deliver_by', l('iqDeliverBy'), deliver),
      field('message', l('iqMessage'), message),
      summary, send);
    // The unit follows the product chosen, unless the buyer typed their own.
    let suggested = '';
    product.addEventListener('change', () => {
      const p = productList.find((x) => x.id === product.value);
      if (p && (!unit.value || unit.value === suggested)) unit.value = suggested = p.unit;
    });
    const showTarget = () => {
      const n = Number(target.value);
      targetHint.textContent = target.value && n > 0 ? l('iqPerUnit', vnd(n), unit.value || '…') : '';
    };
    target.addEventListener('input', showTarget);
    unit.addEventListener('input', showTarget);

    const clear = () => {
      summary.textContent = '';
      for (const id of Object.values(INQUIRY_FIELDS)) {
        f.querySelector(`#${id}`).removeAttribute('aria-invalid');
        f.querySelector(`#${id}-error`).textContent = '';
      }
    };
    const mark = (errors) => {
      let first = null;
      const other = [];
      for (const [name, msg] of Object.entries(errors)) {
        const id = INQUIRY_FIELDS[name];
        if (!id) { other.push(fieldMessage(msg)); continue; }
        const input = f.querySelector(`#${id}`);
        input.setAttribute('aria-invalid', 'true');
        f.querySelector(`#${id}-error`).textContent = fieldMessage(msg);
        first = first || input;
      }
      summary.textContent = [l('iqFix'), ...other].join(' ');
      first?.focus();
    };
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      clear();
      if (quantity.value.trim() === '') { mark({ quantity: l('iqNeedQuantity') }); return; }
      const payload = {
        product_id: product.value || undefined,
        quantity: Number(quantity.value),
        unit: unit.value,
        target_price: target.value === '' ? undefined : Number(target.value),
        deliver_by: deliver.value || undefined,
        message: message.value,
      };
      send.disabled = true;
      send.textContent = l('iqSending');
      const r = await api('POST', `/api/booths/${encodeURIComponent(boothId)}/inquiries`, payload);
      send.disabled = false;
      send.textContent = l('iqSend');
      if (r.ok) { sent(r.body.inquiry); return; }
      if (r.body && r.body.errors) mark(r.body.errors);
      else summary.textContent = problemText(r);
    });
    f.pick = (id) => {
      if (productList.some((p) => p.id === id)) {
        product.value = id;
        product.dispatchEvent(new Event('change'));
      }
    };
    f.fillProducts = () => {
      const chosen = product.value;
      product.replaceChildren(el('option', { value: '' }, l('iqAnyProduct')),
        ...productList.map((p) => el('option', { value: p.id }, `${p.name} (${p.unit})`)));
      product.value = productList.some((p) => p.id === chosen) ? chosen : '';
    };
    f.fillProducts();
    return f;
  }

  function sent(iq) {
    const note = el('div', { class: 'sent', role: 'status', tabindex: '-1' },
      el('p', { class: 'ok' }, l('iqSent', iq.seller_name)),
      el('p', {}, l('iqSummary', iq.quantity.toLocaleString('vi-VN'), iq.unit, vnDate(iq.deliver_by))),
      el('p', { class: 'hint' }, l('iqSentNext')));
    const again = el('button', { type: 'button', class: 'secondary' }, l('iqAnother'));
    again.addEventListener('click', () => {
      form = buildForm();
      body.replaceChildren(form);
      form.querySelector('select').focus();
    });
    body.replaceChildren(note, el('div', { class: 'actions' }, el('a', { class: 'button', href: '/me#inquiries' }, l('iqMine')), again));
    note.focus();
  }

  /** What this visitor gets: the form (buyers), the way to the console (the booth's seller), or why not. */
  function draw() {
    const b = state.booth;
    if (!b) return;
    const me = session().user;
    const closed = state.fair && state.fair.status === 'closed';
    const next = closed ? 'closed' : me && me.role === 'buyer' ? 'form'
      : me && me.role === 'seller' && me.seller_id === b.seller_id ? 'own' : 'signin';
    if (next === mode) return;
    mode = next;
    if (mode === 'form') {
      form = buildForm();
      body.replaceChildren(form);
    } else if (mode === 'own') {
      body.replaceChildren(el('p', {}, l('iqOwn')), el('p', {}, el('a', { class: 'button secondary', href: '/seller#inquiries' }, l('iqConsole'))));
    } else if (mode === 'closed') {
      body.replaceChildren(el('p', { class: 'notice' }, l('iqClosed')));
    } else {
      body.replaceChildren(el('p', { class: 'notice' }, l('iqSignIn'), ' ',
        el('a', { href: `/login?next=${encodeURIComponent(location.pathname)}` }, t('signIn'))));
    }
  }

  return {
    section,
    draw,
    setProducts(list) {
      productList = list;
      form?.fillProducts?.();
    },
    pick(id) {
      if (mode === 'form' && form?.pick) form.pick(id);
      section.scrollIntoView({ block: 'start' });
      (mode === 'form' ? section.querySelector('#iq-quantity') : section)?.focus({ preventScroll: true });
    },
  };
}

function refusal(e) {
  const code = e instanceof OcopError ? e.code : null;
  if (code === 'invalid_state') return l('closed');
  return ['rate_limited', 'muted', 'forbidden'].includes(code) ? t(`err_${code}`) : (e && e.message) || t('tryAgain');
}
