import type { DataSourceInstanceSettings } from '@grafana/data';
import { DataSource } from '../src/datasource';
import type { PnlOptions } from '../src/types';

export function makeDataSource(jsonData: PnlOptions = {}): DataSource {
  const settings = {
    id: 1,
    uid: 'pnl-uid',
    type: 'algotrading-pnl-datasource',
    name: 'Algo Trading P&L',
    access: 'proxy',
    readOnly: false,
    jsonData,
    meta: { id: 'algotrading-pnl-datasource', name: 'Algo Trading P&L', type: 'datasource', info: {} },
  } as unknown as DataSourceInstanceSettings<PnlOptions>;
  return new DataSource(settings);
}

/**
 * A getResource stand-in answering each list resource (filtered by `q`) and
 * any other answer given in `lists` (e.g. `kinds`) as it is, recording the
 * calls; a path not in `lists` fails as a backend without it would.
 */
export function mockResources(ds: DataSource, lists: Record<string, unknown[]>) {
  const calls: Array<{ path: string; params: any }> = [];
  jest.spyOn(ds, 'getResource').mockImplementation(async (path: string, params?: any) => {
    calls.push({ path, params });
    if (!(path in lists)) {
      throw new Error(`unexpected resource ${path}`);
    }
    const q = (params?.q ?? '').toLowerCase();
    const answer = lists[path];
    return answer.every((v) => typeof v === 'string') ? answer.filter((v) => (v as string).toLowerCase().includes(q)) : answer;
  });
  return calls;
}
