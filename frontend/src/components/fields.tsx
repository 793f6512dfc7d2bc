/*
 * fields.tsx — small wrappers around @grafana/ui inputs shared by the editors:
 * a numeric input that stores a number (or removes the key when cleared, so
 * the backend default applies) and a text input that does the same for strings.
 */
import React, { useMemo } from 'react';
import { SelectableValue } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { InlineField, Input } from '@grafana/ui';

import { PnlQuery } from '../types';

/** The query with patch applied; a key the patch sets to undefined is removed (saved JSON stays minimal). */
export function patchQuery(query: PnlQuery, patch: Partial<PnlQuery>): PnlQuery {
  const next: PnlQuery = { ...query, ...patch };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) {
      delete (next as any)[k];
    }
  }
  return next;
}

/** The dashboard's variables as choices ("$strategy"), for fields that accept them. */
export function useVariableOptions(): Array<SelectableValue<string>> {
  return useMemo(
    () => getTemplateSrv().getVariables().map((v) => ({ label: `$${v.name}`, value: `$${v.name}`, description: 'Dashboard variable' })),
    []
  );
}

export const LABEL_WIDTH = 24;
export const INPUT_WIDTH = 40;

interface NumberFieldProps {
  label: string;
  tooltip?: string;
  value: number | undefined;
  placeholder?: string;
  min?: number;
  step?: number;
  width?: number;
  labelWidth?: number;
  testId?: string;
  /** shown under the field (and the field marked invalid) when set */
  error?: string;
  onChange: (v: number | undefined) => void;
}

/** '' → undefined (use the default); anything that is not a finite number is ignored. */
export function parseNumber(text: string): number | undefined | null {
  if (text.trim() === '') {
    return undefined;
  }
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

export function NumberField(p: NumberFieldProps) {
  return (
    <InlineField label={p.label} labelWidth={p.labelWidth ?? LABEL_WIDTH} tooltip={p.tooltip} invalid={Boolean(p.error)}
      error={p.error}>
      <Input
        type="number"
        width={p.width ?? INPUT_WIDTH}
        value={p.value ?? ''}
        placeholder={p.placeholder}
        min={p.min}
        step={p.step}
        data-testid={p.testId}
        aria-label={p.label}
        onChange={(e) => {
          const n = parseNumber(e.currentTarget.value);
          if (n !== null) {
            p.onChange(n);
          }
        }}
      />
    </InlineField>
  );
}

interface TextFieldProps {
  label: string;
  tooltip?: string;
  value: string | undefined;
  placeholder?: string;
  width?: number;
  labelWidth?: number;
  testId?: string;
  onChange: (v: string | undefined) => void;
}

export function TextField(p: TextFieldProps) {
  return (
    <InlineField label={p.label} labelWidth={p.labelWidth ?? LABEL_WIDTH} tooltip={p.tooltip}>
      <Input
        width={p.width ?? INPUT_WIDTH}
        value={p.value ?? ''}
        placeholder={p.placeholder}
        data-testid={p.testId}
        aria-label={p.label}
        onChange={(e) => {
          const v = e.currentTarget.value;
          p.onChange(v === '' ? undefined : v);
        }}
      />
    </InlineField>
  );
}
