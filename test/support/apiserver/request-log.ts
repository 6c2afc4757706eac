// Every request the server received, so tests can count what a client sent
// (e.g. how many status patches a pod cost).
import type { ApiVerb } from './routes.js';

export interface RequestRecord {
  method: string;
  /** URL path without the query. */
  path: string;
  query: Record<string, string>;
  /** Without parameters, e.g. 'application/strategic-merge-patch+json'. */
  contentType?: string;
  time: Date;
  /** For resource requests: the Kubernetes verb and what it addressed. */
  verb?: ApiVerb;
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** The HTTP status answered (for a watch, the stream's: 200), once known. */
  status?: number;
}

export interface RequestFilter {
  method?: string;
  path?: string | RegExp;
  verb?: ApiVerb;
  resource?: string;
  namespace?: string;
  name?: string;
  /** '' matches requests to the main resource only. */
  subresource?: string;
  contentType?: string | RegExp;
  status?: number;
}

function matchText(pattern: string | RegExp | undefined, value: string | undefined): boolean {
  if (pattern === undefined) return true;
  if (value === undefined) return false;
  return typeof pattern === 'string' ? pattern === value : pattern.test(value);
}

export function matchesRequest(filter: RequestFilter | ((r: RequestRecord) => boolean), r: RequestRecord): boolean {
  if (typeof filter === 'function') return filter(r);
  return (
    (filter.method === undefined || filter.method.toUpperCase() === r.method) &&
    matchText(filter.path, r.path) &&
    (filter.verb === undefined || filter.verb === r.verb) &&
    (filter.resource === undefined || filter.resource === r.resource) &&
    (filter.namespace === undefined || filter.namespace === r.namespace) &&
    (filter.name === undefined || filter.name === r.name) &&
    (filter.subresource === undefined || filter.subresource === (r.subresource ?? '')) &&
    matchText(filter.contentType, r.contentType) &&
    (filter.status === undefined || filter.status === r.status)
  );
}
