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
  | 'breakdown';

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

/** The 17 logical trade-table columns; each maps to itself by default. */
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

/** jsonData, docs/query-model.md "Data-source settings". */
export interface PnlOptions extends DataSourceJsonData {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  sslmode?: SslMode;
  sslRootCertPath?: string;
  schema?: string;
  table?: string;
  columns?: Partial<Record<ColumnKey, string>>;
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
  idleConnectionSeconds?: number;
}

/** secureJsonData keys (PEM contents for the TLS ones). */
export interface PnlSecureData {
  password?: string;
  tlsCACert?: string;
  tlsClientCert?: string;
  tlsClientKey?: string;
}

/** Backend defaults, filled into a new data source so the user sees them. */
export const SETTINGS_DEFAULTS: Required<
  Pick<
    PnlOptions,
    | 'host'
    | 'port'
    | 'database'
    | 'user'
    | 'sslmode'
    | 'table'
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
  table: 'trades',
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
  | 'live';

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
