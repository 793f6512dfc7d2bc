// check-dashboards.mjs — offline checks of dashboards/trading.json and dashboards/system.json
// (ecosystem.md §6 rules we can check without Grafana, the guide's panel list, and
// the plugin query contract, panels sharing another panel's query through Grafana's
// Dashboard data source included). Writes the system dashboard's PromQL expressions, with
// template variables substituted, to the file given as argv[2] (one JSON string per
// line) so run.sh can have a real Prometheus parse them.
import fs from 'node:fs';
import { ROOT, check, problems, readText, queryModel, unitOk, failures } from './lib.mjs';

const qm = queryModel();
const PLUGIN = JSON.parse(readText('plugin.json')).id;
const exprOut = process.argv[2];

function load(file) {
  let d = null;
  check(`${file}: valid JSON`, () => { d = JSON.parse(readText(file)); });
  return d;
}
const flat = (d) => d.panels.flatMap((p) => [p, ...(p.panels || [])]);
// Grafana's built-in Dashboard data source: a panel on it shows another panel's query results
const DASH_DS = '-- Dashboard --';
const shared = (p) => p.datasource?.uid === DASH_DS;

function common(file, d, dsType) {
  check(`${file}: uid set (<=40 chars), no top-level id, title, schemaVersion 39..42`, () => problems([
    ...(typeof d.uid === 'string' && d.uid.length > 0 && d.uid.length <= 40 ? [] : ['bad uid']),
    ...(d.id === undefined || d.id === null ? [] : ['has id']),
    ...(d.title ? [] : ['no title']),
    ...(d.schemaVersion >= 39 && d.schemaVersion <= 42 ? [] : [`schemaVersion ${d.schemaVersion}`])]));
  const vars = d.templating?.list || [];
  check(`${file}: datasource variable of type ${dsType}`, () =>
    vars.some((v) => v.type === 'datasource' && v.name === 'datasource' && v.query === dsType) || 'missing');
  const panels = flat(d);
  check(`${file}: every panel has a title and a description`, () => problems(panels
    .filter((p) => !(typeof p.title === 'string' && p.title.trim()) || !(typeof p.description === 'string' && p.description.trim()))
    .map((p) => `panel ${p.id} "${p.title}"`)));
  check(`${file}: panel ids are unique integers`, () => {
    const seen = new Set(); const bad = [];
    for (const p of panels) { if (!Number.isInteger(p.id) || seen.has(p.id)) bad.push(`id ${p.id}`); seen.add(p.id); }
    return problems(bad);
  });
  check(`${file}: every non-row panel not on the Dashboard data source uses {type:${dsType}, uid:\${datasource}} on panel and targets`, () => problems(panels
    .filter((p) => p.type !== 'row' && !shared(p))
    .flatMap((p) => {
      const ok = (ds) => ds && ds.type === dsType && ds.uid === '${datasource}';
      const bad = [];
      if (!ok(p.datasource)) bad.push(`panel "${p.title}" datasource`);
      if (!Array.isArray(p.targets) || p.targets.length === 0) bad.push(`panel "${p.title}" has no targets`);
      for (const t of p.targets || []) if (t.datasource && !ok(t.datasource)) bad.push(`panel "${p.title}" target ${t.refId}`);
      const refs = (p.targets || []).map((t) => t.refId);
      if (new Set(refs).size !== refs.length) bad.push(`panel "${p.title}" duplicate refId`);
      return bad;
    })));
  check(`${file}: each panel on the Dashboard data source reuses one existing panel's own ${dsType} query ({type: datasource, uid: ${DASH_DS}}, one target {refId, panelId, withTransforms})`, () => problems(panels
    .filter(shared).flatMap((p) => {
      const bad = [];
      if (p.datasource.type !== 'datasource') bad.push(`"${p.title}" datasource type ${p.datasource.type}`);
      const ts = p.targets || [];
      if (ts.length !== 1) return [...bad, `"${p.title}" has ${ts.length} targets (want 1)`];
      const t = ts[0];
      const extra = Object.keys(t).filter((k) => !['refId', 'datasource', 'panelId', 'withTransforms'].includes(k));
      if (extra.length) bad.push(`"${p.title}" target keys ${extra.join(', ')}`);
      if (!t.refId) bad.push(`"${p.title}" target without refId`);
      if (t.datasource && !(t.datasource.type === 'datasource' && t.datasource.uid === DASH_DS)) bad.push(`"${p.title}" target datasource`);
      if (t.withTransforms !== undefined && typeof t.withTransforms !== 'boolean') bad.push(`"${p.title}" withTransforms ${t.withTransforms}`);
      const src = panels.find((x) => x.id === t.panelId);
      if (!Number.isInteger(t.panelId) || !src) return [...bad, `"${p.title}" panelId ${t.panelId}: no such panel`];
      if (src === p) return [...bad, `"${p.title}" reuses itself`];
      // Grafana does not chain them: the source must run its own query
      if (src.type === 'row' || shared(src)) bad.push(`"${p.title}" -> "${src.title}": a row or another shared panel`);
      else if (src.datasource?.type !== dsType || !(src.targets || []).length) bad.push(`"${p.title}" -> "${src.title}": no ${dsType} query`);
      // withTransforms hands over the frames after the source's own transformations (its field
      // filter would leave only the source's own field)
      if (t.withTransforms && (src.transformations || []).length) bad.push(`"${p.title}": withTransforms over "${src.title}"'s transformations`);
      return bad;
    })));
  check(`${file}: gridPos valid (24 columns) and no two panels overlap`, () => {
    const bad = []; const boxes = panels.map((p) => ({ p, g: p.gridPos || {} }));
    for (const { p, g } of boxes) {
      if (![g.x, g.y, g.w, g.h].every(Number.isInteger) || g.x < 0 || g.y < 0 || g.w < 1 || g.h < 1 || g.x + g.w > 24)
        bad.push(`"${p.title}" gridPos ${JSON.stringify(g)}`);
    }
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i].g, b = boxes[j].g;
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
        bad.push(`"${boxes[i].p.title}" overlaps "${boxes[j].p.title}"`);
    }
    return problems(bad);
  });
  check(`${file}: units are known Grafana unit ids`, () => problems(panels.flatMap((p) => {
    const units = [p.fieldConfig?.defaults?.unit, ...(p.fieldConfig?.overrides || []).flatMap((o) =>
      (o.properties || []).filter((x) => x.id === 'unit').map((x) => x.value))].filter((u) => u !== undefined);
    return units.filter((u) => !unitOk(u)).map((u) => `"${p.title}": ${u}`);
  })));
  check(`${file}: every data panel sets a unit (or is a table)`, () => problems(panels
    .filter((p) => p.type !== 'row' && p.type !== 'table' && !p.fieldConfig?.defaults?.unit).map((p) => p.title)));
  return panels;
}

function requirePanels(file, panels, titles) {
  for (const t of titles) check(`${file}: guide panel "${t}" present`, () => panels.some((p) => p.title === t) || 'missing');
}

// ---- trading dashboard (our data source)
const T = 'dashboards/trading.json';
const trading = load(T);
if (trading) {
  const panels = common(T, trading, PLUGIN);
  requirePanels(T, panels, ['Win Rate', 'Total P&L', 'Max Drawdown', 'Trade Count', 'Sharpe Ratio', 'Sortino Ratio',
    'Profit Factor', 'Daily Loss', 'Portfolio Value Over Time', 'Cumulative Returns', 'Daily P&L Distribution',
    'Slippage Analysis', 'Drawdown (Underwater)', 'Trades']);
  // issue 11: monthly grid, worst drawdowns, rolling Sharpe, breakdown, the trade-statistics row
  const TRADE_STATS = { 'Max Win Streak': ['max_win_streak', 'none'], 'Max Loss Streak': ['max_loss_streak', 'none'],
    'Avg Holding Time': ['avg_holding_time', 's'], 'Largest Win': ['largest_win', 'currencyUSD'],
    'Largest Loss': ['largest_loss', 'currencyUSD'], SQN: ['sqn', 'none'], 'Long Win Rate': ['long_win_rate', 'percentunit'],
    'Short Win Rate': ['short_win_rate', 'percentunit'] };
  requirePanels(T, panels, ['Monthly Returns', 'Worst Drawdowns', 'Rolling 30-day Sharpe by Strategy', 'Strategy Breakdown',
    'Trade statistics', ...Object.keys(TRADE_STATS)]);
  const vars = Object.fromEntries((trading.templating?.list || []).map((v) => [v.name, v]));
  // the queries the dashboard sends: those of the panels not on the Dashboard data source
  const own = panels.filter((p) => p.type !== 'row' && !shared(p));
  const targets = own.flatMap((p) => (p.targets || []).map((t) => ({ p, t })));
  // a panel's data: its own first query, or the first query of the panel it reuses
  const sourceOf = (p) => (p && shared(p) ? panels.find((x) => x.id === p.targets?.[0]?.panelId) : p);
  const queryOf = (p) => sourceOf(p)?.targets?.[0];
  // the fields a query returns (stats: its metrics, all when empty; null = not modelled here)
  const returns = (q) => (q?.queryType === 'stats' ? (q.metrics?.length ? q.metrics : qm.statFields) : null);
  const fieldFilters = (p) => (p.transformations || []).filter((x) => x.id === 'filterFieldsByName');
  // Grafana's filterFieldsByName keeps a field whose name or display name is listed
  const matches = (f, names) => names.includes(f) || names.includes(qm.statInfo[f]?.display);
  // the fields a panel shows: what its query returns, narrowed by its field filters
  const shows = (p) => fieldFilters(p).reduce((keep, x) => keep && keep.filter((f) => matches(f, x.options?.include?.names || [])),
    returns(queryOf(p)));
  const dataPanels = panels.filter((p) => p.type !== 'row');
  const calls = own.length;
  check(`${T}: no two panels send the same query, they share it (${calls} QueryData calls per refresh for ${dataPanels.length} data panels)`, () => {
    const seen = new Map(); const bad = [];
    for (const p of own) {
      const key = JSON.stringify((p.targets || []).map(({ refId, ...t }) => t));
      if (seen.has(key)) bad.push(`"${p.title}" repeats "${seen.get(key)}"`); else seen.set(key, p.title);
    }
    return problems(bad);
  });
  const statPanels = panels.filter((p) => p.type === 'stat' && queryOf(p)?.queryType === 'stats');
  check(`${T}: the ${statPanels.length} stat panels over stats send one stats query (the others reuse it through the Dashboard data source)`, () => {
    const srcs = [...new Set(statPanels.map((p) => sourceOf(p)?.title))];
    return srcs.length === 1 || `sources: ${srcs.join(', ')}`;
  });
  check(`${T}: each stat panel shows exactly one field its query returns; field filters list only that field's name and display name (docs/query-model.md)`, () => problems(statPanels.flatMap((p) => {
    const bad = [];
    for (const x of p.transformations || []) {
      if (x.disabled) continue;
      if (x.id !== 'filterFieldsByName') { bad.push(`"${p.title}": transformation ${x.id} not modelled by this check`); continue; }
      const o = x.options || {};
      if (o.exclude || o.include?.pattern || o.byVariable || !(o.include?.names || []).length) bad.push(`"${p.title}": filterFieldsByName is not an include list of names`);
    }
    const s = shows(p) || [];
    if (s.length !== 1) return [...bad, `"${p.title}" shows ${s.length} fields (${s.join(', ')})`];
    const f = s[0];
    for (const x of fieldFilters(p)) for (const n of x.options?.include?.names || [])
      if (n !== f && n !== qm.statInfo[f]?.display) bad.push(`"${p.title}": filter name "${n}" is neither ${f} nor "${qm.statInfo[f]?.display}"`);
    return bad;
  })));
  check(`${T}: each stat panel's unit is the unit docs/query-model.md gives the field it shows (currency = currency<ISO>)`, () => problems(statPanels.flatMap((p) => {
    const f = (shows(p) || [])[0]; const want = qm.statInfo[f]?.unit; const u = p.fieldConfig?.defaults?.unit;
    const ok = want === 'currency' ? /^currency[A-Z]{3}$/.test(u || '') : u === want;
    return ok ? [] : [`"${p.title}" (${f}) unit ${u}, want ${want}`];
  })));
  check(`${T}: every queryType is one of docs/query-model.md (${qm.queryTypes.length} types)`, () => problems(targets
    .filter(({ t }) => !qm.queryTypes.includes(t.queryType)).map(({ p, t }) => `"${p.title}": ${t.queryType}`)));
  const metricsKinds = qm.kindsOf('metrics');
  check(`${T}: stats queries list metrics, all known stat fields (metrics only on ${metricsKinds.join(', ')})`, () => problems(targets.flatMap(({ p, t }) => {
    if (!metricsKinds.includes(t.queryType)) return t.metrics ? [`"${p.title}": metrics on ${t.queryType}`] : [];
    if (t.queryType === 'stats' && (!Array.isArray(t.metrics) || t.metrics.length === 0)) return [`"${p.title}": no metrics`];
    return (t.metrics || []).filter((m) => !qm.statFields.includes(m)).map((m) => `"${p.title}": unknown ${m}`);
  })));
  const statOf = (title) => { const s = shows(panels.find((p) => p.title === title)) || []; return s.length === 1 ? s[0] : s.join('+'); };
  check(`${T}: guide stat cards show the right stat field`, () => problems(Object.entries({
    'Win Rate': 'win_rate', 'Total P&L': 'total_pnl', 'Max Drawdown': 'max_drawdown', 'Trade Count': 'trade_count',
    'Sharpe Ratio': 'sharpe', 'Sortino Ratio': 'sortino', 'Profit Factor': 'profit_factor', 'Daily Loss': 'daily_loss' })
    .filter(([t, f]) => statOf(t) !== f).map(([t, f]) => `${t} -> ${statOf(t)} (want ${f})`)));
  check(`${T}: guide charts use equity / returns / pnl_distribution(histogram) / slippage / drawdown / trades(table)`, () => {
    const want = { 'Portfolio Value Over Time': ['equity', 'timeseries'], 'Cumulative Returns': ['returns', 'timeseries'],
      'Daily P&L Distribution': ['pnl_distribution', 'histogram'], 'Slippage Analysis': ['slippage', 'timeseries'],
      'Drawdown (Underwater)': ['drawdown', 'timeseries'], Trades: ['trades', 'table'] };
    return problems(Object.entries(want).flatMap(([title, [qt, type]]) => {
      const p = panels.find((x) => x.title === title);
      return p && p.type === type && queryOf(p)?.queryType === qt ? [] : [`${title}`];
    }));
  });
  check(`${T}: units follow the stats/frames table (currencyUSD, percentunit, suffix: bps)`, () => {
    const want = { 'Win Rate': 'percentunit', 'Total P&L': 'currencyUSD', 'Max Drawdown': 'percentunit', 'Daily Loss': 'currencyUSD',
      'Portfolio Value Over Time': 'currencyUSD', 'Cumulative Returns': 'percentunit', 'Drawdown (Underwater)': 'percentunit',
      'Slippage Analysis': 'suffix: bps', 'Daily P&L Distribution': 'currencyUSD', 'Trade Count': 'none' };
    return problems(Object.entries(want).filter(([t, u]) => panels.find((p) => p.title === t)?.fieldConfig?.defaults?.unit !== u)
      .map(([t, u]) => `${t} != ${u}`));
  });
  check(`${T}: Win Rate thresholds mark the 50% target`, () => {
    const steps = panels.find((p) => p.title === 'Win Rate')?.fieldConfig?.defaults?.thresholds?.steps || [];
    return steps.some((s) => s.value === 0.5 && s.color === 'green') || JSON.stringify(steps);
  });
  check(`${T}: strategy/symbol/account are data-source query variables {resource: strategies|symbols|accounts}`, () => problems(
    [['strategy', 'strategies'], ['symbol', 'symbols'], ['account', 'accounts']].flatMap(([n, r]) => {
      const v = vars[n];
      if (!v) return [`${n} missing`];
      const bad = [];
      if (v.type !== 'query') bad.push(`${n} type ${v.type}`);
      if (v.query?.resource !== r) bad.push(`${n} query ${JSON.stringify(v.query)}`);
      if (v.datasource?.uid !== '${datasource}' || v.datasource?.type !== PLUGIN) bad.push(`${n} datasource`);
      if (!v.multi) bad.push(`${n} not multi-value`);
      return bad;
    })));
  check(`${T}: an ad-hoc filter variable on the data source (issue 13: adhocFilters)`, () => {
    const a = (trading.templating?.list || []).filter((v) => v.type === 'adhoc');
    if (a.length !== 1) return `${a.length} ad-hoc variables`;
    const v = a[0];
    return (v.datasource?.uid === '${datasource}' && v.datasource?.type === PLUGIN && Array.isArray(v.filters)) ||
      JSON.stringify(v);
  });
  check(`${T}: every query filters strategies/symbols/accounts by ["$strategy"]/["$symbol"]/["$account"]`, () => problems(targets
    .filter(({ t }) => JSON.stringify([t.strategies, t.symbols, t.accounts]) !== JSON.stringify([['$strategy'], ['$symbol'], ['$account']]))
    .map(({ p }) => p.title)));
  check(`${T}: groupBy is a contract value or a variable whose every option is one`, () => problems(targets.flatMap(({ p, t }) => {
    if (t.groupBy === undefined) return [];
    const m = /^\$(\w+)$/.exec(t.groupBy);
    const vals = m ? (vars[m[1]]?.options || []).map((o) => o.value) : [t.groupBy];
    if (m && !vals.length) return [`"${p.title}": variable ${t.groupBy} has no options`];
    return vals.filter((v) => !qm.groupBy.includes(v)).map((v) => `"${p.title}": ${v}`);
  })));
  check(`${T}: no unknown keys in plugin queries (the Query JSON keys of docs/query-model.md)`, () => {
    const allowed = new Set(['refId', 'datasource', 'hide', ...qm.queryKeys]);
    if (!['queryType', 'strategies', 'groupBy', 'period', 'window'].every((k) => allowed.has(k))) return `keys read from the docs: ${[...allowed]}`;
    return problems(targets.flatMap(({ p, t }) => Object.keys(t).filter((k) => !allowed.has(k)).map((k) => `"${p.title}": ${k}`)));
  });
  check(`${T}: each option is used only by the kinds the contract gives it to`, () => problems(targets.flatMap(({ p, t }) =>
    ['metrics', 'limit', 'drawdownMode', 'period', 'layout', 'metric', 'window'].filter((k) => t[k] !== undefined && !qm.kindsOf(k).includes(t.queryType))
      .map((k) => `"${p.title}": ${k} on ${t.queryType}`))));
  const panel = (title) => panels.find((p) => p.title === title);
  const tgt = (title) => queryOf(panel(title)) || {};
  check(`${T}: Monthly Returns is a table over period_returns, period month, layout grid`, () => {
    const p = panel('Monthly Returns'); const t = tgt('Monthly Returns');
    return (p?.type === 'table' && t.queryType === 'period_returns' && t.period === 'month' && t.layout === 'grid') || JSON.stringify(t);
  });
  check(`${T}: Monthly Returns colours its cells by value (month cells: color-background on a value colour scale, percentunit)`, () => {
    const dft = panel('Monthly Returns')?.fieldConfig?.defaults || {};
    const bad = [];
    if (dft.custom?.cellOptions?.type !== 'color-background') bad.push(`cellOptions ${JSON.stringify(dft.custom?.cellOptions)}`);
    if (!/^continuous-|^thresholds$/.test(dft.color?.mode || '')) bad.push(`color mode ${dft.color?.mode}`);
    if (dft.unit !== 'percentunit') bad.push(`unit ${dft.unit}`);
    if (dft.color?.mode?.startsWith('continuous-') && !(dft.min < 0 && dft.max > 0)) bad.push('colour scale not centred on 0 (min < 0 < max)');
    const year = (panel('Monthly Returns')?.fieldConfig?.overrides || []).find((o) => o.matcher?.options === 'year');
    if (!year?.properties?.some((x) => x.id === 'custom.cellOptions' && x.value?.type === 'auto')) bad.push('the year column is coloured too');
    return problems(bad);
  });
  check(`${T}: Worst Drawdowns is a table over drawdown_episodes with a small limit, durations in s`, () => {
    const p = panel('Worst Drawdowns'); const t = tgt('Worst Drawdowns');
    const units = Object.fromEntries((p?.fieldConfig?.overrides || []).map((o) => [o.matcher?.options, o.properties?.find((x) => x.id === 'unit')?.value]));
    return (p?.type === 'table' && t.queryType === 'drawdown_episodes' && Number.isInteger(t.limit) && t.limit >= 1 && t.limit <= 10 &&
      units.depth === 'percentunit' && units.duration === 's' && units.recovery === 's') || JSON.stringify({ t, units });
  });
  check(`${T}: Rolling 30-day Sharpe is a per-strategy line (rolling, metric sharpe, window 30, groupBy strategy)`, () => {
    const p = panel('Rolling 30-day Sharpe by Strategy'); const t = tgt('Rolling 30-day Sharpe by Strategy');
    return (p?.type === 'timeseries' && t.queryType === 'rolling' && t.metric === 'sharpe' && t.window === 30 && t.groupBy === 'strategy') ||
      JSON.stringify(t);
  });
  check(`${T}: Strategy Breakdown is a table over breakdown grouped by strategy`, () => {
    const p = panel('Strategy Breakdown'); const t = tgt('Strategy Breakdown');
    return (p?.type === 'table' && t.queryType === 'breakdown' && t.groupBy === 'strategy') || JSON.stringify(t);
  });
  check(`${T}: every breakdown query groups by a dimension (breakdown requires one)`, () => problems(targets
    .filter(({ t }) => t.queryType === 'breakdown' && (!t.groupBy || t.groupBy === 'none')).map(({ p }) => p.title)));
  check(`${T}: the Trade statistics row holds stat panels for streaks, holding time, largest win/loss, SQN, long/short`, () => {
    const row = panel('Trade statistics');
    if (!row || row.type !== 'row') return 'no row "Trade statistics"';
    const inRow = row.collapsed ? row.panels || [] : trading.panels.filter((p) => p.gridPos.y > row.gridPos.y &&
      !trading.panels.some((r) => r.type === 'row' && r.gridPos.y > row.gridPos.y && r.gridPos.y < p.gridPos.y));
    return problems(Object.entries(TRADE_STATS).flatMap(([title, [field, unit]]) => {
      const p = inRow.find((x) => x.title === title);
      if (!p) return [`${title} not in the row`];
      const t = queryOf(p) || {};
      const bad = [];
      if (p.type !== 'stat') bad.push(`${title} is a ${p.type}`);
      if (t.queryType !== 'stats' || JSON.stringify(shows(p)) !== JSON.stringify([field])) bad.push(`${title} shows ${t.queryType} ${shows(p)}`);
      if (p.fieldConfig?.defaults?.unit !== unit) bad.push(`${title} unit ${p.fieldConfig?.defaults?.unit} (want ${unit})`);
      return bad;
    }));
  });
  // issue 13: dashboard annotations from the annotations kind — drawdown-episode regions and
  // large-loss markers on, per-trade markers available but off; each a valid query of the contract
  const annos = (trading.annotations?.list || []).filter((a) => a.datasource?.type === PLUGIN);
  const eventsRow = readText('docs/query-model.md').split('\n').find((l) => l.startsWith('| `events` |')) || '';
  const EVENTS = [...(eventsRow.split('|')[4] || '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
  check(`${T}: the built-in Annotations & Alerts entry is kept`, () =>
    (trading.annotations?.list || []).some((a) => a.builtIn === 1 && a.datasource?.type === 'grafana') || 'missing');
  check(`${T}: annotations read the events of docs/query-model.md (${EVENTS.join(', ')})`, () =>
    (EVENTS.length === 4 && qm.queryTypes.includes('annotations')) || `events ${EVENTS}, queryTypes ${qm.queryTypes}`);
  check(`${T}: each plugin annotation is a valid annotations query on \${datasource}`, () => problems(annos.flatMap((a) => {
    const t = a.target || {}; const bad = [];
    const allowed = new Set(['refId', 'datasource', 'hide', ...qm.queryKeys]);
    if (a.datasource.uid !== '${datasource}') bad.push(`"${a.name}" datasource uid ${a.datasource.uid}`);
    if (t.queryType !== 'annotations') bad.push(`"${a.name}" queryType ${t.queryType}`);
    if (!EVENTS.includes(t.events)) bad.push(`"${a.name}" events ${t.events}`);
    for (const k of Object.keys(t)) if (!allowed.has(k)) bad.push(`"${a.name}": unknown key ${k}`);
    for (const k of ['metrics', 'limit', 'drawdownMode', 'period', 'layout', 'metric', 'window'])
      if (t[k] !== undefined && !qm.kindsOf(k).includes('annotations')) bad.push(`"${a.name}": ${k} on annotations`);
    if (t.threshold !== undefined) {
      // a number, or "$var" naming a text/custom variable whose value is one (empty = the default)
      const m = typeof t.threshold === 'string' ? /^\$(\w+)$/.exec(t.threshold) : null;
      const tv = m ? vars[m[1]] : undefined;
      if (m && !(tv && ['textbox', 'custom', 'constant'].includes(tv.type))) bad.push(`"${a.name}": threshold ${t.threshold} is no text variable`);
      const cur = tv ? String(tv.current?.value ?? tv.query ?? '') : undefined;
      const v = m ? (cur === '' ? undefined : Number(cur)) : t.threshold;
      const ok = v === undefined || (typeof v === 'number' && (t.events === 'drawdown_episodes' ? v >= 0 && v < 1 :
        t.events === 'large_losses' ? v > 0 : t.events === 'daily_loss' ? v >= 0 : false));
      if (!ok) bad.push(`"${a.name}": threshold ${JSON.stringify(t.threshold)} (${v}) for ${t.events}`);
    }
    if (JSON.stringify([t.strategies, t.symbols, t.accounts]) !== JSON.stringify([['$strategy'], ['$symbol'], ['$account']]))
      bad.push(`"${a.name}" does not filter by the dashboard's variables`);
    if (typeof a.iconColor !== 'string' || !a.iconColor) bad.push(`"${a.name}" no iconColor`);
    return bad;
  })));
  check(`${T}: drawdown-episode regions and large-loss markers on by default, per-trade markers present but off`, () => {
    const by = (ev) => annos.filter((a) => a.target?.events === ev);
    const bad = [];
    for (const ev of ['drawdown_episodes', 'large_losses']) if (!by(ev).some((a) => a.enable === true && !a.hide)) bad.push(`${ev} not enabled`);
    const tr = by('trades');
    if (tr.length !== 1 || tr[0].enable !== false || tr[0].hide) bad.push(`trades: ${JSON.stringify(tr.map((a) => [a.enable, a.hide]))} (want one, off, toggle shown)`);
    if (new Set(annos.map((a) => a.name)).size !== annos.length) bad.push('duplicate annotation names');
    return problems(bad);
  });
}

// ---- system dashboard (Prometheus)
const S = 'dashboards/system.json';
const system = load(S);
if (system) {
  const panels = common(S, system, 'prometheus');
  requirePanels(S, panels, ['CPU Usage', 'Memory Usage', 'API Latency', 'Error Rate', 'CPU Over Time', 'Memory Over Time',
    'API Request Latency', 'Error Rate Timeline', 'Redis Connected Clients', 'Redis Memory Used', 'PostgreSQL Connections',
    'PostgreSQL Slow Queries']);
  const exprs = panels.flatMap((p) => (p.targets || []).map((t) => ({ p, e: t.expr })));
  const all = exprs.map((x) => x.e).join('\n');
  check(`${S}: every target has a PromQL expr`, () => problems(exprs.filter((x) => !x.e).map((x) => x.p.title)));
  const guideMetrics = ['system_cpu_usage', 'system_memory_usage', 'system_request_latency_ms_bucket', 'system_request_latency_ms_sum',
    'system_request_latency_ms_count', 'system_api_errors_total', 'redis_connected_clients', 'redis_memory_used_bytes',
    'postgres_connections', 'postgres_slow_queries_total'];
  check(`${S}: uses the guide's system and infrastructure metrics (${guideMetrics.length})`, () =>
    problems(guideMetrics.filter((m) => !new RegExp(`\\b${m}\\b`).test(all))));
  check(`${S}: plugin row uses every backend metric of docs/query-model.md (${qm.backendMetrics.length})`, () =>
    problems(qm.backendMetrics.filter((m) => !new RegExp(`\\b${m}(_bucket)?\\b`).test(all))));
  const names = (system.templating?.list || []).map((v) => v.name);
  check(`${S}: job and instance variables exist and are used`, () => problems(['job', 'instance']
    .flatMap((v) => [...(names.includes(v) ? [] : [`no variable ${v}`]), ...(all.includes(`$${v}`) ? [] : [`$${v} unused`])])));
  check(`${S}: Error Rate divides errors by the latency histogram _count`, () => {
    const e = panels.find((p) => p.title === 'Error Rate')?.targets?.[0]?.expr || '';
    return /system_api_errors_total[\s\S]*\/[\s\S]*system_request_latency_ms_count/.test(e) || e;
  });
  if (exprOut) {
    // Grafana's substitutions: regex variables -> ".*", $__rate_interval -> a duration.
    const sub = (e) => e.replace(/\$__rate_interval|\$__interval|\$__range/g, '1m')
      .replace(/\$\{?(job|instance)(:\w+)?\}?/g, '.*');
    const lines = exprs.filter((x) => x.e).map((x) => JSON.stringify({ title: x.p.title, expr: sub(x.e) }));
    for (const v of system.templating.list.filter((v) => v.type === 'query'))
      lines.push(JSON.stringify({ title: `variable ${v.name}`, expr: sub(v.definition.replace(/^label_values\((.*),\s*\w+\)$/, '$1')) }));
    fs.writeFileSync(exprOut, lines.join('\n') + '\n');
    check(`${S}: ${lines.length} PromQL expressions written for the live parse check`, () => lines.length > 10 || 'too few');
  }
}

// ---- across dashboards
if (trading && system) check('dashboards: uids and titles are unique across files', () =>
  (trading.uid !== system.uid && trading.title !== system.title) || 'duplicate');
process.exit(failures() ? 1 : 0);
