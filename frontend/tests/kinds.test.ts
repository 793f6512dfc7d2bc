import { kindInfo, kindsFromBackend, labelFromName, STATIC_KINDS } from '../src/kinds';
import { CACHED_KINDS, QUERY_TYPES } from '../src/types';

describe('kinds', () => {
  it('the static list has every kind with a description and its options', () => {
    expect(STATIC_KINDS.map((k) => k.value)).toEqual(QUERY_TYPES.map((k) => k.value));
    for (const k of STATIC_KINDS) {
      expect(k.description).not.toBe('');
      expect(k.options).toContain('filters');
    }
    const opts = (v: string) => kindInfo(STATIC_KINDS, v).options;
    expect(opts('period_returns')).toEqual(expect.arrayContaining(['period', 'layout', 'groupBy']));
    expect(opts('rolling')).toEqual(expect.arrayContaining(['metric', 'window', 'groupBy']));
    expect(opts('drawdown_episodes')).toEqual(expect.arrayContaining(['limit', 'groupBy']));
    expect(opts('breakdown')).toEqual(expect.arrayContaining(['metrics', 'groupBy']));
    expect(opts('trades')).not.toContain('groupBy');
  });

  it('anything but a list of kind rows falls back to the static list', () => {
    for (const bad of [undefined, null, 'kinds', {}, [], [{}], [{ name: 7 }], { error: 'unknown resource' }]) {
      expect(kindsFromBackend(bad)).toBe(STATIC_KINDS);
    }
  });

  it('the backend rows win: order, descriptions, options (cache from CACHED_KINDS while it publishes none); labels stay the frontend\'s', () => {
    const k = kindsFromBackend([
      { name: 'stats', description: 'S', options: ['filters', 'metrics', 'nope', 3] },
      { name: 'stats', description: 'duplicate', options: [] },
      { name: 'brand_new', description: 'N', options: ['filters', 'window'] },
      { name: 'trades' },
    ]);
    expect(k).toEqual([
      { value: 'stats', label: 'Statistics', description: 'S', options: ['filters', 'metrics', 'cache'] },
      { value: 'brand_new', label: 'Brand new', description: 'N', options: ['filters', 'window'] },
      { value: 'trades', label: 'Trades table', description: QUERY_TYPES.find((t) => t.value === 'trades')!.description,
        options: ['filters', 'limit', 'live'] },
    ]);
    expect(kindInfo(k, 'equity').label).toBe('Equity curve'); // not in the backend's answer: the static row
    expect(kindInfo(k, 'mystery')).toEqual({ value: 'mystery', label: 'Mystery', description: '', options: ['filters'] });
    expect(labelFromName('drawdown_episodes')).toBe('Drawdown episodes');
  });

  it('cache: the static rows offer it exactly for CACHED_KINDS, the kinds the fold cache serves (the backend registry marks the same ones)', () => {
    expect([...CACHED_KINDS].sort()).toEqual([
      'breakdown',
      'daily_pnl',
      'drawdown',
      'drawdown_episodes',
      'pnl_distribution',
      'rolling',
      'stats',
    ]);
    for (const k of STATIC_KINDS) {
      expect(k.options.includes('cache')).toBe((CACHED_KINDS as string[]).includes(k.value));
    }
    // the static rows keep their own options besides
    expect(kindInfo(STATIC_KINDS, 'stats').options).toEqual(['filters', 'groupBy', 'metrics', 'analytics', 'live', 'cache']);
    expect(QUERY_TYPES.every((t) => !(t.options as string[]).includes('cache'))).toBe(true); // the list lives in CACHED_KINDS only
  });

  it('live and cache published by the backend are kept (the editor has a switch for each)', () => {
    const k = kindsFromBackend([
      { name: 'trades', description: 'T', options: ['filters', 'limit', 'live'] },
      { name: 'stats', description: 'S', options: ['filters', 'metrics', 'live', 'cache'] },
      { name: 'drawdown', description: 'D', options: ['filters', 'drawdownMode'] },
    ]);
    expect(kindInfo(k, 'trades').options).toEqual(['filters', 'limit', 'live']);
    expect(kindInfo(k, 'stats').options).toEqual(['filters', 'metrics', 'live', 'cache']);
    // a backend that publishes the cache option decides alone: drawdown is not cached by this one
    expect(kindInfo(k, 'drawdown').options).toEqual(['filters', 'drawdownMode']);
  });

  it('a backend that does not publish cache yet: added to its rows of CACHED_KINDS, also when a row falls back to the static options', () => {
    const k = kindsFromBackend([
      { name: 'rolling', description: 'R', options: ['filters', 'metric', 'window'] },
      { name: 'pnl_distribution' },
      { name: 'period_returns' },
      { name: 'slippage', description: 'S', options: ['filters', 'groupBy'] },
    ]);
    expect(kindInfo(k, 'rolling').options).toEqual(['filters', 'metric', 'window', 'cache']);
    expect(kindInfo(k, 'pnl_distribution').options).toContain('cache');
    expect(kindInfo(k, 'period_returns').options).not.toContain('cache');
    expect(kindInfo(k, 'slippage').options).toEqual(['filters', 'groupBy']);
  });
});
