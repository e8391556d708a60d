// fazhi console: a read-only page over the public API (/v1). No build step, no library.
// Everything a person reads is Chinese, with titles from the procedures, times in China time.

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const TOKEN = 'fazhi.token';
const procedures = new Map(); // id -> ProcedureSource (titles of states, facts, actions ...)
let moved = false; // whether the page has been moved within since it loaded
let signingIn = false; // on the sign-in page a 401 is told there, not by going to it

// ---------------------------------------------------------------------------------------------
// Talking to the API

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, as = 'json') {
  const token = sessionStorage.getItem(TOKEN);
  const res = await fetch(path, {
    headers: { Authorization: `Bearer ${token}`, 'Accept-Language': 'zh-CN' },
  });
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN);
    if (!signingIn) location.hash = '#/login';
    throw new ApiError(401, { detail: '登录已失效，请重新输入访问令牌' });
  }
  if (!res.ok) {
    let problem = null;
    try { problem = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, problem);
  }
  return as === 'json' ? res.json() : res.text();
}

async function procedure(id) {
  if (!procedures.has(id)) procedures.set(id, await api(`/v1/procedures/${enc(id)}`));
  return procedures.get(id);
}

// ---------------------------------------------------------------------------------------------
// Small helpers to build the page without HTML strings from data

const enc = encodeURIComponent;

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function show(title, ...children) {
  document.title = `${title} · 法治工作台`;
  main.replaceChildren(h('h1', {}, title), ...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  // After a move within the console, reading starts at the new content; on the first load
  // the keyboard starts at the top (the skip link).
  if (moved) main.focus();
}

// A problem as the API words it: its Chinese title, then what it says (the API's detail is
// Chinese for refusals; a missing case is told as missing, whoever may not read it).
function failure(e) {
  if (!(e instanceof ApiError)) return h('p', { class: 'error', role: 'alert' }, `出错了：${e}`);
  const what = e.status === 404 ? '未找到：不存在，或者您无权查看' : e.problem?.title ?? '请求失败';
  return h('p', { class: 'error', role: 'alert' }, `${what}（HTTP ${e.status}）`, h('br'), h('span', { class: 'muted' }, e.message));
}

function titleOf(list, id) {
  return list?.find((x) => x.id === id)?.title ?? id;
}

// Times arrive with +08:00; shown as China time, to the minute.
function when(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  const cst = new Date(d.getTime() + 8 * 3600 * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${cst.getUTCFullYear()}年${cst.getUTCMonth() + 1}月${cst.getUTCDate()}日 ${p(cst.getUTCHours())}:${p(cst.getUTCMinutes())}`;
}

function day(d) {
  if (!d) return '—';
  const [y, m, dd] = d.split('-').map(Number);
  return `${y}年${m}月${dd}日`;
}

// Every status of the runtime's deadlines (met, late, pending, overdue, waived, stopped,
// lapsed), in the words the descriptions use.
const STATUS = {
  pending: ['期间进行中', 'b-info'],
  overdue: ['已逾期', 'b-bad'],
  late: ['逾期办理', 'b-warn'],
  met: ['按期办理', 'b-ok'],
  waived: ['不适用', 'b-info'],
  stopped: ['期间中止计算', 'b-info'],
  lapsed: ['期间届满未行使', 'b-info'],
};

function badge(status) {
  const [text, cls] = STATUS[status] ?? [status, 'b-info'];
  return h('span', { class: `badge ${cls}` }, text);
}

function table(head, rows) {
  return h('div', { class: 'scroll' },
    h('table', {},
      h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)));
}

function hashParams() {
  const q = location.hash.split('?')[1] ?? '';
  return new URLSearchParams(q);
}

// ---------------------------------------------------------------------------------------------
// Pages

function login(message) {
  nav.hidden = true;
  signingIn = true;
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'current-password', required: true, size: 40 });
  const out = h('div', { 'aria-live': 'assertive' }, message ? h('p', { class: 'error', role: 'alert' }, message) : null);
  const form = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN, input.value.trim());
      try {
        await api('/v1/procedures');
        location.hash = '#/deadlines';
      } catch (e) {
        sessionStorage.removeItem(TOKEN);
        out.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.status === 401 ? '令牌无效：请核对后重新输入' : failure(e).textContent));
      }
    },
  },
  h('label', { for: 'token' }, '访问令牌（Bearer token）'),
  input,
  h('p', { class: 'muted' }, '令牌只保存在本标签页的会话存储中，关闭标签页即清除。'),
  h('button', { class: 'primary', type: 'submit' }, '登录'),
  out);
  show('登录', form);
}

async function procedureFilter(params, onChange) {
  const list = await api('/v1/procedures');
  const sel = h('select', { id: 'procedure', onchange: () => onChange('procedure', sel.value) },
    h('option', { value: '' }, '全部程序'),
    list.map((p) => h('option', { value: p.id, selected: params.get('procedure') === p.id }, p.title)));
  return [h('div', {}, h('label', { for: 'procedure' }, '程序'), sel), list];
}

const BOARD_TABS = [
  ['week', '本周到期'],
  ['overdue', '已逾期'],
  ['late', '逾期办理'],
];

async function deadlines() {
  const params = hashParams();
  const tab = params.get('tab') ?? 'week';
  const go = (k, v) => {
    const p = hashParams();
    if (v) p.set(k, v); else p.delete(k);
    p.delete('after');
    location.hash = `#/deadlines?${p}`;
  };
  const [procSel, procs] = await procedureFilter(params, go);
  // Roles by title: the listing names them by id, each procedure's detail by title.
  const details = await Promise.all(procs.map((p) => procedure(p.id)));
  const roles = [...new Map(details.flatMap((p) => p.roles).map((r) => [r.id, r])).values()]
    .sort((a, b) => a.title.localeCompare(b.title, 'zh-CN'));
  const roleSel = h('select', { id: 'role', onchange: () => go('role', roleSel.value) },
    h('option', { value: '' }, '全部角色'),
    roles.map((r) => h('option', { value: r.id, selected: params.get('role') === r.id }, r.title)));
  const q = new URLSearchParams({ limit: '50' });
  const now = new Date();
  if (tab === 'week') {
    q.set('status', 'pending');
    q.set('due_before', new Date(now.getTime() + 7 * 86400e3).toISOString());
  } else {
    q.set('status', tab);
  }
  for (const k of ['procedure', 'role', 'after']) if (params.get(k)) q.set(k, params.get(k));
  const tabs = h('div', { class: 'tabs', role: 'navigation', 'aria-label': '期限分类' },
    BOARD_TABS.map(([id, text]) => {
      const p = hashParams(); p.set('tab', id); p.delete('after');
      return h('a', { href: `#/deadlines?${p}`, 'aria-current': id === tab ? 'page' : null }, text);
    }));
  let body;
  try {
    const page = await api(`/v1/deadlines?${q}`);
    const rows = (page.deadlines ?? []).map((d) => h('tr', {},
      h('td', {}, h('a', { href: `#/case/${enc(d.case)}` }, d.case_title || '（无标题案件）')),
      h('td', {}, d.procedure_title ?? d.procedure),
      h('td', {}, d.title, d.basis ? h('div', { class: 'cite' }, d.basis) : null),
      h('td', {}, day(d.last_day)),
      h('td', {}, badge(d.status), h('div', { class: 'muted' }, d.summary_zh ?? '')),
      h('td', {}, (d.roles ?? []).map((r) => r.title ?? r).join('、'))));
    body = [
      rows.length ? table(['案件', '程序', '期限与依据', '最后一日', '状态', '应办理'], rows)
        : h('p', { class: 'muted' }, '没有符合条件的期限。'),
      page.next_cursor ? h('p', {}, h('a', { href: `#/deadlines?${(() => { const p = hashParams(); p.set('after', page.next_cursor); return p; })()}` }, '下一页 →')) : null,
    ];
  } catch (e) {
    body = [failure(e)];
  }
  show('期限看板', tabs, h('div', { class: 'filters' }, procSel, h('div', {}, h('label', { for: 'role' }, '应办理角色'), roleSel)), ...body);
}

async function cases() {
  const params = hashParams();
  const go = (k, v) => {
    const p = hashParams();
    if (v) p.set(k, v); else p.delete(k);
    p.delete('cursor');
    location.hash = `#/cases?${p}`;
  };
  const [procSel] = await procedureFilter(params, go);
  const overdue = h('input', { type: 'checkbox', id: 'overdue', checked: params.get('overdue') === 'true', onchange: () => go('overdue', overdue.checked ? 'true' : '') });
  const q = new URLSearchParams({ limit: '50' });
  for (const k of ['procedure', 'overdue', 'cursor', 'report', 'year', 'group']) if (params.get(k)) q.set(k, params.get(k));
  let body;
  try {
    const page = await api(`/v1/cases?${q}`);
    const rows = [];
    for (const c of page.cases) {
      const p = await procedure(c.procedure);
      rows.push(h('tr', {},
        h('td', {}, h('a', { href: `#/case/${enc(c.id)}` }, c.title || '（无标题案件）')),
        h('td', {}, p.title),
        h('td', {}, titleOf(p.states, c.state), c.closed ? h('span', { class: 'badge b-ok' }, ' 已终结') : null),
        h('td', {}, when(c.opened_at)),
        h('td', {}, c.next_due ? when(c.next_due) : '—')));
    }
    body = [
      rows.length ? table(['案件', '程序', '所处阶段', '立案时间', '最近期限'], rows) : h('p', { class: 'muted' }, '没有案件。'),
      page.next_cursor ? h('p', {}, h('a', { href: `#/cases?${(() => { const p = hashParams(); p.set('cursor', page.next_cursor); return p; })()}` }, '下一页 →')) : null,
    ];
  } catch (e) {
    body = [failure(e)];
  }
  show(params.get('report') ? '年度数据所列案件' : '案件',
    h('div', { class: 'filters' }, procSel, h('div', {}, h('label', { for: 'overdue' }, h('span', {}, '只看有逾期期限的 '), overdue))),
    ...body);
}

async function picture(url, alt) {
  const svg = await api(url, 'text');
  const blob = new Blob([svg], { type: 'image/svg+xml' });
  return h('div', { class: 'picture' }, h('img', { src: URL.createObjectURL(blob), alt }));
}

// A fact's value as a person reads it: an enum value by its Chinese title (the fact's
// `labels` from the procedure's detail) when the rule file gives one, else as written.
function valueText(v, labels) {
  if (v === null || v === undefined) return '（未填）';
  if (v === true) return '是';
  if (v === false) return '否';
  if (typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'string' && labels && Object.hasOwn(labels, v)) return labels[v];
  return String(v);
}

function reasonItem(r) {
  const extra = [];
  if (r.allowed_from_date) extra.push(h('div', {}, '可办理日期：', h('strong', {}, `${day(r.allowed_from_date)}起`)));
  else if (r.allowed_from) extra.push(h('div', {}, '可办理时间：', h('strong', {}, `${when(r.allowed_from)}起`)));
  if (r.due_date) extra.push(h('div', {}, '期限最后一日：', day(r.due_date)));
  return h('li', { class: 'reason' },
    r.message_zh ?? r.message,
    r.citation ? h('div', {}, '依据：', h('span', { class: 'cite' }, r.citation)) : null,
    ...extra);
}

async function casePage(id) {
  let c;
  try {
    c = await api(`/v1/cases/${enc(id)}`);
  } catch (e) {
    show('案件', failure(e));
    return;
  }
  const p = await procedure(c.procedure);
  const hasTracks = Object.keys(c.tracks ?? {}).length > 0;
  const pictures = [await picture(`/v1/cases/${enc(id)}/graph`, `${p.title}流程图，本案当前处于“${titleOf(p.states, c.state)}”`).catch(failure)];
  if (hasTracks) {
    pictures.push(await picture(`/v1/cases/${enc(id)}/graph?tracks=true`, `“${titleOf(p.states, c.state)}”阶段内并行程序图`).catch(failure));
  }
  const trackRows = Object.entries(c.tracks ?? {}).map(([t, s]) => {
    const track = p.tracks.find((x) => x.id === t);
    return h('li', {}, `${track?.title ?? t}：${titleOf(track?.states, s)}`);
  });
  const facts = h('dl', { class: 'facts' }, Object.entries(c.facts ?? {}).flatMap(([k, v]) => [h('dt', {}, titleOf(p.facts, k)), h('dd', {}, valueText(v, p.facts?.find((f) => f.id === k)?.labels))]));
  const deadlineRows = (c.deadlines ?? []).map((d) => h('tr', {},
    h('td', {}, d.title),
    h('td', {}, badge(d.status)),
    h('td', {}, d.due_date ? day(d.due_date) : d.allowed_from_date ? `${day(d.allowed_from_date)}起` : when(d.due)),
    h('td', {}, d.description_zh ?? d.description)));
  // What the caller may do now; what belongs to this stage but is refused now (with every
  // reason, its article and the day from which it will be allowed); the rest, by stage.
  const all = c.actions ?? [];
  const elsewhere = (a) => !a.allowed && (a.reasons ?? []).some((r) => r.kind === 'wrong_state');
  const allowed = all.filter((a) => a.allowed);
  const blocked = all.filter((a) => !a.allowed && !elsewhere(a));
  const later = all.filter(elsewhere);
  const item = (a) => h('li', { class: a.allowed ? 'allowed' : 'refused' },
    h('strong', {}, a.title), ' ',
    a.allowed ? h('span', { class: 'badge b-ok' }, '现在可以办理') : h('span', { class: 'badge b-bad' }, '现在不能办理'),
    a.basis ? h('div', { class: 'muted' }, '行为依据：', a.basis) : null,
    a.allowed ? null : h('ul', {}, (a.reasons ?? []).map(reasonItem)));
  const actions = [
    h('h3', {}, `现在可以办理（${allowed.length}项）`),
    allowed.length ? h('ul', { class: 'actions' }, allowed.map(item)) : h('p', { class: 'muted' }, '您现在没有可以办理的事项。'),
    h('h3', {}, `本阶段的事项，现在不能办理（${blocked.length}项）`),
    blocked.length ? h('ul', { class: 'actions' }, blocked.map(item)) : h('p', { class: 'muted' }, '无。'),
    later.length ? h('details', {}, h('summary', {}, `其他阶段的事项（${later.length}项）`), h('ul', { class: 'actions' }, later.map(item))) : null,
  ];
  let history;
  try {
    const dossier = await api(`/v1/cases/${enc(id)}/dossier?limit=200`);
    const chain = dossier.chain ?? {};
    const events = dossier.events ?? [];
    history = [
      h('p', {}, chain.ok ? h('span', { class: 'badge b-ok' }, '哈希链完整') : h('span', { class: 'badge b-bad' }, `哈希链断裂${chain.broken ? `：第${chain.broken.seq}条，${chain.broken.problem_zh ?? ''}` : ''}`),
        ' ', h('span', { class: 'muted' }, `共${dossier.total ?? events.length}条记录`)),
      table(['序号', '时间', '行为', '办理人', '文书', '哈希'], events.map((e) => h('tr', {},
        h('td', {}, e.seq),
        h('td', {}, when(e.at)),
        h('td', {}, e.type === 'opened' ? '立案' : e.type === 'migrated' ? `迁移：第${e.from_version}版→第${e.to_version}版` : titleOf(p.actions, e.action)),
        h('td', {}, e.actor?.id ?? ''),
        h('td', {}, (e.documents ?? []).map((d) => h('div', {}, `${titleOf(p.documents, d.kind)}：${d.name}`, h('div', { class: 'hash' }, `SHA-256 ${d.sha256}`)))),
        h('td', { class: 'hash' }, e.hash)))),
    ];
  } catch (e) {
    history = [failure(e)];
  }
  show(c.title || '（无标题案件）',
    h('p', {}, `${p.title}（第${c.procedure_version}版）· 当前阶段：`, h('strong', {}, titleOf(p.states, c.state)),
      c.closed ? h('span', { class: 'badge b-ok' }, ' 程序已终结') : null,
      h('br'), h('span', { class: 'muted' }, `立案 ${when(c.opened_at)} · 最近办理 ${when(c.last_at)}`)),
    trackRows.length ? h('ul', {}, trackRows) : null,
    h('h2', {}, '办理事项（当前登录者）'), ...actions,
    h('h2', {}, '期限'), deadlineRows.length ? table(['期限', '状态', '日期', '说明'], deadlineRows) : h('p', { class: 'muted' }, '当前没有进行中的期限。'),
    h('h2', {}, '案件事实'), facts,
    h('h2', {}, '流程图'), ...pictures,
    h('h2', {}, '办理记录与哈希链'), ...history);
}

async function proceduresPage() {
  const list = await api('/v1/procedures');
  const cards = [];
  for (const s of list) {
    const p = await procedure(s.id);
    cards.push(h('div', { class: 'card' },
      h('h3', {}, h('a', { href: `#/procedure/${enc(p.id)}` }, p.title)),
      h('div', { class: 'muted' }, `第${p.version}版 · ${p.actions.length}项行为 · ${p.scenarios ?? 0}个测试场景`),
      h('div', {}, p.basis ?? '')));
  }
  show('程序', h('div', { class: 'cards' }, cards));
}

async function procedurePage(id) {
  const p = await procedure(id);
  const rows = p.actions.map((a) => h('tr', {},
    h('td', {}, a.title),
    h('td', {}, a.by.join('、')),
    h('td', {}, a.from.join('、'), a.to ? ` → ${a.to}` : '（记录，不改变阶段）'),
    h('td', { class: 'cite' }, a.basis ?? '—')));
  show(p.title,
    h('p', {}, `第${p.version}版${p.valid_from ? ` · 本版自${day(p.valid_from)}起适用` : ''} · ${p.scenarios ?? 0}个测试场景 · `, h('span', { class: 'cite' }, p.basis ?? '')),
    h('h2', {}, '流程图'), await picture(`/v1/procedures/${enc(id)}/graph`, `${p.title}流程图`).catch(failure),
    h('h2', {}, `行为（${p.actions.length}项）`), table(['行为', '办理角色', '阶段', '依据'], rows));
}

async function figures() {
  const params = hashParams();
  const year = params.get('year') ?? String(new Date().getFullYear());
  const input = h('input', { id: 'year', type: 'number', min: '2000', max: '2100', value: year });
  const form = h('form', { class: 'filters', onsubmit: (ev) => { ev.preventDefault(); location.hash = `#/figures?year=${enc(input.value)}`; } },
    h('div', {}, h('label', { for: 'year' }, '年度'), input), h('button', { class: 'primary', type: 'submit' }, '查看'));
  let body;
  try {
    const report = await api(`/v1/reports/annual?year=${enc(year)}`);
    // Each figure, then its groups (其中), as bars; every number links to its cases.
    const toCases = (path) => `#/cases?${new URLSearchParams(path.split('?')[1] ?? '')}`;
    body = (report.sections ?? []).map((sec) => {
      const rows = sec.figures.flatMap((f) => [
        { label: f.title, note: f.procedure_title, n: f.total, link: toCases(f.cases) },
        ...(f.groups ?? []).map((g) => ({ label: `其中：${g.label}`, n: g.count, link: toCases(g.cases), sub: true })),
      ]);
      const max = Math.max(1, ...rows.map((r) => r.n));
      return h('section', {},
        h('h2', {}, sec.title),
        h('div', { class: 'bars' }, rows.flatMap((r) => [
          h('div', { class: r.sub ? 'sub' : null }, h('a', { href: r.link }, r.label), r.note ? h('div', { class: 'muted' }, r.note) : null),
          h('div', { class: 'bar-wrap', 'aria-hidden': 'true' }, r.n ? h('div', { class: r.sub ? 'bar bar-sub' : 'bar', style: `width:${(100 * r.n) / max}%` }) : null),
          h('div', { class: 'num' }, h('a', { href: r.link, 'aria-label': `${r.label}：${r.n}件，查看案件` }, String(r.n))),
        ])));
    });
    if (!body.length) body = [h('p', { class: 'muted' }, '本年度没有数据。')];
  } catch (e) {
    body = [failure(e)];
  }
  show(`${year}年度数据`, form, ...body);
}

// ---------------------------------------------------------------------------------------------
// Routing

async function route() {
  const hash = location.hash || '#/deadlines';
  const [path] = hash.slice(1).split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (!sessionStorage.getItem(TOKEN) || parts[0] === 'login') return login();
  signingIn = false;
  nav.hidden = false;
  for (const a of nav.querySelectorAll('a')) {
    const top = a.getAttribute('href').slice(2);
    a.toggleAttribute('aria-current', top === parts[0] || (top === 'cases' && parts[0] === 'case') || (top === 'procedures' && parts[0] === 'procedure'));
    if (a.hasAttribute('aria-current')) a.setAttribute('aria-current', 'page');
  }
  main.setAttribute('aria-busy', 'true');
  try {
    switch (parts[0]) {
      case 'cases': await cases(); break;
      case 'case': await casePage(parts[1]); break;
      case 'procedures': await proceduresPage(); break;
      case 'procedure': await procedurePage(parts[1]); break;
      case 'figures': await figures(); break;
      default: await deadlines();
    }
  } catch (e) {
    if (e.status !== 401) show('出错了', failure(e));
  } finally {
    main.removeAttribute('aria-busy');
  }
}

document.getElementById('signout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN);
  location.hash = '#/login';
});
window.addEventListener('hashchange', () => { moved = true; route(); });
route();
