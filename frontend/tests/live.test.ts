import { DataQueryRequest, StreamingFrameAction, toDataFrame } from '@grafana/data';

import { liveStreamOptions } from '../src/datasource';
import type { PnlQuery } from '../src/types';
import { makeDataSource } from './helpers';

describe('live streams', () => {
  it('replace the buffer with each pushed frame (the whole recomputed frame)', () => {
    const req = { maxDataPoints: 1200 } as DataQueryRequest<PnlQuery>;
    const frame = toDataFrame({ fields: [], meta: { channel: 'ds/uid/live/0123456789abcdef/00000000' } });
    const o = liveStreamOptions(req, frame);
    expect(o.action).toBe(StreamingFrameAction.Replace);
    expect(o.maxLength).toBeGreaterThanOrEqual(1200);
  });

  it('the data source uses them for every live frame', () => {
    const ds = makeDataSource();
    expect((ds as any).streamOptionsProvider).toBe(liveStreamOptions);
  });
});
