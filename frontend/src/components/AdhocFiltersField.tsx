/*
 * AdhocFiltersField.tsx — the query's own `adhocFilters` (docs/query-model.md "Ad-hoc filters").
 *
 * A dashboard's ad-hoc variable adds its filters at query time (adhoc.ts); an alert rule has no
 * dashboard, so this editor writes them into the stored query JSON: one row per filter (key,
 * operator, value), ANDed by the backend. The value is committed on blur, like the other text
 * fields, so typing does not run a query per key stroke. An empty list removes the key.
 */
import React from 'react';
import { SelectableValue } from '@grafana/data';
import { Button, IconButton, InlineField, InlineFieldRow, Input, Select } from '@grafana/ui';

import { ADHOC_OPERATORS, AdhocFilter } from '../adhoc';
import { DIMENSIONS } from '../types';

const KEYS: Array<SelectableValue<string>> = DIMENSIONS.map((d) => ({ value: d.group, label: d.group }));
const OPERATORS: Array<SelectableValue<string>> = ADHOC_OPERATORS.map((o) => ({ value: o, label: o }));

interface Props {
  value: AdhocFilter[] | undefined;
  labelWidth: number;
  onChange: (filters: AdhocFilter[] | undefined) => void;
}

export function AdhocFiltersField({ value, labelWidth, onChange }: Props) {
  const filters = value ?? [];
  const set = (i: number, patch: Partial<AdhocFilter>) =>
    onChange(filters.map((f, k) => (k === i ? { ...f, ...patch } : f)));
  const remove = (i: number) => {
    const rest = filters.filter((_, k) => k !== i);
    onChange(rest.length ? rest : undefined);
  };
  return (
    <>
      {filters.map((f, i) => (
        <InlineFieldRow key={i}>
          <InlineField
            label={i === 0 ? 'Ad-hoc filters' : 'AND'}
            labelWidth={labelWidth}
            tooltip="Stored with the query (alert rules); a dashboard's Filters variable adds its own at query time"
          >
            <Select
              inputId={`qe-adhoc-key-${i}`}
              aria-label={`Ad-hoc filter ${i + 1} key`}
              width={16}
              options={KEYS}
              value={f.key}
              onChange={(v) => set(i, { key: v.value ?? f.key })}
            />
          </InlineField>
          <Select
            inputId={`qe-adhoc-op-${i}`}
            aria-label={`Ad-hoc filter ${i + 1} operator`}
            width={8}
            options={OPERATORS}
            value={f.operator}
            onChange={(v) => set(i, { operator: v.value ?? f.operator })}
          />
          <Input
            // remounted when the value changes from outside (a row above removed)
            key={`${i}:${f.value}`}
            aria-label={`Ad-hoc filter ${i + 1} value`}
            width={30}
            defaultValue={f.value}
            placeholder="value, or (none)"
            onBlur={(e) => {
              if (e.currentTarget.value !== f.value) {
                set(i, { value: e.currentTarget.value });
              }
            }}
          />
          <IconButton name="trash-alt" aria-label={`Remove ad-hoc filter ${i + 1}`} onClick={() => remove(i)} />
        </InlineFieldRow>
      ))}
      <InlineFieldRow>
        <Button
          variant="secondary"
          size="sm"
          icon="plus"
          aria-label="Add ad-hoc filter"
          onClick={() => onChange([...filters, { key: 'strategy', operator: '=', value: '' }])}
        >
          Ad-hoc filter
        </Button>
      </InlineFieldRow>
    </>
  );
}
