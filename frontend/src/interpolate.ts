/*
 * interpolate.ts — template-variable expansion for the query's filter lists.
 *
 * A filter list entry may be a whole variable reference ("$strategy",
 * "${strategy}", "${strategy:csv}", "[[strategy]]"). A multi-value variable
 * expands into one list entry per selected value, so ["$strategy"] with the
 * values [a, b] becomes ["a", "b"]. Entries that are not variables pass
 * through unchanged; duplicates and empty strings are dropped.
 *
 * "All" policy (documented in README): when a referenced variable's current
 * value is All ($__all), the whole list becomes [] — the contract's "empty
 * list = no filter = all" (docs/query-model.md) — instead of spelling out
 * every value. That keeps requests small, stays under the backend's 1000-entry
 * cap, and still means "all" when new strategies appear after the variable
 * was last refreshed. A custom allValue (e.g. ".*") is therefore never sent.
 *
 * This module does no I/O; the TemplateSrv is passed in so tests can use a
 * stand-in for Grafana's.
 */
import type { ScopedVars } from '@grafana/data';
import type { TemplateSrv } from '@grafana/runtime';

// Unit separator: cannot appear in a value typed into a variable's UI, so it
// is a safe joiner for the values of a multi-value variable.
const SEP = '\u001f';
const WHOLE_VAR = /^\s*(?:\$(\w+)|\$\{(\w+)(?::[\w-]+)?\}|\[\[(\w+)(?::[\w-]+)?\]\])\s*$/;
const ALL = '$__all';

function isAllValue(value: unknown): boolean {
  return value === ALL || (Array.isArray(value) && value.includes(ALL));
}

/** True when `name` currently stands for "All" (scoped values win: a repeated panel has one value). */
export function variableIsAll(name: string, templateSrv: TemplateSrv, scopedVars?: ScopedVars): boolean {
  const scoped = scopedVars?.[name];
  if (scoped) {
    return isAllValue(scoped.value);
  }
  const v = templateSrv.getVariables().find((x) => x.name === name) as { current?: { value?: unknown } } | undefined;
  return isAllValue(v?.current?.value);
}

/**
 * Expand every entry of `list`; returns a new array (never mutates `list`).
 * Non-string entries (bad stored JSON) are dropped rather than thrown on.
 */
export function expandList(list: unknown, templateSrv: TemplateSrv, scopedVars?: ScopedVars): string[] {
  if (!Array.isArray(list)) {
    return [];
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (const entry of list) {
    if (typeof entry !== 'string') {
      continue;
    }
    const m = WHOLE_VAR.exec(entry);
    const name = m && (m[1] || m[2] || m[3]);
    if (name && variableIsAll(name, templateSrv, scopedVars)) {
      return [];
    }
    const replaced = templateSrv.replace(entry, scopedVars, (value: unknown) =>
      Array.isArray(value) ? value.map(String).join(SEP) : String(value ?? '')
    );
    for (const part of replaced.split(SEP)) {
      const v = part.trim();
      if (v !== '' && !seen.has(v)) {
        seen.add(v);
        out.push(v);
      }
    }
  }
  return out;
}
