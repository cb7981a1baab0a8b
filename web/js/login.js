// Sign in, register (buyer or seller) or continue as a guest; then back where the person was.

import { t, el, api, session, lang } from './ui.js';

const TEXT = {
  vi: {
    signInTitle: 'Đăng nhập', email: 'E-mail', password: 'Mật khẩu', signIn: 'Đăng nhập',
    registerTitle: 'Tạo tài khoản', name: 'Họ tên', phone: 'Số điện thoại (không bắt buộc)', role: 'Tôi là',
    buyer: 'Người mua', seller: 'Người bán (chủ thể OCOP)', register: 'Tạo tài khoản',
    guestTitle: 'Chỉ xem và bình luận', guestName: 'Tên hiển thị', guest: 'Vào với tên khách',
    wrong: 'E-mail hoặc mật khẩu không đúng.', wait: 'Bạn đã thử quá nhiều lần; hãy chờ một lát rồi thử lại.', taken: 'E-mail này đã có tài khoản.',
    failed: 'Không thực hiện được, vui lòng thử lại.', signedInAs: (n) => `Đã đăng nhập: ${n}`, signOut: 'Đăng xuất',
  },
  en: {
    signInTitle: 'Sign in', email: 'E-mail', password: 'Password', signIn: 'Sign in',
    registerTitle: 'Create an account', name: 'Name', phone: 'Phone (optional)', role: 'I am a',
    buyer: 'Buyer', seller: 'Seller (OCOP producer)', register: 'Create account',
    guestTitle: 'Just watch and chat', guestName: 'Display name', guest: 'Continue as a guest',
    wrong: 'Wrong e-mail or password.', wait: 'Too many tries; wait a little and try again.', taken: 'This e-mail already has an account.',
    failed: 'That did not work; please try again.', signedInAs: (n) => `Signed in: ${n}`, signOut: 'Sign out',
  },
};
const l = (key, ...args) => {
  const v = TEXT[lang][key];
  return typeof v === 'function' ? v(...args) : v;
};

/** Where to go after signing in: a path on this site only, never another host. */
function next() {
  const n = new URLSearchParams(location.search).get('next') || '/';
  return n.startsWith('/') && !n.startsWith('//') ? n : '/';
}

function field(id, label, attrs) {
  return [el('label', { for: id }, label), el('input', { id, name: id, ...attrs })];
}

function problem(r) {
  if (r.status === 429) return l('wait');
  if (r.status === 401) return l('wrong');
  if (r.status === 409) return l('taken');
  if (r.body && r.body.errors) return Object.entries(r.body.errors).map(([k, v]) => `${k}: ${v}`).join('; ');
  return l('failed');
}

export function loginPage(root) {
  document.title = `${l('signInTitle')} · ${t('brand')}`;
  const message = el('p', { class: 'result', role: 'alert' });
  const done = (body) => {
    session.save(body.token, body.user);
    location.assign(next());
  };
  const form = (title, fields, button, submit) => {
    const f = el('form', { class: 'panel' }, el('h2', {}, title), ...fields.flat(), el('button', { type: 'submit' }, button));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      message.textContent = '';
      const data = Object.fromEntries(new FormData(f));
      const r = await submit(data);
      if (r.ok) done(r.body);
      else message.textContent = problem(r);
    });
    return f;
  };
  const signIn = form(l('signInTitle'),
    [field('email', l('email'), { type: 'email', autocomplete: 'email', required: '' }),
      field('password', l('password'), { type: 'password', autocomplete: 'current-password', required: '' })],
    l('signIn'), (d) => api('POST', '/api/auth/login', { email: d.email, password: d.password }));
  const role = el('select', { id: 'role', name: 'role' }, el('option', { value: 'buyer' }, l('buyer')), el('option', { value: 'seller' }, l('seller')));
  const register = form(l('registerTitle'),
    [field('r-name', l('name'), { autocomplete: 'name', required: '', maxlength: '80' }),
      field('r-email', l('email'), { type: 'email', autocomplete: 'email', required: '' }),
      field('r-password', l('password'), { type: 'password', autocomplete: 'new-password', required: '', minlength: '8' }),
      field('r-phone', l('phone'), { type: 'tel', autocomplete: 'tel', inputmode: 'tel' }),
      [el('label', { for: 'role' }, l('role')), role]],
    l('register'), (d) => {
      const body = { name: d['r-name'], email: d['r-email'], password: d['r-password'], role: d.role };
      if (d['r-phone']) body.phone = d['r-phone'];
      return api('POST', '/api/auth/register', body);
    });
  const guest = form(l('guestTitle'),
    [field('g-name', l('guestName'), { required: '', maxlength: '40', value: t('guestName') })],
    l('guest'), (d) => api('POST', '/api/auth/guest', { name: d['g-name'] }));
  const me = session();
  const current = me.user
    ? el('p', { class: 'notice' }, l('signedInAs', me.user.name), ' ', signOutButton())
    : '';
  root.replaceChildren(el('h1', {}, l('signInTitle')), current, message, signIn, register, guest);
}

function signOutButton() {
  const b = el('button', { type: 'button', class: 'secondary' }, l('signOut'));
  b.addEventListener('click', () => {
    session.clear();
    location.reload();
  });
  return b;
}
