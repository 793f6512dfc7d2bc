/*
 * QueryEditor.tsx — edits one query of docs/query-model.md "Query JSON".
 *
 * The query kinds, their one-line descriptions and the options each reads
 * come from the backend's registry (GET kinds, kinds.ts), with the static
 * list of types.ts when it cannot be asked; a control is shown only for a
 * kind that reads it (metrics → stats/breakdown, period and layout →
 * period_returns, metric and window → rolling, limit → trades and
 * drawdown_episodes, drawdownMode → drawdown, events and threshold →
 * annotations, groupBy → all that group, the
 * Live switch → the kinds Grafana Live can push, the Cache switch → the kinds
 * the backend's fold cache serves: CACHED_KINDS until the backend publishes it).
 * The filter choices of the seven dimensions come from the backend's list
 * resources plus the dashboard's template variables, so "$strategy" can be
 * picked and is expanded at query time (datasource.ts). The per-query
 * analytics overrides sit in a collapsible "Options" row. The query's own ad-hoc filters
 * (alert rules have no dashboard variable) are rows of AdhocFiltersField. Unset values are
 * left out of the JSON so the backend's defaults apply.
 */
import React, { useEffect, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { Collapse, InlineField, InlineFieldRow, InlineSwitch, MultiSelect, RadioButtonGroup, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { kindInfo, STATIC_KINDS } from '../kinds';
import {
  DIMENSIONS,
  DrawdownMode,
  EPISODES_LIMIT_DEFAULT,
  GROUP_REQUIRED,
  GroupBy,
  ListResource,
  Period,
  PERIODS,
  PeriodLayout,
  PnlOptions,
  PnlQuery,
  QueryKindInfo,
  QueryType,
  ROLLING_METRICS,
  ROLLING_WINDOW,
  RollingMetric,
  STAT_METRICS,
  TradingDays,
} from '../types';
import { AdhocFiltersField } from './AdhocFiltersField';
import { EventsFields } from './AnnotationEditor';
import { NumberField, patchQuery, TextField, useVariableOptions } from './fields';

export type Props = QueryEditorProps<DataSource, PnlQuery, PnlOptions>;

const LW = 14;
const GROUP_BY: Array<SelectableValue<GroupBy>> = [
  { value: 'none', label: 'None' },
  ...DIMENSIONS.map((d) => ({ value: d.group, label: d.label })),
];
const DRAWDOWN_MODES: Array<SelectableValue<DrawdownMode>> = [
  { value: 'fraction', label: 'Fraction of peak' },
  { value: 'money', label: 'Money' },
];
const TRADING_DAYS: Array<SelectableValue<TradingDays | ''>> = [
  { value: '', label: 'Default' },
  { value: 'all', label: 'All days' },
  { value: 'weekdays', label: 'Weekdays' },
];
const LAYOUTS: Array<SelectableValue<PeriodLayout>> = [
  { value: 'series', label: 'Series', description: 'One row per period: time, return, pnl, trades' },
  { value: 'grid', label: 'Monthly grid', description: 'One row per year, Jan … Dec and the year (months only)' },
];
export const CACHE_TOOLTIP =
  "Answer a refresh from the data source's cache of the trades already read, reading only the new ones; the table is " +
  'checked first (older trades changed → recomputed in full). Off: this query neither reads nor fills the cache';
/** The main dimensions fill the first filter row, the others the second. */
const FILTER_ROWS = [DIMENSIONS.slice(0, 3), DIMENSIONS.slice(3)];
const OVERRIDE_KEYS = ['initialCapital', 'timezone', 'tradingDays', 'annualization', 'riskFreeRate'] as const;

function toOptions(values: string[]): Array<SelectableValue<string>> {
  return values.map((v) => ({ label: v, value: v }));
}

function strings(vals: Array<SelectableValue<string>>): string[] {
  return vals.map((v) => v.value).filter((v): v is string => typeof v === 'string');
}

type Lists = Record<ListResource, string[]>;
const EMPTY_LISTS = Object.fromEntries(DIMENSIONS.map((d) => [d.resource, []])) as unknown as Lists;

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const [lists, setLists] = useState<Lists>(EMPTY_LISTS);
  const [kinds, setKinds] = useState<QueryKindInfo[]>(STATIC_KINDS);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const [optionsOpen, setOptionsOpen] = useState(OVERRIDE_KEYS.some((k) => query[k] !== undefined));

  // One fetch per resource when the editor opens; failures leave the lists
  // empty (custom values can still be typed) and show the message.
  useEffect(() => {
    let alive = true;
    Promise.all(DIMENSIONS.map((d) => datasource.listValues(d.resource)))
      .then((vals) => alive && setLists(Object.fromEntries(DIMENSIONS.map((d, i) => [d.resource, vals[i]])) as unknown as Lists))
      .catch((e: unknown) => alive && setError(e instanceof Error ? e.message : String((e as any)?.data?.message ?? e)))
      .finally(() => alive && setLoading(false));
    datasource.queryKinds().then((k) => alive && setKinds(k));
    return () => {
      alive = false;
    };
  }, [datasource]);

  const variableOptions = useVariableOptions();

  const queryType: string = query.queryType ?? 'equity';
  const kind = kindInfo(kinds, queryType);
  const reads = (o: QueryKindInfo['options'][number]) => kind.options.includes(o);
  const groupRequired = GROUP_REQUIRED.includes(queryType);
  const update = (patch: Partial<PnlQuery>, run = true) => {
    onChange(patchQuery(query, patch));
    if (run) {
      onRunQuery();
    }
  };
  const setKind = (value: string) => {
    const patch: Partial<PnlQuery> = { queryType: value as QueryType };
    // a kind that answers per group only starts grouped by strategy
    if (GROUP_REQUIRED.includes(value) && (query.groupBy ?? 'none') === 'none') {
      patch.groupBy = 'strategy';
    }
    update(patch);
  };

  const overridesSummary = OVERRIDE_KEYS.filter((k) => query[k] !== undefined)
    .map((k) => `${k}: ${query[k]}`)
    .join(', ');
  const period: Period = query.period ?? 'month';
  const limitIsEpisodes = queryType === 'drawdown_episodes';

  return (
    <>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={LW} tooltip={kind.description}>
          <Select
            inputId="qe-query-type"
            aria-label="Query type"
            width={28}
            options={kinds.map((k) => ({ value: k.value, label: k.label, description: k.description }))}
            value={queryType}
            onChange={(v) => setKind(String(v.value))}
          />
        </InlineField>
        {reads('groupBy') && (
          <InlineField
            label="Group by"
            labelWidth={LW}
            tooltip={groupRequired ? 'One row per group: choose a dimension' : 'One series per group, each its own portfolio'}
            invalid={groupRequired && (query.groupBy ?? 'none') === 'none'}
            error={groupRequired ? 'This query type needs a group-by' : undefined}
          >
            <RadioButtonGroup
              options={groupRequired ? GROUP_BY.filter((g) => g.value !== 'none') : GROUP_BY}
              value={query.groupBy ?? 'none'}
              onChange={(v) => update({ groupBy: v })}
            />
          </InlineField>
        )}
      </InlineFieldRow>
      {kind.description && (
        <div data-testid="qe-description" style={{ fontSize: 12, opacity: 0.75, margin: '0 0 8px 4px' }}>
          {kind.description}
        </div>
      )}

      {reads('filters') &&
        FILTER_ROWS.map((row, i) => (
          <InlineFieldRow key={i}>
            {row.map((d) => (
              <InlineField
                key={d.key}
                label={d.label}
                labelWidth={LW}
                error={error}
                invalid={Boolean(error) && d.key === 'strategies'}
              >
                <MultiSelect
                  inputId={`qe-${d.key}`}
                  aria-label={d.label}
                  width="auto"
                  minWidth={20}
                  maxWidth={48}
                  isLoading={loading}
                  allowCustomValue
                  placeholder="All"
                  options={[...variableOptions, ...toOptions(lists[d.resource])]}
                  value={query[d.key] ?? []}
                  onChange={(vals: Array<SelectableValue<string>>) => update({ [d.key]: strings(vals) })}
                />
              </InlineField>
            ))}
          </InlineFieldRow>
        ))}
      {reads('filters') && (
        <AdhocFiltersField
          value={query.adhocFilters}
          labelWidth={LW}
          // a filter just added has no value yet: run once it has one
          onChange={(f) => update({ adhocFilters: f }, (f ?? []).every((x) => x.value !== ''))}
        />
      )}

      {reads('metrics') && (
        <InlineFieldRow>
          <InlineField label="Metrics" labelWidth={LW} tooltip="Only these statistics (empty = all)">
            <MultiSelect
              inputId="qe-metrics"
              aria-label="Metrics"
              width={60}
              placeholder={queryType === 'breakdown' ? 'Default columns' : 'All metrics'}
              options={STAT_METRICS}
              value={query.metrics ?? []}
              onChange={(vals: Array<SelectableValue<string>>) => update({ metrics: strings(vals) })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {reads('drawdownMode') && (
        <InlineFieldRow>
          <InlineField label="Drawdown" labelWidth={LW}>
            <RadioButtonGroup options={DRAWDOWN_MODES} value={query.drawdownMode ?? 'fraction'}
              onChange={(v) => update({ drawdownMode: v })} />
          </InlineField>
        </InlineFieldRow>
      )}
      {(reads('period') || reads('layout')) && (
        <InlineFieldRow>
          {reads('period') && (
            <InlineField label="Period" labelWidth={LW} tooltip="Calendar periods in the time zone (weeks start on Monday)">
              <RadioButtonGroup
                options={PERIODS}
                value={period}
                // the grid is a month layout: another period drops it
                onChange={(v) => update(v === 'month' ? { period: v } : { period: v, layout: query.layout === 'grid' ? undefined : query.layout })}
              />
            </InlineField>
          )}
          {reads('layout') && period === 'month' && (
            <InlineField label="Layout" labelWidth={LW} tooltip="Grid: one row per year with a column per month, for a heatmap table">
              <RadioButtonGroup options={LAYOUTS} value={query.layout ?? 'series'} onChange={(v) => update({ layout: v })} />
            </InlineField>
          )}
        </InlineFieldRow>
      )}
      {(reads('metric') || reads('window')) && (
        <InlineFieldRow>
          {reads('metric') && (
            <InlineField label="Metric" labelWidth={LW} tooltip="The statistic computed over each window">
              <Select
                inputId="qe-metric"
                aria-label="Metric"
                width={24}
                options={ROLLING_METRICS}
                value={query.metric ?? 'sharpe'}
                onChange={(v) => update({ metric: v.value as RollingMetric })}
              />
            </InlineField>
          )}
          {reads('window') && (
            <NumberField
              label="Window (days)"
              labelWidth={LW + 4}
              width={12}
              tooltip={`Days in each window (${ROLLING_WINDOW.min} to ${ROLLING_WINDOW.max})`}
              value={query.window}
              placeholder={String(ROLLING_WINDOW.default)}
              min={ROLLING_WINDOW.min}
              testId="qe-window"
              onChange={(v) => update({ window: v }, false)}
            />
          )}
        </InlineFieldRow>
      )}
      {reads('events') && <EventsFields query={query} update={update} />}
      {reads('limit') && (
        <InlineFieldRow>
          <NumberField label="Limit" labelWidth={LW} width={16}
            tooltip={limitIsEpisodes ? 'Deepest episodes shown' : "Rows (at most the data source's row limit)"}
            value={query.limit} placeholder={limitIsEpisodes ? String(EPISODES_LIMIT_DEFAULT) : 'row limit'} min={1}
            testId="qe-limit" onChange={(v) => update({ limit: v }, false)} />
        </InlineFieldRow>
      )}

      {(reads('live') || reads('cache')) && (
        <InlineFieldRow>
          {reads('live') && (
            <InlineField label="Live" labelWidth={LW}
              tooltip="Push updates to the panel as trades are written (Grafana Live), without waiting for a refresh">
              <InlineSwitch id="qe-live" data-testid="qe-live" value={query.live === true}
                onChange={(e) => update({ live: e.currentTarget.checked ? true : undefined })} />
            </InlineField>
          )}
          {reads('cache') && (
            <InlineField label="Cache" labelWidth={LW} tooltip={CACHE_TOOLTIP}>
              <InlineSwitch id="qe-cache" data-testid="qe-cache" value={query.cache !== false}
                // on is the default: the key is left out; off writes cache: false
                onChange={(e) => update({ cache: e.currentTarget.checked ? undefined : false })} />
            </InlineField>
          )}
        </InlineFieldRow>
      )}

      <Collapse
        label={overridesSummary ? `Options — ${overridesSummary}` : 'Options'}
        isOpen={optionsOpen}
        onToggle={() => setOptionsOpen(!optionsOpen)}
      >
        <InlineFieldRow>
          <NumberField label="Initial capital" labelWidth={LW + 4} width={16} value={query.initialCapital}
            placeholder="default" min={0} testId="qe-initialCapital" onChange={(v) => update({ initialCapital: v }, false)} />
          <TextField label="Time zone" labelWidth={LW} width={20} value={query.timezone} placeholder="default"
            testId="qe-timezone" onChange={(v) => update({ timezone: v }, false)} />
          <InlineField label="Trading days" labelWidth={LW}>
            <RadioButtonGroup options={TRADING_DAYS} value={query.tradingDays ?? ''}
              onChange={(v) => update({ tradingDays: v === 'all' || v === 'weekdays' ? v : undefined })} />
          </InlineField>
        </InlineFieldRow>
        <InlineFieldRow>
          <NumberField label="Annualization" labelWidth={LW + 4} width={16} value={query.annualization}
            placeholder="default" min={1} testId="qe-annualization" onChange={(v) => update({ annualization: v }, false)} />
          <NumberField label="Risk-free rate" labelWidth={LW} width={20} value={query.riskFreeRate} placeholder="default"
            step={0.001} testId="qe-riskFreeRate" onChange={(v) => update({ riskFreeRate: v }, false)} />
        </InlineFieldRow>
      </Collapse>
    </>
  );
}
