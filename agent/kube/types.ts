// Wire types of the Kubernetes REST API that every resource shares (meta/v1):
// Status, lists, watch events, DeleteOptions. Resource kinds live in agent/api/types.ts.
import type { ObjectMeta } from '../api/types.js';

/** Any Kubernetes object: the client and the informer only rely on its metadata. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** meta/v1 Status: the body of every API error and of some DELETE answers. */
export interface Status {
  apiVersion?: string;
  kind?: 'Status';
  status?: 'Success' | 'Failure';
  message?: string;
  /** Machine-readable: NotFound, AlreadyExists, Conflict, Expired, Gone, Invalid, TooManyRequests… */
  reason?: string;
  details?: StatusDetails;
  /** The HTTP status code this Status stands for. */
  code?: number;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

/** A list response as the apiserver sends it (one page). */
export interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: ListMeta;
  items: T[];
}

/** Every page of a paginated list gathered into one, at the list's resourceVersion. */
export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/**
 * One event of a watch stream. BOOKMARK carries only `metadata.resourceVersion`;
 * ERROR carries a Status (410 Expired when the requested version is too old).
 */
export type WatchEvent<T> = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: T } | { type: 'ERROR'; object: Status };

export interface Preconditions {
  uid?: string;
  resourceVersion?: string;
}

/** meta/v1 DeleteOptions, the body of a DELETE. */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: Preconditions;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  dryRun?: string[];
}

/** `namespace/name` for namespaced objects, `name` for cluster-scoped ones (client-go's MetaNamespaceKeyFunc). */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}
