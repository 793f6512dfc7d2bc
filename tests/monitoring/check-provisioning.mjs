// check-provisioning.mjs — Grafana provisioning files validated against the keys
// Grafana's file provisioning requires (ecosystem.md §3; rules_types.go is the
// authoritative parser for alert rules), plus the plugin query model inside each
// Grafana-managed rule (docs/query-model.md) and the guide's thresholds/durations.
import fs from 'node:fs';
import yaml from 'js-yaml';
import { check, problems, readText, queryModel, failures, DURATION, durationSeconds } from './lib.mjs';

const qm = queryModel();
const PLUGIN = JSON.parse(readText('plugin.json')).id;
const P = 'deploy/grafana/provisioning';
const load = (f) => { let d; check(`${f}: parses as YAML`, () => { d = yaml.load(readText(f)); }); return d; };
const files = (dir) => fs.readdirSync(`${process.cwd()}/${dir}`).filter((f) => /\.ya?ml$/.test(f)).map((f) => `${dir}/${f}`);

// ---- data sources
const DSF = `${P}/datasources/datasources.yaml`;
const ds = load(DSF);
let pluginUid = null;
if (ds) {
  check(`${DSF}: apiVersion 1, each data source has name, type, access, uid`, () => problems([
    ...(ds.apiVersion === 1 ? [] : ['apiVersion']),
    ...(ds.datasources || []).flatMap((d, i) => ['name', 'type', 'access', 'uid'].filter((k) => !d[k]).map((k) => `#${i} ${k}`))]));
  const ours = (ds.datasources || []).find((d) => d.type === PLUGIN);
  const prom = (ds.datasources || []).find((d) => d.type === 'prometheus');
  pluginUid = ours?.uid;
  check(`${DSF}: ${PLUGIN} data source with fixed uid`, () => (ours && ours.uid === 'algotrading-pnl') || 'missing');
  check(`${DSF}: Prometheus data source with fixed uid and url`, () => (prom && prom.uid === 'prometheus' && /^https?:\/\//.test(prom.url)) || 'missing');
  check(`${DSF}: jsonData keys are settings of docs/query-model.md`, () =>
    problems(Object.keys(ours?.jsonData || {}).filter((k) => !qm.settingKeys.includes(k))));
  check(`${DSF}: secureJsonData values are environment references, never literals`, () => problems(
    (ds.datasources || []).flatMap((d) => Object.entries(d.secureJsonData || {})
      .filter(([, v]) => !/^\$(\{\w+\}|\w+)$/.test(String(v))).map(([k]) => `${d.name}.${k}`))));
  check(`${DSF}: secureJsonData keys are known secrets (password, tlsCACert, tlsClientCert, tlsClientKey)`, () =>
    problems(Object.keys(ours?.secureJsonData || {}).filter((k) => !['password', 'tlsCACert', 'tlsClientCert', 'tlsClientKey'].includes(k))));
  check(`${DSF}: uids unique`, () => { const u = ds.datasources.map((d) => d.uid); return new Set(u).size === u.length || 'dup'; });
}

// ---- dashboard provider
const DBF = `${P}/dashboards/dashboards.yaml`;
const dbp = load(DBF);
if (dbp) check(`${DBF}: apiVersion 1, providers have unique name, type file, options.path`, () => problems([
  ...(dbp.apiVersion === 1 ? [] : ['apiVersion']),
  ...(dbp.providers || []).flatMap((p, i) => [...(p.name ? [] : [`#${i} name`]), ...((p.type || 'file') === 'file' ? [] : [`#${i} type`]),
    ...(p.options?.path ? [] : [`#${i} options.path`]), ...(p.options?.foldersFromFilesStructure && (p.folder || p.folderUid) ? [`#${i} folder with foldersFromFilesStructure`] : [])]),
  ...((dbp.providers || []).length ? [] : ['no providers'])]));

// ---- alerting
const dashboards = Object.fromEntries(['dashboards/trading.json', 'dashboards/system.json']
  .map((f) => JSON.parse(readText(f))).map((d) => [d.uid, d]));
const monitoringDoc = fs.existsSync('docs/monitoring.md') ? readText('docs/monitoring.md') : '';
const THRESH = new Set(['gt', 'lt', 'eq', 'ne', 'gte', 'lte', 'within_range', 'outside_range', 'within_range_included', 'outside_range_included']);
const rules = []; const contactPoints = []; let policies = [];
for (const f of files(`${P}/alerting`)) {
  const a = load(f);
  if (!a) continue;
  check(`${f}: apiVersion 1`, () => a.apiVersion === 1 || String(a.apiVersion));
  for (const g of a.groups || []) {
    check(`${f}: group "${g.name}" has name, folder, interval (duration), rules`, () => problems([
      ...(String(g.name || '').trim() ? [] : ['name']), ...(String(g.folder || '').trim() ? [] : ['folder']),
      ...(DURATION.test(String(g.interval || '')) ? [] : [`interval ${g.interval}`]),
      ...(Array.isArray(g.rules) && g.rules.length ? [] : ['rules'])]));
    for (const r of g.rules || []) rules.push({ f, g, r });
  }
  contactPoints.push(...(a.contactPoints || []));
  policies = policies.concat(a.policies || []);
}
for (const { f, r } of rules) {
  const id = `${f}: rule ${r.title || r.uid}`;
  check(`${id}: uid, title, condition, data present; for/noDataState/execErrState valid`, () => problems([
    ...['uid', 'title', 'condition'].filter((k) => !String(r[k] || '').trim()),
    ...(Array.isArray(r.data) && r.data.length ? [] : ['data']),
    ...(r.for === undefined || DURATION.test(String(r.for)) ? [] : [`for ${r.for}`]),
    ...(r.noDataState === undefined || ['NoData', 'Alerting', 'OK', 'KeepLast'].includes(r.noDataState) ? [] : ['noDataState']),
    ...(r.execErrState === undefined || ['Alerting', 'Error', 'OK', 'KeepLast'].includes(r.execErrState) ? [] : ['execErrState']),
    ...(r.uid && r.uid.length <= 40 ? [] : ['uid length'])]));
  const byRef = Object.fromEntries((r.data || []).map((q) => [q.refId, q]));
  check(`${id}: every query has refId, datasourceUid, model with the same refId; condition refers to one`, () => problems([
    ...(r.data || []).flatMap((q, i) => [...(q.refId ? [] : [`#${i} refId`]), ...(q.datasourceUid ? [] : [`#${i} datasourceUid`]),
      ...(q.model && q.model.refId === q.refId ? [] : [`#${i} model.refId`])]),
    ...(byRef[r.condition] ? [] : [`condition ${r.condition} not a refId`])]));
  const plugin = (r.data || []).filter((q) => q.datasourceUid !== '__expr__');
  check(`${id}: plugin queries target the provisioned ${PLUGIN} uid with a relativeTimeRange`, () => problems(plugin.flatMap((q) => [
    ...(q.datasourceUid === pluginUid ? [] : [`${q.refId} datasourceUid ${q.datasourceUid}`]),
    ...(q.relativeTimeRange && q.relativeTimeRange.from > 0 && q.relativeTimeRange.from > (q.relativeTimeRange.to || 0) ? [] : [`${q.refId} relativeTimeRange`]),
    ...(q.model.datasource && q.model.datasource.type !== PLUGIN ? [`${q.refId} model.datasource.type`] : [])])));
  check(`${id}: plugin query model: known queryType, stats with known metrics, valid groupBy`, () => problems(plugin.flatMap((q) => {
    const m = q.model; const bad = [];
    if (!qm.queryTypes.includes(m.queryType)) bad.push(`queryType ${m.queryType}`);
    if (q.queryType && q.queryType !== m.queryType) bad.push('queryType differs from model');
    if (m.queryType === 'stats' && !(Array.isArray(m.metrics) && m.metrics.length)) bad.push('stats without metrics');
    for (const x of m.metrics || []) if (!qm.statFields.includes(x)) bad.push(`metric ${x}`);
    if (m.groupBy !== undefined && !qm.groupBy.includes(m.groupBy)) bad.push(`groupBy ${m.groupBy}`);
    if (JSON.stringify(m).includes('$')) bad.push('template variable in an alert query (no frontend interpolates it)');
    return bad;
  })));
  check(`${id}: expressions chain correctly (reduce -> threshold with one evaluator)`, () => problems((r.data || [])
    .filter((q) => q.datasourceUid === '__expr__').flatMap((q) => {
      const m = q.model; const bad = [];
      if (!byRef[m.expression]) bad.push(`${q.refId} expression ${m.expression} unknown`);
      if (m.type === 'reduce' && !['last', 'mean', 'min', 'max', 'sum', 'count'].includes(m.reducer)) bad.push(`${q.refId} reducer`);
      if (m.type === 'threshold') {
        const c = m.conditions || [];
        if (c.length !== 1 || !THRESH.has(c[0].evaluator?.type) || !Array.isArray(c[0].evaluator?.params) || !c[0].evaluator.params.every(Number.isFinite))
          bad.push(`${q.refId} evaluator`);
      }
      if (!['reduce', 'threshold', 'math', 'resample', 'classic_conditions'].includes(m.type)) bad.push(`${q.refId} type ${m.type}`);
      return bad;
    })));
  check(`${id}: labels.severity and annotations summary/description/runbook_url without '$'`, () => problems([
    ...(['warning', 'critical'].includes(r.labels?.severity) ? [] : ['severity']),
    ...['summary', 'description', 'runbook_url'].filter((k) => !String(r.annotations?.[k] || '').trim()),
    ...Object.entries(r.annotations || {}).filter(([, v]) => String(v).includes('$')).map(([k]) => `${k} contains $`)]));
  check(`${id}: dashboardUid/panelId point at an existing panel; runbook anchor exists in docs/monitoring.md`, () => {
    const bad = [];
    if (r.dashboardUid) {
      const d = dashboards[r.dashboardUid];
      if (!d) bad.push(`dashboard ${r.dashboardUid}`);
      else if (!d.panels.some((p) => p.id === r.panelId)) bad.push(`panel ${r.panelId}`);
    }
    const anchor = /#([\w-]+)$/.exec(r.annotations?.runbook_url || '')?.[1];
    if (!anchor || !new RegExp(`<a id="${anchor}"></a>|^#+ .*\\{#${anchor}\\}|^#+ ${anchor}$`, 'mi').test(monitoringDoc)) bad.push(`anchor ${anchor}`);
    return problems(bad);
  });
}
// The guide's four trading alerts with their thresholds, durations and severities.
const guide = {
  HighDrawdown: { metric: 'max_drawdown', op: 'lt', value: -0.2, for: '1h', severity: 'warning' },
  LowWinRate: { metric: 'win_rate', op: 'lt', value: 0.4, for: '1h', severity: 'warning' },
  ExcessiveSlippage: { metric: 'avg_slippage_bps', op: 'gt', value: 50, for: '30m', severity: 'warning' },
  DailyLossExceeded: { metric: 'daily_loss', op: 'gt', value: 5000, for: '5m', severity: 'critical' },
};
for (const [name, w] of Object.entries(guide)) check(`Grafana rule ${name}: ${w.metric} ${w.op} ${w.value} for ${w.for}, ${w.severity}`, () => {
  const hit = rules.find((x) => x.r.title === name);
  if (!hit) return 'missing';
  const r = hit.r; const by = Object.fromEntries(r.data.map((q) => [q.refId, q.model]));
  const cond = by[r.condition]; const red = by[cond?.expression]; const src = by[red?.expression];
  const ev = cond?.conditions?.[0]?.evaluator;
  return problems([
    ...(cond?.type === 'threshold' && red?.type === 'reduce' ? [] : ['not A(query) -> B(reduce) -> C(threshold)']),
    ...(src?.queryType === 'stats' && JSON.stringify(src.metrics) === JSON.stringify([w.metric]) ? [] : [`query ${JSON.stringify(src?.metrics)}`]),
    ...(ev?.type === w.op && ev?.params?.[0] === w.value ? [] : [`evaluator ${JSON.stringify(ev)}`]),
    ...(durationSeconds(r.for) === durationSeconds(w.for) ? [] : [`for ${r.for}`]),
    ...(r.labels?.severity === w.severity ? [] : [`severity ${r.labels?.severity}`])]);
});
check('alerting: rule uids unique', () => { const u = rules.map((x) => x.r.uid); return new Set(u).size === u.length || 'dup'; });
check('alerting: contact points have name and receivers with uid, type, settings', () => problems([
  ...(contactPoints.length ? [] : ['none']),
  ...contactPoints.flatMap((c) => [...(c.name ? [] : ['name']), ...((c.receivers || []).length ? [] : [`${c.name} receivers`]),
    ...(c.receivers || []).flatMap((x) => ['uid', 'type', 'settings'].filter((k) => !x[k]).map((k) => `${c.name} ${k}`))])]));
check('alerting: contact point sends to Alertmanager (prometheus-alertmanager type, http url)', () =>
  contactPoints.some((c) => (c.receivers || []).some((x) => x.type === 'prometheus-alertmanager' && /^https?:\/\/alertmanager:9093/.test(x.settings?.url))) || 'missing');
check('alerting: notification policy root receiver is a provisioned contact point', () => problems([
  ...(policies.length === 1 ? [] : [`${policies.length} policies`]),
  ...policies.filter((p) => !contactPoints.some((c) => c.name === p.receiver)).map((p) => `receiver ${p.receiver}`)]));
// Prometheus rules share the runbooks: every runbook_url anchor must exist in docs/monitoring.md.
check('deploy/prometheus/alert-rules.yml: every runbook_url anchor exists in docs/monitoring.md', () => {
  const pr = yaml.load(readText('deploy/prometheus/alert-rules.yml'));
  const rs = pr.groups.flatMap((g) => g.rules);
  return problems(rs.flatMap((r) => {
    const a = /#([\w-]+)$/.exec(r.annotations?.runbook_url || '')?.[1];
    return a && new RegExp(`^#+ ${a}$`, 'mi').test(monitoringDoc) ? [] : [`${r.alert}: ${a}`];
  }));
});
process.exit(failures() ? 1 : 0);
