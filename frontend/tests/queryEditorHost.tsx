import React, { useState } from 'react';
import { render } from '@testing-library/react';

import { QueryEditor } from '../src/components/QueryEditor';
import type { DataSource } from '../src/datasource';
import type { PnlQuery } from '../src/types';

/**
 * Renders the QueryEditor for `ds` in a host that keeps the query in state
 * as Grafana does, records every onChange and counts onRunQuery. The caller
 * mocks `ds.getResource` first.
 */
export function renderQueryEditor(ds: DataSource, initial: PnlQuery) {
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
  return { changes, runs, last: () => changes[changes.length - 1] };
}
