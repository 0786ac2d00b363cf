// Sign-in with an API token (tbk_…). A browser that presents a client
// certificate of the region's CA is signed in by it without a token.

import { clearErrors, field, fill, formError, go, h, session, showError, t } from '../lib.js';
import { identify } from '../app.js';

export async function render(main, { params }) {
  const input = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'tbk_…' });
  const form = h('form', { id: 'signin-form', novalidate: true },
    field('token', t('signin.token'), input, t('signin.tokenHint')),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('signin.submit'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const token = input.value.trim();
    if (!token) {
      showError(form, 'token', { code: 'AUTHENTICATION_REQUIRED', detail: t('signin.tokenRequired') });
      return;
    }
    session.setToken(token);
    const who = await identify();
    if (!who.ok) {
      showError(form, 'token', who.body ?? { code: 'TOKEN_INVALID' });
      return;
    }
    const then = params.get('then');
    go(then && !then.startsWith('/signin') ? then : '/');
    window.dispatchEvent(new Event('tongban:signed-in'));
  });
  fill(main,
    h('h1', {}, t('signin.title')),
    session.who ? h('p', { class: 'notice ok' }, t('signin.already', { name: session.who.name })) : null,
    params.get('out') ? h('p', { class: 'notice', role: 'status' }, t('signin.signedOut')) : null,
    h('p', {}, t('signin.intro')),
    form,
    h('p', { class: 'hint' }, t('signin.certificate')));
  input.focus();
}
