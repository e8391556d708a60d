// Browser test of the console (issue 19): headless Chromium from Debian, driven by
// playwright-core, against a running `fazhi serve` on an empty database.
//
//   node .ci/console/test.mjs http://127.0.0.1:PORT SCREENSHOT_DIR
//
// It seeds cases through the API as the importer (acts dated in the past, so that one
// deadline is overdue), then, as the legal office would: signs in (a wrong token first), finds
// the overdue case on the deadline board, opens it, reads a refusal with its article, looks at
// the procedures and the annual figures, and checks the page on a phone's width and by
// keyboard. Each page is saved as a PNG under SCREENSHOT_DIR. Any failed check exits 1.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error('usage: node test.mjs BASE_URL SCREENSHOT_DIR');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
}

// ------------------------------------------------------------------------------------------
// Seeding through the API, as the importer (who may date acts in the past).

const importer = { Authorization: 'Bearer dev-importer', 'Content-Type': 'application/json' };
const sha = (s) => createHash('sha256').update(s).digest('hex');
const doc = (kind, name) => ({ kind, name, sha256: sha(name) });

async function call(method, path, body) {
  const res = await fetch(base + path, { method, headers: importer, body: body && JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function open(procedure, title, at, facts) {
  return call('POST', '/v1/cases', { procedure, title, at, facts });
}

async function act(c, action, at, payload = {}, documents = []) {
  const r = await call('POST', `/v1/cases/${c.id}/events`, { action, at, payload, documents, expected_seq: c.seq });
  c.seq = r.case?.seq ?? c.seq + 1;
  return r;
}

// An application for information registered on 9 October: its 20-working-day reply limit
// (OGI Art. 33) ran out in November, so it is overdue today.
const overdue = await open('information-disclosure', '张某申请公开征地补偿信息', '2026-10-09T10:00:00+08:00', { applicant_kind: 'natural_person' });
await act(overdue, 'register_receipt', '2026-10-09T10:30:00+08:00', { channel: 'in_person', received_on: '2026-10-09' },
  [doc('application', '政府信息公开申请表.pdf'), doc('receipt_record', '登记回执.pdf')]);

// A major decision in public participation: a state with parallel tracks.
const decision = await open('major-decision', '老旧小区加装电梯财政补助政策', '2026-11-02T09:00:00+08:00', { proposer: 'department' });
await act(decision, 'decide_to_start', '2026-11-03T09:00:00+08:00', {
  category: 'public_policy', excluded_matter: false, sponsor_unit: '镇建设办', in_catalogue: true, not_public: false,
  affects_other_units: false, affects_specific_group: false, hearing_required_by_law: false, professional_technical: false,
  stability_or_safety_risk: false, risk_already_assessed: false, exploratory_reform: false, affects_market_entities: false,
  wide_public_concern: false,
}, [doc('start_decision', '启动决定.pdf'), doc('proposal_assessment', '建议论证材料.pdf')]);
await act(decision, 'open_consultation', '2026-11-04T10:00:00+08:00',
  { comment_deadline: '2026-12-04', channel: '镇人民政府门户网站', shortened: false }, [doc('draft_explanation', '草案及说明.pdf')]);

// A dispute under mediation this year: a figure of the annual report (调处矛盾纠纷).
const dispute = await open('mediation', '李某与王某相邻通行纠纷', '2026-11-10T09:00:00+08:00', { started_by: 'application' });
await act(dispute, 'consent', '2026-11-10T09:10:00+08:00', { side: 'applicant' }, [doc('consent_record', '申请人同意调解.pdf')]);
await act(dispute, 'consent', '2026-11-11T09:00:00+08:00', { side: 'respondent' }, [doc('consent_record', '被申请人同意调解.pdf')]);
await act(dispute, 'start_mediation', '2026-11-11T10:00:00+08:00', { mediators: '王调解员', chosen_by_parties: false }, [doc('application', '调解申请书.pdf')]);

// ------------------------------------------------------------------------------------------
// The browser.

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--lang=zh-CN'],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', timezoneId: 'UTC' });
const page = await context.newPage();
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));
// Uncaught exceptions and errors the page logs; the browser's own line for each answer of
// 4xx (a wrong token, a case the caller may not read) is not the page's error.
page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text()); });
const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
const settle = () => page.waitForFunction(() => !document.getElementById('main').hasAttribute('aria-busy'));

// Sign in: a wrong token is refused with a message; the right one opens the board.
const weight = { bytes: 0 };
page.on('response', async (r) => {
  if (r.url().includes('/console/')) weight.bytes += (await r.body().catch(() => Buffer.alloc(0))).length;
});
await page.goto(`${base}/console/`);
await page.getByLabel('访问令牌（Bearer token）').fill('not-a-token');
await page.getByRole('button', { name: '登录' }).click();
await page.getByRole('alert').waitFor();
check((await page.getByRole('alert').innerText()).includes('令牌无效'), 'a wrong token is refused in Chinese');
check(weight.bytes > 0 && weight.bytes < 100 * 1024, `the first page weighs ${weight.bytes} bytes (< 100 KB)`);
await shot('01-sign-in');
await page.getByLabel('访问令牌（Bearer token）').fill('dev-ogi_office');
await page.getByRole('button', { name: '登录' }).click();
await page.getByRole('heading', { name: '期限看板' }).waitFor();
check(await page.evaluate(() => sessionStorage.getItem('fazhi.token') === 'dev-ogi_office'), 'the token is kept in session storage');

// The deadline board: the overdue case is under 「已逾期」.
await page.getByRole('link', { name: '已逾期' }).click();
await page.waitForURL(/tab=overdue/);
await settle();
const row = page.getByRole('row').filter({ hasText: '张某申请公开征地补偿信息' }).first();
await row.waitFor();
check((await row.innerText()).includes('已逾期'), 'the board lists the overdue case as 已逾期');
check(/第.+条/.test(await row.innerText()), 'the board cites the deadline\'s article');
await shot('02-deadline-board-overdue');
const roleOptions = await page.locator('#role option').allInnerTexts();
check(roleOptions.length > 5 && roleOptions.every((t) => !/^[a-z_]+$/.test(t)), 'the role filter lists roles by title');
// By role: the head of the office does not answer applications, the office does.
await page.locator('#role').selectOption({ label: '政府信息公开工作机构负责人' });
await page.waitForURL(/role=ogi_office_head/);
await settle();
check(await page.getByRole('row').filter({ hasText: '张某申请公开征地补偿信息' }).count() === 0, 'filtered to another role, the row is gone');
await page.locator('#role').selectOption({ label: '乡镇人民政府政府信息公开工作机构' });
await page.waitForURL(/role=ogi_office(&|$)/);
await settle();

// The case: state and tracks by title, picture, history with hashes, refusals with articles.
await row.getByRole('link', { name: '张某申请公开征地补偿信息' }).click();
await page.getByRole('heading', { name: '张某申请公开征地补偿信息' }).waitFor();
await settle();
const text = await page.locator('main').innerText();
check(text.includes('政府信息依申请公开'), 'the case page names its procedure by title');
check(!/\bregister_receipt\b|\breceived\b/.test(text), 'the case page shows no internal ids of actions or states');
check(!/\b(null|undefined|NaN)\b/.test(text), 'the case page shows no null, undefined or NaN');
const badges = await page.locator('main .badge').allInnerTexts();
check(badges.length > 0 && badges.every((b) => !/[a-z]/.test(b)), `every status is in Chinese: ${[...new Set(badges)].join('、')}`);
const refused = page.locator('ul.actions > li.refused').filter({ hasText: '依据：' }).first();
check(await refused.count() === 1, 'an action that may not be taken now shows its reasons');
check(/依据：《.+》第.+条/.test(await refused.innerText()), `the refusal cites its article: ${(await refused.innerText()).split('\n').slice(0, 3).join(' / ')}`);
check(text.includes('哈希链完整'), 'the chain check is shown');
check(/[0-9a-f]{64}/.test(text), 'the history shows hashes');
const images = await page.locator('.picture img').evaluateAll((imgs) => imgs.map((i) => i.complete && i.naturalWidth > 0));
check(images.length >= 1 && images.every(Boolean), 'the case picture is drawn');
await shot('03-case-overdue');

// The information office may not read a major decision: told as not found.
await page.goto(`${base}/console/#/case/${decision.id}`);
await page.getByRole('alert').waitFor();
check((await page.getByRole('alert').innerText()).includes('未找到'), 'a case the caller may not read is 未找到');

// A case with parallel tracks, read by the importer (who holds every role): both pictures.
await page.getByRole('button', { name: '退出' }).click();
await page.getByLabel('访问令牌（Bearer token）').fill('dev-importer');
await page.getByRole('button', { name: '登录' }).click();
await page.getByRole('heading', { name: '期限看板' }).waitFor();
await page.goto(`${base}/console/#/case/${decision.id}`);
await page.getByRole('heading', { name: '老旧小区加装电梯财政补助政策' }).waitFor();
await settle();
const pics = await page.locator('.picture img').evaluateAll((imgs) => imgs.map((i) => i.complete && i.naturalWidth > 0));
check(pics.length === 2 && pics.every(Boolean), 'a state with tracks shows the overview and the tracks');
await shot('04-case-with-tracks');

// The procedures, and one procedure with its actions and articles.
await page.getByRole('link', { name: '程序', exact: true }).click();
await page.getByRole('heading', { name: '程序', exact: true }).waitFor();
await settle();
check(/个测试场景/.test(await page.locator('main').innerText()), 'the procedures show their scenario counts');
await shot('05-procedures');
await page.getByRole('link', { name: '政府信息依申请公开' }).click();
await page.getByRole('heading', { name: '政府信息依申请公开', exact: true }).waitFor();
await settle();
check(await page.getByRole('row').count() > 10, 'a procedure lists its actions');
await shot('06-procedure');

// The annual figures.
await page.getByRole('link', { name: '年度数据' }).click();
await page.getByRole('heading', { name: /年度数据/ }).waitFor();
await page.getByLabel('年度').fill('2026');
await page.getByRole('button', { name: '查看' }).click();
await page.getByRole('heading', { name: '2026年度数据' }).waitFor();
await settle();
await shot('07-figures');
const disputes = page.getByRole('link', { name: '调处矛盾纠纷：1件，查看案件' });
check(await disputes.count() === 1, 'the figures count the dispute mediated this year');
await disputes.click();
await page.getByRole('heading', { name: '年度数据所列案件' }).waitFor();
await settle();
check(await page.getByRole('link', { name: '李某与王某相邻通行纠纷' }).count() === 1, 'a figure links to exactly its cases');
await shot('07b-figure-cases');

// Keyboard: on a fresh load the first Tab reaches the skip link, which leads to the content;
// the navigation follows it.
await page.reload();
await settle();
await page.keyboard.press('Tab');
check(await page.evaluate(() => document.activeElement?.classList.contains('skip')), 'the first Tab reaches 「跳到正文」');
await page.keyboard.press('Tab');
check(await page.evaluate(() => document.activeElement?.textContent === '期限看板'), 'the second Tab reaches the navigation');
// Every form control has a label.
const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input,select')].filter((e) => !e.labels?.length).length);
check(unlabelled === 0, 'every form control has a label');

// A phone.
await page.setViewportSize({ width: 390, height: 844 });
await page.goto(`${base}/console/#/case/${overdue.id}`);
await page.getByRole('heading', { name: '张某申请公开征地补偿信息' }).waitFor();
await settle();
const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
check(overflow <= 0, `the case page fits a phone's width (overflow ${overflow}px)`);
await shot('08-case-phone');

check(consoleErrors.length === 0, `no script errors${consoleErrors.length ? ': ' + consoleErrors.join(' | ') : ''}`);
await browser.close();
console.log(failures ? `${failures} check(s) failed` : 'all console checks passed');
process.exit(failures ? 1 : 0);
