/*
 * VariableQueryEditor.tsx — picks which list a dashboard variable holds.
 * Stores `{"resource":"strategies"}` (or symbols, accounts, sides, exchanges,
 * entry_tags, exit_reasons; the bundled dashboards use exactly that shape).
 */
import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { DIMENSIONS, ListResource, PnlOptions, PnlQuery, PnlVariableQuery } from '../types';

const RESOURCES: Array<SelectableValue<ListResource>> = DIMENSIONS.map((d) => ({
  value: d.resource,
  label: d.plural,
  description: `Distinct ${d.label.toLowerCase()} values of the trade table`,
}));

export type VariableEditorProps = QueryEditorProps<DataSource, PnlQuery, PnlOptions, PnlVariableQuery>;

export function VariableQueryEditor({ query, onChange }: VariableEditorProps) {
  return (
    <InlineField label="Values of" labelWidth={20} tooltip="The variable lists these values, sorted">
      <Select
        inputId="ve-resource"
        aria-label="Values of"
        width={30}
        options={RESOURCES}
        value={query?.resource ?? null}
        placeholder="Choose a list"
        onChange={(v) => onChange({ ...query, resource: v.value })}
      />
    </InlineField>
  );
}
