/*
 * QueryEditor.tsx — edits one query of docs/query-model.md "Query JSON".
 *
 * The filter choices come from the backend's list resources (GET strategies,
 * symbols, accounts) plus the dashboard's template variables, so "$strategy"
 * can be picked and is expanded at query time (datasource.ts). Fields that only
 * apply to one query type (metrics → stats, drawdownMode → drawdown, limit →
 * trades, groupBy → all but trades) are shown only for it; the per-query
 * analytics overrides sit in a collapsible "Options" row. Unset overrides are
 * left out of the JSON so the data source's settings apply.
 */
import React, { useEffect, useMemo, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { Collapse, InlineField, InlineFieldRow, MultiSelect, RadioButtonGroup, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import {
  DrawdownMode,
  GroupBy,
  ListResource,
  PnlOptions,
  PnlQuery,
  QUERY_TYPES,
  QueryType,
  STAT_METRICS,
  TradingDays,
} from '../types';
import { NumberField, TextField } from './fields';

export type Props = QueryEditorProps<DataSource, PnlQuery, PnlOptions>;

const LW = 14;
const GROUP_BY: Array<SelectableValue<GroupBy>> = [
  { value: 'none', label: 'None' },
  { value: 'strategy', label: 'Strategy' },
  { value: 'symbol', label: 'Symbol' },
  { value: 'account', label: 'Account' },
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
const FILTERS: Array<{ key: 'strategies' | 'symbols' | 'accounts'; resource: ListResource; label: string }> = [
  { key: 'strategies', resource: 'strategies', label: 'Strategy' },
  { key: 'symbols', resource: 'symbols', label: 'Symbol' },
  { key: 'accounts', resource: 'accounts', label: 'Account' },
];
const OVERRIDE_KEYS = ['initialCapital', 'timezone', 'tradingDays', 'annualization', 'riskFreeRate'] as const;

function toOptions(values: string[]): Array<SelectableValue<string>> {
  return values.map((v) => ({ label: v, value: v }));
}

type Lists = Record<ListResource, string[]>;

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const [lists, setLists] = useState<Lists>({ strategies: [], symbols: [], accounts: [] });
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const [optionsOpen, setOptionsOpen] = useState(OVERRIDE_KEYS.some((k) => query[k] !== undefined));

  // One fetch per resource when the editor opens; failures leave the lists
  // empty (custom values can still be typed) and show the message.
  useEffect(() => {
    let alive = true;
    Promise.all(FILTERS.map((f) => datasource.listValues(f.resource)))
      .then(([strategies, symbols, accounts]) => alive && setLists({ strategies, symbols, accounts }))
      .catch((e: unknown) => alive && setError(e instanceof Error ? e.message : String((e as any)?.data?.message ?? e)))
      .finally(() => alive && setLoading(false));
    return () => {
      alive = false;
    };
  }, [datasource]);

  const variableOptions = useMemo(
    () => getTemplateSrv().getVariables().map((v) => ({ label: `$${v.name}`, value: `$${v.name}`, description: 'Dashboard variable' })),
    []
  );

  const queryType: QueryType = query.queryType ?? 'equity';
  const update = (patch: Partial<PnlQuery>, run = true) => {
    const next: PnlQuery = { ...query, ...patch };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) {
        delete (next as any)[k];
      }
    }
    onChange(next);
    if (run) {
      onRunQuery();
    }
  };

  const overridesSummary = OVERRIDE_KEYS.filter((k) => query[k] !== undefined)
    .map((k) => `${k}: ${query[k]}`)
    .join(', ');

  return (
    <>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={LW} tooltip={QUERY_TYPES.find((t) => t.value === queryType)?.description}>
          <Select
            inputId="qe-query-type"
            aria-label="Query type"
            width={28}
            options={QUERY_TYPES}
            value={queryType}
            onChange={(v) => update({ queryType: v.value as QueryType })}
          />
        </InlineField>
        {queryType !== 'trades' && (
          <InlineField label="Group by" labelWidth={LW} tooltip="One series per group, each its own portfolio">
            <RadioButtonGroup options={GROUP_BY} value={query.groupBy ?? 'none'} onChange={(v) => update({ groupBy: v })} />
          </InlineField>
        )}
      </InlineFieldRow>

      <InlineFieldRow>
        {FILTERS.map((f) => (
          <InlineField key={f.key} label={f.label} labelWidth={LW} error={error} invalid={Boolean(error) && f.key === 'strategies'}>
            <MultiSelect
              inputId={`qe-${f.key}`}
              aria-label={f.label}
              width="auto"
              minWidth={20}
              maxWidth={48}
              isLoading={loading}
              allowCustomValue
              placeholder="All"
              options={[...variableOptions, ...toOptions(lists[f.resource])]}
              value={query[f.key] ?? []}
              onChange={(vals: Array<SelectableValue<string>>) =>
                update({ [f.key]: vals.map((v) => v.value).filter((v): v is string => typeof v === 'string') })
              }
            />
          </InlineField>
        ))}
      </InlineFieldRow>

      {queryType === 'stats' && (
        <InlineFieldRow>
          <InlineField label="Metrics" labelWidth={LW} tooltip="Only these statistics (empty = all)">
            <MultiSelect
              inputId="qe-metrics"
              aria-label="Metrics"
              width={60}
              placeholder="All metrics"
              options={STAT_METRICS}
              value={query.metrics ?? []}
              onChange={(vals: Array<SelectableValue<string>>) =>
                update({ metrics: vals.map((v) => v.value).filter((v): v is string => typeof v === 'string') })
              }
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {queryType === 'drawdown' && (
        <InlineFieldRow>
          <InlineField label="Drawdown" labelWidth={LW}>
            <RadioButtonGroup options={DRAWDOWN_MODES} value={query.drawdownMode ?? 'fraction'}
              onChange={(v) => update({ drawdownMode: v })} />
          </InlineField>
        </InlineFieldRow>
      )}
      {queryType === 'trades' && (
        <InlineFieldRow>
          <NumberField label="Limit" labelWidth={LW} width={16} tooltip="Rows (at most the data source's row limit)"
            value={query.limit} placeholder="row limit" min={1} testId="qe-limit" onChange={(v) => update({ limit: v }, false)} />
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
