// Public verification: anyone drops a licence file (JSON), and the file
// it attaches if they have it, and sees the result and each problem in
// words with its stable code. No sign-in: POST /v1/verify is public.

import { api, chinaTime, clearErrors, field, fill, formError, h, problemText, showError, t } from '../lib.js';

const MAX_FILE = 8 * 1024 * 1024;

export async function render(main) {
  const licence = h('input', { type: 'file', accept: '.json,application/json,application/vc+ld+json', required: true });
  const attachment = h('input', { type: 'file' });
  const drop = h('div', { class: 'drop', id: 'drop', tabindex: '0' }, t('verify.drop'));
  const result = h('section', { id: 'verify-result', 'aria-live': 'polite' });
  const form = h('form', { id: 'verify-form', novalidate: true },
    drop,
    field('licence', t('verify.licence'), licence),
    field('attachment', t('verify.attachment'), attachment, t('verify.attachmentHint')),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'verify-submit' }, t('verify.submit'))));

  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const files = [...(e.dataTransfer?.files ?? [])];
    const json = files.find((f) => f.name.endsWith('.json')) ?? files[0];
    const other = files.find((f) => f !== json);
    const put = (input, file) => { const dt = new DataTransfer(); dt.items.add(file); input.files = dt.files; };
    if (json) put(licence, json);
    if (other) put(attachment, other);
  });
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') licence.click(); });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    fill(result);
    const file = licence.files[0];
    if (!file) {
      showError(form, 'licence', { code: 'REQUEST_INVALID', detail: t('verify.licenceRequired') });
      return;
    }
    for (const [name, input] of [['licence', licence], ['attachment', attachment]]) {
      if (input.files[0] && input.files[0].size > MAX_FILE) {
        showError(form, name, { code: 'PAYLOAD_TOO_LARGE', detail: t('verify.tooLarge') });
        return;
      }
    }
    const data = new FormData();
    data.append('licence', new Blob([await file.arrayBuffer()], { type: 'application/json' }), file.name);
    if (attachment.files[0]) data.append('attachment', attachment.files[0], attachment.files[0].name);
    const answer = await api('POST', '/v1/verify', { form: data, anonymous: true });
    if (!answer.ok) {
      showError(form, 'licence', answer.body ?? {});
      return;
    }
    fill(result, verification(answer.body));
    result.focus?.();
  });

  fill(main, h('h1', {}, t('verify.title')), h('p', {}, t('verify.intro')), form, result);
}

/** A verification shown: the verdict, the licence's key facts, each problem in words. */
export function verification(v) {
  const s = v.summary ?? {};
  const facts = [
    ['verify.name', s.name], ['verify.number', s.number], ['verify.identifier', s.identifier],
    ['verify.holder', s.holderName && `${s.holderName}（${s.holderCode ?? ''}）`],
    ['verify.issuer', s.issuerName ?? s.issuer],
    ['verify.validFrom', s.validFrom && chinaTime(s.validFrom)],
    ['verify.validUntil', s.validUntil ? chinaTime(s.validUntil) : s.validFrom ? t('verify.noEnd') : null],
    ['verify.status', v.status && t(`status.${v.status}`)],
  ].filter(([, value]) => value);
  return h('div', { class: `verdict ${v.valid ? 'valid' : 'invalid'}`, id: 'verdict', 'data-valid': String(v.valid) },
    h('h2', {}, v.valid ? t('verify.valid') : t('verify.invalid')),
    facts.length ? h('dl', {}, facts.map(([k, value]) => [h('dt', {}, t(k)), h('dd', {}, value)])) : null,
    v.problems.length ? h('div', {}, h('h3', {}, t('verify.problems')),
      h('ul', { class: 'problems' }, v.problems.map((p) =>
        h('li', { 'data-code': p.code }, h('code', { class: 'code' }, p.code), ' ', problemText(p))))) : null,
    v.unchecked.length ? h('div', {}, h('h3', {}, t('verify.unchecked')),
      h('ul', {}, v.unchecked.map((u) => h('li', {}, u)))) : null);
}
