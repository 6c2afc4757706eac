// The object store: objects by resource and key, one global resourceVersion
// counter (as etcd's revision) bumped on every write, and a change feed that the
// watch hub turns into history and watch events. Stored objects are never mutated
// in place: a write replaces the object, so the history can keep references.
import type { JsonMap } from './json-value.js';

export interface StoredMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

/** An object as stored: kind, apiVersion and server-set metadata always present. */
export interface KubeObject extends JsonMap {
  apiVersion: string;
  kind: string;
  metadata: StoredMeta;
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  rv: number;
  type: ChangeType;
  /** Plural resource name, e.g. 'pods'. */
  resource: string;
  /** The object after the change; for DELETED the last state with the deletion's resourceVersion. */
  object: KubeObject;
  /** The object before the change (MODIFIED, DELETED). */
  prev?: KubeObject;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export function keyOf(o: KubeObject): string {
  return objectKey(o.metadata.namespace, o.metadata.name);
}

export class ObjectStore {
  private rv: number;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly listeners = new Set<(c: Change) => void>();

  /** Starts above zero: "0" means "any version" to the API and must never name a real one. */
  constructor(firstResourceVersion = 1000) {
    this.rv = firstResourceVersion;
  }

  currentRv(): number {
    return this.rv;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(resource)?.get(objectKey(namespace, name));
  }

  /** Every object of a resource, in key order (namespace, then name) as etcd lists them. */
  list(resource: string): KubeObject[] {
    const byKey = this.objects.get(resource);
    if (!byKey) return [];
    return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  }

  /** Writes `object` with the next resourceVersion and announces the change. */
  put(resource: string, object: KubeObject): KubeObject {
    const byKey = this.objects.get(resource) ?? new Map<string, KubeObject>();
    this.objects.set(resource, byKey);
    const key = keyOf(object);
    const prev = byKey.get(key);
    const rv = ++this.rv;
    const stored: KubeObject = { ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } };
    byKey.set(key, stored);
    this.emit(prev ? { rv, type: 'MODIFIED', resource, object: stored, prev } : { rv, type: 'ADDED', resource, object: stored });
    return stored;
  }

  /** Removes an object; returns its last state stamped with the deletion's resourceVersion. */
  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const byKey = this.objects.get(resource);
    const key = objectKey(namespace, name);
    const prev = byKey?.get(key);
    if (!byKey || !prev) return undefined;
    byKey.delete(key);
    const rv = ++this.rv;
    const object: KubeObject = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(rv) } };
    this.emit({ rv, type: 'DELETED', resource, object, prev });
    return object;
  }

  onChange(listener: (c: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: Change): void {
    for (const l of [...this.listeners]) l(change);
  }
}
