// Peer regions: each with its trust list's state (fetched, valid until,
// failures) and its CA's CRL; add a peer from its card, import a trust
// list it sent, remove a peer after a confirmation; this hub's own card.

import {
  api, chinaTime, clearErrors, confirmAction, download, failed, field, fill, flash, formError, h, notice, problemText, showError, t, table, values,
} from '../lib.js';

/** The JSON of the file chosen in `input`, or a problem. */
async function readJson(input) {
  const file = input.files[0];
  if (!file) return { problem: { code: 'REQUEST_INVALID', detail: t('peers.fileRequired') } };
  if (file.size > 4 * 1024 * 1024) return { problem: { code: 'PAYLOAD_TOO_LARGE', detail: t('verify.tooLarge') } };
  try {
    return { json: JSON.parse(await file.text()) };
  } catch (e) {
    return { problem: { code: 'MALFORMED_JSON', detail: String(e) } };
  }
}

function age(at) {
  if (!at) return '—';
  const hours = (Date.now() - new Date(at).getTime()) / 3600e3;
  return `${chinaTime(at)}（${t('overview.hours', { n: hours.toFixed(1) })}）`;
}

export async function render(main, ctx) {
  const answer = await api('GET', '/v1/peers');
  if (!answer.ok) return fill(main, h('h1', {}, t('nav.peers')), failed(answer.body));
  const remove = (p) => async () => {
    if (!(await confirmAction(t('peers.confirmRemove', { name: p.name, region: p.regionCode })))) return;
    const r = await api('DELETE', `/v1/peers/${encodeURIComponent(p.regionCode)}`);
    if (!r.ok) return notice(`${r.body?.code ?? 'ERROR'} ${r.body?.detail ?? ''}`, 'bad');
    flash(t('peers.removed', { name: p.name }));
    await ctx.rerender();
  };
  const trustInput = (p) => {
    const input = h('input', { type: 'file', accept: '.json,application/json', 'aria-label': t('peers.importTrust'), 'data-trust-file': p.regionCode });
    input.addEventListener('change', async () => {
      const read = await readJson(input);
      if (read.problem) return notice(`${read.problem.code} ${problemText(read.problem)}`, 'bad');
      const r = await api('POST', `/v1/peers/${encodeURIComponent(p.regionCode)}/trust`, { json: read.json });
      if (!r.ok) return notice(`${r.body?.code ?? 'ERROR'} ${problemText(r.body ?? {})}`, 'bad');
      flash(t('peers.trusted', { name: p.name }));
      await ctx.rerender();
    });
    return input;
  };
  fill(main, h('h1', {}, t('nav.peers')),
    table(answer.body, [
      [t('peers.region'), (p) => `${p.name}（${p.regionCode}）`],
      [t('peers.address'), (p) => h('code', {}, p.address)],
      [t('peers.status'), (p) => h('span', { class: `badge ${p.status === 'active' ? 'ok' : 'bad'}`, 'data-peer': p.regionCode }, t(`peers.status.${p.status}`))],
      [t('peers.fetched'), (p) => age(p.trust?.fetchedAt)],
      [t('peers.validUntil'), (p) => (p.trust?.validUntil ? chinaTime(p.trust.validUntil) : '—')],
      [t('peers.failures'), (p) => (p.trust?.failures ? `${p.trust.failures}：${p.trust.failure ?? ''}` : '0')],
      [t('peers.crl'), (p) => (p.crl ? h('code', {}, p.crl) : '—')],
      [t('access.actions'), (p) => (p.status === 'active' ? [trustInput(p), h('button', { type: 'button', class: 'danger', 'data-remove': p.regionCode, onclick: remove(p) }, t('peers.remove'))] : '')],
    ]),
    addForm(ctx), cardForm());
}

function addForm(ctx) {
  const input = h('input', { type: 'file', accept: '.json,application/json' });
  const form = h('form', { id: 'peer-form', novalidate: true },
    field('card', t('peers.card'), input, t('peers.cardHint')), formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'peer-submit' }, t('peers.add'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const read = await readJson(input);
    if (read.problem) return showError(form, 'card', read.problem);
    const what = t('peers.confirmAdd', { name: read.json.name ?? '', region: read.json.region ?? '', address: read.json.address ?? '' });
    if (!(await confirmAction(what, { danger: false }))) return;
    const r = await api('POST', '/v1/peers', { json: read.json });
    if (!r.ok) return showError(form, 'card', r.body ?? {});
    flash(t('peers.added', { name: r.body.name }));
    await ctx.rerender();
  });
  return [h('h2', {}, t('peers.addTitle')), form];
}

function cardForm() {
  const result = h('span', { id: 'own-card' });
  const form = h('form', { id: 'card-form', novalidate: true },
    field('address', t('peers.ownAddress'), h('input', { type: 'text', required: true, maxlength: 255, placeholder: 'hub.example.gov.cn:4433' })), formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('peers.makeCard')), result));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    if (!v.address) return showError(form, 'address', { code: 'REQUEST_INVALID', detail: t('departments.required') });
    const r = await api('GET', '/v1/peers/card', { query: { address: v.address } });
    if (!r.ok) return showError(form, 'address', r.body ?? {});
    fill(result, download(`peer-card-${r.body.region ?? 'hub'}.json`, JSON.stringify(r.body, null, 2), 'application/json'));
  });
  return [h('h2', {}, t('peers.ownCard')), form];
}
