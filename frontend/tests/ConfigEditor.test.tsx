import React, { useState } from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import type { DataSourceSettings } from '@grafana/data';

import { CACHE_FINGERPRINT_TOOLTIP, CACHE_MEGABYTES_TOOLTIP, cacheMegabytesError, ConfigEditor, portError, withDefaults } from '../src/components/ConfigEditor';
import { CACHE_MEGABYTES, COLUMN_KEYS, PnlOptions, PnlSecureData, SETTINGS_DEFAULTS } from '../src/types';

type Settings = DataSourceSettings<PnlOptions, PnlSecureData>;

function settings(over: Partial<Settings> = {}): Settings {
  return {
    id: 1, uid: 'u', orgId: 1, name: 'P&L', type: 'algotrading-pnl-datasource', typeName: '', typeLogoUrl: '',
    access: 'proxy', url: '', user: '', database: '', basicAuth: false, basicAuthUser: '', isDefault: false,
    withCredentials: false, readOnly: false, version: 1,
    jsonData: withDefaults({}), secureJsonFields: {}, ...over,
  } as Settings;
}

/** Renders the editor the way Grafana does: it owns the settings and re-renders on change. */
function renderEditor(initial: Settings) {
  const changes: Settings[] = [];
  function Host() {
    const [opts, setOpts] = useState(initial);
    return (
      <ConfigEditor
        options={opts}
        onOptionsChange={(o) => {
          changes.push(o);
          setOpts(o);
        }}
      />
    );
  }
  render(<Host />);
  return { changes, last: () => changes[changes.length - 1] };
}

describe('ConfigEditor', () => {
  it('fills the backend defaults into a new data source once; the 17 columns show the preset as placeholders, unsaved', () => {
    const { changes } = renderEditor(settings({ jsonData: {} as PnlOptions }));
    expect(changes).toHaveLength(1);
    const jd = changes[0].jsonData;
    for (const [k, v] of Object.entries(SETTINGS_DEFAULTS)) {
      expect(jd[k as keyof PnlOptions]).toEqual(v);
    }
    expect(jd).not.toHaveProperty('columns');
    expect(jd).not.toHaveProperty('table');
    expect(jd).not.toHaveProperty('preset');
    for (const k of COLUMN_KEYS) {
      const input = screen.getByTestId(`cfg-col-${k}`) as HTMLInputElement;
      expect(input.value).toBe('');
      expect(input.placeholder).toBe(k);
    }
    expect((screen.getByTestId('cfg-table') as HTMLInputElement).placeholder).toBe('trades');
    expect((screen.getByTestId('cfg-host') as HTMLInputElement).value).toBe('localhost');
    expect((screen.getByTestId('cfg-port') as HTMLInputElement).value).toBe('5432');
  });

  it('keeps existing settings and does not rewrite a complete data source', () => {
    const jd = withDefaults({ host: 'db.internal', port: 6432, columns: { realized_pnl: 'pnl_usd' } });
    const { changes } = renderEditor(settings({ jsonData: jd }));
    expect(changes).toHaveLength(0);
    expect((screen.getByTestId('cfg-col-realized_pnl') as HTMLInputElement).value).toBe('pnl_usd');
    expect((screen.getByTestId('cfg-host') as HTMLInputElement).value).toBe('db.internal');
  });

  it('a saved password shows as configured, is never echoed, and Reset clears it', () => {
    const { last } = renderEditor(settings({ secureJsonFields: { password: true } }));
    const pw = screen.getByLabelText('Password') as HTMLInputElement;
    expect(pw.value).toBe('configured');
    expect(pw.disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(last().secureJsonFields.password).toBe(false);
    expect(last().secureJsonData?.password).toBe('');
    const fresh = screen.getByLabelText('Password') as HTMLInputElement;
    expect(fresh.disabled).toBe(false);
    expect(fresh.value).toBe('');
  });

  it('a typed password goes to secureJsonData only', () => {
    const { last } = renderEditor(settings());
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 's3cret' } });
    expect(last().secureJsonData?.password).toBe('s3cret');
    expect(JSON.stringify(last().jsonData)).not.toContain('s3cret');
    expect((screen.getByLabelText('Password') as HTMLInputElement).type).toBe('password');
  });

  it('numbers are stored as numbers; clearing removes the key so the default applies', () => {
    const { last } = renderEditor(settings());
    fireEvent.change(screen.getByTestId('cfg-port'), { target: { value: '6543' } });
    expect(last().jsonData.port).toBe(6543);
    fireEvent.change(screen.getByTestId('cfg-riskFreeRate'), { target: { value: '0.04' } });
    expect(last().jsonData.riskFreeRate).toBe(0.04);
    fireEvent.change(screen.getByTestId('cfg-rowLimit'), { target: { value: '' } });
    expect('rowLimit' in last().jsonData).toBe(false);
    fireEvent.change(screen.getByTestId('cfg-col-qty'), { target: { value: 'quantity' } });
    expect(last().jsonData.columns).toEqual({ qty: 'quantity' });
  });

  it('port: one number, or one port per host of a host list (a string), checked against the host count', () => {
    const { last } = renderEditor(settings({ jsonData: withDefaults({ host: 'pg1,pg2' }) }));
    fireEvent.change(screen.getByTestId('cfg-port'), { target: { value: '5432,5433' } });
    expect(last().jsonData.port).toBe('5432,5433');
    expect(screen.queryByText(/ports for/)).toBeNull();
    fireEvent.change(screen.getByTestId('cfg-port'), { target: { value: '5432,5433,5434' } });
    expect(screen.getByText('3 ports for 2 hosts: give one port, or one per host')).toBeTruthy();
    fireEvent.change(screen.getByTestId('cfg-port'), { target: { value: 'x' } });
    expect(last().jsonData.port).toBe('5432,5433,5434');
    fireEvent.change(screen.getByTestId('cfg-port'), { target: { value: '6432' } });
    expect(last().jsonData.port).toBe(6432);
    expect(screen.queryByText(/ports for/)).toBeNull();
    fireEvent.change(screen.getByTestId('cfg-port'), { target: { value: '70000' } });
    expect(screen.getByText('a port is 1 to 65535')).toBeTruthy();
    expect(portError('pg1', '5432,')).toBeUndefined();
    expect(portError(undefined, '5432,5433')).toBe('2 ports for 1 host: give one port, or one per host');
  });

  it('disable mode hides the certificate fields', () => {
    renderEditor(settings({ secureJsonFields: { tlsCACert: true } }));
    expect(screen.queryByLabelText('CA certificate')).toBeNull();
    expect(screen.queryByLabelText('Client key')).toBeNull();
  });

  it('verify-full shows root cert path and CA/client PEM secrets', () => {
    const jd = { ...withDefaults({}), sslmode: 'verify-full' as const };
    const { last } = renderEditor(settings({ jsonData: jd, secureJsonFields: { tlsCACert: true } }));
    expect(screen.getByTestId('cfg-sslrootcert')).toBeTruthy();
    const ca = screen.getByLabelText('CA certificate') as HTMLTextAreaElement;
    expect(ca.value).toBe('configured');
    fireEvent.change(screen.getByLabelText('Client key'), { target: { value: '-----BEGIN PRIVATE KEY-----' } });
    expect(last().secureJsonData?.tlsClientKey).toBe('-----BEGIN PRIVATE KEY-----');
    expect(JSON.stringify(last().jsonData)).not.toContain('PRIVATE KEY');
  });
});

describe('ConfigEditor: cacheMegabytes', () => {
  /** The tooltip an InlineField label shows when its info icon is hovered. */
  async function tooltipOf(label: string): Promise<string> {
    const lab = screen.getAllByText(label).map((e) => e.closest('label')).find((l) => l !== null)!;
    const icon = lab.querySelector('svg') as Element; // the info icon (react-inlinesvg is a stand-in in jest)
    fireEvent.mouseEnter(icon);
    fireEvent.focus(icon);
    return (await screen.findByRole('tooltip')).textContent ?? '';
  }

  it('is a number field in Limits, the backend default 64 as placeholder, not filled into a new data source', () => {
    const { changes } = renderEditor(settings({ jsonData: {} as PnlOptions }));
    expect(changes[0].jsonData).not.toHaveProperty('cacheMegabytes');
    const input = screen.getByTestId('cfg-cacheMegabytes') as HTMLInputElement;
    expect(input.type).toBe('number');
    expect(input.value).toBe('');
    expect(input.placeholder).toBe(String(CACHE_MEGABYTES.default));
    expect(CACHE_MEGABYTES.default).toBe(64);
  });

  it('stores a number; 0 (off) is kept, not taken for empty; clearing removes the key; out of range is flagged', () => {
    const { last } = renderEditor(settings());
    const input = () => screen.getByTestId('cfg-cacheMegabytes');
    fireEvent.change(input(), { target: { value: '256' } });
    expect(last().jsonData.cacheMegabytes).toBe(256);
    expect(screen.queryByText('a whole number from 0 to 65536')).toBeNull();
    fireEvent.change(input(), { target: { value: '0' } });
    expect(last().jsonData.cacheMegabytes).toBe(0);
    expect('cacheMegabytes' in last().jsonData).toBe(true);
    fireEvent.change(input(), { target: { value: '' } });
    expect('cacheMegabytes' in last().jsonData).toBe(false);
    fireEvent.change(input(), { target: { value: '70000' } });
    expect(screen.getByText('a whole number from 0 to 65536')).toBeTruthy();
    fireEvent.change(input(), { target: { value: '65536' } });
    expect(screen.queryByText('a whole number from 0 to 65536')).toBeNull();
    expect(cacheMegabytesError(1.5)).toBe('a whole number from 0 to 65536');
    expect(cacheMegabytesError(-1)).toBe('a whole number from 0 to 65536');
    expect(cacheMegabytesError(undefined)).toBeUndefined();
  });

  it('an existing value is shown and kept; the tooltip says what is cached, that answers are verified, and 0 = off', async () => {
    const { changes } = renderEditor(settings({ jsonData: withDefaults({ cacheMegabytes: 512 }) }));
    expect(changes).toHaveLength(0);
    expect((screen.getByTestId('cfg-cacheMegabytes') as HTMLInputElement).value).toBe('512');
    const tip = await tooltipOf('Cache (MiB)');
    expect(tip).toBe(CACHE_MEGABYTES_TOOLTIP);
    expect(tip).toMatch(/trades already read/);
    expect(tip).toMatch(/checked against the table/);
    expect(tip).toMatch(/Default 64 MiB; 0 turns the cache off/);
  });

  it('cacheFingerprint: a switch, off by default and then left out; on stores true, off again removes the key', async () => {
    const { changes, last } = renderEditor(settings({ jsonData: {} as PnlOptions }));
    expect(changes[0].jsonData).not.toHaveProperty('cacheFingerprint');
    const sw = () => screen.getByTestId('cfg-cacheFingerprint') as HTMLInputElement;
    expect(sw().checked).toBe(false);
    fireEvent.click(sw());
    expect(last().jsonData.cacheFingerprint).toBe(true);
    fireEvent.click(sw());
    expect('cacheFingerprint' in last().jsonData).toBe(false);
    const tip = await tooltipOf('Cache fingerprint');
    expect(tip).toBe(CACHE_FINGERPRINT_TOOLTIP);
    expect(tip).toMatch(/sql\/cache_changes\.sql/);
  });
});
