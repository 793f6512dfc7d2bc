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

export type GroupBy = 'none' | 'strategy' | 'symbol' | 'account';
export type DrawdownMode = 'fraction' | 'money';
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

/** Query JSON (`DataQuery.json`), docs/query-model.md "Query JSON". */
export interface PnlQuery extends DataQuery, AnalyticsOverrides {
  queryType?: QueryType;
  strategies?: string[];
  symbols?: string[];
  accounts?: string[];
  groupBy?: GroupBy;
  metrics?: string[];
  drawdownMode?: DrawdownMode;
  limit?: number;
}

/** The resources the backend answers with a sorted JSON array of strings. */
export type ListResource = 'strategies' | 'symbols' | 'accounts';
export const LIST_RESOURCES: ListResource[] = ['strategies', 'symbols', 'accounts'];

/** Template-variable query JSON: `{"resource":"strategies"}`. */
export interface PnlVariableQuery extends DataQuery {
  resource?: ListResource;
}

/** The 15 logical trade-table columns; each maps to itself by default. */
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

export const QUERY_TYPES: Array<{ value: QueryType; label: string; description: string }> = [
  { value: 'equity', label: 'Equity curve', description: 'Portfolio value over time: initial capital plus cumulative realized P&L.' },
  { value: 'pnl', label: 'Cumulative P&L', description: 'Running sum of realized P&L, net of fees, at each trade close.' },
  { value: 'daily_pnl', label: 'Daily P&L', description: 'Realized P&L per calendar day in the configured time zone.' },
  { value: 'drawdown', label: 'Drawdown', description: 'Distance of equity below its running peak (fraction or money).' },
  { value: 'returns', label: 'Cumulative return', description: 'Return of the equity curve since the range start: E(t)/E(from) − 1.' },
  { value: 'stats', label: 'Statistics', description: 'One row of KPIs: Sharpe, Sortino, win rate, max drawdown, CAGR, ...' },
  { value: 'pnl_distribution', label: 'P&L distribution', description: 'One value per day of daily P&L, for a histogram panel.' },
  { value: 'slippage', label: 'Slippage', description: 'Execution slippage in basis points against the expected prices.' },
  { value: 'trades', label: 'Trades table', description: 'The closed trades, newest first, up to the row limit.' },
  { value: 'trade_count', label: 'Trade count', description: 'Number of trades closed per time bucket, per group.' },
  { value: 'period_returns', label: 'Period returns', description: 'Return, P&L and trades per calendar week, month, quarter or year (or the monthly-returns grid).' },
  { value: 'rolling', label: 'Rolling metric', description: 'Sharpe, Sortino, volatility, return, P&L, win rate or profit factor over a sliding window of days.' },
  { value: 'drawdown_episodes', label: 'Drawdown episodes', description: 'The deepest drawdowns: when each started, bottomed and recovered, how deep and how long.' },
  { value: 'breakdown', label: 'Breakdown table', description: 'One row per group (strategy, symbol, ...): trades, P&L, win rate, Sharpe, ... sorted by P&L.' },
];

/** Stat fields the `stats` query can return (docs/query-model.md "Frames"). */
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

export const DEFAULT_QUERY: Partial<PnlQuery> = {
  queryType: 'equity',
  strategies: [],
  symbols: [],
  accounts: [],
  groupBy: 'none',
};
