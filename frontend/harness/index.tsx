/*
 * Browser harness: renders the real editors with the real @grafana/ui and
 * React (bundled here, unlike in module.js) on Grafana's dark theme, so a
 * headless Chromium can screenshot them and dump their DOM.
 * ?view=config | presets | query | period | rolling | variable picks what is
 * shown (presets: the config editor with the freqtrade preset). The
 * data source's getResource is answered from fixed lists (no backend in the
 * page; `kinds` is not answered, so the editor shows its static list).
 */
import React, { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createTheme, DataSourceInstanceSettings, DataSourceSettings } from '@grafana/data';
import { setTemplateSrv } from '@grafana/runtime';
import { GlobalStyles, ThemeContext } from '@grafana/ui';

import { DataSource } from '../src/datasource';
import { ConfigEditor, withDefaults } from '../src/components/ConfigEditor';
import { QueryEditor } from '../src/components/QueryEditor';
import { VariableQueryEditor } from '../src/components/VariableQueryEditor';
import type { PnlOptions, PnlQuery, PnlSecureData, PnlVariableQuery } from '../src/types';

const LISTS: Record<string, string[]> = {
  strategies: ['arb', 'meanrev', 'momentum'],
  symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
  accounts: ['main', 'paper'],
  sides: ['long', 'short'],
  exchanges: ['binance', 'nasdaq', 'oanda'],
  entry_tags: ['ema_cross', 'rsi_oversold', 'spread_z2'],
  exit_reasons: ['exit_signal', 'roi', 'stop_loss', 'trailing_stop_loss'],
};

setTemplateSrv({
  getVariables: () => [{ name: 'strategy', current: { value: '$__all' } }] as any,
  replace: (s?: string) => s ?? '',
  containsTemplate: () => false,
  updateTimeRange: () => {},
} as any);

const theme = createTheme();
document.body.style.background = theme.colors.background.primary;
document.body.style.color = theme.colors.text.primary;
document.body.style.fontFamily = theme.typography.fontFamily;
document.body.style.fontSize = `${theme.typography.fontSize}px`;
document.body.style.margin = '0';

const ds = new DataSource({
  id: 1, uid: 'pnl', type: 'algotrading-pnl-datasource', name: 'Algo Trading P&L', access: 'proxy', readOnly: false,
  jsonData: {}, meta: { id: 'algotrading-pnl-datasource', info: {} },
} as unknown as DataSourceInstanceSettings<PnlOptions>);
(ds as any).getResource = async (path: string) => {
  if (!(path in LISTS)) {
    throw new Error(`no resource ${path} in the harness`);
  }
  return LISTS[path];
};

const CONFIG_JSON: Record<string, PnlOptions> = {
  config: { ...withDefaults({ host: 'pg.trading.internal' }), sslmode: 'verify-full' },
  // The freqtrade preset on a primary and its replica (a port each), with two overrides: no
  // exchange column (none) and an older freqtrade's name of the entry tag.
  presets: {
    ...withDefaults({ host: 'pg-primary,pg-replica', port: '5432,5433' }), targetSessionAttrs: 'prefer-standby',
    preset: 'freqtrade',
    columns: { exchange: null, entry_tag: 'buy_tag' },
  },
};

function ConfigView({ jsonData }: { jsonData: PnlOptions }) {
  const [opts, setOpts] = useState<DataSourceSettings<PnlOptions, PnlSecureData>>({
    id: 1, uid: 'pnl', orgId: 1, name: 'Algo Trading P&L', type: 'algotrading-pnl-datasource', typeName: '',
    typeLogoUrl: '', access: 'proxy', url: '', user: '', database: '', basicAuth: false, basicAuthUser: '',
    isDefault: false, withCredentials: false, readOnly: false, version: 1,
    jsonData,
    secureJsonFields: jsonData.sslmode === 'verify-full' ? { password: true, tlsCACert: true } : { password: true },
  } as DataSourceSettings<PnlOptions, PnlSecureData>);
  return <ConfigEditor options={opts} onOptionsChange={setOpts} />;
}

const INITIAL: Record<string, PnlQuery> = {
  query: {
    refId: 'A', queryType: 'stats', strategies: ['momentum', '$strategy'], symbols: [], accounts: [],
    exitReasons: ['stop_loss'], groupBy: 'strategy', metrics: ['sharpe', 'max_drawdown', 'win_rate'], initialCapital: 50000,
  },
  period: { refId: 'A', queryType: 'period_returns', period: 'month', layout: 'grid', sides: ['long'] },
  rolling: { refId: 'A', queryType: 'rolling', metric: 'sharpe', window: 30, groupBy: 'entry_tag', entryTags: ['ema_cross'] },
};

function QueryView({ initial }: { initial: PnlQuery }) {
  const [q, setQ] = useState<PnlQuery>(initial);
  return (
    <div style={{ border: `1px solid ${theme.colors.border.weak}`, padding: 8, background: theme.colors.background.primary }}>
      <QueryEditor datasource={ds} query={q} onChange={setQ} onRunQuery={() => {}} />
    </div>
  );
}

function VariableView() {
  const [q, setQ] = useState<PnlVariableQuery>({ refId: 'V', resource: 'symbols' });
  return <VariableQueryEditor datasource={ds} query={q} onChange={setQ} onRunQuery={() => {}} />;
}

const view = new URLSearchParams(window.location.search).get('view') ?? 'config';
const View = INITIAL[view]
  ? () => <QueryView initial={INITIAL[view]} />
  : view === 'variable'
    ? VariableView
    : () => <ConfigView jsonData={CONFIG_JSON[view] ?? CONFIG_JSON.config} />;
createRoot(document.getElementById('root')!).render(
  <ThemeContext.Provider value={theme}>
    <GlobalStyles />
    <div style={{ padding: 16, maxWidth: 1100 }} id="harness" data-view={view}>
      <View />
    </div>
  </ThemeContext.Provider>
);
