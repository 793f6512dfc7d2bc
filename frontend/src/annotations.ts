/*
 * annotations.ts — dashboard annotations from this data source (Grafana's
 * standard annotation support, ../shared/docs/grafana-live-annotations.md §2).
 *
 * An annotation stores its query as `target`; Grafana runs it through
 * query() like a panel query (refId "Anno"), so the filter lists are
 * expanded by applyTemplateVariables as for any query. prepareQuery pins
 * queryType to `annotations` — nothing else marks an annotation query —
 * and the backend answers one frame with meta.dataTopic "annotations"
 * whose fields (time, timeEnd, title, text, tags) Grafana maps by name.
 */
import type { AnnotationQuery, AnnotationSupport } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';

import { AnnotationQueryEditor } from './components/AnnotationEditor';
import { ANNOTATION_DEFAULT, PnlQuery } from './types';

/** The stored annotation, its target filled in (an annotation saved without one gets the default). */
export function prepareAnnotation(json: any): AnnotationQuery<PnlQuery> {
  const target = json?.target && typeof json.target === 'object' ? json.target : {};
  return { ...json, target: { refId: 'Anno', ...ANNOTATION_DEFAULT, ...target } };
}

/**
 * The query Grafana runs for an annotation: always the `annotations` kind. A
 * threshold written as a dashboard variable ("$large_loss") is replaced here
 * (the backend reads numbers only): empty means the backend's default, a
 * number is sent as one, anything else as it is, so the backend's 400 names it.
 */
export function prepareQuery(anno: AnnotationQuery<PnlQuery>): PnlQuery | undefined {
  const target = anno?.target;
  if (!target) {
    return undefined;
  }
  const out: PnlQuery = { ...target, refId: target.refId || 'Anno', queryType: 'annotations' };
  if (typeof out.threshold === 'string') {
    const v = getTemplateSrv().replace(out.threshold).trim();
    if (v === '') {
      delete out.threshold;
    } else {
      out.threshold = Number.isFinite(Number(v)) ? Number(v) : v;
    }
  }
  return out;
}

export const annotationSupport: AnnotationSupport<PnlQuery> = {
  prepareAnnotation,
  prepareQuery,
  getDefaultQuery: () => ({ ...ANNOTATION_DEFAULT }),
  QueryEditor: AnnotationQueryEditor,
};
