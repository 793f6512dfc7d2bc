/*
 * datasource.ts — the frontend half of the data source.
 *
 * Queries go to the C backend through DataSourceWithBackend (POST /api/ds/query);
 * this class only prepares them: defaults for a new query, template-variable
 * expansion of the filter lists (see interpolate.ts for the "All" policy),
 * skipping hidden or type-less queries, the list resources (GET strategies,
 * symbols, accounts, sides, exchanges, entry_tags, exit_reasons) used by the
 * editors and by dashboard variables, and the backend's list of query kinds
 * (GET kinds, fetched once per instance; kinds.ts falls back to the static list),
 * and dashboard annotations (annotations.ts: the `annotations` kind).
 *
 * Live queries (`live: true`): the backend marks each frame with meta.channel,
 * and DataSourceWithBackend.query turns such frames into Grafana Live streams
 * (the QueryData frame first, then what RunStream pushes). Every packet the
 * backend pushes is the whole recomputed frame, so the stream buffer replaces
 * its values instead of appending (liveStreamOptions).
 * Ad-hoc filters: keys from GET tag-keys, values from the list resources, and the
 * dashboard's filters copied into the query JSON (adhoc.ts).
 */
import {
  AdHocVariableFilter,
  CoreApp,
  CustomVariableSupport,
  DataQueryRequest,
  DataQueryResponse,
  DataFrame,
  DataSourceInstanceSettings,
  MetricFindValue,
  StreamingFrameAction,
  StreamingFrameOptions,
  ScopedVars,
  toDataFrame,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { from, map, Observable } from 'rxjs';

import { dashboardAdhocFilters, tagKeysFrom, tagValuesResource, withAdhocFilters } from './adhoc';
import { expandList } from './interpolate';
import { kindsFromBackend, STATIC_KINDS } from './kinds';
import {
  DEFAULT_QUERY,
  FILTER_KEYS,
  LIST_RESOURCES,
  ListResource,
  PnlOptions,
  PnlQuery,
  PnlVariableQuery,
  QueryKindInfo,
} from './types';
import { VariableQueryEditor } from './components/VariableQueryEditor';
import { annotationSupport } from './annotations';

/** Resource lists are capped by the backend at 1000 (docs/query-model.md "Resources"). */
export const RESOURCE_LIMIT = 1000;

export function isListResource(x: unknown): x is ListResource {
  return typeof x === 'string' && (LIST_RESOURCES as string[]).includes(x);
}

/**
 * Buffer options of a live frame's stream: each pushed packet is the whole
 * frame as a fresh QueryData would answer it (the last bucket of a series or
 * an updated trade can change, which appending could not express), so the
 * values are replaced; the length bound only guards the browser.
 */
export function liveStreamOptions(request: DataQueryRequest<PnlQuery>, _frame: DataFrame): Partial<StreamingFrameOptions> {
  return { action: StreamingFrameAction.Replace, maxLength: Math.max(100000, request.maxDataPoints ?? 0) };
}

export class DataSource extends DataSourceWithBackend<PnlQuery, PnlOptions> {
  private kinds?: Promise<QueryKindInfo[]>;

  constructor(instanceSettings: DataSourceInstanceSettings<PnlOptions>) {
    super(instanceSettings);
    this.variables = new PnlVariableSupport(this);
    this.streamOptionsProvider = liveStreamOptions;
    this.annotations = annotationSupport;
  }

  getDefaultQuery(_app: CoreApp): Partial<PnlQuery> {
    return { ...DEFAULT_QUERY };
  }

  /** Hidden queries and queries without a type never reach the backend. */
  filterQuery(query: PnlQuery): boolean {
    return !query.hide && typeof query.queryType === 'string' && query.queryType.length > 0;
  }

  applyTemplateVariables(query: PnlQuery, scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): PnlQuery {
    const srv = getTemplateSrv();
    const out: PnlQuery = { ...query };
    // Only lists the query actually has are rewritten, so a stored query
    // without filters stays without them.
    for (const key of FILTER_KEYS) {
      if (query[key] !== undefined) {
        out[key] = expandList(query[key], srv, scopedVars);
      }
    }
    if (typeof query.timezone === 'string' && query.timezone !== '') {
      out.timezone = srv.replace(query.timezone, scopedVars);
    }
    return withAdhocFilters(out, dashboardAdhocFilters(filters, srv, this.name));
  }

  /** Ad-hoc filter keys: the dimensions the data source's mapping has (GET tag-keys). */
  async getTagKeys(): Promise<MetricFindValue[]> {
    return tagKeysFrom(await this.getResource('tag-keys'));
  }

  /** Ad-hoc filter values: the key's distinct values through its list resource. */
  async getTagValues(options: { key: string }): Promise<MetricFindValue[]> {
    const resource = tagValuesResource(options.key);
    if (!resource) {
      return [];
    }
    const values = await this.listValues(resource);
    return values.map((v) => ({ text: v, value: v }));
  }

  /**
   * The query kinds of the backend's registry with their descriptions and
   * options; the static list when the backend does not answer (it is asked
   * again after a failure, once per instance after a success).
   */
  queryKinds(): Promise<QueryKindInfo[]> {
    if (!this.kinds) {
      this.kinds = this.getResource('kinds').then(kindsFromBackend, () => {
        this.kinds = undefined;
        return STATIC_KINDS;
      });
    }
    return this.kinds;
  }

  /** Distinct values of one column (sorted by the backend); `q` filters by substring. */
  async listValues(resource: ListResource, q?: string, limit = RESOURCE_LIMIT): Promise<string[]> {
    const params: Record<string, string | number> = { limit };
    if (q) {
      params.q = q;
    }
    const res = await this.getResource(resource, params);
    return Array.isArray(res) ? res.filter((x): x is string => typeof x === 'string') : [];
  }

  /**
   * Variable values for `{"resource":"strategies"|"symbols"|…}` (any list resource).
   * A bare string ("strategies") is accepted too, as older variable editors store that.
   */
  async metricFindQuery(query: PnlVariableQuery | string, options?: { searchFilter?: string }): Promise<MetricFindValue[]> {
    const resource = typeof query === 'string' ? query.trim() : query?.resource;
    if (!isListResource(resource)) {
      return [];
    }
    const values = await this.listValues(resource, options?.searchFilter);
    return values.map((v) => ({ text: v, value: v }));
  }
}

/** Dashboard variables: Grafana calls query() with the variable's stored query as the only target. */
export class PnlVariableSupport extends CustomVariableSupport<DataSource, PnlVariableQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly ds: DataSource) {
    super();
  }

  query(request: DataQueryRequest<PnlVariableQuery>): Observable<DataQueryResponse> {
    const target = request.targets[0];
    return from(this.ds.metricFindQuery(target)).pipe(
      map((values) => ({ data: [toDataFrame(values.map((v) => ({ text: v.text, value: v.value })))] }))
    );
  }
}
