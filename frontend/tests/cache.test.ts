import { setTemplateSrv } from '@grafana/runtime';

import type { PnlQuery } from '../src/types';
import { makeDataSource } from './helpers';
import { fakeTemplateSrv } from './templateSrv';

describe('cache option on the way to the backend', () => {
  beforeAll(() => setTemplateSrv(fakeTemplateSrv([{ name: 'strategy', options: ['a', 'b'], current: ['a'] }])));

  it('cache: false reaches the query JSON as stored; a query without it stays without it', () => {
    const ds = makeDataSource();
    const off: PnlQuery = { refId: 'A', queryType: 'stats', strategies: ['$strategy'], cache: false };
    expect(ds.applyTemplateVariables(off, {})).toEqual({ refId: 'A', queryType: 'stats', strategies: ['a'], cache: false });
    const on: PnlQuery = { refId: 'B', queryType: 'drawdown', strategies: ['$strategy'] };
    expect('cache' in ds.applyTemplateVariables(on, {})).toBe(false);
  });
});
