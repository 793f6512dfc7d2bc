/*
 * ColumnMapping.tsx — the preset selector and the per-column mapping of the
 * config editor. The preset's table and columns show as placeholders; what the
 * user types is saved as an override (and only that: see src/mapping.ts).
 * Per column: a name (or, for number columns, names to add), "none" for an
 * optional column the table lacks, and `as` for side and the time columns.
 */
import React, { useEffect, useState } from 'react';
import { SelectableValue } from '@grafana/data';
import { Button, Checkbox, InlineField, Input, Select } from '@grafana/ui';

import {
  AS_CHOICES,
  COLUMN_KEYS,
  ColumnKey,
  ColumnValue,
  LIST_COLUMNS,
  PnlOptions,
  Preset,
  PRESETS,
  PresetInfo,
  REQUIRED_COLUMNS,
} from '../types';
import {
  asOf,
  choosePreset,
  defaultAs,
  mappingErrors,
  namesValue,
  nameText,
  parseNames,
  presetInfo,
  sameValue,
  withColumn,
} from '../mapping';
import { INPUT_WIDTH, LABEL_WIDTH } from './fields';

const COLUMN_HELP: Record<ColumnKey, string> = {
  trade_id: 'Unique id of the trade (bigint or text)',
  account: 'Account or sub-account (text)',
  exchange: 'Exchange or venue (text)',
  strategy: 'Strategy or bot name (text)',
  symbol: 'Traded instrument, e.g. BTC/USDT (text)',
  side: "Long or short: text ('long'/'short'), or a boolean is_short / is_long",
  qty: 'Quantity traded (numeric)',
  entry_price: 'Average entry price (numeric)',
  exit_price: 'Average exit price (numeric)',
  expected_entry_price: 'Price the strategy asked for at entry (numeric; slippage uses it)',
  expected_exit_price: 'Price the strategy asked for at exit (numeric; slippage uses it)',
  opened_at: 'When the trade opened: a timestamp or an epoch number',
  closed_at: 'When the trade closed: a timestamp or an epoch number; all time filtering uses it',
  fees: 'Fees paid (numeric)',
  realized_pnl: 'Realized P&L net of fees (numeric)',
  entry_tag: 'The signal that opened the trade (text)',
  exit_reason: 'Why the trade closed (text)',
};

const PRESET_OPTIONS: Array<SelectableValue<Preset>> = PRESETS.map((p) => ({
  value: p.value,
  label: p.label,
  description: p.description,
}));

interface RowProps {
  column: ColumnKey;
  preset: PresetInfo;
  override: ColumnValue | undefined;
  error?: string;
  onChange: (v: ColumnValue | undefined) => void;
}

interface NamesInputProps {
  column: ColumnKey;
  value: ColumnValue | undefined;
  placeholder: string;
  onChange: (v: ColumnValue | undefined) => void;
  /** Set by the InlineField around it. */
  disabled?: boolean;
  invalid?: boolean;
}

/** Names for a number column: "a + b" (or "a, b") saves the list of columns the backend adds. */
function NamesInput({ column, value, placeholder, onChange, disabled, invalid }: NamesInputProps) {
  const [text, setText] = useState(nameText(value));
  // Follow changes from outside (reset, preset, none) but keep what is being typed ("fee_open_cost +").
  useEffect(() => {
    if (!sameValue(namesValue(parseNames(text)), value === '' ? undefined : value)) {
      setText(nameText(value));
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <Input width={INPUT_WIDTH} aria-label={`column ${column}`} data-testid={`cfg-col-${column}`} value={text}
      placeholder={placeholder} disabled={disabled} invalid={invalid}
      onChange={(e) => {
        const t = e.currentTarget.value;
        setText(t);
        onChange(namesValue(parseNames(t)));
      }} />
  );
}

function ColumnRow({ column: k, preset, override, error, onChange }: RowProps) {
  const pv = preset.columns[k];
  const required = REQUIRED_COLUMNS.includes(k);
  // A required column is never none: a saved null shows as an error with the name still editable.
  const none = !required && (override === null || ((override === undefined || override === '') && pv === null));
  const choices = AS_CHOICES[k];
  const shownAs = asOf(k, override === undefined || override === '' || override === null ? pv : override);
  const placeholder = pv === null ? 'none' : nameText(pv);
  const listHint = LIST_COLUMNS.includes(k) ? '. Several columns separated by + (or ,) are added' : '';

  const onName = (t: string) => {
    if (!choices || shownAs === defaultAs(k)) {
      onChange(t === '' ? undefined : t);
    } else if (t === '') {
      onChange(shownAs === asOf(k, pv) ? undefined : { column: nameText(pv) || k, as: shownAs! });
    } else {
      onChange({ column: t, as: shownAs! });
    }
  };
  const onAs = (as: string) => {
    const col = nameText(override ?? undefined) || nameText(pv) || k;
    const v: ColumnValue = as === defaultAs(k) ? col : { column: col, as };
    onChange(sameValue(v, pv) ? undefined : v);
  };

  // Four cells of the mapping's grid: name(s), none, as, back to the preset.
  return (
    <>
      <InlineField label={k} labelWidth={LABEL_WIDTH} required={required} tooltip={COLUMN_HELP[k] + listHint}
        invalid={Boolean(error)} error={error} disabled={none} validationMessageHorizontalOverflow>
        {LIST_COLUMNS.includes(k) ? (
          <NamesInput column={k} value={override === null ? undefined : override} placeholder={placeholder}
            onChange={onChange} />
        ) : (
          <Input width={INPUT_WIDTH} aria-label={`column ${k}`} data-testid={`cfg-col-${k}`}
            value={override === null ? '' : nameText(override)} placeholder={placeholder}
            onChange={(e) => onName(e.currentTarget.value)} />
        )}
      </InlineField>
      <div style={{ display: 'flex', alignItems: 'center', height: 32, padding: '0 4px' }}>
        {!required && (
          <Checkbox label="none" aria-label={`none ${k}`} data-testid={`cfg-none-${k}`} value={none}
            title="The table has no such column"
            onChange={(e) => onChange(e.currentTarget.checked ? null : pv === null ? k : undefined)} />
        )}
      </div>
      <div>
        {choices && (
          <InlineField label="as" tooltip="How the column stores the value" disabled={none}>
            <Select width={16} inputId={`cfg-as-${k}`} aria-label={`as ${k}`} options={choices} value={shownAs}
              onChange={(v) => onAs(v.value ?? defaultAs(k)!)} />
          </InlineField>
        )}
      </div>
      <div style={{ display: 'flex', alignItems: 'center', height: 32 }}>
        {override !== undefined && (
          <Button variant="secondary" fill="text" size="sm" aria-label={`use preset ${k}`}
            tooltip={`Back to the preset's ${placeholder}`} onClick={() => onChange(undefined)}>
            Use preset
          </Button>
        )}
      </div>
    </>
  );
}

interface MappingProps {
  jsonData: PnlOptions;
  onChange: (jsonData: PnlOptions) => void;
}

/** The "Preset" select (with the chosen preset's description) and one row per logical column. */
export function PresetField({ jsonData, onChange }: MappingProps) {
  const preset = presetInfo(jsonData);
  const error = mappingErrors(jsonData).preset;
  return (
    <>
      <InlineField label="Preset" labelWidth={LABEL_WIDTH} invalid={Boolean(error)} error={error}
        tooltip="Fills the table and the whole column mapping for a trading bot; what you type below overrides it">
        <Select width={INPUT_WIDTH} inputId="cfg-preset" aria-label="Preset" options={PRESET_OPTIONS}
          value={preset.value} onChange={(v) => onChange(choosePreset(jsonData, v.value ?? 'default'))} />
      </InlineField>
      <div data-testid="cfg-preset-description"
        style={{ margin: `-2px 0 8px ${LABEL_WIDTH * 8 + 4}px`, opacity: 0.75, fontSize: '0.9em' }}>
        {preset.description}
      </div>
    </>
  );
}

function withoutColumns(jsonData: PnlOptions): PnlOptions {
  const next = { ...jsonData };
  delete next.columns;
  return next;
}

export function ColumnMapping({ jsonData, onChange }: MappingProps) {
  const preset = presetInfo(jsonData);
  const errors = mappingErrors(jsonData);
  const overridden = Object.keys(jsonData.columns ?? {}).length > 0;
  return (
    <div data-testid="cfg-mapping">
      <div style={{ marginBottom: 8, opacity: 0.75, fontSize: '0.9em' }}>
        Grey names are the {preset.label} preset&apos;s; type a name to override one. <b>none</b>: the table has no
        such column (queries that need it say so). <b>*</b> required.
      </div>
      <div style={{ display: 'grid', gridTemplateColumns: 'repeat(4, max-content)', alignItems: 'start' }}>
        {COLUMN_KEYS.map((k) => (
          <ColumnRow key={k} column={k} preset={preset} override={jsonData.columns?.[k]} error={errors[k]}
            onChange={(v) => onChange(withColumn(jsonData, k, v))} />
        ))}
      </div>
      {overridden && (
        <Button variant="secondary" size="sm" data-testid="cfg-mapping-reset"
          onClick={() => onChange(withoutColumns(jsonData))}>
          Use the preset for every column
        </Button>
      )}
    </div>
  );
}
