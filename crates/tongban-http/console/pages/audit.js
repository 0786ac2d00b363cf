// The audit log: verify its chain (every entry's hash, every signed
// checkpoint), write a checkpoint (region administrator), and browse its
// entries a page at a time, by subject if asked, in China time.

import { api, chinaTime, confirmAction, failed, field, fill, flash, go, h, may, notice, t, table, values } from '../lib.js';

export async function render(main, ctx) {
  const params = ctx.params;
  const after = params.get('after') ?? '0';
  const subject = params.get('subject') ?? '';
  const answer = await api('GET', '/v1/audit/entries', { query: { after, subject, limit: 50 } });
  if (!answer.ok) return fill(main, h('h1', {}, t('nav.audit')), failed(answer.body));
  const report = h('section', { id: 'audit-report', 'aria-live': 'polite' });
  const verify = async () => {
    fill(report, h('p', { class: 'loading' }, t('page.loading')));
    const r = await api('GET', '/v1/audit/verification');
    if (!r.ok) return fill(report, failed(r.body));
    const v = r.body;
    fill(report, h('div', { class: `verdict ${v.problem ? 'invalid' : 'valid'}`, id: 'audit-verdict', 'data-valid': String(!v.problem) },
      h('h2', {}, v.problem ? t('audit.broken') : t('audit.intact')),
      h('dl', {},
        h('dt', {}, t('audit.entries')), h('dd', {}, String(v.entries)),
        h('dt', {}, t('audit.checkpoints')), h('dd', {}, String(v.checkpoints)),
        h('dt', {}, t('audit.head')), h('dd', {}, h('code', {}, v.head))),
      v.problem ? h('p', { class: 'error' }, h('code', { class: 'code' }, v.problem.code), ' ', t('audit.at', { seq: v.problem.seq }), ' ', v.problem.message) : null));
  };
  const checkpoint = async () => {
    if (!(await confirmAction(t('audit.confirmCheckpoint'), { danger: false }))) return;
    const r = await api('POST', '/v1/audit/checkpoints');
    if (!r.ok) return notice(`${r.body?.code ?? 'ERROR'} ${r.body?.detail ?? ''}`, 'bad');
    flash(r.body.signed ? t('audit.checkpointed', { seq: r.body.signed.seq }) : t('audit.alreadyCovered'));
    await ctx.rerender();
  };
  const filter = h('form', { id: 'audit-filter', role: 'search', novalidate: true },
    field('subject', t('audit.subject'), h('input', { type: 'search', maxlength: 200, value: subject }), t('audit.subjectHint')),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('catalogue.search'))));
  filter.addEventListener('submit', (e) => {
    e.preventDefault();
    go('/audit', { subject: values(filter).subject });
  });
  const items = answer.body.items;
  fill(main, h('h1', {}, t('nav.audit')),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', id: 'audit-verify', onclick: verify }, t('audit.verify')),
      may('audit-write') ? h('button', { type: 'button', id: 'audit-checkpoint', onclick: checkpoint }, t('audit.checkpoint')) : null),
    report,
    filter,
    table(items, [
      [t('audit.seq'), (e) => String(e.seq)],
      [t('audit.time'), (e) => chinaTime(e.at)],
      [t('audit.actor'), (e) => e.actor],
      [t('audit.action'), (e) => h('code', {}, e.action)],
      [t('audit.subjectCol'), (e) => h('code', {}, e.subject)],
      [t('audit.detail'), (e) => h('code', { class: 'detail' }, JSON.stringify(e.detail).slice(0, 160))],
    ]),
    h('nav', { class: 'pager', 'aria-label': t('list.pages') },
      h('button', { type: 'button', disabled: after === '0', onclick: () => go('/audit', { subject }) }, t('audit.first')),
      h('button', { type: 'button', id: 'audit-next', disabled: answer.body.nextAfter == null, onclick: () => go('/audit', { subject, after: String(answer.body.nextAfter) }) }, t('list.next'))));
}
