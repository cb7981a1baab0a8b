// Online OCOP fairs in a real browser, against a real server: an organiser creates and runs a
// fair from the console, a seller applies for a booth and sees it approved, visitors follow a
// show from the lobby and ask a booth a question the seller answers, a buyer asks a booth for a
// wholesale quote that the seller answers and the buyer accepts, the organiser's control room
// shows the fair's figures and gives its report as CSV, and the kill switch stops a live show in
// front of its viewer. Each test makes its own fair through the console or the API rather than
// relying on the demo's.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { DEMO_BUYER, api, login, startServer } from '../testing/server.mjs';
import { DESKTOP, PHONES, launch, phone as open, shoot, signIn } from '../testing/browser.mjs';

const ALL_SIZES = [...PHONES, DESKTOP];

const ORGANISER = 'btc@demo.ocop.vn';
const PASSWORD = 'mat-khau-nguoi-ban-1';
const HOUR = 3600 * 1000;
const vnd = (n) => new Intl.NumberFormat('vi-VN', { style: 'currency', currency: 'VND' }).format(n);

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const phone = (size = PHONES[1]) => open(browser, server.base, size);
const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** A time as a datetime-local field in Vietnam time shows it: `2026-12-01T19:30`. */
const vnLocal = (ms) => new Date(ms + 7 * HOUR).toISOString().slice(0, 16);

/** Visitors' lists of fairs may be up to two seconds old (each node keeps them): waits until they list `fairId`. */
async function listedForVisitors(fairId) {
  const deadline = Date.now() + 10000;
  while (!(await api(server.base, 'GET', '/api/fairs')).items.some((f) => f.id === fairId)) {
    if (Date.now() > deadline) throw new Error(`fair ${fairId} is not in visitors' lists`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A new seller with a profile in `province` and one product, through the API. */
async function newSeller(name, province, product) {
  const email = `fair-${unique()}@test.ocop.vn`;
  const reg = await api(server.base, 'POST', '/api/auth/register', { body: { name, email, password: PASSWORD, role: 'seller' } });
  await api(server.base, 'PUT', '/api/seller/profile', { token: reg.token, body: { display_name: name, kind: 'cooperative', province } });
  const created = await api(server.base, 'POST', '/api/products', {
    token: reg.token,
    body: { unit: 'hộp', price: 120000, stock: 50, province, group: 'food', stars: 4, ...product },
  });
  return { email, token: reg.token, user: reg.user, sellerId: reg.user.seller_id, product: created.product };
}

/** An open fair of the demo organiser, made through the API, with an approved booth of a new seller. */
async function fairWithBooth(sellerName, province, product) {
  const organiser = await login(server.base, ORGANISER);
  const now = Date.now();
  const { fair } = await api(server.base, 'POST', '/api/fairs', {
    token: organiser.token,
    body: { name: `Chợ phiên OCOP ${province} ${unique()}`, opens_at: new Date(now - 60000).toISOString(), closes_at: new Date(now + 48 * HOUR).toISOString() },
  });
  await api(server.base, 'POST', `/api/fairs/${fair.id}/publish`, { token: organiser.token });
  const seller = await newSeller(sellerName, province, product);
  const { booth } = await api(server.base, 'POST', `/api/fairs/${fair.id}/booths`, {
    token: seller.token, body: { title: sellerName, featured_products: [seller.product.id] },
  });
  await api(server.base, 'POST', `/api/booths/${booth.id}/approve`, { token: organiser.token });
  return { fair, organiser, seller, booth };
}

describe('fairs', () => {
  test('an organiser creates and publishes a fair in the console, approves the booth a seller applied for (the seller sees it at once), adds a booth for another seller, and the lobby filters booths by province and group', async () => {
    const seller = await newSeller('HTX Chè Shan tuyết Tà Xùa', 'Sơn La', { name: 'Chè Shan tuyết Tà Xùa', group: 'drinks' });
    const other = await login(server.base, 'dacsan.songhau@demo.ocop.vn');

    // The organiser creates a fair, typing its hours in Vietnam time.
    const org = await phone();
    await signIn(org.page, ORGANISER, '/organiser');
    const name = `Hội chợ OCOP Tây Bắc ${unique()}`;
    const opens = vnLocal(Date.now() - 60000);
    const closes = vnLocal(Date.now() + 72 * HOUR);
    await org.page.fill('#fa-name', name);
    await org.page.fill('#fa-description', 'Đặc sản vùng cao Tây Bắc, mỗi tối một phiên live.');
    await org.page.fill('#fa-province', 'Sơn La');
    await org.page.fill('#fa-theme', 'Chè và thảo dược');
    await org.page.fill('#fa-opens', opens);
    await org.page.fill('#fa-closes', closes);
    await org.page.click('#fair-form button[type=submit]');
    const card = org.page.locator('[data-fair]', { hasText: name });
    await card.locator('.badge', { hasText: 'Bản nháp' }).waitFor();
    const organiser = await login(server.base, ORGANISER);
    const [draft] = (await api(server.base, 'GET', '/api/fairs?status=draft', { token: organiser.token })).items.filter((f) => f.name === name);
    assert.ok(draft, 'the fair is a draft of the organiser');
    assert.equal(draft.opens_at, new Date(`${opens}:00+07:00`).toISOString(), 'typed as Vietnam time, stored in UTC');
    assert.equal(draft.province, 'Sơn La');
    assert.match(await card.textContent(), new RegExp(`Từ ${opens.slice(11, 16)} ngày ${opens.slice(8, 10)}/${opens.slice(5, 7)}`), 'shown in Vietnam time');

    await shoot(org.page, 'organiser-fairs', ALL_SIZES);

    // Published, it opens at once (its opening time has passed).
    await card.locator('button', { hasText: 'Công bố' }).click();
    await card.locator('.badge', { hasText: /Đã công bố|Đang mở cửa/ }).waitFor();
    await card.locator('button', { hasText: 'Điều hành' }).click();
    await org.page.locator('#desk-title', { hasText: name }).waitFor();
    await org.page.locator('.desk .badge', { hasText: 'Đang mở cửa' }).waitFor();

    // The seller applies from the console's fairs tab, featuring their tea.
    await listedForVisitors(draft.id);
    const sel = await phone();
    await signIn(sel.page, seller.email, '/seller', PASSWORD);
    await sel.page.click('#tab-fairs');
    await sel.page.locator('#b-fair option', { hasText: name }).waitFor({ state: 'attached' });
    await sel.page.selectOption('#b-fair', draft.id);
    await sel.page.fill('#b-title', 'Chè Shan tuyết Tà Xùa — HTX Tà Xùa');
    await sel.page.fill('#b-description', 'Chè cổ thụ trên đỉnh Tà Xùa, sao tay trên chảo gang.');
    await sel.page.locator('#booth-form label', { hasText: 'Chè Shan tuyết Tà Xùa' }).locator('input').check();
    await sel.page.click('#booth-form button[type=submit]');
    await sel.page.locator('.result', { hasText: 'Đã gửi đăng ký' }).waitFor();
    const mine = sel.page.locator('[data-booth]', { hasText: 'HTX Tà Xùa' });
    await mine.locator('.badge', { hasText: 'Chờ duyệt' }).waitFor();
    const [applied] = (await api(server.base, 'GET', '/api/seller/booths', { token: seller.token })).items;
    assert.equal(applied.status, 'pending');
    assert.deepEqual(applied.featured_products, [seller.product.id]);
    assert.equal(await sel.page.locator('#b-fair option', { hasText: name }).count(), 0, 'a fair with a booth already is not offered again');

    // The organiser sees the application (an application raises no event: the list is read
    // again), approves it; the seller's console shows it at once.
    await org.page.locator('#booths-title ~ button', { hasText: 'Tải lại' }).click();
    const pending = org.page.locator('.booth-group[data-status="pending"] [data-booth]', { hasText: 'HTX Tà Xùa' });
    await pending.waitFor();
    await shoot(org.page, 'organiser-desk', ALL_SIZES);
    await pending.locator('button', { hasText: 'Duyệt' }).click();
    await org.page.locator('.booth-group[data-status="approved"] [data-booth]', { hasText: 'HTX Tà Xùa' }).waitFor();
    await mine.locator('.badge', { hasText: 'Đã duyệt' }).waitFor();
    await sel.page.locator('.result', { hasText: 'Ban tổ chức đã duyệt gian hàng' }).waitFor();
    await shoot(sel.page, 'seller-fairs', ALL_SIZES);

    // With the booth approved, the seller puts a show on the fair's agenda; outside the fair's
    // hours the console shows why the server refused it.
    await sel.page.click('#tab-shows');
    await sel.page.fill('#new-title', 'Pha chè Tà Xùa cho ngon');
    await sel.page.selectOption('#new-fair', draft.id);
    await sel.page.fill('#new-when', vnLocal(Date.now() + 100 * HOUR));
    await sel.page.click('#new-show button[type=submit]');
    await sel.page.locator('#new-show .error', { hasText: 'opening hours' }).waitFor();
    await sel.page.fill('#new-when', vnLocal(Date.now() + 5 * HOUR));
    await sel.page.click('#new-show button[type=submit]');
    await sel.page.locator('[data-show]', { hasText: 'Pha chè Tà Xùa' }).locator('.in-fair', { hasText: name }).waitFor();
    await sel.page.selectOption('#new-fair', draft.id);
    await shoot(sel.page, 'seller-fair-show', ALL_SIZES);

    // The organiser adds a booth for a seller by id: approved at once.
    await org.page.fill('#ab-seller', other.user.seller_id);
    await org.page.click('.add-booth button[type=submit]');
    await org.page.locator('.booth-group[data-status="approved"] [data-booth]', { hasText: 'Sông Hậu' }).waitFor();

    // Anyone's lobby lists both booths and filters them.
    const visitor = await phone(PHONES[0]);
    await visitor.page.goto('/');
    const fairCard = visitor.page.locator('#fairs a', { hasText: name });
    await fairCard.waitFor();
    assert.match(await fairCard.textContent(), /Đang mở cửa/);
    await shoot(visitor.page, 'home-fairs', ALL_SIZES);
    await fairCard.click();
    await visitor.page.waitForURL(`**/fairs/${draft.id}`);
    await visitor.page.locator('h1', { hasText: name }).waitFor();
    await visitor.page.locator('.fair-head .badge', { hasText: 'Đang mở cửa' }).waitFor();
    await visitor.page.locator('#agenda li[data-show]', { hasText: 'Pha chè Tà Xùa' }).waitFor();
    const booths = visitor.page.locator('#booths [data-booth]');
    await visitor.page.locator('#booths [data-booth]', { hasText: 'Sông Hậu' }).waitFor();
    assert.equal(await booths.count(), 2);
    await visitor.page.selectOption('#f-province', 'Sơn La');
    await visitor.page.locator('#booths [data-booth]', { hasText: 'Sông Hậu' }).waitFor({ state: 'detached' });
    assert.equal(await booths.count(), 1);
    await visitor.page.selectOption('#f-province', '');
    await visitor.page.locator('#f-group option[value="drinks"]').waitFor({ state: 'attached' });
    await visitor.page.selectOption('#f-group', 'food');
    await visitor.page.locator('#booths [data-booth]', { hasText: 'HTX Tà Xùa' }).waitFor({ state: 'detached' });
    assert.match(await booths.first().textContent(), /Sông Hậu/, 'rice and fish sauce are food; the tea is a drink');
    await visitor.page.selectOption('#f-group', 'drinks');
    await visitor.page.locator('#booths [data-booth]', { hasText: 'HTX Tà Xùa' }).waitFor();
    assert.equal(await booths.count(), 1);
    await visitor.page.selectOption('#f-group', '');
    await visitor.page.locator('#booths [data-booth] .tags', { hasText: 'Đồ uống' }).first().waitFor();
    await shoot(visitor.page, 'fair-lobby', ALL_SIZES);

    // The refused show is the seller page's one failed request.
    assert.deepEqual(sel.page.errors.filter((e) => !/status of 400/.test(e)), []);
    for (const p of [org, sel, visitor]) {
      if (p !== sel) assert.deepEqual(p.page.errors, []);
      await p.context.close();
    }
  });

  test('a visitor follows a show from the lobby (a guest is asked to register), unfollows it on /me, and asks a booth a question that the seller sees and answers', async () => {
    const { fair, seller, booth } = await fairWithBooth('HTX Mận hậu Mộc Châu', 'Sơn La', { name: 'Mận hậu sấy dẻo Mộc Châu', stars: 4 });
    const at = new Date(Date.now() + 3 * HOUR);
    const { show } = await api(server.base, 'POST', '/api/shows', {
      token: seller.token, body: { title: 'Mận hậu vào mùa', fair_id: fair.id, scheduled_at: at.toISOString(), products: [seller.product.id] },
    });

    // A guest is told that following needs an account.
    const guest = await phone(PHONES[0]);
    await guest.page.goto(`/fairs/${fair.id}`);
    const guestItem = guest.page.locator(`#agenda [data-show="${show.id}"]`);
    await guestItem.locator('button', { hasText: 'Theo dõi' }).click();
    await guest.page.locator('.result', { hasText: 'Đăng ký tài khoản' }).locator('a[href^="/login"]').waitFor();
    // And in English, after the switch.
    await guest.page.click('#lang');
    await guest.page.waitForFunction(() => document.documentElement.lang === 'en');
    await guest.page.locator('#agenda-h', { hasText: 'Stage agenda' }).waitFor();
    await guest.page.locator(`#agenda [data-show="${show.id}"] button`, { hasText: 'Follow' }).waitFor();
    await shoot(guest.page, 'fair-lobby-en');

    // A buyer follows it; the agenda says when in Vietnam time.
    const buyer = await phone();
    await signIn(buyer.page, DEMO_BUYER, `/fairs/${fair.id}`);
    const item = buyer.page.locator(`#agenda [data-show="${show.id}"]`);
    await item.waitFor();
    const when = new Date(at.getTime() + 7 * HOUR).toISOString();
    assert.equal(await item.locator('time').textContent(), when.slice(11, 16), 'the time in Vietnam');
    assert.match(await item.locator('xpath=ancestor::li[contains(@class, "day")]/h3').textContent(), new RegExp(`, ${when.slice(8, 10)}/${when.slice(5, 7)}$`), 'under its day in Vietnam');
    assert.match(await item.textContent(), /HTX Mận hậu Mộc Châu/, 'the seller of the show');
    await item.locator('button', { hasText: 'Theo dõi' }).click();
    await item.locator('button[aria-pressed="true"]', { hasText: 'Đang theo dõi' }).waitFor();
    const me = await login(server.base, DEMO_BUYER);
    let follows = (await api(server.base, 'GET', '/api/me/follows', { token: me.token })).items;
    assert.ok(follows.some((s) => s.id === show.id), 'the server has the follow');

    // A show added to the agenda now appears without a reload.
    const later = await api(server.base, 'POST', '/api/shows', {
      token: seller.token, body: { title: 'Đêm trà Mộc Châu', fair_id: fair.id, scheduled_at: new Date(Date.now() + 6 * HOUR).toISOString() },
    });
    await buyer.page.locator(`#agenda [data-show="${later.show.id}"]`, { hasText: 'Đêm trà Mộc Châu' }).waitFor();
    await shoot(buyer.page, 'fair-agenda', ALL_SIZES);

    // On /me: the followed show, and unfollowing it there.
    await buyer.page.goto('/me');
    const row = buyer.page.locator(`#follows [data-show="${show.id}"]`);
    await row.locator('a', { hasText: 'Mận hậu vào mùa' }).waitFor();
    await shoot(buyer.page, 'me-follows', ALL_SIZES);
    await row.locator('button', { hasText: 'Bỏ theo dõi' }).click();
    await row.waitFor({ state: 'detached' });
    follows = (await api(server.base, 'GET', '/api/me/follows', { token: me.token })).items;
    assert.ok(!follows.some((s) => s.id === show.id), 'unfollowed on the server');

    // The booth: producer, featured product with stars and its trace link, and the Q&A.
    await buyer.page.goto(`/fairs/${fair.id}`);
    await buyer.page.locator(`#booths [data-booth="${booth.id}"] a`).click();
    await buyer.page.waitForURL(`**/booths/${booth.id}`);
    const product = buyer.page.locator(`#featured [data-product="${seller.product.id}"]`);
    await product.waitFor();
    assert.match(await product.textContent(), /★★★★ OCOP 4 sao/);
    assert.match(await product.textContent(), /120\.000/);
    assert.equal(await product.locator('a').getAttribute('href'), `/t/${seller.product.trace_code}`);
    assert.match(await buyer.page.locator('.crumb').textContent(), new RegExp(fair.name), 'the way back to the fair');
    await buyer.page.locator('.presence', { hasText: 'đang vắng' }).waitFor();

    // The seller opens the booth: the visitor sees them in, and their question reaches them.
    const sel = await phone(PHONES[0]);
    await signIn(sel.page, seller.email, `/booths/${booth.id}`, PASSWORD);
    await buyer.page.locator('.presence.on', { hasText: 'đang trực' }).waitFor();
    const question = 'Mua 40 hộp làm quà Tết <b>có giá sỉ</b> không ạ?';
    await buyer.page.fill('#qa-text', question);
    await buyer.page.click('.chat-form button');
    const asked = sel.page.locator('.qa li', { hasText: 'Mua 40 hộp' });
    await asked.waitFor();
    assert.equal(await asked.locator('.text').textContent(), question, 'shown exactly as typed');
    assert.equal(await sel.page.locator('.qa b').count(), 0, 'no element made from the text');
    await sel.page.fill('#qa-text', 'Dạ có ạ, từ 30 hộp giảm 10%.');
    await sel.page.click('.chat-form button');
    const answer = buyer.page.locator('.qa li.from-seller', { hasText: 'giảm 10%' });
    await answer.waitFor();
    assert.match(await answer.locator('.tag').textContent(), /Người bán/);
    await shoot(buyer.page, 'booth', ALL_SIZES);

    // The seller leaves: the visitor sees it.
    await sel.context.close();
    await buyer.page.locator('.presence:not(.on)', { hasText: 'đang vắng' }).waitFor();

    for (const p of [guest, buyer]) {
      assert.deepEqual(p.page.errors, []);
      await p.context.close();
    }
  });

  test('a buyer asks a booth for a wholesale quote (the server’s field errors shown at the fields), the seller quotes it in the console, the buyer sees the quote on /me without a reload and accepts it, and the seller sees that at once', async () => {
    const { fair, seller, booth } = await fairWithBooth('HTX Miến dong Bình Liêu', 'Quảng Ninh', { name: 'Miến dong Bình Liêu', unit: 'gói 500g', price: 60000 });

    // A visitor who is not a buyer is told to sign in as one.
    const guest = await phone(PHONES[0]);
    await guest.page.goto(`/booths/${booth.id}`);
    const signInNote = guest.page.locator('#inquiry .notice', { hasText: 'Đăng nhập tài khoản người mua' });
    await signInNote.waitFor();
    assert.equal(await signInNote.locator('a').getAttribute('href'), `/login?next=${encodeURIComponent(`/booths/${booth.id}`)}`);
    await guest.context.close();

    // The buyer picks the product from its card: the form has it chosen and its unit filled in.
    const buyer = await phone();
    await signIn(buyer.page, DEMO_BUYER, `/booths/${booth.id}`);
    await buyer.page.locator('#iq-product option', { hasText: 'Miến dong Bình Liêu' }).waitFor({ state: 'attached' });
    await buyer.page.locator(`#featured [data-product="${seller.product.id}"] .ask-wholesale`).click();
    assert.equal(await buyer.page.inputValue('#iq-product'), seller.product.id);
    assert.equal(await buyer.page.inputValue('#iq-unit'), 'gói 500g');
    await buyer.page.fill('#iq-quantity', '500');
    await buyer.page.fill('#iq-target', '52000');
    await buyer.page.locator('#iq-target-hint', { hasText: '52.000 ₫ / gói 500g' }).waitFor();

    // A date already past and no message: the server refuses, and says so under each field.
    const today = new Date(Date.now() + 7 * HOUR);
    await buyer.page.fill('#iq-deliver', new Date(today.getTime() - 24 * HOUR).toISOString().slice(0, 10));
    await buyer.page.click('.inquiry-form button[type=submit]');
    await buyer.page.locator('#iq-deliver-error', { hasText: 'Phải từ hôm nay trở đi' }).waitFor();
    assert.equal(await buyer.page.locator('#iq-message-error').textContent(), 'Không được để trống.');
    assert.equal(await buyer.page.getAttribute('#iq-deliver', 'aria-invalid'), 'true');
    assert.equal(await buyer.page.locator('#iq-quantity-error').textContent(), '', 'a good field has no message');
    await shoot(buyer.page, 'booth-inquiry-errors');
    const me = await login(server.base, DEMO_BUYER);
    const mine = async () => (await api(server.base, 'GET', '/api/me/inquiries', { token: me.token })).items.filter((i) => i.booth_id === booth.id);
    assert.deepEqual(await mine(), [], 'nothing was sent');

    // Corrected, it goes.
    const deliverBy = new Date(today.getTime() + 30 * 24 * HOUR).toISOString().slice(0, 10);
    const message = 'Đặt 500 gói cho chuỗi siêu thị <i>Hạ Long</i>, cần hóa đơn đỏ.';
    await buyer.page.fill('#iq-deliver', deliverBy);
    await buyer.page.fill('#iq-message', message);
    await buyer.page.click('.inquiry-form button[type=submit]');
    await buyer.page.locator('#inquiry .sent', { hasText: 'Đã gửi yêu cầu báo giá tới HTX Miến dong Bình Liêu' }).waitFor();
    await shoot(buyer.page, 'booth-inquiry-sent');
    const [sent] = await mine();
    assert.equal(sent.status, 'open');
    assert.equal(sent.product_id, seller.product.id);
    assert.equal(sent.quantity, 500);
    assert.equal(sent.unit, 'gói 500g');
    assert.equal(sent.target_price, 52000);
    assert.equal(sent.deliver_by, deliverBy);
    assert.equal(sent.message, message);

    // On /me: the request, waiting for a quote, its message exactly as typed.
    await buyer.page.click('#inquiry a[href="/me#inquiries"]');
    await buyer.page.waitForURL('**/me#inquiries');
    const row = buyer.page.locator(`#inquiry-list [data-inquiry="${sent.id}"]`);
    await row.locator('.badge', { hasText: 'Chờ báo giá' }).waitFor();
    await row.locator('.what', { hasText: 'Miến dong Bình Liêu' }).waitFor();
    assert.match(await row.locator('.asked').textContent(), /^Cần 500 gói 500g · giá mong muốn 52\.000\s₫ \/ gói 500g · giao trước \d\d\/\d\d\/\d{4}$/);
    assert.equal(await row.locator('.message').textContent(), message);
    assert.equal(await buyer.page.locator('#inquiry-list i').count(), 0, 'no element made from the text');
    await buyer.page.evaluate(() => { window.notReloaded = true; });

    // The seller's console: the request waits in the fairs tab (counted on the tab), and is quoted
    // with a validity typed in Vietnam time.
    const sel = await phone();
    await signIn(sel.page, seller.email, '/seller#inquiries', PASSWORD);
    await sel.page.locator('#tab-fairs[aria-current="page"] .count', { hasText: '1' }).waitFor();
    const received = sel.page.locator(`#inquiries [data-inquiry="${sent.id}"]`);
    await received.locator('.badge', { hasText: 'Chờ báo giá' }).waitFor();
    assert.match(await received.textContent(), /Từ Nguyễn Thu Hà/);
    await received.locator('button', { hasText: 'Báo giá' }).click();
    const price = `#q-${sent.id}-price`;
    assert.equal(await sel.page.inputValue(price), '52000', 'the buyer’s price to start from');
    assert.equal(await sel.page.inputValue(`#q-${sent.id}-quantity`), '500');
    const until = vnLocal(Date.now() + 48 * HOUR);
    await sel.page.fill(price, '55000');
    await sel.page.fill(`#q-${sent.id}-until`, until);
    await sel.page.fill(`#q-${sent.id}-message`, 'Giá đã gồm vận chuyển về Hạ Long.');
    await received.locator('.quote-form .hint', { hasText: '27.500.000' }).waitFor();
    await shoot(sel.page, 'seller-inquiries', ALL_SIZES);
    await received.locator('.quote-form button[type=submit]').click();
    await received.locator('.badge', { hasText: 'Đã báo giá' }).waitFor();
    const [quoted] = await mine();
    assert.equal(quoted.status, 'quoted');
    assert.equal(quoted.quote.price, 55000);
    assert.equal(quoted.quote.valid_until, new Date(`${until}:00+07:00`).toISOString(), 'typed as Vietnam time, sent in UTC');

    // The buyer's page shows the quote as it comes, and takes it.
    await row.locator('.badge', { hasText: 'Đã báo giá' }).waitFor();
    await buyer.page.locator('#inquiries .result', { hasText: 'vừa báo giá cho bạn' }).waitFor();
    assert.match(await row.locator('.quote').textContent(), /55\.000\s₫ \/ gói 500g × 500 gói 500g/);
    assert.match(await row.locator('.quote').textContent(), /Thành tiền: 27\.500\.000\s₫/);
    assert.match(await row.locator('.quote').textContent(), /Giá đã gồm vận chuyển về Hạ Long\./);
    assert.equal(await buyer.page.evaluate(() => window.notReloaded), true, 'no reload');
    await shoot(buyer.page, 'me-inquiries', ALL_SIZES);
    await row.locator('button', { hasText: 'Chốt báo giá' }).click();
    await row.locator('.badge', { hasText: 'Đã chốt' }).waitFor();
    assert.equal(await row.locator('button').count(), 0, 'nothing left to do');
    assert.equal((await mine())[0].status, 'accepted');

    // The seller sees it accepted without a reload.
    await received.locator('.badge', { hasText: 'Đã chốt' }).waitFor();
    await sel.page.locator('.result', { hasText: 'Nguyễn Thu Hà đã chốt báo giá của bạn' }).waitFor();

    // A new request reaches the console as it is sent; the seller declines it, and the buyer sees that.
    const second = (await api(server.base, 'POST', `/api/booths/${booth.id}/inquiries`, {
      token: me.token, body: { quantity: 40, unit: 'thùng', message: 'Giá cho 40 thùng?' },
    })).inquiry;
    const secondRow = sel.page.locator(`#inquiries [data-inquiry="${second.id}"]`);
    await secondRow.locator('.what', { hasText: 'Yêu cầu chung' }).waitFor();
    await sel.page.locator('#tab-fairs .count', { hasText: '1' }).waitFor();
    await secondRow.locator('button', { hasText: 'Từ chối' }).click();
    await secondRow.locator('.confirm button.danger').click();
    await secondRow.locator('.badge', { hasText: 'Đã từ chối' }).waitFor();
    const buyerSecond = buyer.page.locator(`#inquiry-list [data-inquiry="${second.id}"]`);
    await buyerSecond.locator('.badge', { hasText: 'Đã từ chối' }).waitFor();
    await buyer.page.locator('#inquiries .result', { hasText: 'đã từ chối' }).waitFor();

    // The seller's own /me leads to the console, with the requests counted.
    await sel.page.goto('/me');
    await sel.page.locator('#seller-inquiries', { hasText: '1 đã chốt' }).waitFor();
    assert.equal(await sel.page.locator('a[href="/seller#inquiries"]').count(), 1);
    await sel.page.locator('#follows-title').waitFor();
    await shoot(sel.page, 'me-seller');

    for (const p of [buyer, sel]) {
      assert.deepEqual(p.page.errors.filter((e) => !/status of 400/.test(e)), [], 'only the refused inquiry failed');
      await p.context.close();
    }
  });

  test('the organiser’s control room shows the fair’s figures live (visitors, inquiries, a booth’s figures) and downloads the report and the inquiries as CSV', async () => {
    const { fair, booth } = await fairWithBooth('HTX Nước mắm Cát Hải', 'Hải Phòng', { name: 'Nước mắm cốt Cát Hải', unit: 'chai 500ml', group: 'food', stars: 5 });
    const buyer = await login(server.base, DEMO_BUYER);
    const { inquiry } = await api(server.base, 'POST', `/api/booths/${booth.id}/inquiries`, {
      token: buyer.token, body: { quantity: 120, unit: 'chai 500ml', target_price: 85000, message: 'Giá sỉ, "giao" Hà Nội' },
    });

    const org = await phone();
    await signIn(org.page, ORGANISER, '/organiser');
    await org.page.locator(`[data-fair="${fair.id}"] button`, { hasText: 'Điều hành' }).click();
    await org.page.locator('#stats-at', { hasText: 'Cập nhật lúc' }).waitFor();
    assert.equal(await org.page.locator('#fig-inquiries').textContent(), '1');
    assert.equal(await org.page.locator('#fig-revenue').textContent(), vnd(0), 'revenue as vi-VN writes it');

    // A visitor comes into the lobby and a booth: the room counts them.
    const visitor = await phone(PHONES[0]);
    await visitor.page.goto(`/fairs/${fair.id}`);
    await visitor.page.locator('h1', { hasText: fair.name }).waitFor();
    // The console is in the lobby too (it follows the fair's channel): two now.
    await org.page.locator('#fig-visitors', { hasText: '2' }).waitFor();
    await visitor.page.goto(`/booths/${booth.id}`);
    const boothRow = org.page.locator(`#by-booth [data-booth="${booth.id}"]`);
    await boothRow.waitFor();
    // The unique counts are stored once a second and read every ten.
    await org.page.waitForFunction(() => Number(document.querySelector('#fig-unique')?.textContent) >= 1, null, { timeout: 25000 });
    await org.page.waitForFunction((id) => {
      const cells = document.querySelectorAll(`#by-booth [data-booth="${id}"] td`);
      return cells.length === 8 && Number(cells[5].textContent) >= 1 && cells[7].textContent === '1';
    }, booth.id, { timeout: 25000 });
    assert.match(await boothRow.textContent(), /Hải Phòng/);
    assert.ok(Number(await org.page.locator('#fig-peak').textContent()) >= 2, 'the peak');
    const chart = org.page.locator('#chart-visitors svg[role="img"]');
    assert.match(await chart.locator('desc').textContent(), /Người tham quan/, 'the chart in words');
    await org.page.locator('#chart-revenue summary').click();
    assert.ok(await org.page.locator('#chart-revenue table tbody tr').count() >= 1, 'and as a table');
    const listed = org.page.locator(`#fair-inquiries [data-inquiry="${inquiry.id}"]`);
    await listed.locator('.badge', { hasText: 'Chờ báo giá' }).waitFor();
    assert.match(await listed.textContent(), /Nguyễn Thu Hà → HTX Nước mắm Cát Hải/);
    await shoot(org.page, 'organiser-room', ALL_SIZES);

    // The report as a file, fetched with the organiser's token.
    const csvOf = async (button) => {
      const [file] = await Promise.all([org.page.waitForEvent('download'), org.page.click(button)]);
      return { name: file.suggestedFilename(), text: fs.readFileSync(await file.path(), 'utf8').replace(/^\uFEFF/, '') };
    };
    const report = await csvOf('#report-csv');
    assert.match(report.name, /^bao-cao-cho-phien-ocop-hai-phong-.*\.csv$/);
    const [header, ...rows] = report.text.trim().split(/\r?\n/);
    assert.equal(header, 'booth_id,booth,seller,province,shows,orders,units,revenue,unique_visitors,time_spent_s,inquiries');
    const line = rows.find((r) => r.startsWith(booth.id));
    assert.ok(line, 'a row for the booth');
    assert.match(line, /,HTX Nước mắm Cát Hải,HTX Nước mắm Cát Hải,Hải Phòng,.*,1$/);
    const inquiries = await csvOf('#inquiries-csv');
    assert.match(inquiries.name, /^yeu-cau-bao-gia-.*\.csv$/);
    assert.match(inquiries.text, /^inquiry_id,created_at,status,booth_id,seller,buyer,product_id,quantity,unit,target_price,deliver_by,message,quote_price,quote_quantity,quote_valid_until\r?\n/);
    assert.match(inquiries.text, new RegExp(`${inquiry.id},[^,]+,open,${booth.id},HTX Nước mắm Cát Hải,Nguyễn Thu Hà,,120,chai 500ml,85000,,"Giá sỉ, ""giao"" Hà Nội",,,`));
    await org.page.locator('.result', { hasText: 'Đã tải yeu-cau-bao-gia-' }).waitFor();

    for (const p of [org, visitor]) {
      assert.deepEqual(p.page.errors, []);
      await p.context.close();
    }
  });

  test('the kill switch: the organiser stops a live show of the fair with a reason its viewer is shown, and deletes a message from a booth’s Q&A', async () => {
    const { fair, seller, booth } = await fairWithBooth('HTX Thảo dược Bảo Yên', 'Lào Cai', { name: 'Trà giảo cổ lam', group: 'herbal', stars: 3 });
    const { show } = await api(server.base, 'POST', '/api/shows', {
      token: seller.token, body: { title: 'Trà giảo cổ lam buổi sáng', fair_id: fair.id, scheduled_at: new Date(Date.now() + 60000).toISOString(), products: [seller.product.id] },
    });
    await api(server.base, 'POST', `/api/shows/${show.id}/start`, { token: seller.token });

    // A viewer watches the show; the page links back to its fair.
    const viewer = await phone(PHONES[0]);
    await viewer.page.goto(`/shows/${show.id}`);
    await viewer.page.locator('.show-head .badge', { hasText: 'LIVE' }).waitFor();
    assert.equal(await viewer.page.locator('.show-head .crumb').getAttribute('href'), `/fairs/${fair.id}`);

    // The organiser finds it live on the agenda.
    const org = await phone();
    await signIn(org.page, ORGANISER, '/organiser');
    await org.page.locator(`[data-fair="${fair.id}"] button`, { hasText: 'Điều hành' }).click();
    const live = org.page.locator(`.agenda-live [data-show="${show.id}"]`);
    await live.waitFor();
    await org.page.locator('#figures div', { hasText: 'Phiên đang live' }).locator('dd', { hasText: '1' }).waitFor();
    // The server's figures: the show and its viewer.
    await org.page.locator(`.viewers-by-show [data-show="${show.id}"]`, { hasText: '1 người xem' }).waitFor();

    // Without a reason nothing is sent; with one the show stops at once.
    await live.locator('button', { hasText: 'Dừng phiên live' }).click();
    await live.locator('button[type=submit]', { hasText: 'Dừng ngay' }).click();
    assert.equal(await live.locator('textarea').evaluate((t) => t.validity.valueMissing), true, 'a reason is required');
    assert.equal((await api(server.base, 'GET', `/api/shows/${show.id}`)).show.status, 'live');
    const reason = 'Sản phẩm chưa có giấy chứng nhận OCOP còn hạn';
    await live.locator('textarea').fill(reason);
    await shoot(org.page, 'organiser-kill', ALL_SIZES);
    await live.locator('button[type=submit]', { hasText: 'Dừng ngay' }).click();
    await viewer.page.locator('.stopped', { hasText: `Phiên live đã bị ban tổ chức dừng: ${reason}` }).waitFor();
    await viewer.page.locator('.show-head .badge', { hasText: 'Đã kết thúc' }).waitFor();
    assert.equal((await api(server.base, 'GET', `/api/shows/${show.id}`)).show.status, 'ended');
    await org.page.locator('.result', { hasText: 'Đã dừng phiên' }).waitFor();
    await live.waitFor({ state: 'detached' });
    await shoot(viewer.page, 'show-stopped', ALL_SIZES);
    // Opened again later, the page still says who stopped it and why (from the show itself).
    await viewer.page.reload();
    await viewer.page.locator('.show-head .badge', { hasText: 'Đã kết thúc' }).waitFor();
    assert.equal(await viewer.page.locator('.stopped').textContent(), `Phiên live đã bị ban tổ chức dừng: ${reason}`);

    // Moderation of the booth's Q&A from the console: the visitor's message goes for everyone.
    await viewer.page.goto(`/booths/${booth.id}`);
    await viewer.page.fill('#qa-text', 'Vào nhóm Zalo lạ nhận quà nè');
    await viewer.page.click('.chat-form button');
    await viewer.page.locator('.qa li', { hasText: 'Zalo lạ' }).waitFor();
    await org.page.selectOption('#mod-booth', booth.id);
    const spam = org.page.locator('.mod-chat li', { hasText: 'Zalo lạ' });
    await spam.waitFor();
    await spam.locator('button', { hasText: 'Xóa' }).click();
    await viewer.page.locator('.qa li', { hasText: 'Zalo lạ' }).waitFor({ state: 'detached' });
    await spam.waitFor({ state: 'detached' });

    for (const p of [viewer, org]) {
      assert.deepEqual(p.page.errors, []);
      await p.context.close();
    }
  });
});
