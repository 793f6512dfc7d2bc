/*
 * types.ts — the plugin's data model on the frontend side.
 *
 * Mirrors docs/query-model.md (the contract with the C backend): the query JSON
 * a panel or alert rule stores, the data-source settings (jsonData) and the
 * write-only secrets (secureJsonData). Defaults live here once so the editors,
 * the data source and the tests agree with the backend's defaults.
 */
import type { DataQuery } from '@grafana/schema';
import type { DataSourceJsonData } from '@grafana/data';

export type QueryType =
  | 'equity'
  | 'pnl'
  | 'daily_pnl'
  | 'drawdown'
  | 'returns'
  | 'stats'
  | 'pnl_distribution'
  | 'slippage'
  | 'trades'
  | 'trade_count'
  | 'period_returns'
  | 'rolling'
  | 'drawdown_episodes'
  | 'breakdown'
  | 'annotations';

/** A dimension's groupBy value (also the label key of a grouped series). */
export type Dimension = 'strategy' | 'symbol' | 'account' | 'side' | 'exchange' | 'entry_tag' | 'exit_reason';
export type GroupBy = 'none' | Dimension;
export type DrawdownMode = 'fraction' | 'money';
export type Period = 'week' | 'month' | 'quarter' | 'year';
export type PeriodLayout = 'series' | 'grid';
export type RollingMetric = 'sharpe' | 'sortino' | 'volatility' | 'return' | 'pnl' | 'win_rate' | 'profit_factor';
export type TradingDays = 'all' | 'weekdays';
export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

/** Per-query analytics overrides (absent = the data source's setting). */
export interface AnalyticsOverrides {
  initialCapital?: number;
  timezone?: string;
  tradingDays?: TradingDays;
  annualization?: number;
  riskFreeRate?: number;
}

/** The filter lists of a query, one per dimension. */
export type FilterKey = 'strategies' | 'symbols' | 'accounts' | 'sides' | 'exchanges' | 'entryTags' | 'exitReasons';

/** Query JSON (`DataQuery.json`), docs/query-model.md "Query JSON". */
export interface PnlQuery extends DataQuery, AnalyticsOverrides {
  queryType?: QueryType;
  strategies?: string[];
  symbols?: string[];
  accounts?: string[];
  sides?: string[];
  exchanges?: string[];
  entryTags?: string[];
  exitReasons?: string[];
  groupBy?: GroupBy;
  metrics?: string[];
  drawdownMode?: DrawdownMode;
  limit?: number;
  /** period_returns */
  period?: Period;
  layout?: PeriodLayout;
  /** rolling */
  metric?: RollingMetric;
  window?: number;
  /** Grafana Live: the panel keeps receiving updates (docs/query-model.md "Live queries") */
  live?: boolean;
  /** false: this query neither reads nor fills the backend's fold cache (docs/query-model.md "Cache"); absent = true */
  cache?: boolean;
  /** Grafana's ad-hoc filters (adhoc.ts), ANDed with the lists above */
  adhocFilters?: Array<{ key: string; operator: string; value: string }>;
  /** annotations; a string only in a dashboard annotation: a "$variable" replaced before the query runs (annotations.ts) */
  events?: AnnotationEvents;
  threshold?: number | string;
}

/** The resources the backend answers with a sorted JSON array of strings. */
export type ListResource = 'strategies' | 'symbols' | 'accounts' | 'sides' | 'exchanges' | 'entry_tags' | 'exit_reasons';

/**
 * The dimensions of a trade, described once (as the backend's src/query/dims.c):
 * the query's filter list, the values resource that fills it, the groupBy
 * value, and the labels the editors show.
 */
export const DIMENSIONS: Array<{ key: FilterKey; resource: ListResource; group: Dimension; label: string; plural: string }> = [
  { key: 'strategies', resource: 'strategies', group: 'strategy', label: 'Strategy', plural: 'Strategies' },
  { key: 'symbols', resource: 'symbols', group: 'symbol', label: 'Symbol', plural: 'Symbols' },
  { key: 'accounts', resource: 'accounts', group: 'account', label: 'Account', plural: 'Accounts' },
  { key: 'sides', resource: 'sides', group: 'side', label: 'Side', plural: 'Sides' },
  { key: 'exchanges', resource: 'exchanges', group: 'exchange', label: 'Exchange', plural: 'Exchanges' },
  { key: 'entryTags', resource: 'entry_tags', group: 'entry_tag', label: 'Entry tag', plural: 'Entry tags' },
  { key: 'exitReasons', resource: 'exit_reasons', group: 'exit_reason', label: 'Exit reason', plural: 'Exit reasons' },
];
export const FILTER_KEYS: FilterKey[] = DIMENSIONS.map((d) => d.key);
export const LIST_RESOURCES: ListResource[] = DIMENSIONS.map((d) => d.resource);

/** Template-variable query JSON: `{"resource":"strategies"}`. */
export interface PnlVariableQuery extends DataQuery {
  resource?: ListResource;
}

/** The 17 logical trade-table columns; the default preset maps each to itself. */
export const COLUMN_KEYS = [
  'trade_id',
  'account',
  'exchange',
  'strategy',
  'symbol',
  'side',
  'qty',
  'entry_price',
  'exit_price',
  'expected_entry_price',
  'expected_exit_price',
  'opened_at',
  'closed_at',
  'fees',
  'realized_pnl',
  'entry_tag',
  'exit_reason',
] as const;
export type ColumnKey = (typeof COLUMN_KEYS)[number];

/** Columns a table must have: the mapping cannot set them to none (null). */
export const REQUIRED_COLUMNS: ColumnKey[] = ['closed_at', 'realized_pnl'];
/** Number columns that may be the sum of several columns (a list of names). */
export const LIST_COLUMNS: ColumnKey[] = [
  'qty',
  'entry_price',
  'exit_price',
  'expected_entry_price',
  'expected_exit_price',
  'fees',
  'realized_pnl',
];

export type SideAs = 'text' | 'is_short' | 'is_long';
export type TimeAs = 'timestamp' | 'epoch_s' | 'epoch_ms' | 'epoch_us' | 'epoch_ns';
/** A column read through a conversion: `{"column": "is_short", "as": "is_short"}`. */
export interface ColumnAs {
  column: string;
  as: string;
}
/**
 * One `columns.<logical>` value: a column name ('' = the preset's name), null
 * (the table has no such column), a list of columns to add (LIST_COLUMNS), or
 * a column with a conversion (AS_CHOICES).
 */
export type ColumnValue = string | null | string[] | ColumnAs;

/** The `as` conversions a column accepts; the first is the default (a plain name means it). */
export const AS_CHOICES: Partial<Record<ColumnKey, Array<{ value: string; label: string; description: string }>>> = (() => {
  const side = [
    { value: 'text', label: 'text', description: "'long' / 'short' (also buy/sell)" },
    { value: 'is_short', label: 'is_short', description: 'boolean, true = short' },
    { value: 'is_long', label: 'is_long', description: 'boolean, true = long' },
  ];
  const time = [
    { value: 'timestamp', label: 'timestamp', description: 'timestamptz (a timestamp is read as UTC)' },
    { value: 'epoch_s', label: 'epoch_s', description: 'number: seconds since 1970 UTC' },
    { value: 'epoch_ms', label: 'epoch_ms', description: 'number: milliseconds since 1970 UTC' },
    { value: 'epoch_us', label: 'epoch_us', description: 'number: microseconds since 1970 UTC' },
    { value: 'epoch_ns', label: 'epoch_ns', description: 'number: nanoseconds since 1970 UTC' },
  ];
  return { side, opened_at: time, closed_at: time };
})();

export type Preset = 'default' | 'freqtrade';

/** A preset fills the table and the whole column mapping for one bot; explicit table/columns override it. */
export interface PresetInfo {
  value: Preset;
  label: string;
  description: string;
  table: string;
  columns: Record<ColumnKey, ColumnValue>;
}

export const PRESETS: PresetInfo[] = [
  {
    value: 'default',
    label: 'Default',
    description: 'The layout of sql/schema.sql: table trades, every column named as its logical name',
    table: 'trades',
    columns: Object.fromEntries(COLUMN_KEYS.map((k) => [k, k])) as Record<ColumnKey, ColumnValue>,
  },
  {
    value: 'freqtrade',
    label: 'freqtrade',
    description: "freqtrade's trades table: pair, is_short, open/close_rate, fee costs added, close_profit_abs; no account",
    table: 'trades',
    columns: {
      trade_id: 'id',
      account: null,
      exchange: 'exchange',
      strategy: 'strategy',
      symbol: 'pair',
      side: { column: 'is_short', as: 'is_short' },
      qty: 'amount',
      entry_price: 'open_rate',
      exit_price: 'close_rate',
      expected_entry_price: 'open_rate_requested',
      expected_exit_price: 'close_rate_requested',
      opened_at: 'open_date',
      closed_at: 'close_date',
      fees: ['fee_open_cost', 'fee_close_cost'],
      realized_pnl: 'close_profit_abs',
      entry_tag: 'enter_tag',
      exit_reason: 'exit_reason',
    },
  },
];

/** libpq target_session_attrs: which server of a multi-host `host` list a connection may use. */
export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';
export const TARGET_SESSION_ATTRS: Array<{ value: TargetSessionAttrs; label: string; description: string }> = [
  { value: 'any', label: 'any', description: 'The first host that accepts the connection' },
  { value: 'read-write', label: 'read-write', description: 'A server that accepts writes (not a hot standby)' },
  { value: 'read-only', label: 'read-only', description: 'A server that only reads (a standby, or default_transaction_read_only)' },
  { value: 'primary', label: 'primary', description: 'The primary, not a standby' },
  { value: 'standby', label: 'standby', description: 'A standby (replica) only' },
  { value: 'prefer-standby', label: 'prefer-standby', description: 'A standby if one is up, else any host' },
];

/** jsonData, docs/query-model.md "Data-source settings". */
export interface PnlOptions extends DataSourceJsonData {
  /** One host, or a comma-separated list (a primary and its replicas) tried in order. */
  host?: string;
  /** One port for every host, or a string with one port per host ("5432,5433"). */
  port?: number | string;
  database?: string;
  user?: string;
  sslmode?: SslMode;
  sslRootCertPath?: string;
  /** `any` when absent. */
  targetSessionAttrs?: TargetSessionAttrs;
  /** `default` when absent. */
  preset?: Preset;
  schema?: string;
  /** Absent = the preset's table. */
  table?: string;
  /** Only the overrides of the preset's mapping. */
  columns?: Partial<Record<ColumnKey, ColumnValue>>;
  initialCapital?: number;
  currency?: string;
  timezone?: string;
  tradingDays?: TradingDays;
  annualization?: number;
  riskFreeRate?: number;
  maxOpenConnections?: number;
  queryTimeoutSeconds?: number;
  rowLimit?: number;
  maxQueuedQueries?: number;
  /** queries of one request run at once (backend default 4, at most maxOpenConnections); not in SETTINGS_DEFAULTS so a smaller pool lowers it */
  concurrentQueries?: number;
  idleConnectionSeconds?: number;
  /** the fold cache's size in MiB (backend default 64, 0 = off); not in SETTINGS_DEFAULTS: absent = the backend's default */
  cacheMegabytes?: number;
  /** without the change log, check the cache by a fingerprint scan (backend default false) */
  cacheFingerprint?: boolean;
}

/** `cacheMegabytes`: the backend's default and bounds (docs/query-model.md "Cache"). */
export const CACHE_MEGABYTES = { default: 64, min: 0, max: 65536 };

/** secureJsonData keys (PEM contents for the TLS ones). */
export interface PnlSecureData {
  password?: string;
  tlsCACert?: string;
  tlsClientCert?: string;
  tlsClientKey?: string;
}

/** Backend defaults, filled into a new data source so the user sees them (the table and columns come from the preset). */
export const SETTINGS_DEFAULTS: Required<
  Pick<
    PnlOptions,
    | 'host'
    | 'port'
    | 'database'
    | 'user'
    | 'sslmode'
    | 'initialCapital'
    | 'currency'
    | 'timezone'
    | 'tradingDays'
    | 'annualization'
    | 'riskFreeRate'
    | 'maxOpenConnections'
    | 'queryTimeoutSeconds'
    | 'rowLimit'
    | 'maxQueuedQueries'
    | 'idleConnectionSeconds'
  >
> = {
  host: 'localhost',
  port: 5432,
  database: 'trading',
  user: 'grafana',
  sslmode: 'disable',
  initialCapital: 100000,
  currency: 'USD',
  timezone: 'UTC',
  tradingDays: 'all',
  annualization: 252,
  riskFreeRate: 0,
  maxOpenConnections: 5,
  queryTimeoutSeconds: 30,
  rowLimit: 1000,
  maxQueuedQueries: 10,
  idleConnectionSeconds: 300,
};

/**
 * What a kind reads besides the time range, as the backend's `kinds` resource
 * names it (src/query/resources.c): the editor shows a control only for these.
 */
export type QueryOption =
  | 'filters'
  | 'groupBy'
  | 'metrics'
  | 'drawdownMode'
  | 'limit'
  | 'analytics'
  | 'period'
  | 'layout'
  | 'metric'
  | 'window'
  | 'live'
  | 'cache'
  | 'events'
  | 'threshold';

export interface QueryKindInfo {
  value: string;
  label: string;
  description: string;
  options: QueryOption[];
}

/**
 * The query kinds when the backend cannot be asked (GET kinds): the same rows
 * as its registry (src/query/kinds.c), descriptions word for word —
 * tests/harness/registry_test.go compares the two.
 */
export const QUERY_TYPES: Array<{ value: QueryType; label: string; description: string; options: QueryOption[] }> = [
  { value: 'equity', label: 'Equity curve', description: 'Portfolio value E(t) = initial capital + all P&L up to t', options: ['filters', 'groupBy', 'analytics', 'live'] },
  { value: 'pnl', label: 'Cumulative P&L', description: 'Cumulative P&L since the range start', options: ['filters', 'groupBy', 'analytics', 'live'] },
  { value: 'daily_pnl', label: 'Daily P&L', description: 'P&L per calendar day in the time zone, every day of the range', options: ['filters', 'groupBy', 'analytics', 'live'] },
  { value: 'drawdown', label: 'Drawdown', description: 'Drawdown from the running peak per trade (fraction or money)', options: ['filters', 'groupBy', 'drawdownMode', 'analytics', 'live'] },
  { value: 'returns', label: 'Cumulative return', description: 'Cumulative return E(t)/E(from) - 1', options: ['filters', 'groupBy', 'analytics', 'live'] },
  { value: 'stats', label: 'Statistics', description: 'One row of performance statistics (Sharpe, max drawdown, win rate, ...)', options: ['filters', 'groupBy', 'metrics', 'analytics', 'live'] },
  { value: 'pnl_distribution', label: 'P&L distribution', description: 'The daily P&L values, for a histogram', options: ['filters', 'groupBy', 'analytics'] },
  { value: 'slippage', label: 'Slippage', description: 'Notional-weighted average slippage in bps over time', options: ['filters', 'groupBy'] },
  { value: 'trades', label: 'Trades table', description: 'The trades, newest first, up to the row limit', options: ['filters', 'limit', 'live'] },
  { value: 'trade_count', label: 'Trade count', description: 'Number of trades closed per time bucket', options: ['filters', 'groupBy'] },
  { value: 'period_returns', label: 'Period returns', description: 'Return, P&L and trades per calendar week, month, quarter or year (or the monthly-returns grid)', options: ['filters', 'groupBy', 'period', 'layout', 'analytics'] },
  { value: 'rolling', label: 'Rolling metric', description: 'Sharpe, Sortino, volatility, return, P&L, win rate or profit factor over a sliding window of days', options: ['filters', 'groupBy', 'metric', 'window', 'analytics'] },
  { value: 'drawdown_episodes', label: 'Drawdown episodes', description: 'The deepest drawdowns: when each started, bottomed and recovered, how deep and how long', options: ['filters', 'groupBy', 'limit', 'analytics'] },
  { value: 'breakdown', label: 'Breakdown table', description: 'One row per group (strategy, symbol, ...): trades, P&L, win rate, Sharpe, ... sorted by P&L', options: ['filters', 'groupBy', 'metrics', 'analytics', 'live'] },
  { value: 'annotations', label: 'Annotations', description: 'Events to mark on the time axis: trades, large losses, drawdown episodes or losing days', options: ['filters', 'groupBy', 'analytics', 'events', 'threshold'] },
];

/**
 * The kinds the backend's fold cache serves, for which the editor shows the
 * Cache switch (`cache: false` turns it off for one query). The one list of
 * them on this side: kinds.ts adds the `cache` option to these rows as long as
 * the backend's `kinds` resource does not publish the option itself.
 */
export const CACHED_KINDS: QueryType[] = [
  'stats',
  'breakdown',
  'drawdown_episodes',
  'drawdown',
  'daily_pnl',
  'pnl_distribution',
  'rolling',
];

/** Stat fields the `stats` and `breakdown` queries can return (docs/query-model.md "Frames"). */
export const STAT_METRICS: Array<{ value: string; label: string }> = [
  { value: 'total_pnl', label: 'Total P&L' },
  { value: 'total_return', label: 'Total return' },
  { value: 'equity', label: 'Portfolio value' },
  { value: 'trade_count', label: 'Trade count' },
  { value: 'win_rate', label: 'Win rate' },
  { value: 'profit_factor', label: 'Profit factor' },
  { value: 'payoff_ratio', label: 'Payoff ratio' },
  { value: 'expectancy', label: 'Expectancy' },
  { value: 'max_drawdown', label: 'Max drawdown' },
  { value: 'max_drawdown_amount', label: 'Max drawdown (money)' },
  { value: 'sharpe', label: 'Sharpe ratio' },
  { value: 'sortino', label: 'Sortino ratio' },
  { value: 'calmar', label: 'Calmar ratio' },
  { value: 'cagr', label: 'Annual return (CAGR)' },
  { value: 'annual_volatility', label: 'Annual volatility' },
  { value: 'avg_slippage_bps', label: 'Average slippage' },
  { value: 'daily_loss', label: 'Daily loss (today)' },
  { value: 'worst_day', label: 'Worst day' },
  { value: 'best_day', label: 'Best day' },
  { value: 'largest_win', label: 'Largest win' },
  { value: 'largest_loss', label: 'Largest loss' },
  { value: 'avg_win', label: 'Average win' },
  { value: 'avg_loss', label: 'Average loss' },
  { value: 'gross_profit', label: 'Gross profit' },
  { value: 'gross_loss', label: 'Gross loss' },
  { value: 'max_win_streak', label: 'Max winning streak' },
  { value: 'max_loss_streak', label: 'Max losing streak' },
  { value: 'current_streak', label: 'Current streak' },
  { value: 'total_fees', label: 'Total fees' },
  { value: 'avg_holding_time', label: 'Average holding time' },
  { value: 'avg_holding_time_win', label: 'Average holding time (wins)' },
  { value: 'avg_holding_time_loss', label: 'Average holding time (losses)' },
  { value: 'sqn', label: 'SQN' },
  { value: 'long_trades', label: 'Long trades' },
  { value: 'short_trades', label: 'Short trades' },
  { value: 'long_win_rate', label: 'Long win rate' },
  { value: 'short_win_rate', label: 'Short win rate' },
  { value: 'exposure', label: 'Exposure' },
  { value: 'current_drawdown', label: 'Current drawdown' },
  { value: 'recovery_factor', label: 'Recovery factor' },
  { value: 'volume', label: 'Volume' },
];

/** Kinds that answer per group only: the editor offers no "None" group-by for them. */
export const GROUP_REQUIRED: string[] = ['breakdown'];

export const PERIODS: Array<{ value: Period; label: string }> = [
  { value: 'week', label: 'Week' },
  { value: 'month', label: 'Month' },
  { value: 'quarter', label: 'Quarter' },
  { value: 'year', label: 'Year' },
];

export const ROLLING_METRICS: Array<{ value: RollingMetric; label: string; description: string }> = [
  { value: 'sharpe', label: 'Sharpe ratio', description: 'Mean/std of the daily returns in the window, annualized' },
  { value: 'sortino', label: 'Sortino ratio', description: 'Mean over downside deviation in the window, annualized' },
  { value: 'volatility', label: 'Volatility', description: 'Std of the daily returns in the window, annualized' },
  { value: 'return', label: 'Return', description: 'The daily returns of the window, compounded' },
  { value: 'pnl', label: 'P&L', description: 'Sum of the daily P&L in the window' },
  { value: 'win_rate', label: 'Win rate', description: 'Share of winning trades closed in the window' },
  { value: 'profit_factor', label: 'Profit factor', description: 'Gross profit / gross loss of the trades in the window' },
];

/** Rolling window in days: default and bounds of the backend. */
export const ROLLING_WINDOW = { default: 30, min: 2, max: 3650 };
/** drawdown_episodes: rows by default. */
export const EPISODES_LIMIT_DEFAULT = 10;

export const DEFAULT_QUERY: Partial<PnlQuery> = {
  queryType: 'equity',
  strategies: [],
  symbols: [],
  accounts: [],
  groupBy: 'none',
};

/** What the `annotations` kind marks (docs/query-model.md `events`, `threshold`). */
export type AnnotationEvents = 'trades' | 'large_losses' | 'drawdown_episodes' | 'daily_loss';
/**
 * The events with what their threshold means and its default as the backend
 * applies it (a threshold left empty is not sent). `fraction`: 0.05 = 5 %.
 */
export const ANNOTATION_EVENTS: Array<{
  value: AnnotationEvents;
  label: string;
  description: string;
  threshold?: { unit: 'money' | 'fraction'; placeholder: string; tooltip: string; min: number; max?: number };
}> = [
  { value: 'trades', label: 'Trades', description: 'Every trade at its close (a region from its open)' },
  {
    value: 'large_losses',
    label: 'Large losses',
    description: 'Trades whose P&L is at most minus the threshold',
    threshold: { unit: 'money', placeholder: '1% of capital', tooltip: 'A loss amount in the currency, greater than 0 (default: 1 % of the initial capital)', min: 0 },
  },
  {
    value: 'drawdown_episodes',
    label: 'Drawdown episodes',
    description: 'Drawdowns deeper than the threshold, from their start to their recovery',
    threshold: { unit: 'fraction', placeholder: '0.05', tooltip: 'A depth as a fraction of the peak, from 0 to below 1 (0.05 = 5 %, the default)', min: 0, max: 1 },
  },
  {
    value: 'daily_loss',
    label: 'Daily loss',
    description: 'Days whose P&L is below minus the threshold',
    threshold: { unit: 'money', placeholder: '0', tooltip: 'A loss amount in the currency, 0 or more (default 0: every losing day)', min: 0 },
  },
];
/** The query an annotation starts with (datasource.ts annotations.getDefaultQuery). */
export const ANNOTATION_DEFAULT: { queryType: 'annotations'; events: AnnotationEvents } = {
  queryType: 'annotations',
  events: 'drawdown_episodes',
};
