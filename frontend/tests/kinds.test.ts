import { kindInfo, kindsFromBackend, labelFromName, STATIC_KINDS } from '../src/kinds';
import { QUERY_TYPES } from '../src/types';

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

  it('the backend rows win: order, descriptions, options; labels stay the frontend\'s', () => {
    const k = kindsFromBackend([
      { name: 'stats', description: 'S', options: ['filters', 'metrics', 'nope', 3] },
      { name: 'stats', description: 'duplicate', options: [] },
      { name: 'brand_new', description: 'N', options: ['filters', 'window'] },
      { name: 'trades' },
    ]);
    expect(k).toEqual([
      { value: 'stats', label: 'Statistics', description: 'S', options: ['filters', 'metrics'] },
      { value: 'brand_new', label: 'Brand new', description: 'N', options: ['filters', 'window'] },
      { value: 'trades', label: 'Trades table', description: QUERY_TYPES.find((t) => t.value === 'trades')!.description,
        options: ['filters', 'limit', 'live'] },
    ]);
    expect(kindInfo(k, 'equity').label).toBe('Equity curve'); // not in the backend's answer: the static row
    expect(kindInfo(k, 'mystery')).toEqual({ value: 'mystery', label: 'Mystery', description: '', options: ['filters'] });
    expect(labelFromName('drawdown_episodes')).toBe('Drawdown episodes');
  });
});
