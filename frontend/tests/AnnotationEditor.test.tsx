import React, { useState } from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { setTemplateSrv } from '@grafana/runtime';

import { AnnotationQueryEditor } from '../src/components/AnnotationEditor';
import { QueryEditor } from '../src/components/QueryEditor';
import { annotationSupport, prepareAnnotation, prepareQuery } from '../src/annotations';
import type { PnlQuery } from '../src/types';
import { makeDataSource, mockResources } from './helpers';
import { fakeTemplateSrv } from './templateSrv';

const LISTS: Record<string, string[]> = {
  strategies: ['arb', 'momentum'],
  symbols: ['BTCUSDT', 'ETHUSDT'],
  accounts: [],
  sides: [],
  exchanges: [],
  entry_tags: [],
  exit_reasons: [],
};

beforeAll(() =>
  setTemplateSrv(
    fakeTemplateSrv([
      { name: 'strategy', options: LISTS.strategies, current: '$__all' },
      { name: 'large_loss', options: ['250'], current: '250' },
      { name: 'empty', options: [''], current: '' },
      { name: 'words', options: ['a lot'], current: 'a lot' },
    ])
  )
);

function renderEditor(Editor: typeof AnnotationQueryEditor | typeof QueryEditor, initial: PnlQuery) {
  const ds = makeDataSource();
  const calls = mockResources(ds, LISTS);
  const changes: PnlQuery[] = [];
  const runs = { n: 0 };
  function Host() {
    const [q, setQ] = useState(initial);
    return (
      <Editor
        datasource={ds}
        query={q}
        onChange={(nq: PnlQuery) => {
          changes.push(nq);
          setQ(nq);
        }}
        onRunQuery={() => runs.n++}
      />
    );
  }
  render(<Host />);
  return { calls, changes, runs, last: () => changes[changes.length - 1] };
}

async function pick(inputId: string, label: string) {
  const input = document.getElementById(inputId)!;
  fireEvent.keyDown(input, { key: 'ArrowDown' });
  const matches = (name: string) => name === label || (name.startsWith(label) && /^[A-Z]/.test(name.slice(label.length)));
  let opt: HTMLElement | undefined;
  await waitFor(() => {
    const found = screen.queryAllByRole('option').filter((o) => matches(o.textContent ?? ''));
    expect(found).toHaveLength(1);
    opt = found[0];
  });
  fireEvent.click(opt!);
}

describe('AnnotationQueryEditor', () => {
  it('edits events and threshold; the threshold placeholder is the backend default of the events', async () => {
    const { last, runs, calls } = renderEditor(AnnotationQueryEditor, { refId: 'Anno', queryType: 'annotations', events: 'drawdown_episodes' });
    await waitFor(() => expect(calls.map((c) => c.path).sort()).toEqual(['strategies', 'symbols']));
    const thr = screen.getByTestId('qe-threshold') as HTMLInputElement;
    expect(thr.placeholder).toBe('0.05');
    fireEvent.change(thr, { target: { value: '0.1' } });
    expect(last()).toEqual({ refId: 'Anno', queryType: 'annotations', events: 'drawdown_episodes', threshold: 0.1 });
    expect(runs.n).toBe(0); // typing does not run the query

    // other events: the threshold's meaning changes, so it is dropped
    await pick('qe-events', 'Large losses');
    expect(last()).toEqual({ refId: 'Anno', queryType: 'annotations', events: 'large_losses' });
    expect(runs.n).toBe(1);
    expect((screen.getByTestId('qe-threshold') as HTMLInputElement).placeholder).toBe('1% of capital');
    fireEvent.change(screen.getByTestId('qe-threshold'), { target: { value: '250' } });
    expect(last().threshold).toBe(250);
    fireEvent.change(screen.getByTestId('qe-threshold'), { target: { value: '' } });
    expect('threshold' in last()).toBe(false); // empty = the default

    // trades read no threshold
    await pick('qe-events', 'Trades');
    expect(last().events).toBe('trades');
    expect(screen.queryByTestId('qe-threshold')).toBeNull();
    expect(screen.queryByLabelText('Group by')).toBeNull();
  });

  it('filters by strategy (a dashboard variable too) and groups episodes or days', async () => {
    const { last, calls } = renderEditor(AnnotationQueryEditor, { refId: 'Anno', queryType: 'annotations', events: 'daily_loss' });
    await waitFor(() => expect(calls).toHaveLength(2));
    await pick('anno-strategies', 'momentum');
    await pick('anno-strategies', '$strategy');
    expect(last().strategies).toEqual(['momentum', '$strategy']);
    expect((screen.getByTestId('qe-threshold') as HTMLInputElement).placeholder).toBe('0');
    await pick('anno-groupBy', 'Symbol');
    expect(last()).toMatchObject({ queryType: 'annotations', events: 'daily_loss', groupBy: 'symbol' });
    await pick('anno-groupBy', 'None');
    expect('groupBy' in last()).toBe(false);
  });

  it('a stored annotation without a query type still runs as annotations', async () => {
    const { last } = renderEditor(AnnotationQueryEditor, { refId: 'Anno' });
    await pick('qe-events', 'Daily loss');
    expect(last()).toEqual({ refId: 'Anno', queryType: 'annotations', events: 'daily_loss' });
  });
});

describe('annotation support', () => {
  it('is registered on the data source with its editor and default', () => {
    const ds = makeDataSource();
    expect(ds.annotations).toBe(annotationSupport);
    expect(ds.annotations?.QueryEditor).toBe(AnnotationQueryEditor);
    expect(ds.annotations?.getDefaultQuery?.()).toEqual({ queryType: 'annotations', events: 'drawdown_episodes' });
  });

  it('prepareQuery pins the kind; prepareAnnotation fills a missing target', () => {
    const anno = prepareAnnotation({ name: 'Losses', enable: true, iconColor: 'red', target: { refId: 'Anno', events: 'large_losses', threshold: 500 } });
    expect(anno.target).toEqual({ refId: 'Anno', queryType: 'annotations', events: 'large_losses', threshold: 500 });
    expect(prepareQuery({ ...anno, target: { ...anno.target!, queryType: 'equity' } })).toEqual({
      refId: 'Anno', queryType: 'annotations', events: 'large_losses', threshold: 500,
    });
    expect(prepareAnnotation({ name: 'x', enable: false, iconColor: 'blue' }).target).toEqual({
      refId: 'Anno', queryType: 'annotations', events: 'drawdown_episodes',
    });
    expect(prepareQuery({ name: 'x', enable: true, iconColor: 'red' } as any)).toBeUndefined();
  });

  it('a threshold written as a dashboard variable is replaced: a number, empty = the default, else passed on', () => {
    const run = (threshold: string) => prepareQuery(prepareAnnotation({ name: 'x', enable: true, iconColor: 'red', target: { refId: 'Anno', events: 'large_losses', threshold } }));
    expect(run('$large_loss')?.threshold).toBe(250);
    expect('threshold' in run('$empty')!).toBe(false);
    expect(run('${words}')?.threshold).toBe('a lot'); // the backend's 400 names it
  });

  it('the editor shows a variable threshold as its placeholder', () => {
    renderEditor(AnnotationQueryEditor, { refId: 'Anno', queryType: 'annotations', events: 'large_losses', threshold: '$large_loss' });
    const thr = screen.getByTestId('qe-threshold') as HTMLInputElement;
    expect(thr.value).toBe('');
    expect(thr.placeholder).toBe('$large_loss');
  });
});

describe('QueryEditor with the annotations kind', () => {
  it('shows the events and threshold controls (and no limit)', async () => {
    const { last } = renderEditor(QueryEditor, { refId: 'A', queryType: 'annotations' });
    await waitFor(() => expect(document.getElementById('qe-events')).not.toBeNull());
    expect(screen.queryByTestId('qe-limit')).toBeNull();
    await pick('qe-events', 'Drawdown episodes');
    fireEvent.change(screen.getByTestId('qe-threshold'), { target: { value: '0.02' } });
    expect(last()).toMatchObject({ queryType: 'annotations', events: 'drawdown_episodes', threshold: 0.02 });
  });
});
