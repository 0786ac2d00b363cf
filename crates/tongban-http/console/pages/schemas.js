// Schemas: the published versions (a page at a time), one schema's
// versions with its fields, and two versions side by side, each change
// marked breaking or compatible (the hub's own diff).

import { api, chinaTime, failed, fill, go, h, link, pager, t, table } from '../lib.js';

export async function render(main, ctx) {
  const [, id] = ctx.parts;
  if (id) return schemaPage(main, id, ctx.params);
  return listPage(main, ctx.params);
}

async function listPage(main, params) {
  const offset = params.get('offset') ?? '0';
  const kind = params.get('kind') ?? '';
  const answer = await api('GET', '/v1/schemas', { query: { offset, kind, limit: 50 } });
  if (!answer.ok) return fill(main, h('h1', {}, t('nav.schemas')), failed(answer.body));
  const filter = h('select', { id: 'schema-kind', 'aria-label': t('schemas.kind') },
    ['', 'licence-type', 'message'].map((k) => h('option', { value: k, selected: k === kind }, k ? t(`schemas.kind.${k}`) : t('catalogue.any'))));
  filter.addEventListener('change', () => go('/schemas', { kind: filter.value }));
  fill(main, h('h1', {}, t('nav.schemas')),
    h('p', {}, h('label', { for: 'schema-kind' }, t('schemas.kind')), ' ', filter),
    table(answer.body.items, [
      [t('schemas.title'), (s) => link(`/schemas/${encodeURIComponent(s.id)}`, s.title || s.id)],
      [t('schemas.id'), (s) => h('code', {}, s.id)],
      [t('schemas.version'), (s) => s.version],
      [t('schemas.kind'), (s) => t(`schemas.kind.${s.kind}`)],
      [t('schemas.published'), (s) => chinaTime(s.publishedAt)],
    ]),
    pager(answer.body, (o) => go('/schemas', { kind, offset: String(o) })));
}

/** Every field of a schema document: JSON pointer → its definition. */
function fields(doc, prefix = '', out = new Map()) {
  const required = new Set(doc?.required ?? []);
  for (const [name, def] of Object.entries(doc?.properties ?? {})) {
    const path = `${prefix}/${name}`;
    const { properties, items, ...rest } = def;
    out.set(path, { ...rest, required: required.has(name) });
    if (properties) fields(def, path, out);
    if (items?.properties) fields(items, `${path}/items`, out);
  }
  return out;
}

function describe(def) {
  if (!def) return '—';
  const parts = [def.title, def.type, def.required ? t('schemas.required') : null,
    def.pattern ? `pattern ${def.pattern}` : null, def.maxLength ? `≤ ${def.maxLength}` : null,
    def.enum ? `∈ {${def.enum.join(', ')}}` : null].filter(Boolean);
  return parts.join(' · ');
}

async function schemaPage(main, id, params) {
  const versions = await api('GET', `/v1/schemas/${encodeURIComponent(id)}`);
  if (!versions.ok) return fill(main, h('h1', {}, t('nav.schemas')), failed(versions.body));
  const list = versions.body;
  const names = list.map((v) => v.version);
  const to = params.get('to') ?? names[names.length - 1];
  const from = params.get('from') ?? names[Math.max(0, names.length - 2)];
  const pick = (name, value) => h('select', { id: `schema-${name}`, name },
    names.map((v) => h('option', { value: v, selected: v === value }, v)));
  const fromSel = pick('from', from);
  const toSel = pick('to', to);
  const compare = () => go(`/schemas/${encodeURIComponent(id)}`, { from: fromSel.value, to: toSel.value });
  fromSel.addEventListener('change', compare);
  toSel.addEventListener('change', compare);
  const [old, neu, diff] = await Promise.all([
    api('GET', `/v1/schemas/${encodeURIComponent(id)}/${encodeURIComponent(from)}`),
    api('GET', `/v1/schemas/${encodeURIComponent(id)}/${encodeURIComponent(to)}`),
    from === to ? Promise.resolve({ ok: true, body: [] }) : api('GET', `/v1/schemas/${encodeURIComponent(id)}/diff`, { query: { from, to } }),
  ]);
  const bad = [old, neu, diff].find((a) => !a.ok);
  if (bad) return fill(main, h('h1', {}, id), failed(bad.body));
  const a = fields(old.body);
  const b = fields(neu.body);
  const changes = new Map();
  for (const c of diff.body) changes.set(c.path, [...(changes.get(c.path) ?? []), c]);
  const paths = [...new Set([...a.keys(), ...b.keys(), ...changes.keys()])].sort();
  const rows = paths.map((p) => {
    const cs = changes.get(p) ?? [];
    const breaking = cs.some((c) => c.breaking);
    const mark = cs.length ? (breaking ? 'breaking' : 'compatible') : 'same';
    return h('tr', { class: `change-${mark}`, 'data-path': p, 'data-change': mark },
      h('th', { scope: 'row' }, h('code', {}, p)),
      h('td', {}, describe(a.get(p))),
      h('td', {}, describe(b.get(p))),
      h('td', {}, cs.length ? cs.map((c) => h('div', {}, h('span', { class: `badge ${c.breaking ? 'bad' : 'ok'}` }, c.breaking ? t('schemas.breaking') : t('schemas.compatible')), ' ', c.detail)) : ''));
  });
  const breakingCount = diff.body.filter((c) => c.breaking).length;
  fill(main, h('h1', {}, neu.body.title ?? id), h('p', {}, h('code', {}, id)),
    table(list, [
      [t('schemas.version'), (v) => v.version],
      [t('schemas.published'), (v) => chinaTime(v.publishedAt)],
      [t('schemas.sha256'), (v) => h('code', {}, v.sha256.slice(0, 16))],
    ], t('schemas.versions')),
    h('h2', {}, t('schemas.compare')),
    h('div', { class: 'row compare' },
      h('label', { for: 'schema-from' }, t('schemas.from')), fromSel,
      h('label', { for: 'schema-to' }, t('schemas.to')), toSel),
    h('p', { id: 'diff-summary' }, t('schemas.summary', { n: diff.body.length, breaking: breakingCount })),
    h('table', { class: 'diff', id: 'schema-diff' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('schemas.field')), h('th', { scope: 'col' }, from), h('th', { scope: 'col' }, to), h('th', { scope: 'col' }, t('schemas.changes')))),
      h('tbody', {}, rows)));
}
