#!/usr/bin/env node
/*
 * chromium-check.cjs — asserts the key controls in a DOM dumped by headless
 * Chromium (--dump-dom) from the editor harness. Parses with jsdom so checks
 * look at real elements and attributes, not substrings.
 * Usage: node tests/chromium-check.cjs <view> <dom.html> <screenshot.png>
 * Prints one line per check and `<view>: N passed, N failed`.
 */
'use strict';
const fs = require('fs');
const { JSDOM } = require('jsdom');

const [view, domFile, png] = process.argv.slice(2);
let passed = 0;
let failed = 0;
function check(name, cond, detail) {
  cond ? passed++ : failed++;
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${view}: ${name}${!cond && detail ? ' (' + detail + ')' : ''}`);
}

const html = fs.existsSync(domFile) ? fs.readFileSync(domFile, 'utf8') : '';
const doc = new JSDOM(html).window.document;
const q = (sel) => doc.querySelector(sel);
const qa = (sel) => Array.from(doc.querySelectorAll(sel));
const text = doc.body ? doc.body.textContent : '';
const chips = (id) => {
  const input = q(`#${id}`);
  const box = input && input.closest('[class]') && input.closest('div[class*="-input-wrapper"], div');
  return box ? box.parentElement.parentElement.textContent : '';
};

const pngOk = fs.existsSync(png) && fs.statSync(png).size > 1500 &&
  fs.readFileSync(png).subarray(1, 4).toString() === 'PNG';
check('screenshot written', pngOk, png);
check('harness rendered this view', q(`#harness[data-view="${view}"]`) !== null);

if (view === 'config') {
  for (const h of ['Connection', 'TLS', 'Trade table', 'Column mapping', 'Analytics defaults', 'Limits']) {
    check(`section "${h}"`, qa('legend, h2, h3, h4, h5, h6, button, span, div').some((e) => e.textContent.trim() === h));
  }
  check('host input shows the saved host', q('[data-testid="cfg-host"]')?.getAttribute('value') === 'pg.trading.internal');
  check('port default filled in', q('[data-testid="cfg-port"]')?.getAttribute('value') === '5432');
  const pw = q('input[aria-label="Password"]');
  check('saved password shows as configured, disabled', pw && pw.getAttribute('value') === 'configured' && pw.hasAttribute('disabled'));
  check('two Reset buttons (password, CA certificate)', qa('button').filter((b) => b.textContent.trim() === 'Reset').length === 2);
  check('TLS mode select shows verify-full', q('#cfg-sslmode') !== null && text.includes('verify-full'));
  check('client cert and key textareas', q('textarea[aria-label="Client certificate"]') && q('textarea[aria-label="Client key"]'));
  const cols = qa('[data-testid^="cfg-col-"]');
  check('15 column inputs with defaults', cols.length === 15 && cols.every((c) => c.getAttribute('value') === c.getAttribute('data-testid').slice(8)));
  for (const id of ['initialCapital', 'annualization', 'riskFreeRate', 'maxOpenConnections', 'queryTimeoutSeconds', 'rowLimit']) {
    check(`${id} input`, q(`[data-testid="cfg-${id}"]`) !== null);
  }
} else if (view === 'query') {
  check('query type select shows Statistics', q('#qe-query-type') !== null && text.includes('Statistics'));
  for (const id of ['qe-strategies', 'qe-symbols', 'qe-accounts', 'qe-metrics']) {
    check(`${id} multi-select`, q(`#${id}`) !== null);
  }
  check('selected strategies shown as chips', /momentum/.test(chips('qe-strategies')) && /\$strategy/.test(chips('qe-strategies')));
  check('selected metrics shown', ['Sharpe ratio', 'Max drawdown', 'Win rate'].every((m) => text.includes(m)));
  const radios = qa('input[type="radio"]').map((r) => r.getAttribute('title'));
  check('group by radios None/Strategy/Symbol/Account', ['None', 'Strategy', 'Symbol', 'Account'].every((t) => radios.includes(t)));
  check('Options row with override summary', text.includes('Options — initialCapital: 50000'));
  check('initial capital override input', q('[data-testid="qe-initialCapital"]')?.getAttribute('value') === '50000');
} else if (view === 'variable') {
  check('resource select', q('#ve-resource') !== null && text.includes('Symbols'));
}
console.log(`${view}: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
