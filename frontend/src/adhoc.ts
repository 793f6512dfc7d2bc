/*
 * adhoc.ts — Grafana's ad-hoc filters for this data source (docs/query-model.md, `adhocFilters`).
 *
 * A dashboard's ad-hoc variable reaches a query in one of two ways: recent Grafana hands the
 * filters to applyTemplateVariables (`request.filters`); older versions keep them in the
 * template service (`getTemplateSrv().getAdhocFilters(datasourceName)`). Either way they are
 * copied into the query JSON as `adhocFilters: [{key, operator, value}]`, after any the query
 * stores itself (an alert rule has no dashboard, so the JSON form is what it uses), and the
 * backend ANDs them all. Keys come from the backend's `tag-keys` resource (the mapped
 * dimensions), values from the dimension's values resource.
 */
import type { AdHocVariableFilter, MetricFindValue } from '@grafana/data';
import type { TemplateSrv } from '@grafana/runtime';

import { DIMENSIONS, ListResource } from './types';

/** One ad-hoc filter as the query JSON carries it. */
export interface AdhocFilter {
  key: string;
  operator: string;
  value: string;
}

/** What the backend accepts; others are a 400 naming the operator. */
export const ADHOC_OPERATORS = ['=', '!=', '=~', '!~'];

/** Only complete filters (key, operator and a string value), reduced to the three keys the backend reads. */
export function toAdhocFilters(filters: unknown): AdhocFilter[] {
  if (!Array.isArray(filters)) {
    return [];
  }
  const out: AdhocFilter[] = [];
  for (const f of filters) {
    if (f && typeof f.key === 'string' && f.key !== '' && typeof f.operator === 'string' && typeof f.value === 'string') {
      out.push({ key: f.key, operator: f.operator, value: f.value });
    }
  }
  return out;
}

/**
 * The dashboard's filters for this data source: `filters` when Grafana passed them (recent
 * versions, even an empty list), else the template service's (older versions).
 */
export function dashboardAdhocFilters(
  filters: AdHocVariableFilter[] | undefined,
  srv: TemplateSrv,
  datasourceName: string
): AdhocFilter[] {
  if (filters !== undefined) {
    return toAdhocFilters(filters);
  }
  const legacy = (srv as unknown as { getAdhocFilters?: (name: string) => unknown }).getAdhocFilters;
  if (typeof legacy !== 'function') {
    return [];
  }
  try {
    return toAdhocFilters(legacy.call(srv, datasourceName));
  } catch {
    return [];
  }
}

/** The query with the dashboard's filters appended to its own; unchanged when there are none. */
export function withAdhocFilters<Q extends { adhocFilters?: AdhocFilter[] }>(query: Q, dashboard: AdhocFilter[]): Q {
  if (dashboard.length === 0) {
    return query;
  }
  return { ...query, adhocFilters: [...toAdhocFilters(query.adhocFilters), ...dashboard] };
}

/** The tag-keys resource's answer ([{text, resource}]) as Grafana's key options. */
export function tagKeysFrom(res: unknown): MetricFindValue[] {
  if (!Array.isArray(res)) {
    return [];
  }
  return res
    .filter((k): k is { text: string } => !!k && typeof k.text === 'string')
    .map((k) => ({ text: k.text, value: k.text }));
}

/** The values resource of an ad-hoc key ("entry_tag" → "entry_tags"), undefined for an unknown key. */
export function tagValuesResource(key: string): ListResource | undefined {
  return DIMENSIONS.find((d) => d.group === key)?.resource;
}
