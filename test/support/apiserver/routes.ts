// Maps a request path onto what it addresses, the way the apiserver's REST mux
// does: discovery documents, or a resource collection/object/subresource in a group
// version, namespaced or not. Pure; no I/O.
import { notFoundPath, type ApiError } from './errors.js';
import type { ResourceCatalog, ResourceDef } from './resources.js';

export type DiscoveryDoc =
  | { doc: 'api' }
  | { doc: 'apis' }
  | { doc: 'version' }
  | { doc: 'health' }
  | { doc: 'group'; group: string }
  | { doc: 'resources'; group: string; version: string };

export interface ResourceRoute {
  def: ResourceDef;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** The deprecated `/watch/` path prefix was used. */
  watchPrefix: boolean;
}

export type Route = { kind: 'discovery'; target: DiscoveryDoc } | ({ kind: 'resource' } & ResourceRoute);

export type ApiVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export function parseRoute(pathname: string, catalog: ResourceCatalog): Route | ApiError {
  const parts = pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  const missing = notFoundPath(pathname);
  const head = parts[0];
  if (parts.length === 1 && head === 'version') return { kind: 'discovery', target: { doc: 'version' } };
  if (parts.length === 1 && (head === 'healthz' || head === 'livez' || head === 'readyz')) return { kind: 'discovery', target: { doc: 'health' } };
  let group: string;
  let version: string;
  let rest: string[];
  if (head === 'api') {
    if (parts.length === 1) return { kind: 'discovery', target: { doc: 'api' } };
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (head === 'apis') {
    if (parts.length === 1) return { kind: 'discovery', target: { doc: 'apis' } };
    group = parts[1]!;
    if (!catalog.groups().some((g) => g.name === group)) return missing;
    if (parts.length === 2) return { kind: 'discovery', target: { doc: 'group', group } };
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return missing;
  }
  if (catalog.inGroupVersion(group, version).length === 0) return missing;
  if (rest.length === 0) return { kind: 'discovery', target: { doc: 'resources', group, version } };
  const watchPrefix = rest[0] === 'watch';
  if (watchPrefix) rest = rest.slice(1);
  // namespaces/<ns>/<resource>[/<name>[/<subresource>]] when <resource> is namespaced here.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const def = catalog.find(group, version, rest[2]!);
    if (def?.namespaced) {
      if (rest.length > 5) return missing;
      return resource(def, rest[1], rest[3], rest[4], watchPrefix);
    }
  }
  const def = catalog.find(group, version, rest[0]!);
  if (!def || rest.length > 3) return missing;
  // A namespaced resource has no cluster-level objects, only the all-namespaces collection.
  if (def.namespaced && rest.length > 1) return missing;
  return resource(def, undefined, rest[1], rest[2], watchPrefix);
}

function resource(def: ResourceDef, namespace: string | undefined, name: string | undefined, subresource: string | undefined, watchPrefix: boolean): Route {
  const route: Route = { kind: 'resource', def, watchPrefix };
  if (namespace !== undefined) route.namespace = namespace;
  if (name !== undefined) route.name = name;
  if (subresource !== undefined) route.subresource = subresource;
  return route;
}

const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

export function isWatchRequest(route: ResourceRoute, query: URLSearchParams): boolean {
  return route.watchPrefix || TRUE.has(query.get('watch') ?? '');
}

/** The Kubernetes verb of a request, as RBAC and audit name it; undefined for an unsupported method. */
export function verbOf(method: string, route: ResourceRoute, query: URLSearchParams): ApiVerb | undefined {
  switch (method) {
    case 'GET':
      if (isWatchRequest(route, query)) return 'watch';
      return route.name === undefined ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name === undefined ? 'deletecollection' : 'delete';
    default:
      return undefined;
  }
}
