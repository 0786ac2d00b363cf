// Licences: find a holder's (stating the purpose, 申请事由, which the use
// record keeps), a licence's page (verification, data, use records,
// suspend / reinstate / revoke with a reason), its printable view, and
// the issue form generated from the licence type's schema.

import {
  api, chinaTime, clearErrors, confirmAction, failed, field, fill, formError, go, h, link, may,
  notice, pager, session, showError, t, table, values,
} from '../lib.js';
import { verification } from './verify.js';

export async function render(main, ctx) {
  if (ctx.view === 'issue') return issuePage(main);
  const [, identifier, sub] = ctx.parts;
  if (identifier && sub === 'print') return printPage(main, identifier, ctx.params);
  if (identifier) return licencePage(main, identifier, ctx.params);
  return findPage(main, ctx.params);
}

/** Which field a refusal of a read is about. */
function readField(code) {
  if (code.startsWith('USE_CAUSE')) return 'useCause';
  if (code.startsWith('CASE')) return 'case';
  if (code.startsWith('HOLDER') || code === 'DATA_CODE_INVALID' || code === 'USCC_INVALID') return 'holder';
  if (code.startsWith('DEPARTMENT')) return 'department';
  return '*';
}

function purposeFields(params) {
  const fields = [
    field('useCause', t('licences.useCause'), h('input', { type: 'text', required: true, maxlength: 200, value: params.get('useCause') ?? '' }), t('licences.useCauseHint')),
    field('case', t('licences.case'), h('input', { type: 'text', maxlength: 100, value: params.get('case') ?? '' })),
  ];
  if (session.who?.role === 'region-admin') {
    fields.push(field('department', t('licences.asDepartment'), h('input', { type: 'text', maxlength: 18, value: params.get('department') ?? '' }), t('licences.asDepartmentHint')));
  }
  return fields;
}

/** The stated purpose is required before anything is read. */
function purposeMissing(form, v) {
  if (v.useCause) return false;
  showError(form, 'useCause', { code: 'USE_CAUSE_REQUIRED', detail: t('licences.useCauseRequired') });
  return true;
}

async function findPage(main, params) {
  const holderType = h('select', {},
    h('option', { value: '001', selected: params.get('holderType') !== '111' }, t('licences.uscc')),
    h('option', { value: '111', selected: params.get('holderType') === '111' }, t('licences.citizenId')));
  const form = h('form', { id: 'find-form', novalidate: true },
    h('div', { class: 'row' },
      field('holder', t('licences.holder'), h('input', { type: 'text', required: true, maxlength: 18, value: params.get('holder') ?? '' })),
      field('holderType', t('licences.holderType'), holderType)),
    ...purposeFields(params),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('licences.find'))));
  const results = h('section', { id: 'find-results', 'aria-live': 'polite' });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    if (!v.holder) {
      showError(form, 'holder', { code: 'REQUEST_INVALID', detail: t('licences.holderRequired') });
      return;
    }
    if (purposeMissing(form, v)) return;
    go('/licences', { ...v, offset: '0' });
  });
  fill(main, h('h1', {}, t('licences.title')), form, results);
  if (!params.get('holder')) return;
  const v = Object.fromEntries(params);
  if (purposeMissing(form, v)) return;
  const answer = await api('GET', '/v1/licences', {
    query: { holder: v.holder, holderType: v.holderType, useCause: v.useCause, case: v.case, department: v.department, offset: v.offset, limit: 20 },
  });
  if (!answer.ok) {
    showError(form, readField(answer.body?.code ?? ''), answer.body ?? {});
    return;
  }
  const listed = answer.body;
  const purpose = { useCause: v.useCause, case: v.case, department: v.department };
  fill(results,
    h('h2', {}, t('licences.found')),
    table(listed.items, [
      [t('licences.name'), (f) => link(`/licences/${encodeURIComponent(f.identifier)}`, f.credential.name ?? f.identifier, purpose)],
      [t('licences.number'), (f) => f.credential.licence?.number ?? ''],
      [t('licences.holder'), (f) => f.credential.credentialSubject?.name ?? ''],
      [t('licences.issuer'), (f) => f.credential.issuer?.name ?? ''],
      [t('licences.validity'), (f) => statusBadge(f.verification)],
    ]),
    pager(listed, (offset) => go('/licences', { ...v, offset: String(offset) })));
}

function statusBadge(v) {
  const status = v.status ?? (v.valid ? 'valid' : 'invalid');
  return h('span', { class: `badge ${v.valid ? 'ok' : 'bad'}`, 'data-status': status }, v.valid ? t(`status.${status}`) : `${t('verify.invalid')}（${v.problems.map((p) => p.code).join(', ')}）`);
}

/** Asks for the purpose first: nothing is read without one. */
function askPurpose(main, identifier, params) {
  const form = h('form', { id: 'purpose-form', novalidate: true }, ...purposeFields(params), formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('licences.open'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    if (purposeMissing(form, v)) return;
    go(`/licences/${encodeURIComponent(identifier)}`, v);
  });
  fill(main, h('h1', {}, t('licences.licence')), h('p', {}, t('licences.purposeFirst')), form);
}

/** The titles of the licence type's fields (照面信息 labels), when the caller may read schemas. */
async function fieldTitles(c) {
  const code = c.licence?.typeCode;
  const version = c.licence?.typeVersion;
  if (!code || !may('schemas-read')) return {};
  const shown = await api('GET', `/v1/schemas/${encodeURIComponent(code)}/${encodeURIComponent(version ?? 'latest')}`);
  if (!shown.ok) return {};
  return Object.fromEntries(Object.entries(shown.body.properties ?? {}).map(([k, p]) => [k, p.title ?? k]));
}

/** The licence data as a list of title and value. */
function dataList(data, titles) {
  return Object.entries(data).map(([k, value]) => [
    h('dt', {}, titles[k] ?? k),
    h('dd', {}, typeof value === 'object' ? JSON.stringify(value) : String(value)),
  ]);
}

async function readLicence(identifier, params) {
  return api('GET', `/v1/licences/${encodeURIComponent(identifier)}`, {
    query: { useCause: params.get('useCause'), case: params.get('case'), department: params.get('department') },
  });
}

async function licencePage(main, identifier, params) {
  if (!params.get('useCause')) return askPurpose(main, identifier, params);
  const answer = await readLicence(identifier, params);
  if (!answer.ok) {
    fill(main, h('h1', {}, t('licences.licence')), failed(answer.body));
    return;
  }
  const found = answer.body;
  const c = found.credential;
  const issuer = c.licence?.issuerCode;
  const subject = c.credentialSubject ?? {};
  const data = subject.licenceData ?? {};
  const actions = h('div', { class: 'actions', id: 'status-actions' });
  const status = found.verification.status;
  const change = (kind) => async () => {
    const reason = await confirmAction(t(`licences.confirm.${kind}`, { name: c.name, identifier }), { reason: true });
    if (!reason) return;
    const done = await api('POST', `/v1/licences/${encodeURIComponent(identifier)}/${kind}`, { json: { reason } });
    if (!done.ok) {
      notice(`${done.body?.code ?? 'ERROR'} ${done.body?.detail ?? ''}`, 'bad');
      return;
    }
    await licencePage(main, identifier, params);
    notice(t(`licences.done.${kind}`, { name: c.name }));
  };
  if (may('licences-status', issuer)) {
    if (status === 'valid') actions.append(h('button', { type: 'button', id: 'suspend', onclick: change('suspend') }, t('licences.suspend')));
    if (status === 'suspended') actions.append(h('button', { type: 'button', id: 'reinstate', onclick: change('reinstate') }, t('licences.reinstate')));
    if (status !== 'revoked') actions.append(h('button', { type: 'button', class: 'danger', id: 'revoke', onclick: change('revoke') }, t('licences.revoke')));
  }
  const download = h('a', { id: 'download', download: `${c.name ?? 'licence'}-${c.licence?.number ?? ''}.json`, href: URL.createObjectURL(new Blob([JSON.stringify(c, null, 2)], { type: 'application/json' })) }, t('licences.download'));
  actions.append(link(`/licences/${encodeURIComponent(identifier)}/print`, t('licences.print'), Object.fromEntries(params)), download);
  fill(main,
    h('h1', {}, c.name ?? t('licences.licence')),
    h('p', { class: 'identifier' }, h('code', {}, identifier)),
    actions,
    verification(found.verification),
    h('h2', {}, t('licences.data')),
    h('dl', { class: 'data', id: 'licence-data' }, dataList(data, await fieldTitles(c))),
    h('section', { id: 'history' }),
    h('section', { id: 'uses' }));
  if (may('licences-read', issuer)) {
    await history(main.querySelector('#history'), identifier);
    await uses(main.querySelector('#uses'), identifier, 0);
  }
}

/** The licence's status changes (中止、恢复、注销), oldest first, each with its reason. */
async function history(section, identifier) {
  const answer = await api('GET', `/v1/licences/${encodeURIComponent(identifier)}/history`, { query: { limit: 100 } });
  if (!answer.ok) return fill(section, h('h2', {}, t('licences.history')), failed(answer.body));
  fill(section, h('h2', {}, t('licences.history')),
    table(answer.body.items, [
      [t('licences.usedAt'), (e) => chinaTime(e.at)],
      [t('licences.change'), (e) => t(`licences.change.${e.action}`)],
      [t('confirm.reason'), (e) => e.reason],
      [t('audit.actor'), (e) => e.actor],
    ]));
}

/** The licence's use records (用证记录), a page at a time. */
async function uses(section, identifier, offset) {
  const answer = await api('GET', `/v1/licences/${encodeURIComponent(identifier)}/uses`, { query: { offset, limit: 20 } });
  if (!answer.ok) {
    fill(section, h('h2', {}, t('licences.uses')), failed(answer.body));
    return;
  }
  fill(section, h('h2', {}, t('licences.uses')),
    table(answer.body.items, [
      [t('licences.usedAt'), (u) => chinaTime(u.at)],
      [t('licences.requester'), (u) => u.requester],
      [t('licences.useCause'), (u) => u.useCause],
      [t('licences.case'), (u) => u.caseRef ?? ''],
    ]),
    pager(answer.body, (o) => uses(section, identifier, o)));
}

async function printPage(main, identifier, params) {
  if (!params.get('useCause')) return askPurpose(main, identifier, params);
  const [answer, qr] = await Promise.all([
    readLicence(identifier, params),
    api('GET', `/v1/licences/${encodeURIComponent(identifier)}/qr`),
  ]);
  if (!answer.ok) {
    fill(main, failed(answer.body));
    return;
  }
  const c = answer.body.credential;
  const data = c.credentialSubject?.licenceData ?? {};
  fill(main, h('article', { class: 'printout', id: 'printout' },
    h('h1', {}, c.name),
    h('dl', {},
      h('dt', {}, t('verify.holder')), h('dd', {}, c.credentialSubject?.name ?? ''),
      h('dt', {}, t('verify.number')), h('dd', {}, c.licence?.number ?? ''),
      dataList(data, await fieldTitles(c)),
      h('dt', {}, t('verify.issuer')), h('dd', {}, c.issuer?.name ?? ''),
      h('dt', {}, t('verify.validFrom')), h('dd', {}, chinaTime(c.validFrom))),
    h('figure', { class: 'qr' },
      h('img', { id: 'qr', src: `/v1/licences/${encodeURIComponent(identifier)}/qr.svg`, alt: t('licences.qr'), width: 160, height: 160 }),
      h('figcaption', {}, t('licences.checkAt'), ' ', h('code', { id: 'qr-payload' }, qr.ok ? qr.body.payload : ''))),
    h('p', { class: 'identifier' }, identifier)),
  h('div', { class: 'actions no-print' }, h('button', { type: 'button', onclick: () => window.print() }, t('licences.printNow'))));
}

// --- issue ---------------------------------------------------------------

async function issuePage(main) {
  const types = await api('GET', '/v1/schemas', { query: { kind: 'licence-type', limit: 1000 } });
  if (!types.ok) {
    fill(main, h('h1', {}, t('nav.issue')), failed(types.body));
    return;
  }
  const latest = new Map();
  for (const s of types.body.items) latest.set(s.id, s);
  const select = h('select', { required: true },
    h('option', { value: '' }, t('issue.chooseType')),
    [...latest.values()].map((s) => h('option', { value: `${s.id}@${s.version}` }, `${s.title ?? s.id}（${s.version}）`)));
  const formArea = h('div', { id: 'issue-area' });
  select.addEventListener('change', () => issueForm(formArea, select.value));
  fill(main, h('h1', {}, t('nav.issue')), field('type', t('issue.type'), select), formArea);
}

async function issueForm(area, chosen) {
  if (!chosen) return fill(area);
  const at = chosen.lastIndexOf('@');
  const shown = await api('GET', `/v1/schemas/${encodeURIComponent(chosen.slice(0, at))}/${encodeURIComponent(chosen.slice(at + 1))}`);
  if (!shown.ok) return fill(area, failed(shown.body));
  const schema = shown.body.schema ?? shown.body;
  const type = schema['x-licence-type'] ?? {};
  const required = new Set(schema.required ?? []);
  // The required fields in the order the type lists them, then the rest.
  const all = schema.properties ?? {};
  const order = [...(schema.required ?? []), ...Object.keys(all).filter((n) => !(schema.required ?? []).includes(n))];
  const props = order.filter((n) => n in all).map((n) => [n, all[n]]);
  const holderTypes = type.holderCodeTypes ?? ['001'];
  const issuerField = session.who?.role === 'region-admin'
    ? field('issuer', t('issue.issuer'), h('input', { type: 'text', required: true, maxlength: 18 }), t('issue.issuerHint')) : null;
  const form = h('form', { id: 'issue-form', novalidate: true },
    issuerField,
    h('fieldset', {}, h('legend', {}, t('issue.holder')),
      field('holder.name', t('issue.holderName'), h('input', { type: 'text', required: true, maxlength: 200 })),
      field('holder.codeType', t('licences.holderType'), h('select', {}, holderTypes.map((c) => h('option', { value: c }, c === '111' ? t('licences.citizenId') : t('licences.uscc'))))),
      field('holder.code', t('issue.holderCode'), h('input', { type: 'text', required: true, maxlength: 18 }))),
    h('fieldset', {}, h('legend', {}, t('issue.data', { name: type.name ?? schema.title ?? '' })),
      props.map(([name, p]) => dataField(name, p, required.has(name)))),
    h('fieldset', {}, h('legend', {}, t('issue.serviceItem')),
      field('serviceItem.code', t('issue.itemCode'), h('input', { type: 'text', maxlength: 64 })),
      field('serviceItem.name', t('issue.itemName'), h('input', { type: 'text', maxlength: 200 }))),
    field('attachment', t('issue.attachment'), h('input', { type: 'file', accept: 'application/pdf,.pdf,.ofd' })),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'issue-submit' }, t('issue.submit'))));
  form.addEventListener('submit', (e) => submitIssue(e, form, type, props, required));
  fill(area, form);
}

function dataField(name, p, isRequired) {
  const attrs = { required: isRequired, maxlength: p.maxLength, pattern: p.pattern, dataset: { type: p.type ?? 'string' } };
  let input;
  if (Array.isArray(p.enum)) {
    input = h('select', attrs, isRequired ? null : h('option', { value: '' }, ''), p.enum.map((v) => h('option', { value: v }, v)));
  } else if (p.format === 'date') {
    input = h('input', { ...attrs, type: 'date' });
  } else if ((p.maxLength ?? 0) > 200) {
    input = h('textarea', { ...attrs, rows: 3 });
  } else {
    input = h('input', { ...attrs, type: p.type === 'integer' || p.type === 'number' ? 'number' : 'text' });
  }
  return field(`data.${name}`, `${p.title ?? name}${isRequired ? ' *' : ''}`, input, p.examples?.[0] ? t('issue.example', { example: p.examples[0] }) : null);
}

/** Checks the data against the schema's simple rules, in the browser, before the hub checks it all: every field's error. */
function checkData(props, required, v) {
  const errors = [];
  for (const k of ['holder.name', 'holder.code']) {
    if (!v[k]) errors.push([k, { code: 'REQUEST_INVALID', detail: t('issue.required', { field: t(k === 'holder.name' ? 'issue.holderName' : 'issue.holderCode') }) }]);
  }
  for (const [name, p] of props) {
    const value = v[`data.${name}`] ?? '';
    const label = p.title ?? name;
    let pattern = null;
    try {
      pattern = p.pattern ? new RegExp(p.pattern, 'u') : null;
    } catch {
      pattern = null; // the hub checks what the browser cannot
    }
    if (!value) {
      if (required.has(name)) errors.push([`data.${name}`, { code: 'SUBJECT_SCHEMA_VIOLATION', detail: t('issue.required', { field: label }) }]);
    } else if (pattern && !pattern.test(value)) {
      errors.push([`data.${name}`, { code: 'SUBJECT_SCHEMA_VIOLATION', detail: t('issue.pattern', { field: label }) }]);
    } else if (p.minLength && [...value].length < p.minLength) {
      errors.push([`data.${name}`, { code: 'SUBJECT_SCHEMA_VIOLATION', detail: t('issue.tooShort', { field: label, n: p.minLength }) }]);
    }
  }
  return errors;
}

/** A refusal's field: the schema path a message names, or the holder. */
function issueField(problem, props) {
  const text = `${problem.detail ?? ''}`;
  for (const [name] of props) if (text.includes(`/${name}`) || text.includes(`"${name}"`)) return `data.${name}`;
  if ((problem.code ?? '').startsWith('HOLDER')) return 'holder.code';
  if ((problem.code ?? '').startsWith('ISSUER') || problem.code === 'DEPARTMENT_UNKNOWN') return 'issuer';
  return '*';
}

async function submitIssue(e, form, type, props, required) {
  e.preventDefault();
  clearErrors(form);
  const v = values(form);
  const errors = checkData(props, required, v);
  if (errors.length) {
    // Each next to its field; the first one focused.
    for (const [name, problem] of [...errors].reverse()) showError(form, name, problem);
    return;
  }
  const data = {};
  for (const [name, p] of props) {
    const value = v[`data.${name}`];
    if (value) data[name] = p.type === 'integer' || p.type === 'number' ? Number(value) : value;
  }
  const request = { type: type.code, holder: { name: v['holder.name'], codeType: v['holder.codeType'], code: v['holder.code'] }, data };
  if (v['serviceItem.code'] || v['serviceItem.name']) request.serviceItem = { code: v['serviceItem.code'], name: v['serviceItem.name'] };
  const body = new FormData();
  body.append('request', new Blob([JSON.stringify(request)], { type: 'application/json' }));
  const file = form.elements.namedItem('attachment').files[0];
  if (file) body.append('attachment', file, file.name);
  const answer = await api('POST', '/v1/licences', { form: body, query: { issuer: v.issuer } });
  if (!answer.ok) return showError(form, issueField(answer.body ?? {}, props), answer.body ?? {});
  const id = answer.body.identifier;
  fill(form.parentElement, h('div', { class: 'notice ok', role: 'status', id: 'issued' },
    h('p', {}, t('issue.done', { number: answer.body.number })),
    h('p', {}, h('code', { id: 'issued-identifier' }, id)),
    link(`/licences/${encodeURIComponent(id)}`, t('issue.open'), { useCause: t('issue.checkCause') })));
}
