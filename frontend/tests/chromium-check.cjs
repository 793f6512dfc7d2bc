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

/** The text a react-select shows around its input (the chosen value). */
const selectText = (id) => {
  const input = q(`#${id}`);
  const box = input && input.closest('div[class*="-input-wrapper"]');
  return box && box.parentElement ? box.parentElement.textContent : '';
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
  check('17 column inputs showing the default preset as placeholders (entry_tag, exit_reason too)', cols.length === 17 &&
    cols.every((c) => c.getAttribute('value') === '' && c.getAttribute('placeholder') === c.getAttribute('data-testid').slice(8)));
  check('preset select shows Default', q('#cfg-preset') !== null && /Default/.test(selectText('cfg-preset')));
  check('target session select shows any', /any/.test(selectText('cfg-targetSessionAttrs')));
  check('a none option per optional column (15), none ticked', qa('input[type="checkbox"][data-testid^="cfg-none-"]').length === 15 &&
    qa('input[data-testid^="cfg-none-"]').every((c) => !c.hasAttribute('checked')));
  for (const id of ['initialCapital', 'annualization', 'riskFreeRate', 'maxOpenConnections', 'queryTimeoutSeconds', 'rowLimit']) {
    check(`${id} input`, q(`[data-testid="cfg-${id}"]`) !== null);
  }
  const cache = q('input[data-testid="cfg-cacheMegabytes"]');
  check('cache size input, empty with the default 64 as placeholder', cache && cache.getAttribute('type') === 'number' &&
    cache.getAttribute('placeholder') === '64' && (cache.getAttribute('value') || '') === '');
} else if (view === 'presets') {
  check('preset select shows freqtrade', q('#cfg-preset') !== null && /freqtrade/.test(selectText('cfg-preset')));
  check("the preset's one-line description", /^freqtrade's trades table/.test(q('[data-testid="cfg-preset-description"]')?.textContent || ''));
  const ph = (k) => q(`[data-testid="cfg-col-${k}"]`)?.getAttribute('placeholder');
  check("freqtrade's names as placeholders", ph('symbol') === 'pair' && ph('realized_pnl') === 'close_profit_abs' &&
    ph('fees') === 'fee_open_cost + fee_close_cost' && ph('closed_at') === 'close_date');
  const none = (k) => q(`input[data-testid="cfg-none-${k}"]`);
  check('"none" options, exchange (override) and account (preset) ticked', none('exchange')?.hasAttribute('checked') &&
    none('account')?.hasAttribute('checked') && !none('symbol')?.hasAttribute('checked'));
  check('no "none" for the required closed_at and realized_pnl', !none('closed_at') && !none('realized_pnl') && none('opened_at'));
  check('exchange input disabled', q('[data-testid="cfg-col-exchange"]')?.hasAttribute('disabled'));
  check('side as is_short, closed_at as timestamp', /is_short/.test(selectText('cfg-as-side')) && /timestamp/.test(selectText('cfg-as-closed_at')));
  check('entry_tag override shown', q('[data-testid="cfg-col-entry_tag"]')?.getAttribute('value') === 'buy_tag');
  check('"Use preset" on the two overridden columns', qa('button').filter((b) => b.textContent.trim() === 'Use preset').length === 2);
  check('host list with one port per host', q('[data-testid="cfg-host"]')?.getAttribute('value') === 'pg-primary,pg-replica' &&
    q('[data-testid="cfg-port"]')?.getAttribute('value') === '5432,5433');
  check('target session select shows prefer-standby', /prefer-standby/.test(selectText('cfg-targetSessionAttrs')));
  check('no validation errors', qa('[role="alert"]').length === 0);
} else if (view === 'query') {
  check('query type select shows Statistics', q('#qe-query-type') !== null && text.includes('Statistics'));
  check('the kind\'s one-line description', q('[data-testid="qe-description"]')?.textContent.startsWith('One row of performance statistics'));
  for (const id of ['qe-strategies', 'qe-symbols', 'qe-accounts', 'qe-sides', 'qe-exchanges', 'qe-entryTags', 'qe-exitReasons', 'qe-metrics']) {
    check(`${id} multi-select`, q(`#${id}`) !== null);
  }
  check('selected strategies shown as chips', /momentum/.test(chips('qe-strategies')) && /\$strategy/.test(chips('qe-strategies')));
  check('selected exit reason shown as a chip', /stop_loss/.test(chips('qe-exitReasons')));
  check('selected metrics shown', ['Sharpe ratio', 'Max drawdown', 'Win rate'].every((m) => text.includes(m)));
  const radios = qa('input[type="radio"]').map((r) => r.getAttribute('title'));
  check('group by radios None … Exit reason', ['None', 'Strategy', 'Symbol', 'Account', 'Side', 'Exchange', 'Entry tag', 'Exit reason']
    .every((t) => radios.includes(t)));
  check('Options row with override summary', text.includes('Options — initialCapital: 50000'));
  check('initial capital override input', q('[data-testid="qe-initialCapital"]')?.getAttribute('value') === '50000');
  const cacheSw = q('input[data-testid="qe-cache"]');
  check('Cache switch shown for stats, on by default', cacheSw !== null && cacheSw.hasAttribute('checked'));
} else if (view === 'period') {
  check('query type select shows Period returns', q('#qe-query-type') !== null && text.includes('Period returns'));
  check('the kind\'s one-line description', /week, month, quarter or year/.test(q('[data-testid="qe-description"]')?.textContent || ''));
  const radios = qa('input[type="radio"]');
  const checked = (t) => radios.some((r) => r.getAttribute('title') === t && r.hasAttribute('checked'));
  check('period radios Week/Month/Quarter/Year, Month selected', ['Week', 'Month', 'Quarter', 'Year'].every((t) => radios.some((r) => r.getAttribute('title') === t)) && checked('Month'));
  check('layout radios with Monthly grid selected', checked('Monthly grid'));
  check('selected side shown as a chip', /long/.test(chips('qe-sides')));
  check('no metrics, metric or window controls', !q('#qe-metrics') && !q('#qe-metric') && !q('[data-testid="qe-window"]'));
} else if (view === 'rolling') {
  check('query type select shows Rolling metric', q('#qe-query-type') !== null && text.includes('Rolling metric'));
  check('metric select shows Sharpe ratio', q('#qe-metric') !== null && text.includes('Sharpe ratio'));
  check('window input holds 30', q('[data-testid="qe-window"]')?.getAttribute('value') === '30');
  check('grouped by entry tag', qa('input[type="radio"]').some((r) => r.getAttribute('title') === 'Entry tag' && r.hasAttribute('checked')));
  check('selected entry tag shown as a chip', /ema_cross/.test(chips('qe-entryTags')));
} else if (view === 'variable') {
  check('resource select', q('#ve-resource') !== null && text.includes('Symbols'));
}
console.log(`${view}: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
