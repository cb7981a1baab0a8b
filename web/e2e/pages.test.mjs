// The pages in a real browser (Debian's chromium, driven by playwright-core), against a real
// server: what a buyer on a phone sees and does. Screenshots of each page at 360×800 and
// 390×844 go to $OCOP_SCREENSHOTS (default: a folder under the system's temporary directory).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { DEMO_BUYER, DEMO_PASSWORD, DEMO_SELLER, api, client, login, startProxy, startServer } from '../testing/server.mjs';
import { PHONES, SHOTS, launch, phone as open, serious, shoot, signIn } from '../testing/browser.mjs';

let server;
let browser;
let demoShow;

before(async () => {
  server = await startServer();
  browser = await launch();
  const live = await api(server.base, 'GET', '/api/shows?status=live');
  demoShow = live.items[0];
  assert.ok(demoShow, 'the demo puts a show on air');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const phone = (size = PHONES[0], base = server.base) => open(browser, base, size);

describe('pages', () => {
  test('home lists the live demo show with its seller and stars, in Vietnamese, and passes axe', async () => {
    for (const size of PHONES) {
      const { context, page } = await phone(size);
      await page.goto('/');
      const card = page.locator('#live li').first();
      await card.waitFor();
      assert.equal(await page.getAttribute('html', 'lang'), 'vi');
      assert.match(await card.textContent(), new RegExp(demoShow.title));
      await page.locator('#live .seller').first().waitFor();
      assert.match(await page.locator('#live .seller').first().textContent(), /Tuyên Quang/);
      assert.match(await page.locator('#live .stars').first().textContent(), /OCOP \d sao/);
      await page.screenshot({ path: path.join(SHOTS, `home-${size.name}.png`), fullPage: true });
      assert.deepEqual(await serious(page), [], 'home: no serious or critical accessibility violation');
      assert.deepEqual(page.errors, []);
      await context.close();
    }
  });

  test('the sign-in page has every way in and passes axe', async () => {
    for (const size of PHONES) {
      const { context, page } = await phone(size);
      await page.goto('/login');
      assert.equal(await page.locator('form.panel').count(), 3, 'sign in, register, guest');
      await page.screenshot({ path: path.join(SHOTS, `login-${size.name}.png`), fullPage: true });
      assert.deepEqual(await serious(page), [], 'login: no serious or critical accessibility violation');
      await page.fill('#email', DEMO_BUYER);
      await page.fill('#password', 'not-the-password');
      await page.locator('form.panel').first().locator('button').click();
      await page.locator('.result', { hasText: 'không đúng' }).waitFor();
      await context.close();
    }
  });

  test('a buyer signs in, chats (HTML stays text), buys the product on screen and orders by typing "chốt 1"', async () => {
    const { context, page } = await phone(PHONES[1]);
    await signIn(page, DEMO_BUYER, `/shows/${demoShow.id}`);
    await page.locator('.pinned h2').waitFor();
    const hostile = 'Shop ơi <img src=x onerror="document.title=1"><b>đậm</b>';
    await page.fill('#chat-text', hostile);
    await page.click('.chat-form button');
    const line = page.locator('.chat li', { hasText: 'Shop ơi' });
    await line.waitFor();
    assert.equal(await line.locator('.text').textContent(), hostile, 'shown exactly as typed');
    assert.equal(await page.locator('.chat img, .chat b').count(), 0, 'no element made from the text');
    await page.click('.pinned .buy');
    await page.locator('.result', { hasText: 'Đã chốt đơn' }).waitFor();
    await page.fill('#chat-text', 'chốt 1');
    await page.click('.chat-form button');
    const buyer = await login(server.base, DEMO_BUYER);
    let mine = [];
    for (let i = 0; i < 100 && !mine.some((o) => o.source === 'chat'); i += 1) {
      mine = (await api(server.base, 'GET', '/api/me/orders', { token: buyer.token })).items;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(mine.some((o) => o.source === 'pinned'), 'the button ordered');
    assert.ok(mine.some((o) => o.source === 'chat'), '"chốt 1" ordered');
    await shoot(page, 'show');
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  test('two buyers race for a flash offer: the countdown runs, one gets it, the other is told why not', async () => {
    const seller = await login(server.base, DEMO_SELLER);
    const s = client(server.wsUrl, { token: seller.token });
    await s.connect();
    const product = demoShow.lineup[1].product_id;
    const started = await s.request('offer.start', { show: demoShow.id, product_id: product, price: 99000, quantity: 1, per_buyer_limit: 1, duration_s: 120 });
    const pages = [];
    for (const email of [DEMO_BUYER, 'minhkhoa.tran@demo.ocop.vn']) {
      const p = await phone(PHONES[0]);
      await signIn(p.page, email, `/shows/${demoShow.id}`);
      await p.page.locator('.offer .countdown', { hasText: 'Còn' }).waitFor();
      assert.match(await p.page.locator('.offer .sold').textContent(), /Đã bán 0\/1/);
      pages.push(p);
    }
    await shoot(pages[0].page, 'offer');
    await pages[0].page.click('.offer .buy');
    await pages[0].page.locator('.result', { hasText: 'Đã chốt đơn' }).waitFor();
    await pages[1].page.locator('.offer .countdown', { hasText: 'Đã hết hàng' }).waitFor();
    assert.equal(await pages[1].page.locator('.offer .buy').count(), 0, 'no buy button on a sold-out offer');
    for (const p of pages) await p.context.close();
    assert.equal(started.offer.quantity, 1);
    await s.close();
  });

  test("a buyer's page survives a dropped connection and shows the chat it missed", async () => {
    const proxy = await startProxy(server.addr);
    const base = proxy.wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, '');
    const { context, page } = await phone(PHONES[0], base);
    await page.goto(`/shows/${demoShow.id}`);
    await page.locator('.pinned h2').waitFor();
    proxy.refuse(true);
    proxy.cut();
    await page.locator('.conn', { hasText: /kết nối|Mất/ }).waitFor();
    const seller = await login(server.base, DEMO_SELLER);
    const s = client(server.wsUrl, { token: seller.token });
    await s.connect();
    await s.request('chat.send', { show: demoShow.id, text: 'Tin nhắn lúc bạn mất mạng' });
    proxy.refuse(false);
    await page.locator('.chat li', { hasText: 'Tin nhắn lúc bạn mất mạng' }).waitFor({ timeout: 30000 });
    assert.equal(await page.locator('.chat li', { hasText: 'Tin nhắn lúc bạn mất mạng' }).count(), 1, 'once, not twice');
    await page.locator('.conn').waitFor({ state: 'hidden' });
    await s.close();
    await context.close();
    await proxy.close?.();
  });

  test('on /me a buyer sees an order confirmed without a reload, and gives the address an order waits for', async () => {
    // A new buyer with no saved address: the order is placed and waits for one.
    const email = `me-${Date.now()}@test.ocop.vn`;
    const reg = await api(server.base, 'POST', '/api/auth/register', { body: { name: 'Lê Văn Mới', email, password: 'mat-khau-123', role: 'buyer' } });
    const b = client(server.wsUrl, { token: reg.token });
    await b.connect();
    const placed = await b.request('order.place', { show: demoShow.id, product_id: demoShow.lineup[0].product_id, qty: 1, key: `me-${Date.now()}` });
    assert.equal(placed.needs_address, true);
    const { context, page } = await phone(PHONES[1]);
    await page.goto('/login?next=/me');
    await page.fill('#email', email);
    await page.fill('#password', 'mat-khau-123');
    await page.locator('form.panel').first().locator('button').click();
    await page.waitForURL('**/me');
    const row = page.locator(`.order[data-id="${placed.order.id}"]`);
    await row.locator('.state', { hasText: 'Chờ địa chỉ' }).waitFor();
    await shoot(page, 'me');
    await row.locator('textarea').fill('25 Trần Phú, Hải Châu, Đà Nẵng');
    await row.locator('input[autocomplete="tel"]').fill('0905 123 456');
    await row.locator('button').click();
    await page.locator(`.order[data-id="${placed.order.id}"] .state`, { hasText: 'Đã đặt' }).waitFor();
    // The seller confirms it; the buyer's page shows it at once.
    const seller = await login(server.base, DEMO_SELLER);
    await api(server.base, 'POST', `/api/seller/orders/${placed.order.id}/confirm`, { token: seller.token });
    await page.locator(`.order[data-id="${placed.order.id}"] .state`, { hasText: 'xác nhận' }).waitFor();
    assert.deepEqual(page.errors, []);
    await b.close();
    await context.close();
  });

  test('the seller launches a flash offer from the console, sees the order arrive without a reload and confirms it', async () => {
    const { context, page } = await phone(PHONES[1]);
    await signIn(page, DEMO_SELLER, '/seller');
    const card = page.locator(`[data-show="${demoShow.id}"]`);
    await card.waitFor();
    await card.locator('button', { hasText: 'Điều khiển' }).click();
    await page.selectOption('#o-product', demoShow.lineup[2].product_id);
    await page.fill('#o-price', '50000');
    await page.fill('#o-qty', '3');
    await page.click('.offer-form button[type=submit]');
    await page.locator('.result', { hasText: 'Xong' }).waitFor();
    // A buyer grabs it; the order appears in the console at once.
    const buyer = await login(server.base, 'quanghuy.pham@demo.ocop.vn');
    const b = client(server.wsUrl, { token: buyer.token });
    await b.connect();
    let snapshot = null;
    const sub = b.subscribe(`show:${demoShow.id}`, { onSnapshot: (snap) => { snapshot = snap; } });
    await sub.ready;
    const offer = snapshot.offers.find((o) => o.product_id === demoShow.lineup[2].product_id && o.status === 'live');
    assert.ok(offer, 'the offer is live for viewers');
    await page.locator(`.offers-list [data-offer="${offer.id}"]`, { hasText: 'Còn 3/3' }).waitFor();
    await page.click('#tab-orders');
    const { order } = await b.request('order.place', { show: demoShow.id, offer_id: offer.id, qty: 1, key: `console-${Date.now()}` });
    const row = page.locator(`.orders [data-id="${order.id}"]`);
    await row.waitFor();
    await shoot(page, 'seller');
    await row.locator('button', { hasText: 'Xác nhận' }).click();
    await page.locator(`.orders [data-id="${order.id}"] .state`, { hasText: 'Đã xác nhận' }).waitFor();
    assert.deepEqual(page.errors, []);
    await b.close();
    await context.close();
  });

  test('a new user opens the home page, watches the demo show, signs in to buy, and the seller sees the order arrive', async () => {
    const b = await phone(PHONES[1]);
    const sl = await phone(PHONES[1]);
    await b.page.goto('/');
    await b.page.locator('#live a').first().click();
    await b.page.waitForURL('**/shows/**');
    await b.page.locator('.pinned .buy').click();
    await b.page.locator('.result a', { hasText: 'Đăng nhập' }).click();
    await b.page.fill('#email', 'bichngoc.le@demo.ocop.vn');
    await b.page.fill('#password', DEMO_PASSWORD);
    await b.page.locator('form.panel').first().locator('button').click();
    await b.page.waitForURL('**/shows/**');
    await Promise.all([sl.page.waitForResponse((r) => r.url().includes('/api/seller/orders')), signIn(sl.page, DEMO_SELLER, '/seller')]);
    await sl.page.click('#tab-orders');
    await sl.page.locator('.orders').waitFor();
    const before = await sl.page.locator('.orders li[data-id]').count();
    await b.page.locator('.pinned .buy').click();
    await b.page.locator('.result', { hasText: 'Đã chốt đơn' }).waitFor();
    await sl.page.locator('.orders li[data-id]', { hasText: 'Bích Ngọc' }).first().waitFor();
    assert.equal(await sl.page.locator('.orders li[data-id]').count(), before + 1, 'one new order in the console, without a reload');
    await b.context.close();
    await sl.context.close();
  });
});
