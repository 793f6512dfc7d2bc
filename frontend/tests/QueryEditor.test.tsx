import React from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { setTemplateSrv } from '@grafana/runtime';
import { firstValueFrom } from 'rxjs';

import { QueryEditor } from '../src/components/QueryEditor';
import { VariableQueryEditor } from '../src/components/VariableQueryEditor';
import { CACHED_KINDS, QUERY_TYPES } from '../src/types';
import type { PnlQuery, PnlVariableQuery } from '../src/types';
import { makeDataSource, mockResources } from './helpers';
import { renderQueryEditor } from './queryEditorHost';
import { fakeTemplateSrv } from './templateSrv';

const LISTS: Record<string, string[]> = {
  strategies: ['arb', 'meanrev', 'momentum'],
  symbols: ['BTCUSDT', 'ETHUSDT'],
  accounts: ['main'],
  sides: ['long', 'short'],
  exchanges: ['binance', 'oanda'],
  entry_tags: ['ema_cross', 'rsi_oversold'],
  exit_reasons: ['roi', 'stop_loss', 'trailing_stop_loss'],
};
const RESOURCES = ['accounts', 'entry_tags', 'exchanges', 'exit_reasons', 'sides', 'strategies', 'symbols'];

beforeAll(() => setTemplateSrv(fakeTemplateSrv([{ name: 'strategy', options: LISTS.strategies, current: '$__all' }])));

function renderQE(initial: PnlQuery, lists: Record<string, unknown> = LISTS) {
  const ds = makeDataSource();
  const calls = mockResources(ds, lists as Record<string, unknown[]>);
  return { ds, calls, ...renderQueryEditor(ds, initial) };
}

/** Opens a react-select by its input and returns the option labels shown. */
function openSelect(input: HTMLElement): string[] {
  fireEvent.keyDown(input, { key: 'ArrowDown' });
  return screen.queryAllByRole('option').map((o) => o.textContent ?? '');
}

async function pick(inputId: string, label: string) {
  const input = document.getElementById(inputId)!;
  fireEvent.keyDown(input, { key: 'ArrowDown' });
  // An option's accessible name is its label, directly followed by its
  // description when it has one ("StatisticsOne row of KPIs...").
  const matches = (name: string) => name === label || (name.startsWith(label) && /^[A-Z]/.test(name.slice(label.length)));
  let opt: HTMLElement | undefined;
  await waitFor(() => {
    const found = screen.queryAllByRole('option').filter((o) => matches(o.textContent ?? ''));
    expect(found).toHaveLength(1);
    opt = found[0];
  });
  fireEvent.click(opt!);
}

describe('QueryEditor', () => {
  it('fills the filter options from the backend resources and dashboard variables', async () => {
    const { calls } = renderQE({ refId: 'A', queryType: 'equity' });
    // the seven list resources and the kinds (which this backend stand-in does not answer)
    await waitFor(() => expect(calls.map((c) => c.path).sort()).toEqual([...RESOURCES, 'kinds'].sort()));
    for (const c of calls.filter((c) => c.path !== 'kinds')) {
      expect(c.params).toEqual({ limit: 1000 });
    }
    await waitFor(() => {
      const labels = openSelect(document.getElementById('qe-strategies')!);
      expect(labels.join('|')).toContain('momentum');
    });
    const labels = screen.queryAllByRole('option').map((o) => o.textContent ?? '');
    expect(labels.some((l) => l.startsWith('$strategy'))).toBe(true);
    expect(labels.filter((l) => LISTS.strategies.some((s) => l.startsWith(s)))).toHaveLength(3);
    expect(labels.some((l) => l.startsWith('BTCUSDT'))).toBe(false);
  });

  it('picking strategies and a variable writes the query JSON and runs the query', async () => {
    const { calls, last, runs } = renderQE({ refId: 'A', queryType: 'equity', strategies: [] });
    await waitFor(() => expect(calls).toHaveLength(8));
    await pick('qe-strategies', 'momentum');
    expect(last().strategies).toEqual(['momentum']);
    await pick('qe-strategies', '$strategy');
    expect(last()).toEqual({ refId: 'A', queryType: 'equity', strategies: ['momentum', '$strategy'] });
    expect(runs.n).toBe(2);
  });

  it('query type, group by, metrics and drawdown mode', async () => {
    const { last, calls } = renderQE({ refId: 'A', queryType: 'equity' });
    await waitFor(() => expect(calls).toHaveLength(8));
    expect(document.getElementById('qe-metrics')).toBeNull();
    await pick('qe-query-type', 'Statistics');
    expect(last().queryType).toBe('stats');
    await pick('qe-metrics', 'Sharpe ratio');
    await pick('qe-metrics', 'Max drawdown');
    expect(last().metrics).toEqual(['sharpe', 'max_drawdown']);
    fireEvent.click(screen.getByLabelText('Symbol', { selector: 'input[type="radio"]' }) ?? screen.getByText('Symbol'));
    expect(last().groupBy).toBe('symbol');
    await pick('qe-query-type', 'Drawdown');
    fireEvent.click(screen.getByText('Money'));
    expect(last()).toMatchObject({ queryType: 'drawdown', drawdownMode: 'money', groupBy: 'symbol' });
  });

  it('live: a switch for the kinds Grafana Live can push, writing live: true and leaving it out when off', async () => {
    const { last, calls, runs } = renderQE({ refId: 'A', queryType: 'equity' });
    await waitFor(() => expect(calls).toHaveLength(8));
    const sw = screen.getByTestId('qe-live') as HTMLInputElement;
    expect(sw.checked).toBe(false);
    const before = runs.n;
    fireEvent.click(sw);
    expect(last()).toMatchObject({ queryType: 'equity', live: true });
    expect(runs.n).toBe(before + 1); // re-run: the new answer carries the channel
    expect((screen.getByTestId('qe-live') as HTMLInputElement).checked).toBe(true);
    for (const label of ['Statistics', 'Trades table', 'Breakdown table', 'Daily P&L', 'Drawdown', 'Cumulative return', 'Cumulative P&L']) {
      await pick('qe-query-type', label);
      expect(screen.queryByTestId('qe-live')).not.toBeNull();
    }
    for (const label of ['Slippage', 'Rolling metric', 'Period returns', 'Trade count', 'P&L distribution', 'Drawdown episodes']) {
      await pick('qe-query-type', label);
      expect(screen.queryByTestId('qe-live')).toBeNull();
    }
    await pick('qe-query-type', 'Statistics');
    fireEvent.click(screen.getByTestId('qe-live'));
    expect('live' in last()).toBe(false);
  });

  it('cache: a switch, on by default, for the cached kinds only; off writes cache: false, on removes the key', async () => {
    const { last, calls, runs } = renderQE({ refId: 'A', queryType: 'stats', metrics: ['sharpe'] });
    await waitFor(() => expect(calls).toHaveLength(8));
    const sw = () => screen.getByTestId('qe-cache') as HTMLInputElement;
    expect(sw().checked).toBe(true);
    const before = runs.n;
    fireEvent.click(sw());
    expect(last()).toEqual({ refId: 'A', queryType: 'stats', metrics: ['sharpe'], cache: false });
    expect(runs.n).toBe(before + 1);
    expect(sw().checked).toBe(false);
    fireEvent.click(sw());
    expect(last()).toEqual({ refId: 'A', queryType: 'stats', metrics: ['sharpe'] });
    expect(sw().checked).toBe(true);
    const label = (v: string) => QUERY_TYPES.find((t) => t.value === v)!.label;
    for (const t of QUERY_TYPES) {
      await pick('qe-query-type', t.label);
      expect(last().queryType).toBe(t.value);
      expect([t.value, screen.queryByTestId('qe-cache') !== null]).toEqual([t.value, (CACHED_KINDS as string[]).includes(t.value)]);
    }
    await pick('qe-query-type', label('drawdown_episodes'));
    expect(sw().checked).toBe(true);
  });

  it('cache: a stored cache: false shows the switch off; a backend that publishes the option decides which kinds show it', async () => {
    const kinds = [
      { name: 'stats', description: 'S', options: ['filters', 'metrics', 'cache'] },
      { name: 'drawdown', description: 'D', options: ['filters', 'drawdownMode'] },
    ];
    const { calls } = renderQE({ refId: 'A', queryType: 'stats', cache: false }, { ...LISTS, kinds });
    await waitFor(() => expect(calls).toHaveLength(8));
    await waitFor(() => expect(screen.getByTestId('qe-description').textContent).toBe('S'));
    expect((screen.getByTestId('qe-cache') as HTMLInputElement).checked).toBe(false);
    await pick('qe-query-type', 'Drawdown');
    expect(screen.queryByTestId('qe-cache')).toBeNull();
  });

  it('trades: limit is a number, group by hidden; options row holds the overrides', async () => {
    const { last, calls } = renderQE({ refId: 'A', queryType: 'trades' });
    await waitFor(() => expect(calls).toHaveLength(8));
    expect(screen.queryByText('Group by')).toBeNull();
    fireEvent.change(screen.getByTestId('qe-limit'), { target: { value: '250' } });
    expect(last().limit).toBe(250);
    expect(screen.queryByTestId('qe-initialCapital')).toBeNull(); // collapsed
    fireEvent.click(screen.getByText('Options'));
    fireEvent.change(screen.getByTestId('qe-initialCapital'), { target: { value: '50000' } });
    fireEvent.change(screen.getByTestId('qe-timezone'), { target: { value: 'America/New_York' } });
    expect(last()).toEqual({ refId: 'A', queryType: 'trades', limit: 250, initialCapital: 50000, timezone: 'America/New_York' });
    fireEvent.change(screen.getByTestId('qe-initialCapital'), { target: { value: '' } });
    expect('initialCapital' in last()).toBe(false);
  });

  it('the new dimensions: filters fed by their resources, and group by each', async () => {
    const { last, calls } = renderQE({ refId: 'A', queryType: 'pnl' });
    await waitFor(() => expect(calls).toHaveLength(8));
    for (const id of ['qe-sides', 'qe-exchanges', 'qe-entryTags', 'qe-exitReasons']) {
      expect(document.getElementById(id)).toBeTruthy();
    }
    await waitFor(() => {
      const labels = openSelect(document.getElementById('qe-exitReasons')!);
      expect(labels.filter((l) => LISTS.exit_reasons.some((r) => l.startsWith(r)))).toHaveLength(3);
    });
    await pick('qe-exitReasons', 'stop_loss');
    await pick('qe-entryTags', 'ema_cross');
    await pick('qe-sides', 'short');
    await pick('qe-exchanges', 'oanda');
    expect(last()).toEqual({ refId: 'A', queryType: 'pnl', exitReasons: ['stop_loss'], entryTags: ['ema_cross'],
      sides: ['short'], exchanges: ['oanda'] });
    for (const [label, value] of [['Side', 'side'], ['Exchange', 'exchange'], ['Entry tag', 'entry_tag'], ['Exit reason', 'exit_reason']]) {
      fireEvent.click(screen.getByLabelText(label, { selector: 'input[type="radio"]' }));
      expect(last().groupBy).toBe(value);
    }
  });

  it('offers every kind of the static list with its description when the backend has no kinds resource', async () => {
    const { calls } = renderQE({ refId: 'A', queryType: 'equity' });
    await waitFor(() => expect(calls).toHaveLength(8));
    const labels = openSelect(document.getElementById('qe-query-type')!);
    expect(labels).toHaveLength(QUERY_TYPES.length);
    for (const k of QUERY_TYPES) {
      expect(labels).toContain(k.label + k.description);
    }
    for (const k of ['period_returns', 'drawdown_episodes', 'rolling', 'breakdown']) {
      expect(QUERY_TYPES.map((t) => t.value)).toContain(k);
    }
    expect(screen.getByTestId('qe-description').textContent).toBe(QUERY_TYPES[0].description);
  });

  it('kinds, descriptions and options come from the backend registry when it answers', async () => {
    const kinds = [
      { name: 'equity', description: 'Equity, as the registry words it', options: ['filters', 'groupBy', 'analytics'], frameType: 'timeseries-multi' },
      { name: 'rolling', description: 'Rolling, as the registry words it', options: ['filters', 'metric', 'window', 'bogus'], frameType: 'timeseries-multi' },
      { name: 'future_kind', description: 'A kind this frontend does not know yet', options: ['filters'], frameType: 'table' },
    ];
    const { calls } = renderQE({ refId: 'A', queryType: 'equity' }, { ...LISTS, kinds });
    await waitFor(() => expect(screen.getByTestId('qe-description').textContent).toBe('Equity, as the registry words it'));
    expect(calls.filter((c) => c.path === 'kinds')).toHaveLength(1);
    const labels = openSelect(document.getElementById('qe-query-type')!);
    expect(labels).toEqual(['Equity curveEquity, as the registry words it', 'Rolling metricRolling, as the registry words it',
      'Future kindA kind this frontend does not know yet']);
    fireEvent.click(screen.getByText('Rolling metric'));
    // rolling, as this registry describes it, reads no groupBy
    await waitFor(() => expect(document.getElementById('qe-metric')).toBeTruthy());
    expect(screen.queryByText('Group by')).toBeNull();
    expect(screen.getByTestId('qe-window')).toBeTruthy();
  });

  it('period_returns: period and layout (the grid only for months)', async () => {
    const { last, calls } = renderQE({ refId: 'A', queryType: 'equity' });
    await waitFor(() => expect(calls).toHaveLength(8));
    expect(screen.queryByText('Layout')).toBeNull();
    await pick('qe-query-type', 'Period returns');
    expect(last().queryType).toBe('period_returns');
    expect(screen.getByTestId('qe-description').textContent).toMatch(/week, month, quarter or year/);
    fireEvent.click(screen.getByText('Monthly grid'));
    expect(last()).toMatchObject({ queryType: 'period_returns', layout: 'grid' });
    fireEvent.click(screen.getByText('Quarter'));
    expect(last().period).toBe('quarter');
    expect('layout' in last()).toBe(false); // a grid of quarters does not exist
    expect(screen.queryByText('Monthly grid')).toBeNull();
    fireEvent.click(screen.getByText('Month'));
    fireEvent.click(screen.getByText('Monthly grid'));
    fireEvent.click(screen.getByText('Series'));
    expect(last()).toMatchObject({ period: 'month', layout: 'series' });
  });

  it('rolling: metric and window', async () => {
    const { last, calls } = renderQE({ refId: 'A', queryType: 'rolling', groupBy: 'strategy' });
    await waitFor(() => expect(calls).toHaveLength(8));
    expect((screen.getByTestId('qe-window') as HTMLInputElement).placeholder).toBe('30');
    await pick('qe-metric', 'Sortino ratio');
    expect(last().metric).toBe('sortino');
    fireEvent.change(screen.getByTestId('qe-window'), { target: { value: '90' } });
    expect(last()).toEqual({ refId: 'A', queryType: 'rolling', groupBy: 'strategy', metric: 'sortino', window: 90 });
    expect(document.getElementById('qe-metrics')).toBeNull();
  });

  it('drawdown_episodes: a limit whose default is 10 episodes', async () => {
    const { last, calls } = renderQE({ refId: 'A', queryType: 'drawdown_episodes' });
    await waitFor(() => expect(calls).toHaveLength(8));
    const limit = screen.getByTestId('qe-limit') as HTMLInputElement;
    expect(limit.placeholder).toBe('10');
    fireEvent.change(limit, { target: { value: '5' } });
    expect(last()).toEqual({ refId: 'A', queryType: 'drawdown_episodes', limit: 5 });
  });

  it('breakdown: needs a group-by (None is not offered) and takes metrics, the new stats fields too', async () => {
    const { last, calls } = renderQE({ refId: 'A', queryType: 'equity', groupBy: 'none' });
    await waitFor(() => expect(calls).toHaveLength(8));
    await pick('qe-query-type', 'Breakdown table');
    expect(last()).toMatchObject({ queryType: 'breakdown', groupBy: 'strategy' });
    expect(screen.queryByLabelText('None', { selector: 'input[type="radio"]' })).toBeNull();
    fireEvent.click(screen.getByLabelText('Exit reason', { selector: 'input[type="radio"]' }));
    expect(last().groupBy).toBe('exit_reason');
    await pick('qe-metrics', 'SQN');
    await pick('qe-metrics', 'Max losing streak');
    expect(last().metrics).toEqual(['sqn', 'max_loss_streak']);
  });

  it('a breakdown stored without a group-by is marked invalid', async () => {
    const { calls } = renderQE({ refId: 'A', queryType: 'breakdown' });
    await waitFor(() => expect(calls).toHaveLength(8));
    expect(screen.getByText('This query type needs a group-by')).toBeTruthy();
  });

  it('a failing resource call leaves the editor usable and shows the error', async () => {
    const ds = makeDataSource();
    jest.spyOn(ds, 'getResource').mockRejectedValue(new Error('connection refused'));
    render(<QueryEditor datasource={ds} query={{ refId: 'A', queryType: 'pnl' }} onChange={() => {}} onRunQuery={() => {}} />);
    expect(await screen.findByText('connection refused')).toBeTruthy();
    expect(document.getElementById('qe-symbols')).toBeTruthy();
  });
});

describe('variable support', () => {
  it('VariableQueryEditor stores {"resource": ...}', async () => {
    const ds = makeDataSource();
    const onChange = jest.fn();
    render(<VariableQueryEditor datasource={ds} query={{ refId: 'V' }} onChange={onChange} onRunQuery={() => {}} />);
    await pick('ve-resource', 'Symbols');
    expect(onChange).toHaveBeenCalledWith({ refId: 'V', resource: 'symbols' });
    await pick('ve-resource', 'Exit reasons');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'V', resource: 'exit_reasons' });
  });

  it('metricFindQuery and variables.query() list the resource values', async () => {
    const ds = makeDataSource();
    const calls = mockResources(ds, LISTS);
    expect(await ds.metricFindQuery({ refId: 'V', resource: 'strategies' } as PnlVariableQuery)).toEqual(
      LISTS.strategies.map((s) => ({ text: s, value: s }))
    );
    expect(await ds.metricFindQuery('symbols', { searchFilter: 'eth' })).toEqual([{ text: 'ETHUSDT', value: 'ETHUSDT' }]);
    expect(calls[1]).toEqual({ path: 'symbols', params: { limit: 1000, q: 'eth' } });
    expect(await ds.metricFindQuery({ refId: 'V', resource: 'nope' } as any)).toEqual([]);
    expect(calls).toHaveLength(2); // unknown resources never reach the backend
    expect(await ds.metricFindQuery({ refId: 'V', resource: 'entry_tags' } as PnlVariableQuery)).toEqual(
      LISTS.entry_tags.map((s) => ({ text: s, value: s }))
    );
    calls.pop();

    const vs = ds.variables as any;
    expect(vs.editor).toBe(VariableQueryEditor);
    const res = await firstValueFrom(vs.query({ targets: [{ resource: 'accounts' }] }));
    const frame = (res as any).data[0];
    expect(frame.fields.map((f: any) => f.name)).toEqual(['text', 'value']);
    expect(frame.fields[0].values.toArray ? frame.fields[0].values.toArray() : frame.fields[0].values).toEqual(['main']);
  });
});
