// The seller console in a real browser, against a real server: a new seller sets up a profile,
// products and a gift combo, schedules a show, takes it live, puts a product on screen and
// launches a flash offer that two buyers race for; moderation as viewers see it; the summary
// after the show; the English switch; HLS through hls.js only where it is needed.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { DEMO_BUYER, api, login, startServer } from '../testing/server.mjs';
import { PHONES, launch, phone as open, shoot, signIn } from '../testing/browser.mjs';

const PASSWORD = 'mat-khau-nguoi-ban-1';
const SECOND_BUYER = 'minhkhoa.tran@demo.ocop.vn';

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

/** A seller account made through the API, signed in on a fresh phone at /seller. */
async function newSeller(name) {
  const email = `seller-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@test.ocop.vn`;
  const reg = await api(server.base, 'POST', '/api/auth/register', { body: { name, email, password: PASSWORD, role: 'seller' } });
  const p = await phone();
  await signIn(p.page, email, '/seller', PASSWORD);
  return { ...p, token: reg.token, sellerId: reg.user.seller_id };
}

describe('seller console', () => {
  test('a new seller adds a product and a combo, schedules a show, goes live, pins, launches an offer two buyers race for, and confirms the order the buyer then sees', async () => {
    const { context, page, sellerId } = await newSeller('Hộ ông Sùng A Páo');

    // Profile.
    await page.click('#tab-profile');
    await page.fill('#s-name', 'Chè Shan tuyết Sùng Páo');
    await page.selectOption('#s-kind', 'household');
    await page.fill('#s-province', 'Hà Giang');
    await page.click('#profile-form button[type=submit]');
    await page.locator('.result', { hasText: 'Xong' }).waitFor();
    const profile = await api(server.base, 'GET', `/api/sellers/${sellerId}`);
    assert.equal(profile.seller.display_name, 'Chè Shan tuyết Sùng Páo');
    assert.equal(profile.seller.province, 'Hà Giang');

    // A single product with its certificate and story, then a combo of two of it.
    await page.click('#tab-products');
    await page.locator('#product-form').waitFor();
    assert.equal(await page.inputValue('#p-province'), '', 'the province defaults to the profile’s (shown as a hint)');
    await page.fill('#p-name', 'Chè Shan tuyết cổ thụ');
    await page.fill('#p-unit', 'gói 100g');
    await page.fill('#p-price', '150000');
    await page.fill('#p-stock', '50');
    await page.selectOption('#p-group', 'drinks');
    await page.selectOption('#p-stars', '4');
    await page.check('#p-potential');
    await page.fill('#p-story', 'Hái từ cây chè trăm tuổi trên núi Tây Côn Lĩnh.');
    await page.fill('#p-cert-number', '0912/QĐ-UBND');
    await page.fill('#p-cert-by', 'UBND tỉnh Hà Giang');
    await page.fill('#p-cert-at', '2025-03-15');
    await page.fill('#p-cert-until', '2028-03-15');
    await page.click('#product-form button[type=submit]');
    const tea = page.locator('[data-product]', { hasText: 'Chè Shan tuyết cổ thụ' });
    await tea.waitFor();
    assert.match(await tea.textContent(), /Tồn kho: 50/);
    assert.match(await tea.textContent(), /Chứng nhận 0912\/QĐ-UBND/);
    const [teaProduct] = (await api(server.base, 'GET', `/api/products?seller=${sellerId}`)).items;
    assert.equal(teaProduct.province, 'Hà Giang', 'the profile’s province');
    assert.equal(teaProduct.potential_five_star, true);
    assert.equal(teaProduct.story, 'Hái từ cây chè trăm tuổi trên núi Tây Côn Lĩnh.');

    await page.selectOption('#p-kind', 'combo');
    await page.fill('#p-name', 'Hộp quà chè Tết');
    await page.fill('#p-unit', 'hộp 2 gói');
    await page.fill('#p-price', '280000');
    await page.fill(`#c-${teaProduct.id}`, '2');
    await page.click('#product-form button[type=submit]');
    const combo = page.locator('[data-product]', { hasText: 'Hộp quà chè Tết' });
    await combo.waitFor();
    assert.match(await combo.textContent(), /Tồn kho: 25/, '50 packets make 25 boxes of two');

    // Editing the tea's stock changes what the combo can make.
    await tea.locator('button', { hasText: 'Sửa' }).click();
    await page.locator('#product-form h2', { hasText: 'Sửa' }).waitFor();
    await page.fill('#p-stock', '60');
    await page.click('#product-form button[type=submit]');
    await page.locator('[data-product]', { hasText: 'Tồn kho: 60' }).waitFor();
    await combo.locator('.stock', { hasText: 'Tồn kho: 30' }).waitFor();
    await shoot(page, 'seller-products');

    // A show scheduled for an evening (Vietnam time), then taken live.
    await page.click('#tab-shows');
    await page.fill('#new-title', 'Chè Shan tuyết đón Tết');
    await page.fill('#new-when', '2026-12-24T19:30');
    await page.click('#new-show button[type=submit]');
    const card = page.locator('[data-show]', { hasText: 'Chè Shan tuyết đón Tết' });
    await card.locator('p', { hasText: 'Hẹn lúc 19:30 ngày 24/12' }).waitFor();
    await card.locator('button', { hasText: 'Bắt đầu live' }).click();
    await page.locator('#control-title').waitFor();
    const live = (await api(server.base, 'GET', '/api/shows?status=live')).items.find((s) => s.title === 'Chè Shan tuyết đón Tết');
    assert.ok(live, 'the show is live');
    assert.equal(live.scheduled_at && new Date(live.scheduled_at).toISOString(), '2026-12-24T12:30:00.000Z');
    assert.equal(live.lineup.length, 2);

    // On screen, and a flash offer of one unit.
    await page.selectOption('#pin', teaProduct.id);
    await page.locator('.result', { hasText: 'Xong' }).waitFor();
    await page.selectOption('#o-product', teaProduct.id);
    await page.fill('#o-price', '99000');
    await page.fill('#o-qty', '1');
    await page.fill('#o-limit', '1');
    await page.fill('#o-secs', '120');
    await page.click('.offer-form button[type=submit]');
    await page.locator('.offers-list li', { hasText: 'Còn 1/1' }).waitFor();

    // Two buyers watch, chat and race; one gets it, the other is told it is sold out.
    const buyers = [];
    for (const email of [DEMO_BUYER, SECOND_BUYER]) {
      const b = await phone(PHONES[0]);
      await signIn(b.page, email, `/shows/${live.id}`);
      await b.page.locator('.pinned h2', { hasText: 'Chè Shan tuyết cổ thụ' }).waitFor();
      await b.page.locator('.offer .countdown', { hasText: 'Còn' }).waitFor();
      buyers.push(b);
    }
    await buyers[1].page.fill('#chat-text', 'Chè này pha mấy lần nước ạ?');
    await buyers[1].page.click('.chat-form button');
    await page.locator('.mod-chat li', { hasText: 'pha mấy lần nước' }).waitFor();
    await buyers[0].page.click('.offer .buy');
    await buyers[0].page.locator('.result', { hasText: 'Đã chốt đơn' }).waitFor();
    await buyers[1].page.locator('.offer .countdown', { hasText: 'Đã hết hàng' }).waitFor();
    await page.locator('.offers-list li', { hasText: 'Hết hàng' }).waitFor();
    await shoot(page, 'seller-control');

    // The order is in the console at once; confirmed there, the buyer sees it on /me.
    await page.click('#tab-orders');
    const row = page.locator('.orders li[data-id]', { hasText: 'Chè Shan tuyết cổ thụ' });
    await row.waitFor();
    assert.match(await row.textContent(), /99\.000/);
    await row.locator('button', { hasText: 'Xác nhận' }).click();
    await row.locator('.state', { hasText: 'Đã xác nhận' }).waitFor();
    await shoot(page, 'seller-orders');
    const orderId = await row.getAttribute('data-id');
    await buyers[0].page.goto('/me');
    await buyers[0].page.locator(`.order[data-id="${orderId}"] .state`, { hasText: 'xác nhận' }).waitFor();

    for (const b of buyers) {
      assert.deepEqual(b.page.errors, []);
      await b.context.close();
    }
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  test('moderation from the console is what viewers see: a deleted message goes, a muted buyer is told, the announcement shows; the summary follows the end', async () => {
    const { context, page, token } = await newSeller('HTX Mật ong Bắc Mê');
    const { product } = await api(server.base, 'POST', '/api/products', {
      token,
      body: { name: 'Mật ong hoa rừng', unit: 'chai 500ml', price: 350000, stock: 40, province: 'Hà Giang', group: 'food', stars: 3 },
    });
    const { show } = await api(server.base, 'POST', '/api/shows', { token, body: { title: 'Mật ong hoa rừng Bắc Mê', products: [product.id] } });
    await api(server.base, 'POST', `/api/shows/${show.id}/start`, { token });
    await page.reload();
    await page.locator(`[data-show="${show.id}"] button`, { hasText: 'Điều khiển' }).click();
    await page.locator('#control-title').waitFor();

    const viewer = await phone(PHONES[0]);
    await signIn(viewer.page, DEMO_BUYER, `/shows/${show.id}`);
    await viewer.page.locator('.show-title', { hasText: 'Mật ong hoa rừng' }).waitFor();
    await viewer.page.fill('#chat-text', 'Vào link lạ nhận quà nè');
    await viewer.page.click('.chat-form button');
    const spam = page.locator('.mod-chat li', { hasText: 'link lạ' });
    await spam.waitFor();
    await viewer.page.locator('.chat li', { hasText: 'link lạ' }).waitFor();
    await spam.locator('button', { hasText: 'Xóa' }).click();
    await viewer.page.locator('.chat li', { hasText: 'link lạ' }).waitFor({ state: 'detached' });
    await page.locator('.mod-chat li', { hasText: 'link lạ' }).waitFor({ state: 'detached' });

    await viewer.page.fill('#chat-text', 'Shop trả lời đi');
    await viewer.page.click('.chat-form button');
    const rude = page.locator('.mod-chat li', { hasText: 'Shop trả lời đi' });
    await rude.waitFor();
    await page.selectOption('#mute-minutes', '5');
    await rude.locator('button', { hasText: 'Khóa chat 5 phút' }).click();
    await page.locator('.result', { hasText: 'Xong' }).waitFor();
    await viewer.page.fill('#chat-text', 'Sao lại khóa?');
    await viewer.page.click('.chat-form button');
    await viewer.page.locator('.result', { hasText: 'tạm khóa bình luận' }).waitFor();

    await page.fill('#announcement', 'Miễn phí giao hàng cho đơn từ 2 chai');
    await page.click('.announce button[type=submit]');
    await viewer.page.locator('.announcement', { hasText: 'Miễn phí giao hàng' }).waitFor();
    assert.equal(await viewer.page.locator('.pinned').isVisible(), false, 'no product on screen: no empty card');
    await shoot(viewer.page, 'show-announcement');
    await page.selectOption('#slow', '10');
    await page.locator('.log summary').waitFor();
    const now = await api(server.base, 'GET', `/api/shows/${show.id}`);
    assert.equal(now.show.slow_mode_s, 10, 'slow mode is on');
    const log = await api(server.base, 'GET', `/api/shows/${show.id}/moderation`, { token });
    assert.deepEqual(log.items.map((e) => e.action), ['delete', 'mute', 'announce', 'slow']);

    // The end, from the console: the summary counts the chat.
    await page.locator('.control button', { hasText: 'Kết thúc phiên' }).click();
    await page.locator('#summary-title').waitFor();
    await page.locator('.figures-grid div', { hasText: 'Bình luận' }).locator('dd', { hasText: '2' }).waitFor();
    await viewer.page.locator('.show-head .badge', { hasText: 'Đã kết thúc' }).waitFor();
    await shoot(page, 'seller-summary');
    assert.deepEqual(page.errors, []);
    assert.deepEqual(viewer.page.errors.filter((e) => !/status of 4\d\d/.test(e)), []);
    await viewer.context.close();
    await context.close();
  });

  test('the English switch reloads the page in English and stays, also on the organiser console (which asks to sign in)', async () => {
    const { context, page } = await phone(PHONES[0]);
    await page.goto('/');
    await page.click('#lang');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.locator('#live-title', { hasText: 'Live now' }).waitFor();
    await page.goto('/organiser');
    await page.locator('h1', { hasText: 'Organiser console' }).waitFor();
    await page.click('#lang');
    await page.waitForFunction(() => document.documentElement.lang === 'vi');
    await page.locator('h1', { hasText: 'Bàn điều khiển ban tổ chức' }).waitFor();
    await shoot(page, 'organiser');
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  test('an HLS show plays natively or through hls.js, which only such a page loads', async () => {
    // A media server on loopback with a one-segment playlist.
    const asked = [];
    const media = http.createServer((req, res) => {
      asked.push(req.url);
      res.setHeader('access-control-allow-origin', '*');
      if (req.url.endsWith('.m3u8')) {
        res.setHeader('content-type', 'application/vnd.apple.mpegurl');
        res.end('#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.0,\nseg0.ts\n');
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise((r) => media.listen(0, '127.0.0.1', r));
    const playlist = `http://127.0.0.1:${media.address().port}/live.m3u8`;
    const seller = await login(server.base, 'caphe.hlan@demo.ocop.vn');
    const { show } = await api(server.base, 'POST', '/api/shows', { token: seller.token, body: { title: 'Cà phê Cầu Đất', stream: { kind: 'hls', url: playlist } } });
    await api(server.base, 'POST', `/api/shows/${show.id}/start`, { token: seller.token });

    // As this browser is, and as one without native HLS (most Android browsers before Chrome's own).
    for (const withoutNative of [false, true]) {
      asked.length = 0;
      const { context, page } = await phone(PHONES[0]);
      if (withoutNative) {
        await context.addInitScript(() => {
          const own = HTMLMediaElement.prototype.canPlayType;
          HTMLMediaElement.prototype.canPlayType = function canPlayType(type) {
            return /mpegurl/i.test(type) ? '' : own.call(this, type);
          };
        });
      }
      const scripts = [];
      page.on('request', (r) => scripts.push(new URL(r.url()).pathname));
      await page.goto(`/shows/${show.id}`);
      await page.locator('.video video').waitFor();
      const native = await page.evaluate(() => document.createElement('video').canPlayType('application/vnd.apple.mpegurl') !== '');
      if (withoutNative) assert.equal(native, false);
      const deadline = Date.now() + 15000;
      while (!asked.includes('/live.m3u8') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(asked.includes('/live.m3u8'), `the playlist was fetched (native: ${native})`);
      assert.equal(scripts.includes('/vendor/hls.light.min.mjs'), !native, 'hls.js is loaded exactly when there is no native HLS');
      if (!native) assert.equal(await page.getAttribute('.video video', 'data-player'), 'hls.js');
      // The media server has a playlist but no segment: its 404 is the only error allowed.
      assert.deepEqual(page.errors.filter((e) => !/status of 404/.test(e)), []);
      await context.close();
    }

    // A show without HLS never loads it.
    const other = [];
    const second = await phone(PHONES[0]);
    second.page.on('request', (r) => other.push(new URL(r.url()).pathname));
    const demo = (await api(server.base, 'GET', '/api/shows?status=live')).items.find((s) => s.stream.kind !== 'hls');
    await second.page.goto(`/shows/${demo.id}`);
    await second.page.locator('.pinned h2').waitFor();
    assert.ok(!other.some((p) => p.includes('hls')), `no hls.js on a page without HLS: ${other.join(' ')}`);
    await second.context.close();
    await new Promise((r) => media.close(r));
  });
});
