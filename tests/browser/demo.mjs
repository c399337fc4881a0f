// demo.mjs — the hosted web demo in a real browser (run by
// tests/integration/demo_browser.sh): Debian's chromium through
// playwright-core, axe-core on every state, a keyboard-only walk, 320 px,
// reduced motion, and the end-to-end story: a streamed completion,
// a stopped one, a flag that shows up in `stagegate flags list` tied to its
// audit record, the wait after the budget runs out, the paused page during an
// incident and the working page after it closes. Every wait is on a condition.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH, 'noop.js'));
const { chromium } = require('playwright-core');
const { AxeBuilder } = require('@axe-core/playwright');

const BASE = process.env.SG_BASE, BIN = process.env.SG_BIN, POLICY = process.env.SG_POLICY;
const DB = process.env.SG_DB, SHOTS = process.env.SG_SHOTS;
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
const T0 = Date.now();
let failures = 0;
const axeResults = [];
const ok = (what) => console.log('ok   ' + what);
const bad = (what) => { console.log('FAIL ' + what); failures++; };
const check = (what, cond) => (cond ? ok(what) : bad(what));
const cli = (...args) => execFileSync(BIN, args, { encoding: 'utf8' });

const userDataDir = fs.mkdtempSync(path.join(process.env.SG_TMP || os.tmpdir(), 'chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.SG_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1024, height: 900 },
});
context.setDefaultTimeout(120000); // conditions, not sleeps: generous for a loaded machine
const page = context.pages()[0] || await context.newPage();
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));
const cdp = await context.newCDPSession(page);
await cdp.send('Network.enable');
const throttle = (bytesPerSecond) => cdp.send('Network.emulateNetworkConditions', {
  offline: false, latency: 0, uploadThroughput: -1,
  downloadThroughput: bytesPerSecond > 0 ? bytesPerSecond : -1,
});

async function axe(state) {
  console.log(`  [${((Date.now() - T0) / 1000).toFixed(1)} s] state ${state}`);
  const r = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  axeResults.push({ state, violations: r.violations.length, passes: r.passes.length });
  for (const v of r.violations)
    console.log(`  axe ${state}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  check(`axe: no WCAG A/AA violations in state "${state}" (${r.passes.length} rules pass)`, r.violations.length === 0);
  await page.screenshot({ path: path.join(SHOTS, `demo-${state}.png`), fullPage: true });
}

// A smaller picture of one part of the page, for docs/images/.
const docShot = (name, sel) => page.locator(sel).screenshot({ path: path.join(SHOTS, `doc-${name}.png`) });
const text = (sel) => page.locator(sel).innerText();
const waitText = (sel, re) => page.waitForFunction(([s, src]) => {
  const el = document.querySelector(s);
  return el && new RegExp(src).test(el.textContent);
}, [sel, re.source]);
const waitIdle = () => page.waitForFunction(() => document.getElementById('output').getAttribute('aria-busy') === 'false'
  && !document.getElementById('generate').disabled || /try again in/.test(document.getElementById('error').textContent));
const firstToken = () => page.waitForFunction(() => document.getElementById('output').textContent.length > 0);

async function tabTo(id, max = 40) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement && document.activeElement.id) === id) return true;
  }
  return false;
}

// 1. Idle: what the visitor is told.
await page.goto(BASE + '/');
await page.waitForFunction(() => document.body.dataset.state === 'open' && !document.getElementById('try').hidden);
const about = await text('#about');
check('the page names the model and its size', /sotu-small/.test(about) && /M parameters/.test(about));
check('the page names the stage ("Stage 2 of 2 ... hosted access")', /Stage 2 of 2 of the release \(Hosted\): hosted access/.test(about));
check('the page says the output is watermarked', /Watermark: on/.test(about));
check('the page says what the model is for and not for', /What it is for/.test(about) && /not for/.test(about));
check('the prompt box is labelled "Prompt"', (await page.getByLabel(/Prompt/).count()) >= 1);
check('the Generate and Stop buttons have those names',
  (await page.getByRole('button', { name: 'Generate' }).count()) === 1 && (await page.getByRole('button', { name: 'Stop' }).count()) === 1);
check('the output region is role=log', (await page.locator('[role=log]#output').count()) === 1);
check('the operator\'s defaults are the form\'s values', (await page.inputValue('#max_tokens')) === '48' && (await page.inputValue('#temperature')) === '0.8');
await axe('idle');

// 2. A streamed completion; time to first token as the visitor sees it (from
// the click to the first text on screen; the first includes the proof-of-work).
await page.click('#settings summary'); // the sampling settings fold open
const ttft = [];
for (let i = 0; i < 2; i++) {
  await page.fill('#prompt', 'My fellow citizens, the state of the Union is');
  await page.fill('#max_tokens', '16');
  const t = Date.now();
  await page.click('#generate');
  await firstToken();
  ttft.push(Date.now() - t);
  await waitText('#status', /^Done/);
}
console.log(`time to first token (click to first text): ${ttft[0]} ms with the session's proof-of-work, ${ttft[1]} ms after`);
check('a completion streamed into the log', (await text('#output')).length > 0);
check('the receipt names completion, stage, model, watermark, filter',
  /Completioncmpl-[0-9a-f]+/.test((await text('#receipt')).replace(/\s/g, '')) && /Watermark\s*on/.test(await text('#receipt')) &&
  /Filter\s*passed/.test(await text('#receipt')));
await axe('done');

// 3. Keyboard only, on a slow network so that the stream is still running when
// Esc is pressed: Tab to the prompt, type, Enter, Esc stops, Tab to Flag, submit.
await page.fill('#max_tokens', '64');
await page.fill('#temperature', '0.1'); // near-greedy: a long, steady continuation to stop
await page.fill('#prompt', '');
await page.evaluate(() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); });
await throttle(50);
check('keyboard: Tab reaches the prompt', await tabTo('prompt'));
await page.keyboard.type('Fellow citizens of the Senate and House of Representatives:');
await page.keyboard.press('Enter');
await page.waitForFunction(() => document.getElementById('output').getAttribute('aria-busy') === 'true');
check('while streaming the log is aria-busy and Stop is enabled', await page.isEnabled('#stop'));
check('the busy cursor blinks (no reduced motion asked)',
  (await page.evaluate(() => getComputedStyle(document.getElementById('output'), '::after').animationName)) === 'blink');
await axe('streaming');
await firstToken();
check('text streams in while the log stays busy', (await page.getAttribute('#output', 'aria-busy')) === 'true');
await page.keyboard.press('Escape');
await waitText('#status', /^Stopped/);
check('Esc stopped the stream', (await page.getAttribute('#output', 'aria-busy')) === 'false' && /Finish\s*stopped/.test(await text('#receipt')));
await throttle(0);
const stoppedId = (await text('#receipt')).match(/cmpl-[0-9a-f]+/)[0];
check('keyboard: Tab reaches Flag', await tabTo('flag-open'));
await page.keyboard.press('Enter');
await page.waitForSelector('#flag-form:not([hidden])');
check('the flag form opens with focus on its first field', (await page.evaluate(() => document.activeElement.id)) === 'flag-reason');
await axe('flag-form');
await docShot('flag', '#result');
await page.keyboard.press('Tab');
await page.keyboard.type('keyboard walk: this reads like a real quote');
await page.keyboard.press('Tab');
check('keyboard: Tab reaches "Send flag"', (await page.evaluate(() => document.activeElement.id)) === 'flag-send');
await page.keyboard.press('Enter');
await waitText('#flag-status', /ticket #\d+/);
const ticket = (await text('#flag-status')).match(/ticket #(\d+)/)[1];
const flags = cli('flags', 'list', '--db', DB);
const row = flags.split('\n').find((l) => l.split(/\s+/)[0] === ticket) || '';
check(`ticket #${ticket} is in \`stagegate flags list\` for the stopped completion`, row.includes(stoppedId));
const auditSeq = row.split(/\s+/)[4];
const audit = cli('audit', 'tail', '--db', DB, '-n', '200');
const rec = audit.split('\n').find((l) => l.trim().split(/\s+/)[0] === auditSeq) || '';
check(`the flag is tied to audit record #${auditSeq}: the demo audience, a session key, the model`,
  /key=-\d+ demo_visitors sotu-small Hosted (allowed|cancelled)/.test(rec));

// 4. The budget runs out: the visitor sees how long to wait, never a raw error.
await page.fill('#max_tokens', '64');
await page.fill('#prompt', 'Mr. Speaker, Mr. Vice President, Members of Congress, distinguished guests, and fellow Americans: tonight');
let limited = false;
for (let i = 0; i < 8 && !limited; i++) {
  await page.click('#generate');
  await page.waitForFunction(() => /^(Done|Stopped)/.test(document.getElementById('status').textContent) ||
    /try again in/.test(document.getElementById('error').textContent));
  limited = /try again in \d+ s/.test(await text('#error'));
}
check('rate-limited: the page says "try again in N s"', limited);
check('rate-limited: Generate waits', await page.isDisabled('#generate'));
await axe('rate-limited');

// 5. An incident suspends the demo's audience: the page shows only its public text.
const opened = cli('incident', 'open', '--policy', POLICY, '--db', DB, '--severity', 'high',
  '--reason', 'INTERNAL-ONLY: a partner reported leaked weights', '--suspend-audience', 'demo_visitors');
const incident = opened.match(/#(\d+)/)[1];
await page.waitForFunction(() => document.body.dataset.state === 'paused');
const pausedText = await text('#paused');
check(`paused: the page names incident #${incident}`, pausedText.includes('incident #' + incident) && await page.isHidden('#try'));
check('paused: the internal reason is never shown', !(await page.content()).includes('INTERNAL-ONLY'));
const refused = await page.evaluate(async () => {
  const st = await (await fetch('/demo/api/state')).json();
  const r = await fetch('/demo/api/complete', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Demo-Token': st.token }, body: JSON.stringify({ prompt: 'Hello' }) });
  return r.status + ' ' + ((await r.json()).error || {}).code;
});
check('paused: generation is refused server-side (' + refused + ')', refused === '403 suspended_by_incident');
await axe('paused');
await docShot('paused', 'main');

// 6. The incident closes: the page works again (a new visitor: a fresh session).
cli('incident', 'close', incident, '--policy', POLICY, '--db', DB, '--note', 'resolved');
await page.waitForFunction(() => document.body.dataset.state === 'open' && !document.getElementById('try').hidden);
await context.clearCookies();
await page.reload();
await page.waitForFunction(() => document.body.dataset.state === 'open');
await page.click('#settings summary');

// 7. 320 px wide, reduced motion: no horizontal scrolling, no animation.
await page.setViewportSize({ width: 320, height: 800 });
await page.emulateMedia({ reducedMotion: 'reduce' });
check('320 px: no horizontal scrolling', await page.evaluate(() => document.documentElement.scrollWidth <= 320));
await page.fill('#prompt', 'In this time of trial');
await page.fill('#max_tokens', '4');
await page.click('#generate'); // a new visitor: proof-of-work, session, a short completion
await waitText('#status', /^Done/);
check('after the incident closed, generation works again', (await text('#output')).length > 0);
await page.fill('#max_tokens', '64');
await page.fill('#temperature', '0.1');
await throttle(50);
await page.click('#generate');
await page.waitForFunction(() => document.getElementById('output').getAttribute('aria-busy') === 'true');
check('reduced motion: the busy cursor does not blink',
  (await page.evaluate(() => getComputedStyle(document.getElementById('output'), '::after').animationName)) === 'none');
await axe('320px-reduced-motion-streaming');
await firstToken();
await page.click('#stop');
await waitText('#status', /^Stopped/);
await throttle(0);
check('320 px: still no horizontal scrolling with output and receipt', await page.evaluate(() => document.documentElement.scrollWidth <= 320));
await axe('320px-done');
await page.locator('#try').scrollIntoViewIfNeeded();
await page.screenshot({ path: path.join(SHOTS, 'doc-320px.png') }); // the viewport: prompt, output, receipt

// 8. Check a text: the detector's answer with its limits stated.
await page.setViewportSize({ width: 1024, height: 900 });
await page.fill('#check-text', (await text('#output')) + ' ' + 'and the Union is strong and we shall go on to the end.');
await page.click('#check-send');
await waitText('#check-result', /^(Verdict|Not checked)/);
check('check a text: the verdict with z, p-value and zero-shot score', /Verdict: .* z = -?\d+\.\d+ \(p = .*zero-shot score/.test(await text('#check-result')));
check('check a text: the limits are stated', /short texts/.test(await text('#check')) && /edited/.test(await text('#check')) && /other models/.test(await text('#check')));
await axe('check-a-text');

check('no script errors in the console' + (consoleErrors.length ? ': ' + consoleErrors.join('; ') : ''),
  consoleErrors.filter((e) => !/status of 4(03|29)/.test(e)).length === 0);
await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });

console.log('axe (tags ' + TAGS.join(', ') + '):');
for (const r of axeResults) console.log(`  ${r.state.padEnd(32)} ${r.violations} violations, ${r.passes} rules passed`);
console.log(`screenshots: ${SHOTS}/demo-*.png; browser test took ${((Date.now() - T0) / 1000).toFixed(1)} s`);
console.log(failures ? `${failures} browser check(s) failed` : 'browser: all checks passed');
process.exit(failures ? 1 : 0);
