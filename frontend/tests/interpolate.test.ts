import { setTemplateSrv } from '@grafana/runtime';
import { expandList } from '../src/interpolate';
import { fakeTemplateSrv } from './templateSrv';
import { makeDataSource } from './helpers';
import type { PnlQuery } from '../src/types';

const srv = fakeTemplateSrv([
  { name: 'strategy', options: ['momentum', 'meanrev', 'arb'], current: ['momentum', 'meanrev'] },
  { name: 'symbol', options: ['BTCUSDT', 'ETHUSDT'], current: '$__all' },
  { name: 'account', options: ['main', 'test'], current: 'main' },
  { name: 'allcustom', options: ['x', 'y'], current: ['$__all'], allValue: '.*' },
  { name: 'tz', options: ['Europe/Berlin'], current: 'Europe/Berlin' },
]);

describe('expandList', () => {
  it('expands a multi-value variable into one entry per value', () => {
    expect(expandList(['$strategy'], srv)).toEqual(['momentum', 'meanrev']);
    expect(expandList(['${strategy}'], srv)).toEqual(['momentum', 'meanrev']);
    expect(expandList(['${strategy:csv}'], srv)).toEqual(['momentum', 'meanrev']);
    expect(expandList(['[[strategy]]'], srv)).toEqual(['momentum', 'meanrev']);
  });
  it('keeps literals, order, and drops duplicates and empties', () => {
    expect(expandList(['arb', '$strategy', 'momentum', '', '  '], srv)).toEqual(['arb', 'momentum', 'meanrev']);
  });
  it('turns All into an empty list (= no filter)', () => {
    expect(expandList(['$symbol'], srv)).toEqual([]);
    expect(expandList(['ETHUSDT', '$symbol'], srv)).toEqual([]);
    // a custom allValue such as ".*" is never sent as a symbol name
    expect(expandList(['$allcustom'], srv)).toEqual([]);
  });
  it('single-value variables and unknown variables', () => {
    expect(expandList(['$account'], srv)).toEqual(['main']);
    expect(expandList(['$nosuchvar'], srv)).toEqual(['$nosuchvar']);
  });
  it('scoped variables (repeated panels) win over the dashboard value', () => {
    const scoped = { symbol: { text: 'ETHUSDT', value: 'ETHUSDT' } };
    expect(expandList(['$symbol'], srv, scoped)).toEqual(['ETHUSDT']);
  });
  it('ignores bad input instead of throwing', () => {
    expect(expandList(undefined, srv)).toEqual([]);
    expect(expandList('momentum' as unknown, srv)).toEqual([]);
    expect(expandList([1, null, {}, 'ok'] as unknown, srv)).toEqual(['ok']);
  });
});

describe('DataSource.applyTemplateVariables', () => {
  beforeAll(() => setTemplateSrv(srv));

  it('expands all three lists and the time zone, leaving the rest untouched', () => {
    const ds = makeDataSource();
    const q: PnlQuery = {
      refId: 'A', queryType: 'stats', strategies: ['$strategy'], symbols: ['$symbol'], accounts: ['$account', 'test'],
      metrics: ['sharpe'], timezone: '$tz', groupBy: 'strategy',
    };
    const out = ds.applyTemplateVariables(q, {});
    expect(out).toEqual({
      refId: 'A', queryType: 'stats', strategies: ['momentum', 'meanrev'], symbols: [], accounts: ['main', 'test'],
      metrics: ['sharpe'], timezone: 'Europe/Berlin', groupBy: 'strategy',
    });
    expect(q.strategies).toEqual(['$strategy']); // input not mutated
  });

  it('expands the new dimension lists the same way (All = no filter)', () => {
    const ds = makeDataSource();
    const q: PnlQuery = {
      refId: 'A', queryType: 'breakdown', groupBy: 'exit_reason', sides: ['short'], exchanges: ['$account'],
      entryTags: ['$strategy', 'ema_cross'], exitReasons: ['$symbol'],
    };
    expect(ds.applyTemplateVariables(q, {})).toEqual({
      refId: 'A', queryType: 'breakdown', groupBy: 'exit_reason', sides: ['short'], exchanges: ['main'],
      entryTags: ['momentum', 'meanrev', 'ema_cross'], exitReasons: [],
    });
  });

  it('does not add lists the query did not have', () => {
    const out = makeDataSource().applyTemplateVariables({ refId: 'B', queryType: 'equity' }, {});
    expect(out).toEqual({ refId: 'B', queryType: 'equity' });
  });

  it('filterQuery skips hidden and type-less queries; getDefaultQuery is an equity query', () => {
    const ds = makeDataSource();
    expect(ds.filterQuery({ refId: 'A', queryType: 'equity' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', queryType: 'equity', hide: true })).toBe(false);
    expect(ds.filterQuery({ refId: 'A' })).toBe(false);
    expect(ds.getDefaultQuery({} as any)).toEqual({ queryType: 'equity', strategies: [], symbols: [], accounts: [], groupBy: 'none' });
  });
});
