// Service items (事项) and cases (办件): the items a page at a time with
// their materials; a department operator registers its items (materials
// one per line); cases of the department, each with the licence-use
// records (用证记录) it left.

import {
  api, chinaTime, clearErrors, failed, field, fill, flash, formError, go, h, link, may, pager, session, showError, t, table, values,
} from '../lib.js';

export async function render(main, ctx) {
  if (ctx.view === 'cases') {
    const [, department, id] = ctx.parts;
    return id ? casePage(main, department, id) : casesPage(main, ctx.params);
  }
  const [, code] = ctx.parts;
  return code ? itemPage(main, code) : itemsPage(main, ctx);
}

async function itemsPage(main, ctx) {
  const offset = ctx.params.get('offset') ?? '0';
  const answer = await api('GET', '/v1/items', { query: { offset, limit: 50 } });
  if (!answer.ok) return fill(main, h('h1', {}, t('nav.items')), failed(answer.body));
  fill(main, h('h1', {}, t('nav.items')),
    table(answer.body.items, [
      [t('items.code'), (i) => link(`/items/${encodeURIComponent(i.code)}`, i.code)],
      [t('items.name'), (i) => i.name],
      [t('items.type'), (i) => t(`items.type.${i.itemType}`)],
      [t('items.department'), (i) => i.department],
      [t('items.limits'), (i) => t('items.days', { legal: i.legalLimitDays, promised: i.promisedLimitDays })],
      [t('items.status'), (i) => i.status],
    ]),
    pager(answer.body, (o) => go('/items', { offset: String(o) })),
    may('items-write') ? itemForm(ctx) : null);
}

async function itemPage(main, code) {
  const answer = await api('GET', `/v1/items/${encodeURIComponent(code)}`);
  if (!answer.ok) return fill(main, h('h1', {}, t('nav.items')), failed(answer.body));
  const i = answer.body;
  fill(main, h('h1', {}, i.name),
    h('dl', {},
      h('dt', {}, t('items.code')), h('dd', {}, h('code', {}, i.code)),
      h('dt', {}, t('items.type')), h('dd', {}, t(`items.type.${i.itemType}`)),
      h('dt', {}, t('items.department')), h('dd', {}, i.department),
      h('dt', {}, t('items.limits')), h('dd', {}, t('items.days', { legal: i.legalLimitDays, promised: i.promisedLimitDays })),
      h('dt', {}, t('items.version')), h('dd', {}, String(i.version)),
      h('dt', {}, t('items.result')), h('dd', {}, i.resultType ?? '—')),
    h('h2', {}, t('items.materials')),
    table(i.materials, [
      [t('items.material'), (m) => m.name],
      [t('items.licenceType'), (m) => (m.licenceType ? h('code', {}, m.licenceType) : t('items.paper'))],
      [t('items.required'), (m) => (m.required ? t('items.yes') : t('items.no'))],
    ], null));
}

/** `名称|证照类型代码|可选` per line → materials. */
function materials(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [name, licenceType, optional] = l.split(/[|｜]/).map((p) => p.trim());
    const m = { name };
    if (licenceType) m.licenceType = licenceType;
    if (optional) m.required = false;
    return m;
  });
}

function itemForm(ctx) {
  const form = h('form', { id: 'item-form', novalidate: true },
    session.who.role === 'region-admin' ? field('department', t('items.department'), h('input', { type: 'text', required: true, maxlength: 18 })) : null,
    h('div', { class: 'row' },
      field('code', t('items.code'), h('input', { type: 'text', required: true, maxlength: 64 })),
      field('name', t('items.name'), h('input', { type: 'text', required: true, maxlength: 200 })),
      field('itemType', t('items.type'), h('select', {}, ['即办件', '承诺件', '联办件', '上报件'].map((v) => h('option', { value: v }, v))))),
    h('div', { class: 'row' },
      field('legalLimitDays', t('items.legal'), h('input', { type: 'number', min: 0, max: 3650, value: 20 })),
      field('promisedLimitDays', t('items.promised'), h('input', { type: 'number', min: 0, max: 3650, value: 10 })),
      field('resultType', t('items.result'), h('input', { type: 'text', maxlength: 21 }))),
    field('materials', t('items.materials'), h('textarea', { rows: 4 }), t('items.materialsHint')),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'item-submit' }, t('items.register'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    const missing = ['code', 'name'].filter((k) => !v[k]);
    for (const k of [...missing].reverse()) showError(form, k, { code: 'REQUEST_INVALID', detail: t('departments.required') });
    if (missing.length) return;
    const body = {
      code: v.code, name: v.name, itemType: v.itemType, legalLimitDays: Number(v.legalLimitDays), promisedLimitDays: Number(v.promisedLimitDays),
      materials: materials(v.materials ?? ''), resultType: v.resultType || undefined, department: v.department || undefined,
    };
    const r = await api('POST', '/v1/items', { json: body });
    if (!r.ok) {
      const code = r.body?.code ?? '';
      const at = code.includes('LIMIT') ? 'promisedLimitDays' : code.includes('MATERIAL') ? 'materials' : code.includes('CODE') ? 'code' : code.includes('NAME') ? 'name' : code.includes('TYPE') ? 'itemType' : '*';
      return showError(form, at, r.body ?? {});
    }
    flash(t('items.registered', { name: r.body.name, version: r.body.version }));
    await ctx.rerender();
  });
  return [h('h2', {}, t('items.registerTitle')), form];
}

async function casesPage(main, params) {
  const offset = params.get('offset') ?? '0';
  const answer = await api('GET', '/v1/cases', { query: { offset, limit: 50, department: params.get('department') } });
  if (!answer.ok) return fill(main, h('h1', {}, t('nav.cases')), failed(answer.body));
  fill(main, h('h1', {}, t('nav.cases')),
    table(answer.body.items, [
      [t('cases.id'), (c) => link(`/cases/${encodeURIComponent(c.department)}/${encodeURIComponent(c.id)}`, c.id)],
      [t('items.code'), (c) => c.item],
      [t('cases.holder'), (c) => c.holderCode],
      [t('licences.useCause'), (c) => c.useCause],
      [t('cases.status'), (c) => c.status],
      [t('cases.opened'), (c) => chinaTime(c.openedAt)],
    ]),
    pager(answer.body, (o) => go('/cases', { offset: String(o) })));
}

async function casePage(main, department, id) {
  const answer = await api('GET', `/v1/cases/${encodeURIComponent(department)}/${encodeURIComponent(id)}`);
  if (!answer.ok) return fill(main, h('h1', {}, t('nav.cases')), failed(answer.body));
  const { case: c, uses } = answer.body;
  fill(main, h('h1', {}, t('cases.case', { id: c.id })),
    h('dl', {},
      h('dt', {}, t('items.code')), h('dd', {}, link(`/items/${encodeURIComponent(c.item)}`, c.item)),
      h('dt', {}, t('items.department')), h('dd', {}, c.department),
      h('dt', {}, t('cases.holder')), h('dd', {}, c.holderCode),
      h('dt', {}, t('licences.useCause')), h('dd', {}, c.useCause),
      h('dt', {}, t('cases.status')), h('dd', {}, c.status),
      h('dt', {}, t('cases.opened')), h('dd', {}, chinaTime(c.openedAt)),
      h('dt', {}, t('cases.result')), h('dd', {}, c.resultLicence ?? '—')),
    h('h2', {}, t('licences.uses')),
    h('div', { id: 'case-uses' }, table(uses, [
      [t('licences.usedAt'), (u) => chinaTime(u.at)],
      [t('licences.requester'), (u) => u.requester],
      [t('licences.useCause'), (u) => u.useCause],
      [t('cases.returned'), (u) => u.returned.join(', ')],
    ])));
}
