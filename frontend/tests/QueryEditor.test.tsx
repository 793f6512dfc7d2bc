import React, { useState } from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { setTemplateSrv } from '@grafana/runtime';
import { firstValueFrom } from 'rxjs';

import { QueryEditor } from '../src/components/QueryEditor';
import { VariableQueryEditor } from '../src/components/VariableQueryEditor';
import type { PnlQuery, PnlVariableQuery } from '../src/types';
import { makeDataSource, mockResources } from './helpers';
import { fakeTemplateSrv } from './templateSrv';

const LISTS = {
  strategies: ['arb', 'meanrev', 'momentum'],
  symbols: ['BTCUSDT', 'ETHUSDT'],
  accounts: ['main'],
};

beforeAll(() => setTemplateSrv(fakeTemplateSrv([{ name: 'strategy', options: LISTS.strategies, current: '$__all' }])));

function renderQE(initial: PnlQuery) {
  const ds = makeDataSource();
  const calls = mockResources(ds, LISTS);
  const changes: PnlQuery[] = [];
  const runs = { n: 0 };
  function Host() {
    const [q, setQ] = useState(initial);
    return (
      <QueryEditor
        datasource={ds}
        query={q}
        onChange={(nq) => {
          changes.push(nq);
          setQ(nq);
        }}
        onRunQuery={() => runs.n++}
      />
    );
  }
  render(<Host />);
  return { ds, calls, changes, runs, last: () => changes[changes.length - 1] };
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
    await waitFor(() => expect(calls.map((c) => c.path).sort()).toEqual(['accounts', 'strategies', 'symbols']));
    for (const c of calls) {
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
    await waitFor(() => expect(calls).toHaveLength(3));
    await pick('qe-strategies', 'momentum');
    expect(last().strategies).toEqual(['momentum']);
    await pick('qe-strategies', '$strategy');
    expect(last()).toEqual({ refId: 'A', queryType: 'equity', strategies: ['momentum', '$strategy'] });
    expect(runs.n).toBe(2);
  });

  it('query type, group by, metrics and drawdown mode', async () => {
    const { last, calls } = renderQE({ refId: 'A', queryType: 'equity' });
    await waitFor(() => expect(calls).toHaveLength(3));
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

  it('trades: limit is a number, group by hidden; options row holds the overrides', async () => {
    const { last, calls } = renderQE({ refId: 'A', queryType: 'trades' });
    await waitFor(() => expect(calls).toHaveLength(3));
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

    const vs = ds.variables as any;
    expect(vs.editor).toBe(VariableQueryEditor);
    const res = await firstValueFrom(vs.query({ targets: [{ resource: 'accounts' }] }));
    const frame = (res as any).data[0];
    expect(frame.fields.map((f: any) => f.name)).toEqual(['text', 'value']);
    expect(frame.fields[0].values.toArray ? frame.fields[0].values.toArray() : frame.fields[0].values).toEqual(['main']);
  });
});
