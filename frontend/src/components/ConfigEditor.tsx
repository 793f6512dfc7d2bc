/*
 * ConfigEditor.tsx — the data source's settings page.
 *
 * Writes exactly the keys of docs/query-model.md "Data-source settings":
 * plain settings into jsonData, the password and PEM contents into
 * secureJsonData. Secrets are write-only: Grafana never sends them back, only
 * secureJsonFields.<key> = true, so a saved secret shows as "configured" and
 * is never echoed; Reset clears it (field false, value ''), as Grafana's own
 * SQL editors do. A new data source gets the backend's defaults filled in once
 * so the user sees what will be used — except the table and columns: those
 * come from the preset and jsonData keeps only what overrides it (an older
 * editor's full mapping is trimmed to its overrides once, on open).
 */
import React, { useEffect } from 'react';
import { DataSourcePluginOptionsEditorProps, SelectableValue } from '@grafana/data';
import {
  CollapsableSection,
  FieldSet,
  InlineField,
  InlineSwitch,
  Input,
  RadioButtonGroup,
  SecretInput,
  SecretTextArea,
  Select,
} from '@grafana/ui';

import {
  CACHE_MEGABYTES,
  PnlOptions,
  PnlSecureData,
  SETTINGS_DEFAULTS,
  SslMode,
  TARGET_SESSION_ATTRS,
  TargetSessionAttrs,
  TradingDays,
} from '../types';
import { minimize, presetInfo } from '../mapping';
import { ColumnMapping, PresetField } from './ColumnMapping';
import { INPUT_WIDTH, LABEL_WIDTH, NumberField, TextField } from './fields';

export type ConfigEditorProps = DataSourcePluginOptionsEditorProps<PnlOptions, PnlSecureData>;

const SSL_MODES: Array<SelectableValue<SslMode>> = [
  { value: 'disable', label: 'disable', description: 'No TLS' },
  { value: 'require', label: 'require', description: 'TLS, certificate not verified' },
  { value: 'verify-ca', label: 'verify-ca', description: 'TLS, server certificate signed by a trusted CA' },
  { value: 'verify-full', label: 'verify-full', description: 'TLS, trusted CA and host name matches' },
];

const TRADING_DAYS: Array<SelectableValue<TradingDays>> = [
  { value: 'all', label: 'All days' },
  { value: 'weekdays', label: 'Weekdays' },
];

type SecretKey = keyof PnlSecureData;

/** "5432" → 5432, "5432,5433" → kept as typed (one port per host), '' → undefined; null: not a port text. */
export function parsePort(text: string): number | string | undefined | null {
  const t = text.replace(/\s+/g, '');
  if (t === '') {
    return undefined;
  }
  if (/^\d+$/.test(t)) {
    return Number(t);
  }
  return /^[\d,]+$/.test(t) ? t : null;
}

/** What the backend would reject in host/port: a bad port, or a port list whose count is not the host count. */
export function portError(host: string | undefined, port: number | string | undefined): string | undefined {
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (typeof port === 'number') {
    return ok(port) ? undefined : 'a port is 1 to 65535';
  }
  if (typeof port !== 'string') {
    return undefined;
  }
  const ports = port.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (ports.some((p) => !/^\d+$/.test(p) || !ok(Number(p)))) {
    return 'ports are 1 to 65535, separated by commas';
  }
  const hosts = (host ?? SETTINGS_DEFAULTS.host).split(',').filter((h) => h.trim() !== '').length;
  if (ports.length !== hosts) {
    return `${ports.length} ports for ${hosts} host${hosts === 1 ? '' : 's'}: give one port, or one per host`;
  }
  return undefined;
}

/** What the backend would reject in cacheMegabytes: a whole number from 0 to 65536. */
export function cacheMegabytesError(v: number | undefined): string | undefined {
  const { min, max } = CACHE_MEGABYTES;
  return v === undefined || (Number.isInteger(v) && v >= min && v <= max) ? undefined : `a whole number from ${min} to ${max}`;
}

export const CACHE_MEGABYTES_TOOLTIP =
  'Memory per data source for the cache of trades already read (statistics, breakdown, drawdown, drawdown-episode and ' +
  'daily queries): a refresh then reads only the trades added since. Every cached answer is first checked against the ' +
  'table in the same snapshot as the new trades (through the change log of sql/cache_changes.sql, or a fingerprint); ' +
  `if older trades changed, they are read again. Default ${CACHE_MEGABYTES.default} MiB; 0 turns the cache off`;

export const CACHE_FINGERPRINT_TOOLTIP =
  'Without the change log (sql/cache_changes.sql) installed, check cached trades by a fingerprint that Postgres ' +
  'computes over them: it saves sending them again and the plugin\'s work, but scans them in Postgres — worth it ' +
  'when the database is far away or the link slow; off (the default), the cache is used only with the change log';

const SESSION_ATTRS: Array<SelectableValue<TargetSessionAttrs>> = TARGET_SESSION_ATTRS.map((a) => ({ ...a }));

/**
 * jsonData with every missing default key added (existing values win) and
 * the mapping trimmed to what overrides the preset.
 */
export function withDefaults(jsonData: PnlOptions | undefined): PnlOptions {
  return minimize({ ...SETTINGS_DEFAULTS, ...(jsonData ?? {}) });
}

function needsDefaults(jsonData: PnlOptions | undefined): boolean {
  if (!jsonData) {
    return true;
  }
  const keys = Object.keys(SETTINGS_DEFAULTS) as Array<keyof PnlOptions>;
  return keys.some((k) => jsonData[k] === undefined) || minimize(jsonData) !== jsonData;
}

export function ConfigEditor(props: ConfigEditorProps) {
  const { options, onOptionsChange } = props;
  const jsonData = options.jsonData ?? ({} as PnlOptions);
  const secureFields = options.secureJsonFields ?? {};
  const secureData = (options.secureJsonData ?? {}) as PnlSecureData;

  // Fill in the defaults once, on a data source that lacks them.
  useEffect(() => {
    if (needsDefaults(options.jsonData)) {
      onOptionsChange({ ...options, jsonData: withDefaults(options.jsonData) });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const setJson = <K extends keyof PnlOptions>(key: K, value: PnlOptions[K] | undefined) => {
    const next: PnlOptions = { ...jsonData };
    if (value === undefined) {
      delete next[key];
    } else {
      next[key] = value;
    }
    onOptionsChange({ ...options, jsonData: next });
  };

  const setJsonData = (next: PnlOptions) => onOptionsChange({ ...options, jsonData: next });

  const setSecret = (key: SecretKey, value: string) => {
    onOptionsChange({ ...options, secureJsonData: { ...secureData, [key]: value } });
  };

  const resetSecret = (key: SecretKey) => {
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureFields, [key]: false },
      secureJsonData: { ...secureData, [key]: '' },
    });
  };

  const sslmode = jsonData.sslmode ?? SETTINGS_DEFAULTS.sslmode;
  const portErr = portError(jsonData.host, jsonData.port);
  const tsa = jsonData.targetSessionAttrs;
  const tsaErr = tsa === undefined || TARGET_SESSION_ATTRS.some((a) => a.value === tsa)
    ? undefined
    : `unknown target session "${tsa}": ${TARGET_SESSION_ATTRS.map((a) => a.value).join(', ')}`;
  const verifies = sslmode === 'verify-ca' || sslmode === 'verify-full';

  return (
    <>
      <FieldSet label="Connection">
        <TextField label="Host"
          tooltip="Postgres host name or unix-socket directory; several hosts (a primary and its replicas) separated by commas"
          value={jsonData.host}
          placeholder={SETTINGS_DEFAULTS.host} testId="cfg-host" onChange={(v) => setJson('host', v)} />
        <InlineField label="Port" labelWidth={LABEL_WIDTH} invalid={Boolean(portErr)} error={portErr}
          tooltip="One port for every host, or one per host separated by commas (5432,5433)">
          <Input width={INPUT_WIDTH} aria-label="Port" data-testid="cfg-port" value={jsonData.port ?? ''}
            placeholder={String(SETTINGS_DEFAULTS.port)} onChange={(e) => {
              const p = parsePort(e.currentTarget.value);
              if (p !== null) {
                setJson('port', p);
              }
            }} />
        </InlineField>
        <TextField label="Database" value={jsonData.database} placeholder={SETTINGS_DEFAULTS.database}
          testId="cfg-database" onChange={(v) => setJson('database', v)} />
        <TextField label="User" value={jsonData.user} placeholder={SETTINGS_DEFAULTS.user} testId="cfg-user"
          onChange={(v) => setJson('user', v)} />
        <InlineField label="Password" labelWidth={LABEL_WIDTH} tooltip="Stored encrypted; never sent back to the browser">
          <SecretInput
            width={INPUT_WIDTH}
            aria-label="Password"
            data-testid="cfg-password"
            placeholder="Password"
            isConfigured={Boolean(secureFields.password)}
            value={secureData.password ?? ''}
            onChange={(e) => setSecret('password', e.currentTarget.value)}
            onReset={() => resetSecret('password')}
          />
        </InlineField>
        <InlineField label="Target session" labelWidth={LABEL_WIDTH} invalid={Boolean(tsaErr)} error={tsaErr}
          tooltip="libpq target_session_attrs: which of several comma-separated hosts to use (e.g. prefer-standby reads from a replica)">
          <Select
            width={INPUT_WIDTH}
            inputId="cfg-targetSessionAttrs"
            aria-label="Target session"
            options={SESSION_ATTRS}
            value={jsonData.targetSessionAttrs ?? 'any'}
            onChange={(v) => setJson('targetSessionAttrs', v.value === 'any' ? undefined : v.value)}
          />
        </InlineField>
      </FieldSet>

      <FieldSet label="TLS">
        <InlineField label="TLS mode" labelWidth={LABEL_WIDTH} tooltip="libpq sslmode">
          <Select
            width={INPUT_WIDTH}
            inputId="cfg-sslmode"
            aria-label="TLS mode"
            options={SSL_MODES}
            value={sslmode}
            onChange={(v) => setJson('sslmode', v.value ?? 'disable')}
          />
        </InlineField>
        {verifies && (
          <TextField label="Root certificate path" tooltip="CA file on the Grafana host (or paste the CA below)"
            value={jsonData.sslRootCertPath} placeholder="/etc/ssl/certs/pg-ca.pem" testId="cfg-sslrootcert"
            onChange={(v) => setJson('sslRootCertPath', v)} />
        )}
        {verifies && (
          <InlineField label="CA certificate" labelWidth={LABEL_WIDTH} tooltip="PEM contents, stored encrypted">
            <SecretTextArea rows={3} cols={52} aria-label="CA certificate" placeholder="-----BEGIN CERTIFICATE-----"
              isConfigured={Boolean(secureFields.tlsCACert)} value={secureData.tlsCACert ?? ''}
              onChange={(e) => setSecret('tlsCACert', e.currentTarget.value)} onReset={() => resetSecret('tlsCACert')} />
          </InlineField>
        )}
        {sslmode !== 'disable' && (
          <>
            <InlineField label="Client certificate" labelWidth={LABEL_WIDTH} tooltip="PEM contents, stored encrypted">
              <SecretTextArea rows={3} cols={52} aria-label="Client certificate" placeholder="-----BEGIN CERTIFICATE-----"
                isConfigured={Boolean(secureFields.tlsClientCert)} value={secureData.tlsClientCert ?? ''}
                onChange={(e) => setSecret('tlsClientCert', e.currentTarget.value)}
                onReset={() => resetSecret('tlsClientCert')} />
            </InlineField>
            <InlineField label="Client key" labelWidth={LABEL_WIDTH} tooltip="PEM contents, stored encrypted">
              <SecretTextArea rows={3} cols={52} aria-label="Client key" placeholder="-----BEGIN PRIVATE KEY-----"
                isConfigured={Boolean(secureFields.tlsClientKey)} value={secureData.tlsClientKey ?? ''}
                onChange={(e) => setSecret('tlsClientKey', e.currentTarget.value)}
                onReset={() => resetSecret('tlsClientKey')} />
            </InlineField>
          </>
        )}
      </FieldSet>

      <FieldSet label="Trade table">
        <TextField label="Schema" tooltip="Empty = the connection's search_path" value={jsonData.schema}
          placeholder="search_path" testId="cfg-schema" onChange={(v) => setJson('schema', v)} />
        <PresetField jsonData={jsonData} onChange={setJsonData} />
        <TextField label="Table" tooltip="Empty = the preset's table" value={jsonData.table}
          placeholder={presetInfo(jsonData).table} testId="cfg-table" onChange={(v) => setJson('table', v)} />
        <CollapsableSection label="Column mapping" isOpen={true}>
          <ColumnMapping jsonData={jsonData} onChange={setJsonData} />
        </CollapsableSection>
      </FieldSet>

      <FieldSet label="Analytics defaults">
        <NumberField label="Initial capital" tooltip="Equity before the first trade" value={jsonData.initialCapital}
          placeholder={String(SETTINGS_DEFAULTS.initialCapital)} min={0} testId="cfg-initialCapital"
          onChange={(v) => setJson('initialCapital', v)} />
        <TextField label="Currency" tooltip="ISO 4217 code, e.g. USD" value={jsonData.currency}
          placeholder={SETTINGS_DEFAULTS.currency} testId="cfg-currency"
          onChange={(v) => setJson('currency', v?.toUpperCase())} />
        <TextField label="Time zone" tooltip="IANA zone that defines calendar days" value={jsonData.timezone}
          placeholder={SETTINGS_DEFAULTS.timezone} testId="cfg-timezone" onChange={(v) => setJson('timezone', v)} />
        <InlineField label="Trading days" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup options={TRADING_DAYS} value={jsonData.tradingDays ?? SETTINGS_DEFAULTS.tradingDays}
            onChange={(v) => setJson('tradingDays', v)} />
        </InlineField>
        <NumberField label="Annualization" tooltip="Periods per year (252 trading days, 365 calendar days)"
          value={jsonData.annualization} placeholder={String(SETTINGS_DEFAULTS.annualization)} min={1}
          testId="cfg-annualization" onChange={(v) => setJson('annualization', v)} />
        <NumberField label="Risk-free rate" tooltip="Annual, as a fraction (0.04 = 4%)" value={jsonData.riskFreeRate}
          placeholder="0" step={0.001} testId="cfg-riskFreeRate" onChange={(v) => setJson('riskFreeRate', v)} />
      </FieldSet>

      <FieldSet label="Limits">
        <NumberField label="Max open connections" value={jsonData.maxOpenConnections}
          placeholder={String(SETTINGS_DEFAULTS.maxOpenConnections)} min={1} testId="cfg-maxOpenConnections"
          onChange={(v) => setJson('maxOpenConnections', v)} />
        <NumberField label="Query timeout (s)" tooltip="Postgres statement_timeout per query"
          value={jsonData.queryTimeoutSeconds} placeholder={String(SETTINGS_DEFAULTS.queryTimeoutSeconds)} min={1}
          testId="cfg-queryTimeoutSeconds" onChange={(v) => setJson('queryTimeoutSeconds', v)} />
        <NumberField label="Row limit" tooltip="Maximum rows of a trades table query" value={jsonData.rowLimit}
          placeholder={String(SETTINGS_DEFAULTS.rowLimit)} min={1} testId="cfg-rowLimit"
          onChange={(v) => setJson('rowLimit', v)} />
        <NumberField label="Max queued queries" tooltip="Queries that may wait for a connection; more at once get an immediate 'too many concurrent queries' error"
          value={jsonData.maxQueuedQueries} placeholder={String(SETTINGS_DEFAULTS.maxQueuedQueries)} min={0}
          testId="cfg-maxQueuedQueries" onChange={(v) => setJson('maxQueuedQueries', v)} />
        <NumberField label="Concurrent queries" tooltip="Queries of one dashboard refresh that run at once, each on its own connection (1 = one after another); at most Max open connections"
          value={jsonData.concurrentQueries} placeholder="4" min={1}
          testId="cfg-concurrentQueries" onChange={(v) => setJson('concurrentQueries', v)} />
        <NumberField label="Cache (MiB)" tooltip={CACHE_MEGABYTES_TOOLTIP} value={jsonData.cacheMegabytes}
          placeholder={String(CACHE_MEGABYTES.default)} min={CACHE_MEGABYTES.min} step={1}
          error={cacheMegabytesError(jsonData.cacheMegabytes)}
          testId="cfg-cacheMegabytes" onChange={(v) => setJson('cacheMegabytes', v)} />
        <InlineField label="Cache fingerprint" labelWidth={LABEL_WIDTH} tooltip={CACHE_FINGERPRINT_TOOLTIP}>
          <InlineSwitch id="cfg-cacheFingerprint" data-testid="cfg-cacheFingerprint" value={jsonData.cacheFingerprint === true}
            // off is the default: the key is left out
            onChange={(e) => setJson('cacheFingerprint', e.currentTarget.checked ? true : undefined)} />
        </InlineField>
        <NumberField label="Idle connection (s)" tooltip="Pooled connections idle longer than this are closed (0 = never)"
          value={jsonData.idleConnectionSeconds} placeholder={String(SETTINGS_DEFAULTS.idleConnectionSeconds)} min={0}
          testId="cfg-idleConnectionSeconds" onChange={(v) => setJson('idleConnectionSeconds', v)} />
      </FieldSet>
    </>
  );
}
