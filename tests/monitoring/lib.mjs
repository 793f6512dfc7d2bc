// lib.mjs — shared helpers of the monitoring checkers: PASS/FAIL reporting and the
// project contract (docs/query-model.md) read from the doc itself, so a checker can
// never disagree with the contract it enforces.
// Each check prints one line "PASS <what>" or "FAIL <what>: <why>"; run.sh counts them.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const rel = (p) => path.relative(ROOT, p);
let failed = 0;

export function check(what, fn) {
  try {
    const why = fn();
    if (why === true || why === undefined) { console.log(`PASS ${what}`); return true; }
    console.log(`FAIL ${what}: ${why}`); failed++; return false;
  } catch (e) {
    console.log(`FAIL ${what}: ${e && e.message ? e.message : e}`); failed++; return false;
  }
}
export const failures = () => failed;

// Collect problems as a list; the check passes when the list is empty.
export const problems = (list) => (list.length ? list.slice(0, 8).join('; ') + (list.length > 8 ? ` (+${list.length - 8} more)` : '') : true);

export function readText(p) { return fs.readFileSync(path.resolve(ROOT, p), 'utf8'); }

// docs/query-model.md: queryType list, stats fields, settings keys, backend metric names.
export function queryModel() {
  const md = readText('docs/query-model.md');
  const row = md.split('\n').find((l) => l.startsWith('| `queryType`'));
  if (!row) throw new Error('docs/query-model.md: no `queryType` row');
  const qcell = row.split('|')[4];
  const queryTypes = [...qcell.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
  const statsSection = md.slice(md.indexOf('`stats`: one'), md.indexOf('`pnl_distribution`:'));
  const statFields = [...statsSection.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  // per stats field: its unit (currency, percentunit, none, s, suffix: bps) and display name
  // (displayNameFromDS: the third cell up to a colon, without the `column` notes)
  const statInfo = Object.fromEntries([...statsSection.matchAll(/^\| `([a-z_]+)` \| ([^|]*) \| ([^|]*)/gm)].map((m) => [m[1], {
    unit: m[2].replace(/`/g, '').replace(/\s*\(.*$/, '').trim(),
    display: m[3].split(':')[0].replace(/\s*\(`[^)]*`\)/g, '').trim() }]));
  const settings = md.slice(md.indexOf('## Data-source settings'), md.indexOf('## Query JSON'));
  const settingKeys = [...settings.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]);
  const metricsSec = md.slice(md.indexOf('## Backend metrics'));
  const backendMetrics = [...new Set([...metricsSec.matchAll(/`([a-z_]+)(\{[^`]*\})?`/g)].map((m) => m[1]))]
    .filter((n) => /_/.test(n));
  const gb = md.split('\n').find((l) => l.startsWith('| `groupBy`'));
  const groupBy = gb ? [...gb.split('|')[4].matchAll(/`([a-z_]+)`/g)].map((m) => m[1]) : [];
  // the query JSON keys: the first cell of each row of the "Query JSON" table
  const qj = md.slice(md.indexOf('## Query JSON'), md.indexOf('### Error statuses'));
  const queryKeys = qj.split('\n').filter((l) => l.startsWith('| `'))
    .flatMap((l) => [...l.split('|')[1].matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]));
  // the kinds a key applies to: the "for" cell of its row (e.g. metrics: stats, breakdown)
  const kindsOf = (key) => {
    const row = qj.split('\n').find((l) => l.startsWith('| `') && l.split('|')[1].includes('`' + key + '`'));
    return row ? [...row.split('|')[3].matchAll(/`([a-z_]+)`/g)].map((m) => m[1]) : [];
  };
  return { queryTypes, statFields, statInfo, settingKeys, backendMetrics, groupBy, queryKeys, kindsOf };
}

// Grafana unit ids used in this bundle (subset of Grafana's unit registry,
// grafana/dashboard-linter rule_panel_units) plus custom "suffix:" units.
export const KNOWN_UNITS = new Set(['currencyUSD', 'currencyEUR', 'currencyGBP', 'percent', 'percentunit', 'short',
  'none', 's', 'ms', 'bytes', 'decbytes', 'ops', 'reqps', 'bool']);
export const unitOk = (u) => KNOWN_UNITS.has(u) || /^suffix:\s?\S/.test(u);

// Go/Prometheus-style duration: 30s, 5m, 1h, 1h30m, 7d
export const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;
export function durationSeconds(s) {
  const mult = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let t = 0; for (const m of String(s).matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) t += Number(m[1]) * mult[m[2]];
  return t;
}
