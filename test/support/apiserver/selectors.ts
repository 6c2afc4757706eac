// Label and field selectors with the real apiserver's grammar and matching rules.
// Pure functions: parse once per request, match per object.
import { badRequest } from './errors.js';
import { isLabelKey, isLabelValue } from './names.js';
import type { ResourceDef } from './resources.js';

export type LabelOperator = 'exists' | 'notexists' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';
export interface LabelRequirement {
  key: string;
  op: LabelOperator;
  values: string[];
}
export type LabelSelector = LabelRequirement[];

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}
export type FieldSelector = FieldRequirement[];

type Token = { kind: 'id'; text: string } | { kind: 'op'; text: string };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = input.slice(i, i + 2);
    if (two === '==' || two === '!=') {
      tokens.push({ kind: 'op', text: two });
      i += 2;
      continue;
    }
    if ('!=,()<>'.includes(c)) {
      tokens.push({ kind: 'op', text: c });
      i++;
      continue;
    }
    let j = i;
    while (j < input.length && !/[\s!=,()<>]/.test(input[j]!)) j++;
    tokens.push({ kind: 'id', text: input.slice(i, j) });
    i = j;
  }
  return tokens;
}

/** Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h` (and `==`, `>`, `<`); throws a 400 on bad syntax. */
export function parseLabelSelector(input: string | null | undefined): LabelSelector {
  if (!input?.trim()) return [];
  const tokens = tokenize(input);
  let pos = 0;
  const fail = (why: string) => badRequest(`unable to parse requirement: ${why} (labelSelector "${input}")`);
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const reqs: LabelSelector = [];
  for (;;) {
    let t = next();
    if (!t) throw fail('expected a requirement');
    let negated = false;
    if (t.kind === 'op' && t.text === '!') {
      negated = true;
      t = next();
    }
    if (t?.kind !== 'id') throw fail('expected a label key');
    const key = t.text;
    if (!isLabelKey(key)) throw fail(`invalid label key "${key}"`);
    const op = peek();
    if (negated || !op || (op.kind === 'op' && op.text === ',')) {
      reqs.push({ key, op: negated ? 'notexists' : 'exists', values: [] });
    } else if (op.kind === 'op' && ['=', '==', '!=', '<', '>'].includes(op.text)) {
      pos++;
      const v = peek();
      let value = '';
      if (v && v.kind === 'id') {
        value = v.text;
        pos++;
      }
      if (!isLabelValue(value)) throw fail(`invalid label value "${value}"`);
      if (op.text === '<' || op.text === '>') {
        if (!/^-?\d+$/.test(value)) throw fail(`for '${op.text}' the value must be an integer, got "${value}"`);
        reqs.push({ key, op: op.text === '<' ? 'lt' : 'gt', values: [value] });
      } else {
        reqs.push({ key, op: op.text === '!=' ? '!=' : '=', values: [value] });
      }
    } else if (op.kind === 'id' && (op.text === 'in' || op.text === 'notin')) {
      pos++;
      const open = next();
      if (open?.text !== '(') throw fail(`expected '(' after ${op.text}`);
      const values: string[] = [];
      for (;;) {
        const v = next();
        if (!v) throw fail("expected ')'");
        if (v.kind === 'op' && v.text === ')') break;
        if (v.kind === 'op' && v.text === ',') continue;
        if (v.kind !== 'id' || !isLabelValue(v.text)) throw fail(`invalid label value "${v.text}"`);
        values.push(v.text);
      }
      if (values.length === 0) throw fail(`for '${op.text}' at least one value is required`);
      reqs.push({ key, op: op.text, values });
    } else {
      throw fail(`unexpected "${op.text}" after key "${key}"`);
    }
    const sep = next();
    if (!sep) break;
    if (sep.kind !== 'op' || sep.text !== ',') throw fail(`expected ',' but found "${sep.text}"`);
  }
  return reqs;
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'exists':
        return has;
      case 'notexists':
        return !has;
      case '=':
        return has && v === r.values[0];
      case '!=':
        return !has || v !== r.values[0];
      case 'in':
        return has && r.values.includes(v!);
      case 'notin':
        return !has || !r.values.includes(v!);
      case 'gt':
        return has && /^-?\d+$/.test(v!) && Number(v) > Number(r.values[0]);
      case 'lt':
        return has && /^-?\d+$/.test(v!) && Number(v) < Number(r.values[0]);
    }
  });
}

/** Splits on unescaped commas and unescapes `\,` `\=` `\\` as fields.ParseSelector does. */
function splitTerms(input: string): string[] {
  const terms: string[] = [];
  let cur = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c === '\\' && i + 1 < input.length) {
      cur += c + input[i + 1];
      i++;
      continue;
    }
    if (c === ',') {
      terms.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  terms.push(cur);
  return terms;
}

function unescapeSelectorValue(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

/** Parses `spec.nodeName=n1,status.phase!=Failed`; fields must be ones the resource supports (400 otherwise). */
export function parseFieldSelector(input: string | null | undefined, def: ResourceDef): FieldSelector {
  if (!input?.trim()) return [];
  const supported = new Set(['metadata.name', ...(def.namespaced ? ['metadata.namespace'] : []), ...def.fieldLabels]);
  return splitTerms(input).map((term) => {
    const m = /^(.*?)(!=|==|=)(.*)$/s.exec(term);
    if (!m) throw badRequest(`invalid selector: '${input}'; can't understand '${term}'`);
    const field = m[1]!.trim();
    if (!supported.has(field)) {
      throw badRequest(`field label not supported: ${field} (fieldSelector "${input}" on ${def.plural})`);
    }
    return { field, op: m[2] === '!=' ? '!=' : '=', value: unescapeSelectorValue(m[3]!) };
  });
}

/** The string a field label has on an object: booleans as "true"/"false", missing as "". */
export function fieldValue(obj: Record<string, unknown>, field: string): string {
  // Event `source` selects on the reporting component, not the whole struct.
  const path = field === 'source' ? 'source.component' : field;
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return defaultFieldValue(field);
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return defaultFieldValue(field);
  return typeof cur === 'string' ? cur : String(cur);
}

function defaultFieldValue(field: string): string {
  return field === 'spec.hostNetwork' || field === 'spec.unschedulable' ? 'false' : '';
}

export function matchesFields(selector: FieldSelector, obj: Record<string, unknown>): boolean {
  return selector.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === '='));
}

/** Both selectors of one request, matched together. */
export interface ObjectFilter {
  labels: LabelSelector;
  fields: FieldSelector;
}

export function matchesFilter(filter: ObjectFilter, obj: Record<string, unknown>): boolean {
  const meta = (obj.metadata ?? {}) as { labels?: Record<string, string> };
  return matchesLabels(filter.labels, meta.labels) && matchesFields(filter.fields, obj);
}

export function isEmptyFilter(filter: ObjectFilter): boolean {
  return filter.labels.length === 0 && filter.fields.length === 0;
}
