// Strategic merge patch as apimachinery applies it to built-in types: maps merge,
// null deletes, lists with a merge key merge element-wise, scalar merge lists union,
// other lists replace; directives `$patch` (merge/replace/delete, in maps and in
// merge-key lists), `$retainKeys`, `$deleteFromPrimitiveList/<f>` and `$setElementOrder/<f>`.
import { clone, deepEqual, isMap, type JsonMap } from './json-value.js';
import type { MergeSchema } from './merge-keys.js';
import { MalformedPatchError } from './patch-errors.js';

const DELETE_FROM = '$deleteFromPrimitiveList/';
const ORDER = '$setElementOrder/';

export function applyStrategicMergePatch(original: unknown, patch: unknown, schema: MergeSchema): unknown {
  if (!isMap(patch)) throw new MalformedPatchError('a strategic merge patch must be a JSON object');
  return mergeMap(isMap(original) ? original : undefined, patch, '', schema) ?? {};
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** The merged map, or undefined when the patch deletes it (`$patch: delete`). */
function mergeMap(original: JsonMap | undefined, patch: JsonMap, path: string, schema: MergeSchema): JsonMap | undefined {
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    return mergeMap(undefined, rest, path, schema);
  }
  if (directive !== undefined && directive !== 'merge') {
    throw new MalformedPatchError(`unknown $patch directive "${String(directive)}" at "${path || '.'}"`);
  }
  const result: JsonMap = original ? { ...original } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (!key.startsWith(DELETE_FROM)) continue;
    const field = key.slice(DELETE_FROM.length);
    if (!Array.isArray(value)) throw new MalformedPatchError(`${key} at "${path || '.'}" must be a list`);
    const current = result[field];
    if (Array.isArray(current)) result[field] = current.filter((x) => !value.some((v) => deepEqual(v, x)));
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    const childPath = join(path, key);
    if (value === null) {
      delete result[key];
    } else if (isMap(value)) {
      const current = result[key];
      const merged = mergeMap(isMap(current) ? current : undefined, value, childPath, schema);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else if (Array.isArray(value)) {
      result[key] = mergeList(result[key], value, childPath, schema);
    } else {
      result[key] = value;
    }
  }
  for (const [key, value] of Object.entries(patch)) {
    if (!key.startsWith(ORDER)) continue;
    const field = key.slice(ORDER.length);
    if (!Array.isArray(value)) throw new MalformedPatchError(`${key} at "${path || '.'}" must be a list`);
    const current = result[field];
    if (Array.isArray(current)) result[field] = reorder(current, value, schema[join(path, field)]?.mergeKey);
  }
  const retain = patch.$retainKeys;
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw new MalformedPatchError(`$retainKeys at "${path || '.'}" must be a list`);
    for (const key of Object.keys(result)) if (!retain.includes(key)) delete result[key];
  }
  return result;
}

/** A patch value with its directives resolved, as it is stored when there is nothing to merge into. */
function fresh(value: unknown, path: string, schema: MergeSchema): unknown {
  if (isMap(value)) return mergeMap(undefined, value, path, schema) ?? {};
  if (Array.isArray(value)) return value.map((v) => fresh(v, path, schema));
  return clone(value);
}

function mergeList(original: unknown, patch: unknown[], path: string, schema: MergeSchema): unknown[] {
  const strategy = schema[path];
  if (!strategy) return patch.map((v) => fresh(v, path, schema));
  const current = Array.isArray(original) ? [...original] : [];
  const key = strategy.mergeKey;
  if (key === undefined) {
    for (const v of patch) if (!current.some((c) => deepEqual(c, v))) current.push(clone(v));
    return current;
  }
  if (patch.some((e) => isMap(e) && e.$patch === 'replace')) {
    return patch.filter((e) => !(isMap(e) && e.$patch === 'replace')).map((v) => fresh(v, path, schema));
  }
  let out = current;
  for (const element of patch) {
    if (!isMap(element)) throw new MalformedPatchError(`"${path}" merges by "${key}": its elements must be objects`);
    if (!Object.hasOwn(element, key)) {
      throw new MalformedPatchError(`an element of "${path}" does not contain the merge key "${key}"`);
    }
    const idx = out.findIndex((o) => isMap(o) && deepEqual(o[key], element[key]));
    const merged = element.$patch === 'delete' ? undefined : mergeMap(idx >= 0 ? (out[idx] as JsonMap) : undefined, element, path, schema);
    if (merged === undefined) out = out.filter((o) => !(isMap(o) && deepEqual(o[key], element[key])));
    else if (idx >= 0) out[idx] = merged;
    else out.push(merged);
  }
  return out;
}

/** Elements named in `order` first, in that order; the rest keep their relative order after them. */
function reorder(list: unknown[], order: unknown[], mergeKey: string | undefined): unknown[] {
  const identity = (v: unknown) => (mergeKey !== undefined && isMap(v) ? v[mergeKey] : v);
  const wanted = order.map(identity);
  const placed: unknown[] = [];
  for (const w of wanted) {
    const found = list.find((x) => deepEqual(identity(x), w));
    if (found !== undefined && !placed.includes(found)) placed.push(found);
  }
  return [...placed, ...list.filter((x) => !placed.includes(x))];
}
