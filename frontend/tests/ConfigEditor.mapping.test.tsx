/*
 * The config editor's table/column mapping (issue 12): the preset, "none",
 * column lists, `as`, validation, and that jsonData keeps only overrides.
 */
import React, { useState } from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import type { DataSourceSettings } from '@grafana/data';

import { ConfigEditor, withDefaults } from '../src/components/ConfigEditor';
import { AS_CHOICES, COLUMN_KEYS, PnlOptions, PnlSecureData, PRESETS, TARGET_SESSION_ATTRS } from '../src/types';

type Settings = DataSourceSettings<PnlOptions, PnlSecureData>;

function settings(jsonData: PnlOptions): Settings {
  return {
    id: 1, uid: 'u', orgId: 1, name: 'P&L', type: 'algotrading-pnl-datasource', typeName: '', typeLogoUrl: '',
    access: 'proxy', url: '', user: '', database: '', basicAuth: false, basicAuthUser: '', isDefault: false,
    withCredentials: false, readOnly: false, version: 1, jsonData, secureJsonFields: {},
  } as Settings;
}

function renderEditor(jsonData: PnlOptions) {
  const changes: Settings[] = [];
  function Host() {
    const [opts, setOpts] = useState(settings(jsonData));
    return <ConfigEditor options={opts} onOptionsChange={(o) => { changes.push(o); setOpts(o); }} />;
  }
  render(<Host />);
  return { changes, jd: () => (changes.length ? changes[changes.length - 1].jsonData : jsonData) };
}

/** Picks an option of a react-select; an option's text is its label followed by its description. */
async function pick(inputId: string, label: string, options: Array<{ label: string; description?: string }>) {
  const want = options.find((o) => o.label === label)!;
  fireEvent.keyDown(document.getElementById(inputId)!, { key: 'ArrowDown' });
  let opt: HTMLElement | undefined;
  await waitFor(() => {
    opt = screen.queryAllByRole('option').find((o) => o.textContent === want.label + (want.description ?? ''));
    expect(opt).toBeTruthy();
  });
  fireEvent.click(opt!);
}

const col = (k: string) => screen.getByTestId(`cfg-col-${k}`) as HTMLInputElement;
const none = (k: string) => screen.queryByTestId(`cfg-none-${k}`) as HTMLInputElement | null;
const type = (k: string, v: string) => fireEvent.change(col(k), { target: { value: v } });
const shown = (inputId: string) => document.getElementById(inputId)!.closest('[class*="-input-wrapper"]')?.parentElement?.textContent;

describe('ConfigEditor column mapping', () => {
  it('choosing a preset saves `preset` only and shows its mapping as placeholders', async () => {
    const { jd } = renderEditor(withDefaults({}));
    expect(screen.getByTestId('cfg-preset-description').textContent).toBe(PRESETS[0].description);
    await pick('cfg-preset', 'freqtrade', PRESETS);
    expect(jd().preset).toBe('freqtrade');
    expect(jd()).not.toHaveProperty('columns');
    expect(jd()).not.toHaveProperty('table');
    expect(screen.getByTestId('cfg-preset-description').textContent).toMatch(/^freqtrade's trades table/);
    expect(col('symbol').placeholder).toBe('pair');
    expect(col('realized_pnl').placeholder).toBe('close_profit_abs');
    expect(col('fees').placeholder).toBe('fee_open_cost + fee_close_cost');
    expect(col('side').placeholder).toBe('is_short');
    expect(shown('cfg-as-side')).toContain('is_short');
    // account: none in freqtrade
    expect(col('account').placeholder).toBe('none');
    expect(col('account').disabled).toBe(true);
    expect(none('account')!.checked).toBe(true);
    expect((screen.getByTestId('cfg-table') as HTMLInputElement).placeholder).toBe('trades');
  });

  it("an older editor's full mapping is trimmed to its overrides on open; a preset change keeps real overrides", async () => {
    const legacy: PnlOptions = {
      ...withDefaults({}), table: 'trades',
      columns: { ...Object.fromEntries(COLUMN_KEYS.map((k) => [k, k])), realized_pnl: 'pnl_usd' },
    };
    const { changes, jd } = renderEditor(legacy);
    expect(changes).toHaveLength(1);
    expect(jd().columns).toEqual({ realized_pnl: 'pnl_usd' });
    expect(jd()).not.toHaveProperty('table');
    await pick('cfg-preset', 'freqtrade', PRESETS);
    expect(jd().columns).toEqual({ realized_pnl: 'pnl_usd' });
    expect(col('realized_pnl').value).toBe('pnl_usd');
    await pick('cfg-preset', 'Default', PRESETS);
    expect(jd().preset).toBe('default');
    expect(jd().columns).toEqual({ realized_pnl: 'pnl_usd' });
  });

  it('"none" saves null and disables the name; unticking returns to the preset', () => {
    const { jd } = renderEditor(withDefaults({}));
    fireEvent.click(none('exchange')!);
    expect(jd().columns).toEqual({ exchange: null });
    expect(col('exchange').disabled).toBe(true);
    expect(col('exchange').placeholder).toBe('exchange');
    fireEvent.click(none('exchange')!);
    expect(jd()).not.toHaveProperty('columns');
    expect(col('exchange').disabled).toBe(false);
    fireEvent.click(none('fees')!);
    expect(jd().columns).toEqual({ fees: null });
    expect(col('fees').disabled).toBe(true);
  });

  it("unticking none on a column the preset lacks (freqtrade's account) names the column", () => {
    const { jd } = renderEditor(withDefaults({ preset: 'freqtrade' }));
    fireEvent.click(none('account')!);
    expect(jd().columns).toEqual({ account: 'account' });
    expect(col('account').value).toBe('account');
    type('account', 'wallet');
    expect(jd().columns).toEqual({ account: 'wallet' });
    fireEvent.click(screen.getByRole('button', { name: 'use preset account' }));
    expect(jd()).not.toHaveProperty('columns');
    expect(none('account')!.checked).toBe(true);
  });

  it('required columns (closed_at, realized_pnl) offer no none; a saved null is an error until reset', () => {
    const { jd } = renderEditor(withDefaults({ columns: { closed_at: null, realized_pnl: null } }));
    expect(none('closed_at')).toBeNull();
    expect(none('realized_pnl')).toBeNull();
    expect(none('opened_at')).not.toBeNull();
    expect(screen.getByText('closed_at is required: it cannot be none')).toBeTruthy();
    expect(screen.getByText('realized_pnl is required: it cannot be none')).toBeTruthy();
    expect(col('realized_pnl').disabled).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'use preset closed_at' }));
    expect(jd().columns).toEqual({ realized_pnl: null });
    expect(screen.queryByText('closed_at is required: it cannot be none')).toBeNull();
    type('realized_pnl', 'pnl');
    expect(jd().columns).toEqual({ realized_pnl: 'pnl' });
    expect(screen.queryByText(/is required/)).toBeNull();
  });

  it('several names in a number column save a list; one saves a string; typing is kept', () => {
    const { jd } = renderEditor(withDefaults({}));
    type('fees', 'fee_open_cost +');
    expect(jd().columns).toEqual({ fees: 'fee_open_cost' });
    expect(col('fees').value).toBe('fee_open_cost +');
    type('fees', 'fee_open_cost + fee_close_cost');
    expect(jd().columns).toEqual({ fees: ['fee_open_cost', 'fee_close_cost'] });
    type('qty', 'amount, filled');
    expect(jd().columns?.qty).toEqual(['amount', 'filled']);
    type('fees', '');
    expect(jd().columns).toEqual({ qty: ['amount', 'filled'] });
    // a text column takes its input as one name
    type('symbol', 'a+b');
    expect(jd().columns?.symbol).toBe('a+b');
  });

  it('a list on a column that takes one name, or a bad `as`, is shown as an error', () => {
    renderEditor(withDefaults({
      columns: { symbol: ['a', 'b'] as unknown as string, side: { column: 'dir', as: 'epoch_ms' }, qty: { column: 'q', as: 'text' } },
    }));
    expect(screen.getByText(/symbol takes one column, not a list/)).toBeTruthy();
    expect(screen.getByText('side: "as" must be text, is_short or is_long')).toBeTruthy();
    expect(screen.getByText(/qty takes no "as"/)).toBeTruthy();
  });

  it('`as` saves the object form; back to the default saves the plain name; the preset\'s own value is not saved', async () => {
    const { jd } = renderEditor(withDefaults({}));
    await pick('cfg-as-side', 'is_long', AS_CHOICES.side!);
    expect(jd().columns).toEqual({ side: { column: 'side', as: 'is_long' } });
    type('side', 'direction');
    expect(jd().columns).toEqual({ side: { column: 'direction', as: 'is_long' } });
    await pick('cfg-as-side', 'text', AS_CHOICES.side!);
    expect(jd().columns).toEqual({ side: 'direction' });
    await pick('cfg-as-closed_at', 'epoch_ms', AS_CHOICES.closed_at!);
    expect(jd().columns?.closed_at).toEqual({ column: 'closed_at', as: 'epoch_ms' });
    await pick('cfg-as-opened_at', 'epoch_ns', AS_CHOICES.opened_at!);
    expect(jd().columns?.opened_at).toEqual({ column: 'opened_at', as: 'epoch_ns' });
    await pick('cfg-as-closed_at', 'timestamp', AS_CHOICES.closed_at!);
    expect(jd().columns).not.toHaveProperty('closed_at');
  });

  it("with freqtrade, side's is_short comes from the preset; text overrides it, is_short again drops the override", async () => {
    const { jd } = renderEditor(withDefaults({ preset: 'freqtrade' }));
    await pick('cfg-as-side', 'text', AS_CHOICES.side!);
    expect(jd().columns).toEqual({ side: 'is_short' });
    await pick('cfg-as-side', 'is_short', AS_CHOICES.side!);
    expect(jd()).not.toHaveProperty('columns');
    type('side', 'short_flag');
    expect(jd().columns).toEqual({ side: { column: 'short_flag', as: 'is_short' } });
  });

  it('loaded settings of every form show as they are and are saved back unchanged', () => {
    const columns: PnlOptions['columns'] = {
      trade_id: 'tid',
      exchange: null,
      account: 'wallet',
      side: { column: 'is_long', as: 'is_long' },
      opened_at: { column: 'open_ts', as: 'epoch_s' },
      closed_at: { as: 'epoch_us', column: 'close_ts' },
      fees: ['f1', 'f2', 'f3'],
      realized_pnl: 'profit',
    };
    const loaded = withDefaults({ preset: 'freqtrade', table: 'bot_trades', columns, targetSessionAttrs: 'read-write' });
    expect(loaded.columns).toEqual(columns);
    const { changes, jd } = renderEditor(loaded);
    expect(changes).toHaveLength(0);
    expect(col('trade_id').value).toBe('tid');
    expect(none('exchange')!.checked).toBe(true);
    expect(col('exchange').disabled).toBe(true);
    expect(none('account')!.checked).toBe(false);
    expect(col('account').value).toBe('wallet');
    expect(col('side').value).toBe('is_long');
    expect(shown('cfg-as-side')).toContain('is_long');
    expect(col('opened_at').value).toBe('open_ts');
    expect(shown('cfg-as-opened_at')).toContain('epoch_s');
    expect(shown('cfg-as-closed_at')).toContain('epoch_us');
    expect(col('fees').value).toBe('f1 + f2 + f3');
    expect(col('realized_pnl').value).toBe('profit');
    expect((screen.getByTestId('cfg-table') as HTMLInputElement).value).toBe('bot_trades');
    expect(shown('cfg-targetSessionAttrs')).toContain('read-write');
    expect(shown('cfg-preset')).toContain('freqtrade');
    expect(screen.queryAllByRole('alert')).toHaveLength(0);
    fireEvent.change(screen.getByTestId('cfg-port'), { target: { value: '6432' } });
    expect(jd().columns).toEqual(columns);
    expect(jd().preset).toBe('freqtrade');
    expect(jd().table).toBe('bot_trades');
    expect(JSON.parse(JSON.stringify(jd().columns))).toEqual(columns);
  });

  it("'' (the preset's name) and values equal to the preset's show as placeholders and are trimmed on open", () => {
    const { changes, jd } = renderEditor({ ...withDefaults({ preset: 'freqtrade' }),
      columns: { symbol: '', account: null, fees: ['fee_open_cost', 'fee_close_cost'], qty: 'qty' } });
    expect(changes).toHaveLength(1);
    expect(jd().columns).toEqual({ qty: 'qty' });
    expect(col('symbol').value).toBe('');
    expect(col('symbol').placeholder).toBe('pair');
    expect(col('fees').value).toBe('');
    expect(none('account')!.checked).toBe(true);
  });

  it('"Use the preset for every column" drops every override', () => {
    const { jd } = renderEditor(withDefaults({ columns: { qty: 'amount', exchange: null } }));
    fireEvent.click(screen.getByTestId('cfg-mapping-reset'));
    expect(jd()).not.toHaveProperty('columns');
    expect(screen.queryByTestId('cfg-mapping-reset')).toBeNull();
  });

  it('targetSessionAttrs: a choice is saved, any (the default) removes the key', async () => {
    const { jd } = renderEditor(withDefaults({ host: 'pg1,pg2' }));
    expect(shown('cfg-targetSessionAttrs')).toContain('any');
    expect(jd()).not.toHaveProperty('targetSessionAttrs');
    await pick('cfg-targetSessionAttrs', 'prefer-standby', TARGET_SESSION_ATTRS);
    expect(jd().targetSessionAttrs).toBe('prefer-standby');
    await pick('cfg-targetSessionAttrs', 'read-only', TARGET_SESSION_ATTRS);
    expect(jd().targetSessionAttrs).toBe('read-only');
    await pick('cfg-targetSessionAttrs', 'any', TARGET_SESSION_ATTRS);
    expect(jd()).not.toHaveProperty('targetSessionAttrs');
    expect(screen.queryByText(/unknown target session/)).toBeNull();
  });

  it('an unknown targetSessionAttrs is flagged', () => {
    renderEditor(withDefaults({ targetSessionAttrs: 'replica' as any }));
    expect(screen.getByText(/^unknown target session "replica": any, read-write/)).toBeTruthy();
  });
});
