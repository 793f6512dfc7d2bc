/*
 * kinds.ts — the query kinds the editor offers.
 *
 * The backend's registry is the one list (GET kinds: name, description,
 * options of every kind, src/query/resources.c); the static QUERY_TYPES in
 * types.ts is the same list for when the backend cannot be asked (an older
 * plugin version, no connection yet). Labels are the frontend's own; a kind
 * the static list does not know yet still appears, labelled from its name.
 * The `cache` option (the Cache switch) comes from CACHED_KINDS until the
 * backend's rows carry it: once any row of its answer lists `cache`, its rows
 * alone say which kinds are cached.
 * This module does no I/O.
 */
import { CACHED_KINDS, QUERY_TYPES, QueryKindInfo, QueryOption } from './types';

const OPTIONS: QueryOption[] = ['filters', 'groupBy', 'metrics', 'drawdownMode', 'limit', 'analytics', 'period', 'layout', 'metric', 'window', 'live', 'cache', 'events', 'threshold'];

/** Rows with `cache` added to the kinds of CACHED_KINDS that lack it. */
function withCacheOption(rows: QueryKindInfo[]): QueryKindInfo[] {
  return rows.map((k) =>
    (CACHED_KINDS as string[]).includes(k.value) && !k.options.includes('cache') ? { ...k, options: [...k.options, 'cache'] } : k
  );
}

/** The static list as QueryKindInfo rows. */
export const STATIC_KINDS: QueryKindInfo[] = withCacheOption(QUERY_TYPES.map((k) => ({ ...k, options: [...k.options] })));

/** "drawdown_episodes" → "Drawdown episodes". */
export function labelFromName(name: string): string {
  const s = name.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * The kinds from the `kinds` resource's answer, or the static list when the
 * answer is not a non-empty array of {name, description, options} rows.
 * Options the editor does not know are dropped (it has no control for them).
 */
export function kindsFromBackend(rows: unknown): QueryKindInfo[] {
  if (!Array.isArray(rows)) {
    return STATIC_KINDS;
  }
  const out: QueryKindInfo[] = [];
  let publishesCache = false;
  for (const r of rows) {
    const name = (r as any)?.name;
    if (typeof name !== 'string' || name === '' || out.some((k) => k.value === name)) {
      continue;
    }
    const known = STATIC_KINDS.find((k) => k.value === name);
    const description = typeof (r as any).description === 'string' ? (r as any).description : known?.description ?? '';
    const options = Array.isArray((r as any).options)
      ? ((r as any).options as unknown[]).filter((o): o is QueryOption => OPTIONS.includes(o as QueryOption))
      : known?.options ?? [];
    publishesCache = publishesCache || (Array.isArray((r as any).options) && options.includes('cache'));
    out.push({ value: name, label: known?.label ?? labelFromName(name), description, options });
  }
  if (out.length === 0) {
    return STATIC_KINDS;
  }
  // a backend that publishes the cache option decides alone; one that does not yet gets CACHED_KINDS
  return publishesCache ? out : withCacheOption(out);
}

/** The row of a kind; unknown names get the options every kind has. */
export function kindInfo(kinds: QueryKindInfo[], name: string): QueryKindInfo {
  return (
    kinds.find((k) => k.value === name) ??
    STATIC_KINDS.find((k) => k.value === name) ?? { value: name, label: labelFromName(name), description: '', options: ['filters'] }
  );
}
