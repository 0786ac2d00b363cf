// The console's shell: sign-in state, the navigation (only the pages the
// signed-in role may use, from GET /v1/whoami), the language switch, and
// the hash router that renders each page into <main>.

import { api, fill, go, h, lang, loadDictionaries, route, session, setLang, showFlash, t, translate, reach } from './lib.js';

/** Every page: its route, its title key, the action it needs (null: public). */
const PAGES = [
  { path: 'overview', title: 'nav.overview', needs: 'statistics-read', module: './pages/overview.js' },
  { path: 'licences', title: 'nav.licences', needs: 'licences-read', module: './pages/licences.js' },
  { path: 'issue', title: 'nav.issue', needs: 'licences-issue', module: './pages/licences.js', view: 'issue' },
  { path: 'catalogue', title: 'nav.catalogue', needs: 'catalogue-read', module: './pages/catalogue.js' },
  { path: 'access', title: 'nav.access', needs: 'access-read', module: './pages/catalogue.js', view: 'access' },
  { path: 'items', title: 'nav.items', needs: 'items-read', module: './pages/items.js' },
  { path: 'cases', title: 'nav.cases', needs: 'cases-read', module: './pages/items.js', view: 'cases' },
  { path: 'departments', title: 'nav.departments', needs: 'departments-read', module: './pages/departments.js' },
  { path: 'keys', title: 'nav.keys', needs: 'departments-read', module: './pages/keys.js' },
  { path: 'schemas', title: 'nav.schemas', needs: 'schemas-read', module: './pages/schemas.js' },
  { path: 'peers', title: 'nav.peers', needs: 'peers-write', module: './pages/peers.js' },
  { path: 'audit', title: 'nav.audit', needs: 'audit-read', module: './pages/audit.js' },
  { path: 'verify', title: 'nav.verify', needs: null, module: './pages/verify.js' },
];

const SIGNIN = { path: 'signin', title: 'nav.signin', needs: null, module: './pages/signin.js' };

function allowed(page) {
  return page.needs === null || reach(page.needs) !== 'none';
}

/** Asks the hub who the stored token (or the browser's client certificate) is. */
export async function identify() {
  const who = await api('GET', '/v1/whoami');
  session.who = who.ok ? who.body : null;
  if (!who.ok && session.token()) session.setToken(null);
  return who;
}

function renderShell() {
  translate();
  const who = document.getElementById('who');
  const out = document.getElementById('signout');
  if (session.who) {
    const role = t(`role.${session.who.role}`);
    const dept = session.who.departmentName ?? session.who.department;
    fill(who, role, dept ? ` · ${dept}` : '');
    who.dataset.role = session.who.role;
    out.hidden = false;
  } else {
    fill(who);
    delete who.dataset.role;
    out.hidden = true;
  }
  document.getElementById('lang').textContent = lang() === 'zh' ? 'English' : '中文';
  const pages = session.who ? PAGES.filter(allowed) : [PAGES.find((p) => p.path === 'verify'), SIGNIN];
  const current = route().parts[0];
  fill(document.getElementById('nav'), h('ul', {}, pages.map((p) =>
    h('li', {}, h('a', {
      href: `#/${p.path}`, id: `nav-${p.path}`, 'aria-current': p.path === current ? 'page' : null,
    }, t(p.title))))));
}

async function render() {
  const { parts, params } = route();
  const main = document.getElementById('main');
  let page = [...PAGES, SIGNIN].find((p) => p.path === parts[0]);
  if (!page) {
    const first = session.who ? PAGES.find(allowed) : SIGNIN;
    go(`/${first.path}`);
    return;
  }
  renderShell();
  if (page.needs && !session.who) {
    go('/signin', { then: location.hash.slice(1) });
    return;
  }
  if (!allowed(page)) {
    fill(main, h('h1', {}, t(page.title)), h('p', { class: 'error', role: 'alert' }, h('code', { class: 'code' }, 'FORBIDDEN'), ' ', t('page.forbidden')));
    return;
  }
  document.title = `${t(page.title)} · ${t('app.title')}`;
  fill(main, h('p', { class: 'loading' }, t('page.loading')));
  const module = await import(page.module);
  await module.render(main, { parts, params, view: page.view, rerender: render });
  showFlash();
}

async function start() {
  await loadDictionaries();
  document.getElementById('lang').addEventListener('click', async () => {
    setLang(lang() === 'zh' ? 'en' : 'zh');
    await loadDictionaries();
    await render();
  });
  document.getElementById('signout').addEventListener('click', () => {
    session.setToken(null);
    session.who = null;
    go('/signin', { out: '1' });
  });
  window.addEventListener('hashchange', render);
  window.addEventListener('tongban:signed-in', render);
  await identify();
  await render();
  document.body.dataset.ready = 'true';
}

start();
