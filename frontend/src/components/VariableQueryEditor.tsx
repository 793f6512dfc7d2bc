/*
 * VariableQueryEditor.tsx — picks which list a dashboard variable holds.
 * Stores `{"resource":"strategies"|"symbols"|"accounts"}` (the bundled
 * dashboards use exactly that shape).
 */
import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { ListResource, PnlOptions, PnlQuery, PnlVariableQuery } from '../types';

const RESOURCES: Array<SelectableValue<ListResource>> = [
  { value: 'strategies', label: 'Strategies', description: 'Distinct strategy names of the trade table' },
  { value: 'symbols', label: 'Symbols', description: 'Distinct instrument symbols' },
  { value: 'accounts', label: 'Accounts', description: 'Distinct account names' },
];

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
