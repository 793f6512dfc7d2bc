// mutate-dashboards.mjs — the dashboard checks must be able to fail: each mutation of
// dashboards/trading.json below (a broken Dashboard-data-source share, a stat panel showing
// the wrong or no field) is written to a copy of the checked files and check-dashboards.mjs
// is run on that copy; the mutation passes when the named check FAILs there.
// Prints one "PASS mutation …" / "FAIL mutation …" line per mutation.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, check, failures } from './lib.mjs';

const FILES = ['tests/monitoring/lib.mjs', 'tests/monitoring/check-dashboards.mjs', 'docs/query-model.md', 'plugin.json',
  'dashboards/trading.json', 'dashboards/system.json'];
const original = JSON.parse(fs.readFileSync(path.join(ROOT, 'dashboards/trading.json'), 'utf8'));
const byTitle = (d, t) => d.panels.flatMap((p) => [p, ...(p.panels || [])]).find((p) => p.title === t);

// [what, the check that must fail (a substring of its line), mutate(dashboard)]
const MUTATIONS = [
  ['a shared panel points at a missing panel id', 'reuses one existing panel', (d) => { byTitle(d, 'Total P&L').targets[0].panelId = 999; }],
  ['a shared panel points at another shared panel', 'reuses one existing panel', (d) => {
    byTitle(d, 'Max Win Streak').targets[0].panelId = byTitle(d, 'Total P&L').id; }],
  ['a shared panel takes the source\'s transformed frames (withTransforms)', 'reuses one existing panel', (d) => {
    byTitle(d, 'Sharpe Ratio').targets[0].withTransforms = true; }],
  ['a field filter names an unknown display name', 'shows exactly one field', (d) => {
    byTitle(d, 'Total P&L').transformations[0].options.include.names = ['total_pnl', 'Total PnL']; }],
  ['the source query no longer returns a shared panel\'s field', 'shows exactly one field', (d) => {
    const t = byTitle(d, 'Win Rate').targets[0]; t.metrics = t.metrics.filter((m) => m !== 'sqn'); }],
  ['the source panel loses its own field filter (shows every field)', 'shows exactly one field', (d) => {
    delete byTitle(d, 'Win Rate').transformations; }],
  ['a guide card shows another field', 'guide stat cards show the right stat field', (d) => {
    byTitle(d, 'Sortino Ratio').transformations[0].options.include.names = ['sharpe', 'Sharpe ratio']; }],
  ['a stat panel\'s unit does not fit its field', "unit is the unit docs/query-model.md gives", (d) => {
    byTitle(d, 'Largest Win').fieldConfig.defaults.unit = 'percentunit'; }],
  ['a stat panel sends its own stats query again', 'send one stats query', (d) => {
    const p = byTitle(d, 'SQN'); const src = byTitle(d, 'Win Rate');
    p.datasource = src.datasource; p.targets = [{ ...src.targets[0], metrics: ['sqn'] }]; }],
  ['two panels send the same query', 'no two panels send the same query', (d) => {
    byTitle(d, 'Cumulative Returns').targets = structuredClone(byTitle(d, 'Portfolio Value Over Time').targets); }],
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dash-mut-'));
try {
  for (const f of FILES) {
    fs.mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(tmp, f));
  }
  for (const [what, checkName, mutate] of MUTATIONS) {
    const d = structuredClone(original);
    check(`mutation '${what}' caught by the dashboard checks (${checkName})`, () => {
      mutate(d);
      if (JSON.stringify(d) === JSON.stringify(original)) return 'did not apply';
      fs.writeFileSync(path.join(tmp, 'dashboards/trading.json'), JSON.stringify(d, null, 2));
      let out = '';
      try { out = execFileSync('node', [path.join(tmp, 'tests/monitoring/check-dashboards.mjs')], { encoding: 'utf8' }); }
      catch (e) { out = String(e.stdout || ''); }
      return out.split('\n').some((l) => l.startsWith('FAIL') && l.includes(checkName)) || 'NOT caught';
    });
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(failures() ? 1 : 0);
