/*
 * A stand-in for Grafana's TemplateSrv with the parts interpolate.ts relies on:
 * $var / ${var} / ${var:fmt} / [[var]] syntax, scoped variables winning over
 * dashboard ones, and "All" handed to a format function as every value (or the
 * variable's custom allValue), as Grafana's templateSrv.replace does.
 */
import type { ScopedVars } from '@grafana/data';
import type { TemplateSrv } from '@grafana/runtime';

export interface FakeVar {
  name: string;
  options: string[];
  current: string[] | string; // '$__all' for All
  allValue?: string;
}

const RE = /\$(\w+)|\$\{(\w+)(?::[\w-]+)?\}|\[\[(\w+)(?::[\w-]+)?\]\]/g;

export function fakeTemplateSrv(vars: FakeVar[]): TemplateSrv {
  const find = (n: string) => vars.find((v) => v.name === n);
  return {
    getVariables: () => vars.map((v) => ({ name: v.name, current: { value: v.current } })) as any,
    containsTemplate: (t?: string) => !!t && new RegExp(RE.source).test(t),
    updateTimeRange: () => {},
    replace(target?: string, scopedVars?: ScopedVars, format?: any): string {
      if (!target) {
        return '';
      }
      return target.replace(RE, (whole, a, b, c) => {
        const name = a || b || c;
        const scoped = scopedVars?.[name];
        let value: unknown;
        if (scoped) {
          value = scoped.value;
        } else {
          const v = find(name);
          if (!v) {
            return whole;
          }
          const cur = v.current;
          const isAll = cur === '$__all' || (Array.isArray(cur) && cur.includes('$__all'));
          value = isAll ? (v.allValue ?? v.options) : cur;
        }
        if (typeof format === 'function') {
          return format(value, {}, undefined);
        }
        return Array.isArray(value) ? `{${value.join(',')}}` : String(value);
      });
    },
  } as TemplateSrv;
}
