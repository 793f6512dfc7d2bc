/*
 * mapping.ts — the table/column mapping of the settings (jsonData `preset`,
 * `table`, `columns`) as the config editor reads and writes it.
 *
 * A preset fills the table and every column; jsonData holds only what
 * overrides it, so a saved data source stays small and follows the preset.
 * The checks here mirror the backend's rules for the mapping (docs/query-model.md
 * "Data-source settings") so the editor says what Save & test would reject.
 */
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
} from './types';

/** The backend's limits: a name is shorter than 128 characters; a list adds 1 to 8 columns. */
const MAX_NAME = 128;
const MAX_LIST = 8;

/** The preset the settings name (absent or unknown = default). */
export function presetInfo(jsonData: PnlOptions | undefined): PresetInfo {
  return PRESETS.find((p) => p.value === jsonData?.preset) ?? PRESETS[0];
}

/** The default `as` of a column that takes one (a plain name means it), else undefined. */
export function defaultAs(key: ColumnKey): string | undefined {
  return AS_CHOICES[key]?.[0].value;
}

function isAs(v: unknown): v is { column: unknown; as: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The column name(s) of a value as the editor shows them: lists joined by " + ". */
export function nameText(v: ColumnValue | undefined): string {
  if (typeof v === 'string') {
    return v;
  }
  if (Array.isArray(v)) {
    return v.join(' + ');
  }
  if (isAs(v)) {
    return typeof v.column === 'string' ? v.column : '';
  }
  return '';
}

/** "a + b", "a, b" → ['a', 'b']. */
export function parseNames(text: string): string[] {
  return text
    .split(/[+,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The smallest value for a list of names: none → undefined (the preset's), one → a string, more → the list. */
export function namesValue(names: string[]): ColumnValue | undefined {
  if (names.length === 0) {
    return undefined;
  }
  return names.length === 1 ? names[0] : names;
}

/** The `as` a value reads its column with (the default for a plain name). */
export function asOf(key: ColumnKey, v: ColumnValue | undefined): string | undefined {
  if (isAs(v) && typeof v.as === 'string') {
    return v.as;
  }
  return defaultAs(key);
}

/** Equality of two column values (an object's key order does not matter). */
export function sameValue(a: ColumnValue | undefined, b: ColumnValue | undefined): boolean {
  const canon = (v: ColumnValue | undefined) =>
    v === undefined ? 'undefined' : isAs(v) ? JSON.stringify({ column: v.column, as: v.as }) : JSON.stringify(v);
  return canon(a) === canon(b);
}

/** What the backend reads for a column: the override, or the preset's (an empty name = the preset's). */
export function effectiveValue(jsonData: PnlOptions | undefined, key: ColumnKey): ColumnValue {
  const override = jsonData?.columns?.[key];
  return override === undefined || override === '' ? presetInfo(jsonData).columns[key] : override;
}

function orList(words: string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** Why an override of `key` would be rejected, or undefined when it is valid. */
export function columnError(key: ColumnKey, v: unknown): string | undefined {
  if (v === undefined) {
    return undefined;
  }
  if (typeof v === 'string') {
    return v.length < MAX_NAME ? undefined : `${key}: a column name has fewer than ${MAX_NAME} characters`;
  }
  if (v === null) {
    return REQUIRED_COLUMNS.includes(key) ? `${key} is required: it cannot be none` : undefined;
  }
  if (Array.isArray(v)) {
    if (!LIST_COLUMNS.includes(key)) {
      return `${key} takes one column, not a list (only number columns add several)`;
    }
    if (v.length === 0 || v.some((c) => typeof c !== 'string' || c.trim() === '')) {
      return `${key}: a list needs one or more column names`;
    }
    if (v.length > MAX_LIST) {
      return `${key}: at most ${MAX_LIST} columns can be added`;
    }
    if (v.some((c) => c.length >= MAX_NAME)) {
      return `${key}: a column name has fewer than ${MAX_NAME} characters`;
    }
    return undefined;
  }
  if (isAs(v)) {
    const choices = AS_CHOICES[key];
    if (!choices) {
      return `${key} takes no "as" (only side, opened_at and closed_at do)`;
    }
    if (Object.keys(v).some((f) => f !== 'column' && f !== 'as')) {
      return `${key}: only "column" and "as"`;
    }
    if (typeof v.column !== 'string' || v.column.trim() === '') {
      return `${key}: "column" must name a column`;
    }
    if (v.column.length >= MAX_NAME) {
      return `${key}: a column name has fewer than ${MAX_NAME} characters`;
    }
    if (!choices.some((c) => c.value === v.as)) {
      return `${key}: "as" must be ${orList(choices.map((c) => c.value))}`;
    }
    return undefined;
  }
  return `${key} must be a column name, none, a list of columns or {"column", "as"}`;
}

/** Every mapping error of the settings: per column, and `preset` for an unknown preset. */
export function mappingErrors(jsonData: PnlOptions | undefined): Partial<Record<ColumnKey | 'preset', string>> {
  const errors: Partial<Record<ColumnKey | 'preset', string>> = {};
  const preset = jsonData?.preset as unknown;
  if (preset !== undefined && !PRESETS.some((p) => p.value === preset)) {
    errors.preset = `unknown preset "${String(preset)}": ${orList(PRESETS.map((p) => p.value))}`;
  }
  for (const k of COLUMN_KEYS) {
    const e = columnError(k, jsonData?.columns?.[k]);
    if (e) {
      errors[k] = e;
    }
  }
  return errors;
}

/** Sets (or with undefined removes) one override; an empty `columns` is dropped. */
export function withColumn(jsonData: PnlOptions, key: ColumnKey, v: ColumnValue | undefined): PnlOptions {
  const columns = { ...(jsonData.columns ?? {}) };
  if (v === undefined) {
    delete columns[key];
  } else {
    columns[key] = v;
  }
  const next: PnlOptions = { ...jsonData, columns };
  if (Object.keys(columns).length === 0) {
    delete next.columns;
  }
  return next;
}

/**
 * Drops the overrides that say what `preset` says anyway (the table, a
 * column): what older versions of the editor saved for every column, and what
 * is left when a value is set back to the preset's. Returns the same object
 * when nothing changes.
 */
export function minimize(jsonData: PnlOptions, preset: PresetInfo = presetInfo(jsonData)): PnlOptions {
  let next = jsonData;
  if (next.table !== undefined && (next.table === preset.table || next.table === '')) {
    next = { ...next };
    delete next.table;
  }
  for (const k of COLUMN_KEYS) {
    const v = next.columns?.[k];
    if (v === '' || (v !== undefined && !columnError(k, v) && sameValue(v, preset.columns[k]))) {
      next = withColumn(next, k, undefined);
    }
  }
  if (next.columns && Object.keys(next.columns).length === 0) {
    next = { ...next };
    delete next.columns;
  }
  return next;
}

/**
 * Chooses a preset: overrides equal to the previous preset's values were not
 * real overrides (they follow the preset), so they go; real ones stay.
 */
export function choosePreset(jsonData: PnlOptions, preset: Preset): PnlOptions {
  const before = minimize(jsonData, presetInfo(jsonData));
  const next = { ...before, preset };
  return minimize(next, presetInfo(next));
}
