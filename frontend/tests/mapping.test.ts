import {
  choosePreset,
  columnError,
  effectiveValue,
  mappingErrors,
  minimize,
  namesValue,
  nameText,
  parseNames,
  presetInfo,
  sameValue,
} from '../src/mapping';
import { COLUMN_KEYS, LIST_COLUMNS, PRESETS, REQUIRED_COLUMNS } from '../src/types';

describe('mapping', () => {
  it('freqtrade preset is the contract of issue 12', () => {
    const f = PRESETS.find((p) => p.value === 'freqtrade')!;
    expect(f.table).toBe('trades');
    expect(f.columns).toEqual({
      trade_id: 'id', exchange: 'exchange', symbol: 'pair', strategy: 'strategy', entry_tag: 'enter_tag',
      exit_reason: 'exit_reason', account: null, side: { column: 'is_short', as: 'is_short' }, qty: 'amount',
      entry_price: 'open_rate', exit_price: 'close_rate', expected_entry_price: 'open_rate_requested',
      expected_exit_price: 'close_rate_requested', opened_at: 'open_date', closed_at: 'close_date',
      fees: ['fee_open_cost', 'fee_close_cost'], realized_pnl: 'close_profit_abs',
    });
    const d = presetInfo({});
    expect(d.value).toBe('default');
    expect(COLUMN_KEYS.every((k) => d.columns[k] === k)).toBe(true);
  });

  it('column errors mirror the backend rules', () => {
    for (const k of COLUMN_KEYS) {
      expect(columnError(k, 'x')).toBeUndefined();
      expect(columnError(k, '')).toBeUndefined();
      expect(columnError(k, null) === undefined).toBe(!REQUIRED_COLUMNS.includes(k));
      expect(columnError(k, ['a', 'b']) === undefined).toBe(LIST_COLUMNS.includes(k));
    }
    expect(REQUIRED_COLUMNS).toEqual(['closed_at', 'realized_pnl']);
    expect(columnError('fees', [])).toMatch(/needs one or more column names/);
    expect(columnError('fees', ['a', ''])).toMatch(/needs one or more column names/);
    expect(columnError('side', { column: 'is_short', as: 'is_short' })).toBeUndefined();
    expect(columnError('side', { column: 'x', as: 'epoch_s' })).toBe('side: "as" must be text, is_short or is_long');
    expect(columnError('opened_at', { column: 'x', as: 'epoch_ns' })).toBeUndefined();
    expect(columnError('closed_at', { column: 'x', as: 'is_long' })).toMatch(/timestamp, epoch_s, epoch_ms, epoch_us or epoch_ns/);
    expect(columnError('closed_at', { column: '', as: 'epoch_s' })).toMatch(/must name a column/);
    expect(columnError('symbol', { column: 'x', as: 'text' })).toMatch(/takes no "as"/);
    expect(columnError('qty', 5)).toMatch(/must be a column name/);
    expect(columnError('symbol', 'x'.repeat(127))).toBeUndefined();
    expect(columnError('symbol', 'x'.repeat(128))).toMatch(/fewer than 128 characters/);
    expect(columnError('fees', ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'])).toBeUndefined();
    expect(columnError('fees', ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'])).toBe('fees: at most 8 columns can be added');
    expect(columnError('side', { column: 'x', as: 'text', cast: 'int' })).toBe('side: only "column" and "as"');
    expect(mappingErrors({ preset: 'hummingbot' as any }).preset).toBe('unknown preset "hummingbot": default or freqtrade');
    expect(mappingErrors({ preset: 'freqtrade', columns: { fees: ['a', 'b'] } })).toEqual({});
  });

  it('names: " + " or "," separated; none, one or a list', () => {
    expect(parseNames(' a + b ,c ')).toEqual(['a', 'b', 'c']);
    expect(parseNames(' + ')).toEqual([]);
    expect(namesValue([])).toBeUndefined();
    expect(namesValue(['a'])).toBe('a');
    expect(namesValue(['a', 'b'])).toEqual(['a', 'b']);
    expect(nameText(['a', 'b'])).toBe('a + b');
    expect(nameText({ column: 'c', as: 'epoch_s' })).toBe('c');
    expect(nameText(null)).toBe('');
  });

  it('sameValue ignores the key order of {column, as}; effectiveValue falls back to the preset', () => {
    expect(sameValue({ column: 'a', as: 'is_short' }, { as: 'is_short', column: 'a' } as any)).toBe(true);
    expect(sameValue(null, undefined)).toBe(false);
    expect(sameValue(['a', 'b'], ['b', 'a'])).toBe(false);
    expect(effectiveValue({ preset: 'freqtrade', columns: { symbol: '' } }, 'symbol')).toBe('pair');
    expect(effectiveValue({ preset: 'freqtrade', columns: { account: 'acct' } }, 'account')).toBe('acct');
    expect(effectiveValue({ preset: 'freqtrade' }, 'account')).toBeNull();
  });

  it('minimize keeps only overrides and returns the same object when there are none to drop', () => {
    const jd = { preset: 'freqtrade' as const, columns: { qty: 'q' } };
    expect(minimize(jd)).toBe(jd);
    expect(minimize({ table: 'trades', columns: { side: 'side', fees: 'fees', qty: 'q' } })).toEqual({ columns: { qty: 'q' } });
    // an invalid value is never dropped silently
    expect(minimize({ columns: { closed_at: null } })).toEqual({ columns: { closed_at: null } });
  });

  it('choosePreset drops what followed the old preset and keeps real overrides', () => {
    expect(choosePreset({ table: 'trades', columns: { symbol: 'symbol', realized_pnl: 'net' } }, 'freqtrade'))
      .toEqual({ preset: 'freqtrade', columns: { realized_pnl: 'net' } });
    expect(choosePreset({ preset: 'freqtrade', columns: { side: { column: 'is_short', as: 'is_short' }, exchange: null } }, 'default'))
      .toEqual({ preset: 'default', columns: { exchange: null } });
  });
});
