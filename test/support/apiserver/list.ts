// LIST semantics: selectors, limit/continue pagination over a consistent state,
// resourceVersion / resourceVersionMatch, and the list envelope.
import { badRequest, expired, gone, ApiError } from './errors.js';
import { decodeContinue, encodeContinue } from './pagination.js';
import { isEmptyFilter, matchesFilter, type ObjectFilter } from './selectors.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import { keyOf, type KubeObject, type ObjectStore } from './store.js';
import type { WatchHub } from './watch-hub.js';

export interface ListQuery {
  namespace?: string;
  filter: ObjectFilter;
  limit?: number;
  continueToken?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListResult {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: Array<Record<string, unknown>>;
}

const EXPIRED_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. ' + 'You can start a new list without the continue parameter.';

function parseRv(value: string): number {
  if (!/^\d+$/.test(value)) throw badRequest(`invalid resource version "${value}"`);
  return Number(value);
}

/** The state to list from and its version, per the request's continue token or resourceVersion. */
function source(def: ResourceDef, q: ListQuery, store: ObjectStore, hub: WatchHub): { objects: KubeObject[]; rv: number; after?: string; unpaged: boolean } {
  if (q.continueToken) {
    if (q.resourceVersion && q.resourceVersion !== '0') throw badRequest('specifying resource version is not allowed when using continue');
    const pos = decodeContinue(q.continueToken);
    if (!pos) throw badRequest(`continue key is not valid: ${q.continueToken}`);
    const objects = hub.objectsAt(def.plural, pos.rv);
    if (!objects) throw expired(EXPIRED_CONTINUE);
    return { objects, rv: pos.rv, after: pos.after, unpaged: false };
  }
  if (q.resourceVersionMatch === 'Exact') {
    if (!q.resourceVersion || q.resourceVersion === '0') throw badRequest('resourceVersionMatch=Exact requires a non-zero resourceVersion');
    const rv = parseRv(q.resourceVersion);
    if (rv > store.currentRv()) throw new ApiError(504, 'Timeout', `Too large resource version: ${rv}, current: ${store.currentRv()}`);
    const objects = hub.objectsAt(def.plural, rv);
    if (!objects) throw gone(`too old resource version: ${rv}`);
    return { objects, rv, unpaged: false };
  }
  if (q.resourceVersionMatch !== undefined && q.resourceVersionMatch !== 'NotOlderThan') {
    throw badRequest(`unsupported resourceVersionMatch "${q.resourceVersionMatch}"`);
  }
  if (q.resourceVersion) parseRv(q.resourceVersion);
  // resourceVersion=0 is served from the watch cache, which ignores limit.
  return { objects: store.list(def.plural), rv: store.currentRv(), unpaged: q.resourceVersion === '0' };
}

/** Items in a list carry no kind/apiVersion: the list's kind says it. */
function listItem(o: KubeObject): Record<string, unknown> {
  const { kind: _k, apiVersion: _a, ...rest } = o;
  return rest;
}

export function listObjects(def: ResourceDef, q: ListQuery, store: ObjectStore, hub: WatchHub): ListResult {
  const { objects, rv, after, unpaged } = source(def, q, store, hub);
  const matching = objects.filter(
    (o) => (q.namespace === undefined || o.metadata.namespace === q.namespace) && (after === undefined || keyOf(o) > after) && matchesFilter(q.filter, o),
  );
  const metadata: ListResult['metadata'] = { resourceVersion: String(rv) };
  let page = matching;
  if (!unpaged && q.limit !== undefined && q.limit > 0 && matching.length > q.limit) {
    page = matching.slice(0, q.limit);
    metadata.continue = encodeContinue({ rv, after: keyOf(page.at(-1)!) });
    if (isEmptyFilter(q.filter)) metadata.remainingItemCount = matching.length - q.limit;
  }
  return { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata, items: page.map(listItem) };
}
