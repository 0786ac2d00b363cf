// The overview: exchange counts and refusals by code (GET /v1/statistics),
// and from the hub's metrics (GET /metrics) pending deliveries, licences by
// status, licences verified, peers' trust-list ages and the audit head.
// Charts are SVG drawn here.

import { api, chinaToday, failed, fill, h, t, table } from '../lib.js';

/** The samples of an OpenMetrics text: [{name, labels, value}]. */
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** A horizontal bar chart of `[label, value]` pairs. */
export function barChart(pairs, title) {
  const width = 560;
  const bar = 22;
  const left = 230;
  const max = Math.max(1, ...pairs.map(([, v]) => v));
  const height = Math.max(1, pairs.length) * (bar + 6) + 8;
  return h('figure', { class: 'chart' },
    h('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': title },
      h('title', {}, title),
      pairs.map(([label, v], i) => {
        const y = 4 + i * (bar + 6);
        const w = Math.max(2, ((width - left - 60) * v) / max);
        return h('g', {},
          h('text', { x: left - 8, y: y + bar * 0.7, 'text-anchor': 'end', class: 'label' }, label),
          h('rect', { x: left, y, width: w, height: bar, rx: 3, class: 'bar' }),
          h('text', { x: left + w + 6, y: y + bar * 0.7, class: 'value' }, String(v)));
      })),
    h('figcaption', {}, title));
}

function card(label, value, id) {
  return h('div', { class: 'card', id }, h('div', { class: 'value' }, String(value)), h('div', { class: 'label' }, label));
}

function sum(samples, name, match = () => true) {
  return samples.filter((s) => s.name === name && match(s.labels)).reduce((a, s) => a + s.value, 0);
}

export async function render(main) {
  const [stats, today, licences, metrics] = await Promise.all([
    api('GET', '/v1/statistics'),
    // Exchanges are counted by UTC day; licences from an instant.
    api('GET', '/v1/statistics', { query: { since: new Date().toISOString().slice(0, 10) } }),
    api('GET', '/v1/statistics/licences', { query: { since: `${chinaToday()}T00:00:00+08:00` } }),
    fetch('/metrics').then((r) => (r.ok ? r.text() : '')).catch(() => ''),
  ]);
  if (!stats.ok) return fill(main, h('h1', {}, t('nav.overview')), failed(stats.body));
  const samples = parseMetrics(metrics);
  const status = (s) => (licences.ok ? licences.body.byStatus[s] ?? 0 : sum(samples, 'tongban_licences', (l) => l.status === s));
  const s = stats.body;
  const refusals = Object.entries(s.refusalCodes).sort((a, b) => b[1] - a[1]).slice(0, 12);
  const peers = samples.filter((x) => x.name === 'tongban_peer_trust_list_age_seconds');
  const sumRecords = (st) => st.resources.reduce((a, r) => a + r.records, 0);
  fill(main,
    h('h1', {}, t('nav.overview')),
    h('div', { class: 'cards' },
      card(t('overview.records'), sumRecords(s), 'card-records'),
      card(t('overview.recordsToday'), today.ok ? sumRecords(today.body) : '–', 'card-today'),
      card(t('overview.issuedToday'), licences.ok ? licences.body.issued : '–', 'card-issued-today'),
      card(t('overview.usedToday'), licences.ok ? licences.body.used : '–', 'card-used-today'),
      card(t('overview.pending'), sum(samples, 'tongban_deliveries_pending'), 'card-pending'),
      card(t('overview.connections'), sum(samples, 'tongban_connections_open', (l) => l.kind === 'department'), 'card-connections'),
      card(t('overview.licencesValid'), status('valid'), 'card-valid'),
      card(t('overview.licencesSuspended'), status('suspended'), 'card-suspended'),
      card(t('overview.licencesRevoked'), status('revoked'), 'card-revoked'),
      card(t('overview.verified'), sum(samples, 'tongban_licences_verified_total'), 'card-verified'),
      card(t('overview.auditHead'), sum(samples, 'tongban_audit_head'), 'card-audit')),
    h('h2', {}, t('overview.refusals')),
    refusals.length ? barChart(refusals, t('overview.refusalsChart')) : h('p', { class: 'empty' }, t('overview.noRefusals')),
    h('h2', {}, t('overview.resources')),
    table(s.resources, [
      [t('overview.resource'), (r) => h('code', {}, r.resource)],
      [t('overview.recordsCol'), (r) => String(r.records)],
      [t('overview.deliveries'), (r) => String(r.deliveries)],
      [t('overview.requests'), (r) => String(r.requests)],
      [t('overview.refusalsCol'), (r) => String(r.refusals)],
    ]),
    h('h2', {}, t('overview.peers')),
    table(peers, [
      [t('overview.region'), (p) => p.labels.region],
      [t('overview.trustAge'), (p) => t('overview.hours', { n: (p.value / 3600).toFixed(1) })],
    ]));
}
