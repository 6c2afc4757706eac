// Docker container names for sandboxes and containers, in the scheme dockershim and
// cri-dockerd use, so `docker ps` reads like a pod listing and a name can be parsed
// back into the pod it belongs to:
//   k8s_POD_<pod>_<namespace>_<uid>_<attempt>             (sandbox)
//   k8s_<container>_<pod>_<namespace>_<uid>_<attempt>     (container)
// Kubernetes names and UIDs never contain '_', so '_' is a safe separator. A name may
// carry one more `_<suffix>` when a create had to dodge a name conflict.
import { randomBytes } from 'node:crypto';
import type { ContainerMetadata, PodSandboxMetadata } from '../runtime.js';

const PREFIX = 'k8s';
const SANDBOX_CONTAINER_NAME = 'POD';

export function sandboxContainerName(sandbox: PodSandboxMetadata): string {
  return [PREFIX, SANDBOX_CONTAINER_NAME, sandbox.name, sandbox.namespace, sandbox.uid, sandbox.attempt].join('_');
}

export function containerName(container: ContainerMetadata, sandbox: PodSandboxMetadata): string {
  return [PREFIX, container.name, sandbox.name, sandbox.namespace, sandbox.uid, container.attempt].join('_');
}

/** The same name with a random suffix, for a create that hit a name conflict. */
export function withConflictSuffix(name: string): string {
  return `${name}_${randomBytes(4).toString('hex')}`;
}

export interface PodOfName {
  name: string;
  namespace: string;
  uid: string;
}

export type ParsedContainerName =
  | { kind: 'sandbox'; pod: PodOfName; attempt: number }
  | { kind: 'container'; pod: PodOfName; containerName: string; attempt: number };

/** Parses a name made by this module (with or without Docker's leading '/'); undefined for any other name. */
export function parseContainerName(dockerName: string): ParsedContainerName | undefined {
  const parts = (dockerName.startsWith('/') ? dockerName.slice(1) : dockerName).split('_');
  if (parts.length !== 6 && parts.length !== 7) return undefined;
  const [prefix, container, name, namespace, uid, attemptText] = parts as [string, string, string, string, string, string];
  if (prefix !== PREFIX || !container || !name || !namespace || !uid || !/^\d+$/.test(attemptText)) return undefined;
  const attempt = Number(attemptText);
  const pod = { name, namespace, uid };
  return container === SANDBOX_CONTAINER_NAME ? { kind: 'sandbox', pod, attempt } : { kind: 'container', pod, containerName: container, attempt };
}
