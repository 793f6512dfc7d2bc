/*
 * AnnotationEditor.tsx — the controls of the `annotations` kind
 * (docs/query-model.md `events`, `threshold`) and the editor of a dashboard
 * annotation that uses this data source.
 *
 * EventsFields is shared: the panel QueryEditor shows it for a kind whose
 * registry row reads `events`, and AnnotationQueryEditor shows it with the
 * main filters and the group-by for Dashboard settings → Annotations. A
 * threshold left empty is not sent, so the backend's default for the
 * events applies (its placeholder says which); changing the events drops
 * the threshold, whose meaning (money or fraction) changes with them.
 */
import React, { useEffect, useState } from 'react';
import { AnnotationQuery, QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, MultiSelect, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { ANNOTATION_EVENTS, AnnotationEvents, DIMENSIONS, GroupBy, PnlOptions, PnlQuery } from '../types';
import { NumberField, patchQuery, useVariableOptions } from './fields';

const LW = 14;

interface EventsFieldsProps {
  query: PnlQuery;
  /** Apply a patch (a key set to undefined is removed); run says whether to run the query. */
  update: (patch: Partial<PnlQuery>, run?: boolean) => void;
}

export function EventsFields({ query, update }: EventsFieldsProps) {
  const events: AnnotationEvents = query.events ?? 'trades';
  const info = ANNOTATION_EVENTS.find((e) => e.value === events) ?? ANNOTATION_EVENTS[0];
  const t = info.threshold;
  return (
    <InlineFieldRow>
      <InlineField label="Events" labelWidth={LW} tooltip={info.description}>
        <Select
          inputId="qe-events"
          aria-label="Events"
          width={28}
          options={ANNOTATION_EVENTS.map((e) => ({ value: e.value, label: e.label, description: e.description }))}
          value={events}
          onChange={(v) => update({ events: v.value as AnnotationEvents, threshold: undefined })}
        />
      </InlineField>
      {t && (
        <NumberField
          label="Threshold"
          labelWidth={LW}
          width={16}
          tooltip={t.tooltip}
          value={typeof query.threshold === 'number' ? query.threshold : undefined}
          placeholder={typeof query.threshold === 'string' && query.threshold !== '' ? query.threshold : t.placeholder}
          min={t.min}
          step={t.unit === 'fraction' ? 0.01 : undefined}
          testId="qe-threshold"
          onChange={(v) => update({ threshold: v }, false)}
        />
      )}
    </InlineFieldRow>
  );
}

export type AnnotationEditorProps = QueryEditorProps<DataSource, PnlQuery, PnlOptions> & {
  annotation?: AnnotationQuery<PnlQuery>;
  onAnnotationChange?: (annotation: AnnotationQuery<PnlQuery>) => void;
};

const FILTERS = DIMENSIONS.slice(0, 2); // strategies, symbols
const GROUP_BY: Array<SelectableValue<GroupBy>> = [
  { value: 'none', label: 'None' },
  ...DIMENSIONS.map((d) => ({ value: d.group, label: d.label })),
];

/** Dashboard settings → Annotations: what to mark, and for which trades. */
export function AnnotationQueryEditor({ query, onChange, onRunQuery, datasource }: AnnotationEditorProps) {
  const [lists, setLists] = useState<Record<string, string[]>>({});
  useEffect(() => {
    let alive = true;
    Promise.all(FILTERS.map((d) => datasource.listValues(d.resource).catch(() => [] as string[]))).then(
      (vals) => alive && setLists(Object.fromEntries(FILTERS.map((d, i) => [d.resource, vals[i]])))
    );
    return () => {
      alive = false;
    };
  }, [datasource]);
  const variables = useVariableOptions();
  const q: PnlQuery = { ...query, queryType: 'annotations' };
  const update = (patch: Partial<PnlQuery>, run = true) => {
    onChange(patchQuery(q, patch));
    if (run) {
      onRunQuery();
    }
  };
  return (
    <>
      <EventsFields query={q} update={update} />
      <InlineFieldRow>
        {FILTERS.map((d) => (
          <InlineField key={d.key} label={d.label} labelWidth={LW}>
            <MultiSelect
              inputId={`anno-${d.key}`}
              aria-label={d.label}
              width="auto"
              minWidth={20}
              allowCustomValue
              placeholder="All"
              options={[...variables, ...(lists[d.resource] ?? []).map((v) => ({ label: v, value: v }))]}
              value={q[d.key] ?? []}
              onChange={(vals: Array<SelectableValue<string>>) =>
                update({ [d.key]: vals.map((v) => v.value).filter((v): v is string => typeof v === 'string') })
              }
            />
          </InlineField>
        ))}
        {(q.events === 'drawdown_episodes' || q.events === 'daily_loss') && (
          <InlineField label="Group by" labelWidth={LW} tooltip="Each group's own episodes or days">
            <Select inputId="anno-groupBy" aria-label="Group by" width={20} options={GROUP_BY} value={q.groupBy ?? 'none'}
              onChange={(v) => update({ groupBy: v.value === 'none' ? undefined : v.value })} />
          </InlineField>
        )}
      </InlineFieldRow>
    </>
  );
}
