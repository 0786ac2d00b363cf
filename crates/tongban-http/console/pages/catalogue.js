// The catalogue: search in Chinese with filters (server-side pages), a
// resource's page with its versions and sharing type, and access
// applications: apply (for a resource), approve, reject, withdraw.

import {
  api, chinaTime, clearErrors, confirmAction, failed, field, fill, flash, formError, go, h, link, may,
  notice, pager, session, showError, t, table, values,
} from '../lib.js';

export async function render(main, ctx) {
  if (ctx.view === 'access') return accessPage(main, ctx.params);
  const [, id, sub] = ctx.parts;
  if (id === 'new') return editPage(main, null);
  if (id && sub === 'edit') return editPage(main, id);
  if (id) return resourcePage(main, id);
  return searchPage(main, ctx.params);
}

const SHARING = ['unconditional', 'conditional', 'not-shared'];

function sharingBadge(type) {
  return h('span', { class: `badge sharing-${type}` }, t(`sharing.${type}`));
}

async function searchPage(main, params) {
  const form = h('form', { id: 'search-form', role: 'search', novalidate: true },
    h('div', { class: 'row' },
      field('q', t('catalogue.q'), h('input', { type: 'search', maxlength: 200, value: params.get('q') ?? '' }), t('catalogue.qHint')),
      field('sharing', t('catalogue.sharing'), h('select', {},
        h('option', { value: '' }, t('catalogue.any')),
        SHARING.map((s) => h('option', { value: s, selected: params.get('sharing') === s }, t(`sharing.${s}`))))),
      field('provider', t('catalogue.provider'), h('input', { type: 'text', maxlength: 18, value: params.get('provider') ?? '' }))),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('catalogue.search'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go('/catalogue', { ...values(form), offset: '0' });
  });
  const results = h('section', { id: 'catalogue-results', 'aria-live': 'polite' });
  const publish = may('catalogue-write') ? h('p', {}, link('/catalogue/new', t('catalogue.publish'))) : null;
  fill(main, h('h1', {}, t('catalogue.title')), publish, form, results);
  const v = Object.fromEntries(params);
  const answer = await api('GET', '/v1/catalogue', { query: { q: v.q, sharing: v.sharing, provider: v.provider, offset: v.offset, limit: 20 } });
  if (!answer.ok) {
    const code = answer.body?.code ?? '';
    showError(form, code.startsWith('CATALOGUE_QUERY') || code === 'REQUEST_INVALID' ? 'q' : '*', answer.body ?? {});
    return;
  }
  fill(results, table(answer.body.items, [
    [t('catalogue.name'), (r) => link(`/catalogue/${encodeURIComponent(r.id)}`, r.name)],
    [t('catalogue.id'), (r) => h('code', {}, r.id)],
    [t('catalogue.provider'), (r) => r.provider],
    [t('catalogue.sharing'), (r) => sharingBadge(r.sharingType)],
    [t('catalogue.version'), (r) => String(r.version)],
    [t('catalogue.updated'), (r) => chinaTime(r.updatedAt)],
  ]), pager(answer.body, (offset) => go('/catalogue', { ...v, offset: String(offset) })));
}

async function resourcePage(main, id) {
  const [current, history] = await Promise.all([
    api('GET', `/v1/catalogue/${encodeURIComponent(id)}`),
    api('GET', `/v1/catalogue/${encodeURIComponent(id)}`, { query: { history: 'true' } }),
  ]);
  if (!current.ok) return fill(main, h('h1', {}, t('catalogue.title')), failed(current.body));
  const r = current.body;
  const versions = history.ok ? history.body : [];
  const mine = may('catalogue-write', r.provider) && r.status === 'published';
  fill(main,
    h('h1', {}, r.name),
    mine ? h('p', {}, link(`/catalogue/${encodeURIComponent(r.id)}/edit`, t('catalogue.edit'))) : null,
    h('dl', {},
      h('dt', {}, t('catalogue.id')), h('dd', {}, h('code', {}, r.id)),
      h('dt', {}, t('catalogue.description')), h('dd', {}, r.description),
      h('dt', {}, t('catalogue.provider')), h('dd', {}, r.provider),
      h('dt', {}, t('catalogue.sharing')), h('dd', { id: 'sharing' }, sharingBadge(r.sharingType)),
      h('dt', {}, t('catalogue.schema')), h('dd', {}, h('code', {}, r.schema)),
      h('dt', {}, t('catalogue.frequency')), h('dd', {}, r.updateFrequency),
      h('dt', {}, t('catalogue.tags')), h('dd', {}, r.tags.join('、')),
      h('dt', {}, t('catalogue.status')), h('dd', {}, t(`catalogue.status.${r.status}`))),
    h('h2', {}, t('catalogue.fields')),
    table(r.fields, [[t('catalogue.fieldName'), (f) => h('code', {}, f.name)], [t('catalogue.fieldLabel'), (f) => f.label]]),
    h('h2', {}, t('catalogue.versions')),
    table(versions, [
      [t('catalogue.version'), (v) => String(v.version)],
      [t('catalogue.name'), (v) => v.name],
      [t('catalogue.sharing'), (v) => sharingBadge(v.sharingType)],
      [t('catalogue.updated'), (v) => chinaTime(v.updatedAt)],
    ]),
    applyForm(r));
}

/** The application form, for an operator whose department may apply. */
function applyForm(r) {
  if (!may('access-apply') || r.sharingType !== 'conditional' || r.provider === session.who?.department) return null;
  const until = new Date(Date.now() + 180 * 86400e3).toISOString().slice(0, 10);
  const form = h('form', { id: 'apply-form', novalidate: true },
    session.who.role === 'region-admin' ? field('department', t('access.consumer'), h('input', { type: 'text', required: true, maxlength: 18 })) : null,
    field('purpose', t('access.purpose'), h('textarea', { required: true, maxlength: 500, rows: 2 })),
    field('validUntil', t('access.validUntil'), h('input', { type: 'date', required: true, value: until })),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'apply-submit' }, t('access.apply'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    if (!v.purpose) return showError(form, 'purpose', { code: 'USE_CAUSE_REQUIRED', detail: t('access.purposeRequired') });
    if (!v.validUntil) return showError(form, 'validUntil', { code: 'ACCESS_PERIOD_INVALID', detail: t('access.untilRequired') });
    // The end of that day in China time.
    const validUntil = `${v.validUntil}T23:59:59+08:00`;
    const answer = await api('POST', '/v1/access/applications', { json: { resource: r.id, purpose: v.purpose, validUntil, department: v.department || undefined } });
    if (!answer.ok) {
      const code = answer.body?.code ?? '';
      return showError(form, code === 'ACCESS_PERIOD_INVALID' ? 'validUntil' : code === 'USE_CAUSE_REQUIRED' ? 'purpose' : '*', answer.body ?? {});
    }
    flash(t('access.applied', { id: answer.body.id }));
    go('/access');
  });
  return h('section', {}, h('h2', {}, t('access.applyTitle')), form);
}

async function accessPage(main, params) {
  const offset = params.get('offset') ?? '0';
  const answer = await api('GET', '/v1/access/applications', { query: { offset, limit: 20 } });
  if (!answer.ok) return fill(main, h('h1', {}, t('nav.access')), failed(answer.body));
  const decide = (a, kind) => async () => {
    const needsReason = kind !== 'approve';
    const said = await confirmAction(t(`access.confirm.${kind}`, { id: a.id, resource: a.resource, consumer: a.consumer }), { reason: needsReason, danger: kind !== 'approve' });
    if (!said) return;
    const body = needsReason ? { reason: said } : {};
    const done = await api('POST', `/v1/access/applications/${a.id}/${kind}`, { json: body });
    await accessPage(main, params);
    if (done.ok) notice(t(`access.done.${kind}`, { id: a.id }));
    else notice(`${done.body?.code ?? 'ERROR'} ${done.body?.detail ?? ''}`, 'bad');
  };
  const own = session.who?.department;
  const buttons = (a) => {
    // Only the resource's provider decides and withdraws (the API refuses
    // anyone else): an operator's own applications get no buttons.
    const provider = may('access-decide') && a.consumer !== own;
    if (provider && a.status === 'pending') {
      return [
        h('button', { type: 'button', class: 'primary', 'data-approve': a.id, onclick: decide(a, 'approve') }, t('access.approve')),
        h('button', { type: 'button', 'data-reject': a.id, onclick: decide(a, 'reject') }, t('access.reject')),
      ];
    }
    if (provider && a.status === 'approved') {
      return h('button', { type: 'button', 'data-withdraw': a.id, onclick: decide(a, 'withdraw') }, t('access.withdraw'));
    }
    return a.reason ?? '';
  };
  fill(main, h('h1', {}, t('nav.access')),
    table(answer.body.items, [
      [t('access.id'), (a) => String(a.id)],
      [t('access.resource'), (a) => link(`/catalogue/${encodeURIComponent(a.resource)}`, a.resource)],
      [t('access.consumer'), (a) => a.consumer],
      [t('access.purpose'), (a) => a.purpose],
      [t('access.period'), (a) => `${chinaTime(a.validFrom).slice(0, 10)} – ${chinaTime(a.validUntil).slice(0, 10)}`],
      [t('access.status'), (a) => h('span', { class: `badge access-${a.status}`, 'data-application': a.id }, t(`access.status.${a.status}`))],
      [t('access.actions'), buttons],
    ]),
    pager(answer.body, (o) => go('/access', { offset: String(o) })));
}

const FREQUENCIES = ['real-time', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly'];
const ID = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * The publish form (a new resource), or the update form (its next
 * version): its fields are chosen from the payload schema's own
 * properties, labelled with their titles, so every field is the schema's.
 */
async function editPage(main, id) {
  const [schemas, current] = await Promise.all([
    api('GET', '/v1/schemas', { query: { kind: 'message', limit: 1000 } }),
    id ? api('GET', `/v1/catalogue/${encodeURIComponent(id)}`) : Promise.resolve({ ok: true, body: null }),
  ]);
  const bad = [schemas, current].find((a) => !a.ok);
  if (bad) return fill(main, h('h1', {}, t('catalogue.title')), failed(bad.body));
  const r = current.body;
  const schemaSelect = h('select', { required: true },
    h('option', { value: '' }, t('issue.chooseType')),
    schemas.body.items.map((s) => {
      const value = `${s.id}@${s.version}`;
      return h('option', { value, selected: r?.schema === value }, `${s.title}（${value}）`);
    }));
  const fieldsArea = h('fieldset', { id: 'resource-fields' }, h('legend', {}, t('catalogue.fields')));
  const chosen = new Map((r?.fields ?? []).map((f) => [f.name, f.label]));
  const showFields = async () => {
    const value = schemaSelect.value;
    fill(fieldsArea, h('legend', {}, t('catalogue.fields')));
    if (!value) return;
    const at = value.lastIndexOf('@');
    const doc = await api('GET', `/v1/schemas/${encodeURIComponent(value.slice(0, at))}/${encodeURIComponent(value.slice(at + 1))}`);
    if (!doc.ok) return fieldsArea.append(failed(doc.body));
    for (const [name, p] of Object.entries(doc.body.properties ?? {})) {
      const box = h('input', { type: 'checkbox', name: `field:${name}`, id: `field-${name}`, checked: chosen.has(name) });
      const label = h('input', { type: 'text', name: `label:${name}`, value: chosen.get(name) ?? p.title ?? name, maxlength: 100, 'aria-label': t('catalogue.fieldLabelOf', { name }) });
      fieldsArea.append(h('div', { class: 'field-choice' }, box, ' ', h('label', { for: `field-${name}` }, h('code', {}, name)), ' ', label));
    }
    fieldsArea.append(h('p', { class: 'error', 'data-error-for': 'fields', role: 'alert', hidden: true }));
  };
  schemaSelect.addEventListener('change', showFields);
  const form = h('form', { id: 'resource-form', novalidate: true },
    id ? null : field('id', t('catalogue.id'), h('input', { type: 'text', required: true, maxlength: 100 }), t('catalogue.idHint')),
    session.who.role === 'region-admin' && !id ? field('department', t('catalogue.provider'), h('input', { type: 'text', required: true, maxlength: 18 })) : null,
    field('name', t('catalogue.name'), h('input', { type: 'text', required: true, maxlength: 200, value: r?.name ?? '' })),
    field('description', t('catalogue.description'), h('textarea', { rows: 2, maxlength: 2000 }, r?.description ?? '')),
    field('schema', t('catalogue.schema'), schemaSelect),
    fieldsArea,
    h('div', { class: 'row' },
      field('sharingType', t('catalogue.sharing'), h('select', {}, SHARING.map((v) => h('option', { value: v, selected: r?.sharingType === v }, t(`sharing.${v}`))))),
      field('updateFrequency', t('catalogue.frequency'), h('select', {}, FREQUENCIES.map((v) => h('option', { value: v, selected: (r?.updateFrequency ?? 'real-time') === v }, t(`frequency.${v}`))))),
      field('tags', t('catalogue.tags'), h('input', { type: 'text', maxlength: 500, value: (r?.tags ?? []).join('，') }), t('catalogue.tagsHint'))),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'resource-submit' }, id ? t('catalogue.update') : t('catalogue.publish'))));
  form.addEventListener('submit', (e) => submitResource(e, form, id));
  fill(main, h('h1', {}, id ? t('catalogue.editTitle', { name: r.name }) : t('catalogue.publish')), form);
  if (schemaSelect.value) await showFields();
}

async function submitResource(e, form, id) {
  e.preventDefault();
  clearErrors(form);
  const v = values(form);
  const errors = [];
  if (!id && (!ID.test(v.id ?? '') || v.id.startsWith('hub.'))) errors.push(['id', { code: 'CATALOGUE_INVALID', detail: t('catalogue.idHint') }]);
  if (!v.name) errors.push(['name', { code: 'CATALOGUE_INVALID', detail: t('departments.required') }]);
  if (!v.schema) errors.push(['schema', { code: 'SCHEMA_UNKNOWN', detail: t('catalogue.schemaRequired') }]);
  const fields = Object.keys(v).filter((k) => k.startsWith('field:')).map((k) => k.slice(6))
    .map((name) => ({ name, label: v[`label:${name}`] || name }));
  if (v.schema && !fields.length) errors.push(['fields', { code: 'CATALOGUE_INVALID', detail: t('catalogue.fieldsRequired') }]);
  if (errors.length) {
    for (const [name, problem] of [...errors].reverse()) showError(form, name, problem);
    return;
  }
  const body = {
    name: v.name, description: v.description ?? '', schema: v.schema, fields, sharingType: v.sharingType,
    updateFrequency: v.updateFrequency, tags: (v.tags ?? '').split(/[,，、\s]+/).filter(Boolean),
  };
  if (!id) body.id = v.id;
  if (v.department) body.department = v.department;
  const answer = id
    ? await api('PUT', `/v1/catalogue/${encodeURIComponent(id)}`, { json: body })
    : await api('POST', '/v1/catalogue', { json: body });
  if (!answer.ok) {
    const code = answer.body?.code ?? '';
    const at = code === 'CATALOGUE_EXISTS' ? 'id' : code === 'CATALOGUE_FIELD_UNKNOWN' ? 'fields' : code.startsWith('SCHEMA') ? 'schema' : '*';
    return showError(form, at, answer.body ?? {});
  }
  flash(id ? t('catalogue.updated', { version: answer.body.version }) : t('catalogue.published', { name: answer.body.name }));
  go(`/catalogue/${encodeURIComponent(answer.body.id)}`);
}
