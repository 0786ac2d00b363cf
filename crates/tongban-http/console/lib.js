// What every page uses: the dictionaries, the API client, DOM building
// (text only, never HTML from data), times in China time, pages of lists,
// confirmations, and errors shown next to their fields with their codes.

const LANG_KEY = 'tongban.lang';
const TOKEN_KEY = 'tongban.token';

let dict = {};
let fallback = {};

/** The language chosen: zh (default) or en, kept in localStorage. */
export function lang() {
  return localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'zh';
}

export function setLang(l) {
  localStorage.setItem(LANG_KEY, l === 'en' ? 'en' : 'zh');
}

/** Loads the dictionary of the language chosen (zh as the fallback). */
export async function loadDictionaries() {
  const get = async (l) => {
    const r = await fetch(`/console/i18n/${l}.json`, { cache: 'no-cache' });
    return r.ok ? r.json() : {};
  };
  fallback = await get('zh');
  dict = lang() === 'zh' ? fallback : await get('en');
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
}

/** The text of `key`, with `{name}` filled from `vars`. */
export function t(key, vars = {}) {
  const text = dict[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** Whether the dictionary has `key`. */
export function has(key) {
  return key in dict || key in fallback;
}

/** Fills each `[data-i18n]` element under `root` with its text. */
export function translate(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

// --- the API -----------------------------------------------------------

export const session = {
  token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  setToken(token) {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  /** Who signed in (`GET /v1/whoami`), or null. */
  who: null,
};

/**
 * Calls the API: `{ok, status, body}`; a problem's body has `code` and
 * `detail`. `query` is an object of parameters (empty ones left out),
 * `json` a body to send as JSON, `form` a FormData.
 */
export async function api(method, path, { query, json, form, anonymous, text: asText } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const headers = { Accept: 'application/json' };
  const token = session.token();
  if (token && !anonymous) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body, credentials: 'same-origin' });
  } catch (e) {
    return { ok: false, status: 0, body: { code: 'NETWORK', detail: String(e) } };
  }
  const text = await response.text();
  if (asText && response.ok) return { ok: true, status: response.status, body: text };
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { code: 'MALFORMED_JSON', detail: text.slice(0, 200) };
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

/** How far the signed-in role may take `action`: 'any', 'own-department' or 'none'. */
export function reach(action) {
  return session.who?.may?.[action] ?? 'none';
}

/** Whether the signed-in caller may take `action` (for `department`, when about one). */
export function may(action, department) {
  const r = reach(action);
  if (r === 'any') return true;
  if (r === 'own-department') return department === undefined || department === session.who.department;
  return false;
}

// --- DOM ---------------------------------------------------------------

/** An element: attributes (`on…` are listeners), then children (text or nodes). */
export function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'rect', 'text', 'g', 'line', 'path', 'title'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces `el`'s children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldSeq = 0;

/**
 * A labelled field: `name` is its form name; the error slot next to it is
 * where `showProblem` writes a refusal about it.
 */
export function field(name, label, input, hint) {
  const id = input.id || `f-${name}-${++fieldSeq}`;
  input.id = id;
  input.name = name;
  const error = h('p', { class: 'error', id: `${id}-error`, 'data-error-for': name, role: 'alert', hidden: true });
  input.setAttribute('aria-describedby', `${id}-error`);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null, error);
}

/** Clears the error slots of `form`. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('[data-error-for]')) {
    el.hidden = true;
    el.textContent = '';
  }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/**
 * Shows `problem` (`{code, detail}`) next to the field `name` of `form`
 * (or its form-wide slot, `name` '*'), with the stable code.
 */
export function showError(form, name, problem) {
  const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`) ?? form.querySelector('[data-error-for="*"]');
  if (!slot) return;
  slot.hidden = false;
  fill(slot, h('code', { class: 'code' }, problem.code ?? 'ERROR'), ' ', problemText(problem));
  const input = form.elements.namedItem(name);
  if (input instanceof HTMLElement) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

/** A problem's words: the dictionary's for its code, else what the hub said. */
export function problemText(problem) {
  const key = `code.${problem.code}`;
  if (has(key)) return problem.detail ? `${t(key)}（${problem.detail}）` : t(key);
  return problem.detail ?? problem.message ?? problem.title ?? '';
}

/** A form-wide error slot. */
export function formError() {
  return h('p', { class: 'error', 'data-error-for': '*', role: 'alert', hidden: true });
}

/** A form's values as an object of trimmed strings (files left out). */
export function values(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) if (typeof v === 'string') out[k] = v.trim();
  return out;
}

// --- times and lists -------------------------------------------------

const CHINA = 'Asia/Shanghai';

/** `iso` in China time (UTC+8), e.g. 2026-05-20 14:03:09. */
export function chinaTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: CHINA, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    }).formatToParts(d).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** Today in China time, YYYY-MM-DD. */
export function chinaToday() {
  return chinaTime(new Date().toISOString()).slice(0, 10);
}

/** Previous / next buttons over a listed page (`offset`, `limit`, `next`). */
export function pager(listed, go) {
  const page = Math.floor(listed.offset / listed.limit) + 1;
  return h('nav', { class: 'pager', 'aria-label': t('list.pages') },
    h('button', { type: 'button', disabled: listed.offset === 0, onclick: () => go(Math.max(0, listed.offset - listed.limit)) }, t('list.prev')),
    h('span', { class: 'page' }, t('list.page', { page })),
    h('button', { type: 'button', disabled: listed.next == null, onclick: () => go(listed.next) }, t('list.next')));
}

/** A table: `columns` are [heading, cell(item)] pairs. */
export function table(items, columns, caption) {
  return h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map(([head]) => h('th', { scope: 'col' }, head)))),
    h('tbody', {}, items.length
      ? items.map((item) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(item)))))
      : h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, t('list.empty')))));
}

/**
 * Asks before an action, naming what will happen: resolves true when the
 * user confirms. A reason field is added when `reason` is set, and its
 * value is resolved instead of true.
 */
export function confirmAction(what, { reason = false, danger = true } = {}) {
  return new Promise((resolve) => {
    const input = reason ? h('textarea', { required: true, maxlength: 500, rows: 3 }) : null;
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-what' });
    const form = h('form', { method: 'dialog' },
      h('p', { id: 'confirm-what' }, what),
      reason ? field('reason', t('confirm.reason'), input) : null,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', value: 'yes', class: danger ? 'danger' : 'primary', id: 'confirm-yes' }, t('confirm.yes')),
        h('button', { type: 'button', value: 'no', id: 'confirm-no', onclick: () => dialog.close('no') }, t('confirm.no'))));
    form.addEventListener('submit', (e) => {
      if (reason && !input.value.trim()) {
        e.preventDefault();
        showError(form, 'reason', { code: 'REASON_REQUIRED', detail: t('confirm.reasonRequired') });
      }
    });
    dialog.append(form);
    dialog.addEventListener('close', () => {
      dialog.remove();
      const yes = dialog.returnValue === 'yes';
      resolve(yes ? (reason ? input.value.trim() : true) : false);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/**
 * Asks before an action with a form of `fields` (built with `field`):
 * resolves with their values when the user confirms, null otherwise.
 * `check(values, form)` may refuse (showing its errors) by returning false.
 */
export function confirmForm(what, fields, { danger = true, check } = {}) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-what' });
    const form = h('form', { method: 'dialog', novalidate: true },
      h('p', { id: 'confirm-what' }, what), fields, formError(),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', value: 'yes', class: danger ? 'danger' : 'primary', id: 'confirm-yes' }, t('confirm.yes')),
        h('button', { type: 'button', id: 'confirm-no', onclick: () => dialog.close('no') }, t('confirm.no'))));
    let confirmed = null;
    form.addEventListener('submit', (e) => {
      clearErrors(form);
      const v = values(form);
      if (check && check(v, form) === false) {
        e.preventDefault();
        return;
      }
      confirmed = v;
    });
    dialog.append(form);
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'yes' ? confirmed : null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** `local` (a datetime-local value, read as China time) as RFC 3339. */
export function fromChinaTime(local) {
  return local ? `${local.length === 16 ? `${local}:00` : local}+08:00` : '';
}

/** A file offered for download, made in the browser (nothing sent again). */
export function download(name, text, type = 'application/octet-stream') {
  return h('a', { download: name, href: URL.createObjectURL(new Blob([text], { type })) }, name);
}

/** A notice at the top of `main` after an action. */
export function notice(text, kind = 'ok') {
  const main = document.getElementById('main');
  main.querySelector('.notice')?.remove();
  main.prepend(h('p', { class: `notice ${kind}`, role: 'status' }, text));
}

let flashed = null;

/** A notice for the page the user is sent to next (shown once it is drawn). */
export function flash(text, kind = 'ok') {
  flashed = [text, kind];
}

/** Shows the notice flashed for this page, if any. */
export function showFlash() {
  if (flashed) notice(...flashed);
  flashed = null;
}

/** A problem shown in place of a page. */
export function failed(problem) {
  return h('p', { class: 'error page-error', role: 'alert' }, h('code', { class: 'code' }, problem?.code ?? 'ERROR'), ' ', problemText(problem ?? {}));
}

/** The hash route's path and parameters: `#/licences/x?purpose=…`. */
export function route() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query ?? '') };
}

/** Goes to `path` with `params`. */
export function go(path, params) {
  const q = params ? new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== '')).toString() : '';
  location.hash = q ? `${path}?${q}` : path;
}

/** A link to a hash route. */
export function link(path, text, params) {
  const q = params ? new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== '')).toString() : '';
  return h('a', { href: `#${path}${q ? `?${q}` : ''}` }, text);
}
