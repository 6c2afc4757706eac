// What an informer tells its handlers when its cache meets new state: pure, so the
// rules for "no lost and no duplicated events" are checked by unit tests alone.
//   - same key, same resourceVersion: nothing (a re-list or a replayed event).
//   - same key, different UID: the object was deleted and re-created meanwhile,
//     so handlers get a delete of the old one and an add of the new one.
//   - a key the new list lacks: deleted while we were not watching.
import { objectKey, type KubeObject } from './types.js';

export type CacheChange<T> = { type: 'add'; object: T } | { type: 'update'; old: T; object: T } | { type: 'delete'; old: T; finalStateUnknown: boolean };

/** The change(s) `object` makes to a cache holding `old` under the same key. */
export function changeFor<T extends KubeObject>(old: T | undefined, object: T): Array<CacheChange<T>> {
  if (!old) return [{ type: 'add', object }];
  const oldUid = old.metadata?.uid;
  const newUid = object.metadata?.uid;
  if (oldUid && newUid && oldUid !== newUid) {
    return [
      { type: 'delete', old, finalStateUnknown: true },
      { type: 'add', object },
    ];
  }
  const oldRv = old.metadata?.resourceVersion;
  if (oldRv !== undefined && oldRv === object.metadata?.resourceVersion) return [];
  return [{ type: 'update', old, object }];
}

/**
 * Changes that turn `cache` into exactly `items` (a full list): deletions of
 * vanished keys first, then adds and updates in list order.
 */
export function diffList<T extends KubeObject>(
  cache: ReadonlyMap<string, T>,
  items: readonly T[],
  keyOf: (obj: T) => string = objectKey,
): Array<CacheChange<T>> {
  const listed = new Map<string, T>();
  for (const item of items) listed.set(keyOf(item), item);
  const changes: Array<CacheChange<T>> = [];
  for (const [key, old] of cache) {
    if (!listed.has(key)) changes.push({ type: 'delete', old, finalStateUnknown: true });
  }
  for (const [key, item] of listed) changes.push(...changeFor(cache.get(key), item));
  return changes;
}
