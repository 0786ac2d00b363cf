// Keys and certificates: departments' signing keys (rotate with an
// overlap, revoke from an instant with a reason), the region CA's
// certificates (issue, revoke with an RFC 5280 reason) and its CRL, each
// change behind a confirmation that names what will happen.

import {
  api, chinaTime, clearErrors, confirmForm, download, failed, field, fill, flash, formError, fromChinaTime, go, h,
  may, notice, pager, showError, t, table, values,
} from '../lib.js';

export async function render(main, ctx) {
  const params = ctx.params;
  const owner = params.get('owner') ?? '';
  const [keys, certs] = await Promise.all([
    api('GET', '/v1/keys', { query: { owner, offset: params.get('offset') ?? '0', limit: 50 } }),
    may('ca-read') ? api('GET', '/v1/ca/certificates', { query: { offset: params.get('certOffset') ?? '0', limit: 50 } }) : null,
  ]);
  if (!keys.ok) return fill(main, h('h1', {}, t('nav.keys')), failed(keys.body));
  const write = may('departments-write');
  const keyActions = (k) => {
    if (!write || k.revokedAt) return k.revokedAt ? `${t('keys.revokedAt', { at: chinaTime(k.revokedAt) })} ${k.revokedReason ?? ''}` : '';
    return [
      h('button', { type: 'button', 'data-rotate': k.keyId, onclick: () => rotate(k, ctx) }, t('keys.rotate')),
      h('button', { type: 'button', class: 'danger', 'data-revoke': k.keyId, onclick: () => revokeKey(k, ctx) }, t('keys.revoke')),
    ];
  };
  const filter = h('form', { id: 'keys-filter', role: 'search', novalidate: true },
    field('owner', t('keys.owner'), h('input', { type: 'search', maxlength: 18, value: owner })),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('catalogue.search'))));
  filter.addEventListener('submit', (e) => {
    e.preventDefault();
    go('/keys', { owner: values(filter).owner });
  });
  fill(main, h('h1', {}, t('nav.keys')),
    h('h2', {}, t('keys.keys')), filter,
    table(keys.body.items, [
      [t('keys.id'), (k) => h('code', { title: k.keyId }, `${k.keyId.slice(0, 16)}…`)],
      [t('keys.owner'), (k) => k.owner],
      [t('keys.purpose'), (k) => t(`keys.purpose.${k.purpose}`)],
      [t('keys.notBefore'), (k) => chinaTime(k.notBefore)],
      [t('keys.notAfter'), (k) => (k.notAfter ? chinaTime(k.notAfter) : '—')],
      [t('access.actions'), keyActions],
    ]),
    pager(keys.body, (o) => go('/keys', { owner, offset: String(o) })),
    certs ? certificates(certs, ctx) : null);
}

async function rotate(k, ctx) {
  const overlap = h('input', { type: 'number', min: 0, max: 90, value: 7, required: true });
  const v = await confirmForm(t('keys.confirmRotate', { key: k.keyId, owner: k.owner }),
    [field('overlapDays', t('keys.overlap'), overlap, t('keys.overlapHint'))], { danger: false });
  if (!v) return;
  const r = await api('POST', `/v1/keys/${encodeURIComponent(k.keyId)}/rotate`, { json: { overlapDays: Number(v.overlapDays) } });
  if (!r.ok) return notice(`${r.body?.code ?? 'ERROR'} ${r.body?.detail ?? ''}`, 'bad');
  flash(t('keys.rotated', { key: r.body.new.keyId }));
  await ctx.rerender();
}

async function revokeKey(k, ctx) {
  const v = await confirmForm(t('keys.confirmRevoke', { key: k.keyId, owner: k.owner }), [
    field('at', t('keys.at'), h('input', { type: 'datetime-local', step: 1 }), t('keys.atHint')),
    field('reason', t('confirm.reason'), h('textarea', { required: true, maxlength: 500, rows: 2 })),
  ], {
    check: (values, form) => {
      if (values.reason) return true;
      showError(form, 'reason', { code: 'REASON_REQUIRED', detail: t('confirm.reasonRequired') });
      return false;
    },
  });
  if (!v) return;
  const body = { reason: v.reason };
  if (v.at) body.at = fromChinaTime(v.at);
  const r = await api('POST', `/v1/keys/${encodeURIComponent(k.keyId)}/revoke`, { json: body });
  if (!r.ok) return notice(`${r.body?.code ?? 'ERROR'} ${r.body?.detail ?? ''}`, 'bad');
  flash(t('keys.revokedDone', { key: k.keyId, at: chinaTime(r.body.revokedAt) }));
  await ctx.rerender();
}

const REASONS = ['keyCompromise', 'superseded', 'cessationOfOperation', 'affiliationChanged', 'privilegeWithdrawn', 'unspecified'];

function certificates(certs, ctx) {
  if (!certs.ok) return [h('h2', {}, t('keys.certificates')), failed(certs.body)];
  const write = may('ca-write');
  const revoke = (c) => async () => {
    const v = await confirmForm(t('keys.confirmCertRevoke', { serial: c.serial, subject: c.subject }), [
      field('reason', t('keys.certReason'), h('select', {}, REASONS.map((r) => h('option', { value: r }, t(`keys.reason.${r}`))))),
    ]);
    if (!v) return;
    const r = await api('POST', `/v1/ca/certificates/${encodeURIComponent(c.serial)}/revoke`, { json: { reason: v.reason } });
    if (!r.ok) return notice(`${r.body?.code ?? 'ERROR'} ${r.body?.detail ?? ''}`, 'bad');
    flash(t('keys.certRevoked', { serial: c.serial }));
    await ctx.rerender();
  };
  const crlLink = h('span', { id: 'crl' });
  const crl = async () => {
    const r = await api('GET', '/v1/ca/crl', { text: true });
    if (!r.ok) return fill(crlLink, failed(r.body));
    fill(crlLink, download('region-ca.crl.pem', r.body, 'application/x-pem-file'));
  };
  return [
    h('h2', {}, t('keys.certificates')),
    h('div', { class: 'actions' }, h('button', { type: 'button', id: 'crl-get', onclick: crl }, t('keys.crl')), crlLink),
    table(certs.body.items, [
      [t('keys.serial'), (c) => h('code', {}, c.serial.slice(0, 16))],
      [t('keys.kind'), (c) => t(`keys.kind.${c.kind}`)],
      [t('keys.subject'), (c) => c.subject],
      [t('keys.notAfter'), (c) => chinaTime(c.notAfter)],
      [t('access.actions'), (c) => (c.revokedAt
        ? h('span', { class: 'badge bad', 'data-cert-revoked': c.serial }, t('keys.revokedAt', { at: chinaTime(c.revokedAt) }))
        : write && c.kind !== 'ca' ? h('button', { type: 'button', class: 'danger', 'data-cert-revoke': c.serial, onclick: revoke(c) }, t('keys.revoke')) : '')],
    ]),
    pager(certs.body, (o) => go('/keys', { certOffset: String(o) })),
    write ? issueForm(ctx) : null,
  ];
}

function issueForm(ctx) {
  const kind = h('select', {}, h('option', { value: 'client' }, t('keys.kind.client')), h('option', { value: 'server' }, t('keys.kind.server')));
  const result = h('div', { id: 'cert-issued', 'aria-live': 'polite' });
  const form = h('form', { id: 'cert-form', novalidate: true },
    h('div', { class: 'row' },
      field('kind', t('keys.kind'), kind),
      field('department', t('keys.department'), h('input', { type: 'text', maxlength: 18 }), t('keys.departmentHint')),
      field('dns', t('keys.dns'), h('input', { type: 'text', maxlength: 500 }), t('keys.dnsHint')),
      field('validityDays', t('keys.validity'), h('input', { type: 'number', min: 1, max: 825, value: 397 }))),
    formError(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'cert-submit' }, t('keys.issue'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const v = values(form);
    const body = { kind: v.kind, validityDays: Number(v.validityDays || 397) };
    if (v.kind === 'client') {
      if (!v.department) return showError(form, 'department', { code: 'REQUEST_INVALID', detail: t('keys.departmentRequired') });
      body.department = v.department;
    } else {
      body.dns = v.dns.split(/[\s,，]+/).filter(Boolean);
    }
    const what = v.kind === 'client' ? t('keys.confirmIssueClient', { department: v.department, days: body.validityDays }) : t('keys.confirmIssueServer', { dns: body.dns.join(', '), days: body.validityDays });
    if (!(await confirmForm(what, [], { danger: false }))) return;
    const r = await api('POST', '/v1/ca/certificates', { json: body });
    if (!r.ok) {
      const code = r.body?.code ?? '';
      return showError(form, code.startsWith('DEPARTMENT') ? 'department' : code.startsWith('VALIDITY') ? 'validityDays' : '*', r.body ?? {});
    }
    const c = r.body.certificate;
    fill(result, h('div', { class: 'notice ok', role: 'status' },
      h('p', {}, t('keys.issued', { serial: c.serial, subject: c.subject })),
      h('p', { class: 'error' }, t('keys.onceOnly')),
      h('p', {}, download(`${c.serial}.chain.pem`, r.body.chainPem, 'application/x-pem-file'), ' ',
        download(`${c.serial}.key.pem`, r.body.privateKeyPem, 'application/x-pem-file'))));
  });
  return [h('h2', {}, t('keys.issueTitle')), form, result];
}
