// allowedHostPaths: the node's list of host path prefixes pods may mount (the
// PodSecurityPolicy field's semantics). Empty allows every path, as kubelet does.
import { posix } from 'node:path';
import type { Pod } from '../api/types.js';

export interface AllowedHostPath {
  pathPrefix: string;
  /** Mounts under this prefix must all be readOnly. */
  readOnly?: boolean;
}

/** Whether `prefix` covers `path` segment by segment (`/foo` covers `/foo/bar`, not `/foobar`). */
function covers(prefix: string, path: string): boolean {
  const p = posix.normalize(prefix).replace(/(.)\/$/, '$1');
  const q = posix.normalize(path).replace(/(.)\/$/, '$1');
  return p === '/' || q === p || q.startsWith(`${p}/`);
}

/**
 * Why the pod may not mount hostPath volume `volumeName` at `path`, or undefined
 * when it may. A read-only prefix admits the volume only when every container's
 * mount of it is readOnly.
 */
export function hostPathRefusal(pod: Pod, volumeName: string, path: string, allowed: readonly AllowedHostPath[]): string | undefined {
  if (allowed.length === 0) return undefined;
  const matches = allowed.filter((a) => covers(a.pathPrefix, path));
  if (matches.length === 0) {
    return `hostPath volume "${volumeName}": path "${path}" is not allowed (allowedHostPaths: ${allowed.map((a) => a.pathPrefix).join(', ')})`;
  }
  if (matches.some((a) => !a.readOnly)) return undefined;
  const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  for (const c of containers) {
    for (const m of c.volumeMounts ?? []) {
      if (m.name === volumeName && m.readOnly !== true) {
        return `hostPath volume "${volumeName}": path "${path}" is allowed read-only only, but container "${c.name}" mounts it read-write`;
      }
    }
  }
  return undefined;
}
