import { fireEvent, screen } from '@testing-library/react';
import { setTemplateSrv } from '@grafana/runtime';
import type { TemplateSrv } from '@grafana/runtime';

import { dashboardAdhocFilters, tagValuesResource, toAdhocFilters, withAdhocFilters } from '../src/adhoc';
import type { PnlQuery } from '../src/types';
import { makeDataSource, mockResources } from './helpers';
import { renderQueryEditor } from './queryEditorHost';
import { fakeTemplateSrv } from './templateSrv';

const srv = fakeTemplateSrv([{ name: 'strategy', options: ['momentum', 'arb'], current: ['momentum'] }]);

describe('getTagKeys / getTagValues', () => {
  it('keys are the mapped dimensions of the tag-keys resource', async () => {
    const ds = makeDataSource();
    const calls = mockResources(ds, {
      'tag-keys': [
        { text: 'strategy', resource: 'strategies' },
        { text: 'entry_tag', resource: 'entry_tags' },
        { bogus: 1 },
      ],
    });
    expect(await ds.getTagKeys()).toEqual([
      { text: 'strategy', value: 'strategy' },
      { text: 'entry_tag', value: 'entry_tag' },
    ]);
    expect(calls.map((c) => c.path)).toEqual(['tag-keys']);
  });

  it('values come from the key\'s list resource', async () => {
    const ds = makeDataSource();
    const calls = mockResources(ds, { entry_tags: ['ema_cross', 'rsi'], sides: ['long', 'short'] });
    expect(await ds.getTagValues({ key: 'entry_tag' })).toEqual([
      { text: 'ema_cross', value: 'ema_cross' },
      { text: 'rsi', value: 'rsi' },
    ]);
    expect(await ds.getTagValues({ key: 'side' })).toEqual([
      { text: 'long', value: 'long' },
      { text: 'short', value: 'short' },
    ]);
    expect(calls.map((c) => c.path)).toEqual(['entry_tags', 'sides']);
    // an unknown key asks nothing
    expect(await ds.getTagValues({ key: 'pair' })).toEqual([]);
    expect(calls).toHaveLength(2);
  });

  it('every dimension key has its resource', () => {
    expect(tagValuesResource('strategy')).toBe('strategies');
    expect(tagValuesResource('exit_reason')).toBe('exit_reasons');
    expect(tagValuesResource('nope')).toBeUndefined();
  });

  it('a backend without tag-keys gives no keys, not a crash', async () => {
    const ds = makeDataSource();
    jest.spyOn(ds, 'getResource').mockResolvedValue({ error: 'unknown resource' });
    expect(await ds.getTagKeys()).toEqual([]);
  });
});

describe('adhocFilters in the query JSON', () => {
  beforeAll(() => setTemplateSrv(srv));

  it('copies request.filters into the query after the list expansion', () => {
    const ds = makeDataSource();
    const q: PnlQuery = { refId: 'A', queryType: 'stats', strategies: ['$strategy'] };
    const out = ds.applyTemplateVariables(q, {}, [
      { key: 'strategy', operator: '!=', value: 'arb', origin: 'dashboard' },
      { key: 'side', operator: '=', value: 'long', values: ['long'] },
    ]);
    expect(out).toEqual({
      refId: 'A',
      queryType: 'stats',
      strategies: ['momentum'],
      adhocFilters: [
        { key: 'strategy', operator: '!=', value: 'arb' },
        { key: 'side', operator: '=', value: 'long' },
      ],
    });
    expect(q.adhocFilters).toBeUndefined(); // input not mutated
    // the JSON the backend receives
    expect(JSON.parse(JSON.stringify(out)).adhocFilters[0]).toEqual({ key: 'strategy', operator: '!=', value: 'arb' });
  });

  it('keeps the query\'s own adhocFilters (alert rules) and appends the dashboard\'s', () => {
    const ds = makeDataSource();
    const q: PnlQuery = { refId: 'A', queryType: 'equity', adhocFilters: [{ key: 'symbol', operator: '=', value: 'AAPL' }] };
    expect(ds.applyTemplateVariables(q, {}, [{ key: 'strategy', operator: '=', value: 'x' }]).adhocFilters).toEqual([
      { key: 'symbol', operator: '=', value: 'AAPL' },
      { key: 'strategy', operator: '=', value: 'x' },
    ]);
    // no dashboard filters: the stored ones untouched, no key added otherwise
    expect(ds.applyTemplateVariables(q, {}, []).adhocFilters).toEqual(q.adhocFilters);
    expect(ds.applyTemplateVariables({ refId: 'B', queryType: 'pnl' }, {}, [])).not.toHaveProperty('adhocFilters');
    expect(ds.applyTemplateVariables({ refId: 'B', queryType: 'pnl' }, {})).not.toHaveProperty('adhocFilters');
  });

  it('older Grafana: the template service\'s getAdhocFilters(datasource name)', () => {
    const asked: string[] = [];
    const legacy = {
      ...srv,
      getAdhocFilters: (name: string) => {
        asked.push(name);
        return [{ key: 'exchange', operator: '=', value: 'binance', condition: '' }];
      },
    } as unknown as TemplateSrv;
    setTemplateSrv(legacy);
    try {
      const ds = makeDataSource();
      expect(ds.applyTemplateVariables({ refId: 'A', queryType: 'pnl' }, {}).adhocFilters).toEqual([
        { key: 'exchange', operator: '=', value: 'binance' },
      ]);
      expect(asked).toEqual(['Algo Trading P&L']);
      // recent Grafana passes filters (even none): the template service is not asked
      expect(ds.applyTemplateVariables({ refId: 'A', queryType: 'pnl' }, {}, [])).not.toHaveProperty('adhocFilters');
      expect(asked).toHaveLength(1);
    } finally {
      setTemplateSrv(srv);
    }
  });

  it('drops incomplete filters and extra fields; a throwing template service is no filter', () => {
    expect(
      toAdhocFilters([
        { key: '', operator: '=', value: 'a' },
        { key: 'strategy', operator: '=' },
        null,
        { key: 'strategy', operator: '=~', value: 'mom.*', values: ['x'], origin: 'scope' },
      ])
    ).toEqual([{ key: 'strategy', operator: '=~', value: 'mom.*' }]);
    expect(toAdhocFilters('strategy=a')).toEqual([]);
    const broken = { getAdhocFilters: () => { throw new Error('no'); } } as unknown as TemplateSrv;
    expect(dashboardAdhocFilters(undefined, broken, 'x')).toEqual([]);
    expect(dashboardAdhocFilters(undefined, {} as TemplateSrv, 'x')).toEqual([]);
    const q = { adhocFilters: [{ key: 'a', operator: '=', value: 'b' }] };
    expect(withAdhocFilters(q, [])).toBe(q);
  });
});

describe('QueryEditor: the query\'s own ad-hoc filters (alert rules)', () => {
  beforeAll(() => setTemplateSrv(srv));

  function renderQE(initial: PnlQuery) {
    const ds = makeDataSource();
    jest.spyOn(ds, 'getResource').mockRejectedValue(new Error('offline'));
    return renderQueryEditor(ds, initial);
  }

  it('adds a filter, sets its value on blur, and removes it', async () => {
    const h = renderQE({ refId: 'A', queryType: 'stats' });
    fireEvent.click(await screen.findByRole('button', { name: 'Add ad-hoc filter' }));
    expect(h.last().adhocFilters).toEqual([{ key: 'strategy', operator: '=', value: '' }]);
    expect(h.runs.n).toBe(0); // no value yet: nothing to run
    const input = screen.getByLabelText('Ad-hoc filter 1 value');
    fireEvent.change(input, { target: { value: 'momentum' } });
    fireEvent.blur(input);
    expect(h.last().adhocFilters).toEqual([{ key: 'strategy', operator: '=', value: 'momentum' }]);
    expect(h.runs.n).toBe(1);
    fireEvent.click(screen.getByLabelText('Remove ad-hoc filter 1'));
    expect(h.last()).not.toHaveProperty('adhocFilters');
  });

  it('shows the stored filters', async () => {
    renderQE({ refId: 'A', queryType: 'equity', adhocFilters: [{ key: 'side', operator: '!=', value: 'short' }] });
    expect(((await screen.findByLabelText('Ad-hoc filter 1 value')) as HTMLInputElement).value).toBe('short');
    expect(screen.getByText('!=')).toBeTruthy();
    expect(screen.getByText('side')).toBeTruthy();
  });
});
