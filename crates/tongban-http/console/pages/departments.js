// Departments as a three-level tree (district → town/street → village),
// each with its status; a region administrator adds departments and
// suspends or reactivates them, each after a confirmation naming what
// will happen.

import {
  api, clearErrors, confirmAction, failed, field, fill, flash, formError, h, may, notice, showError, t, values,
} from '../lib.js';

/** Every department: the list's pages followed to the end. */
async function all() {
  const out = [];
  let offset = 0;
  for (;;) {
    const page = await api('GET', '/v1/departments', { query: { offset, limit: 1000 } });
    if (!page.ok) return page;
    out.push(...page.body.items);
    if (page.body.next == null) return { ok: true, body: out };
    offset = page.body.next;
  }
}

export async function render(main, ctx) {
  const answer = await all();
  if (!answer.ok) return fill(main, h('h1', {}, t('nav.departments')), failed(answer.body));
  const departments = answer.body;
  const codes = new Set(departments.map((d) => d.code));
  const children = new Map();
  for (const d of departments) {
    const parent = d.parentCode && codes.has(d.parentCode) ? d.parentCode : '';
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(d);
  }
  const change = (d, to) => async () => {
    const reason = await confirmAction(t(`departments.confirm.${to}`, { name: d.name, code: d.code }), { reason: true, danger: to !== 'activate' });
    if (!reason) return;
    const done = await api('POST', `/v1/departments/${encodeURIComponent(d.code)}/${to}`, { json: { reason } });
    if (!done.ok) return notice(`${done.body?.code ?? 'ERROR'} ${done.body?.detail ?? ''}`, 'bad');
    flash(t(`departments.done.${to}`, { name: d.name }));
    await ctx.rerender();
  };
  const node = (d) => {
    const kids = children.get(d.code) ?? [];
    const buttons = [];
    if (may('departments-write') && d.status === 'active') buttons.push(h('button', { type: 'button', 'data-suspend': d.code, onclick: change(d, 'suspend') }, t('departments.suspend')));
    if (may('departments-write') && d.status === 'suspended') buttons.push(h('button', { type: 'button', 'data-activate': d.code, onclick: change(d, 'activate') }, t('departments.activate')));
    const label = h('span', { class: 'dept' },
      h('strong', {}, d.name), ' ', h('code', {}, d.code), ' ',
      h('span', { class: 'badge' }, t(`level.${d.platformLevel}`)), ' ',
      h('span', { class: `badge dept-${d.status}`, 'data-status-of': d.code }, t(`departments.status.${d.status}`)), ' ', buttons);
    return h('li', { 'data-code': d.code, 'data-level': d.platformLevel },
      kids.length ? h('details', { open: true }, h('summary', {}, label), h('ul', {}, kids.map(node))) : label);
  };
  fill(main, h('h1', {}, t('nav.departments')),
    h('ul', { class: 'tree', id: 'department-tree' }, (children.get('') ?? []).map(node)),
    may('departments-write') ? addForm(departments, ctx) : null);
}

function addForm(departments, ctx) {
  const parents = departments.filter((d) => d.platformLevel !== 'village' && d.status !== 'retired');
  const form = h('form', { id: 'department-form', novalidate: true },
    h('div', { class: 'row' },
      field('code', t('departments.code'), h('input', { type: 'text', required: true, maxlength: 18 })),
      field('name', t('departments.name'), h('input', { type: 'text', required: true, maxlength: 200 }))),
    h('div', { class: 'row' },
      field('regionCode', t('departments.region'), h('input', { type: 'text', required: true, maxlength: 12, inputmode: 'numeric' })),
      field('platformLevel', t('departments.level'), h('select', {}, ['district', 'town', 'village'].map((l) => h('option', { value: l }, t(`level.${l}`))))),
      field('parentCode', t('departments.parent'), h('select', {}, h('option', { value: '' }, t('departments.noParent')),
        parents.map((d) => h('option', { value: d.code }, `${d.name}（${d.code}）`))))),
    field('contact', t('departments.contact'), h('input', { type: 'text', maxlength: 200 })),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'department-submit' }, t('departments.add'))));
  const fieldOf = {
    DEPARTMENT_CODE_INVALID: 'code', DEPARTMENT_EXISTS: 'code', DEPARTMENT_NAME_INVALID: 'name', REGION_CODE_INVALID: 'regionCode',
    DEPARTMENT_LEVEL_INVALID: 'platformLevel', DEPARTMENT_PARENT_UNKNOWN: 'parentCode', DEPARTMENT_CONTACT_INVALID: 'contact',
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    const missing = ['code', 'name', 'regionCode'].filter((k) => !v[k]);
    for (const k of [...missing].reverse()) showError(form, k, { code: 'REQUEST_INVALID', detail: t('departments.required') });
    if (missing.length) return;
    const body = { code: v.code, name: v.name, regionCode: v.regionCode, platformLevel: v.platformLevel, parentCode: v.parentCode || undefined, contact: v.contact || undefined };
    const answer = await api('POST', '/v1/departments', { json: body });
    if (!answer.ok) return showError(form, fieldOf[answer.body?.code] ?? '*', answer.body ?? {});
    flash(t('departments.added', { name: answer.body.name }));
    await ctx.rerender();
  });
  return h('section', {}, h('h2', {}, t('departments.addTitle')), form);
}
