// REST paths of the Kubernetes API. Core resources live under /api/v1, every other
// group under /apis/<group>/<version>. Each segment is URL-encoded so a name can
// never change which resource a request reaches.

export interface ResourceRef {
  /** API group; '' or absent for the core group. */
  group?: string;
  version: string;
  /** Plural resource name: pods, nodes, leases, events. */
  resource: string;
  namespace?: string;
  name?: string;
  /** status, binding, eviction… (needs a name). */
  subresource?: string;
}

/** The collection part of a ResourceRef (what informers and lists work on). */
export type CollectionRef = Omit<ResourceRef, 'name' | 'subresource'>;

export function groupVersionPath(group: string | undefined, version: string): string {
  return group ? `/apis/${encodeURIComponent(group)}/${encodeURIComponent(version)}` : `/api/${encodeURIComponent(version)}`;
}

export function resourcePath(ref: ResourceRef): string {
  if (!ref.version) throw new TypeError('resourcePath: version is required');
  if (!ref.resource) throw new TypeError('resourcePath: resource is required');
  if (ref.subresource && !ref.name) throw new TypeError(`resourcePath: subresource ${ref.subresource} needs a name`);
  let path = groupVersionPath(ref.group, ref.version);
  if (ref.namespace) path += `/namespaces/${encodeURIComponent(ref.namespace)}`;
  path += `/${encodeURIComponent(ref.resource)}`;
  if (ref.name) path += `/${encodeURIComponent(ref.name)}`;
  if (ref.subresource) path += `/${encodeURIComponent(ref.subresource)}`;
  return path;
}

export type QueryValue = string | number | boolean | undefined;

/** `?a=1&b=x` from the defined values, or '' when there are none. */
export function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}
