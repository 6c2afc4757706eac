// The value a downward API resourceFieldRef selects (an env var's valueFrom, a
// downwardAPI volume file): a container's request or limit in units of the
// divisor, as kubelet's resource helpers compute it. Env and volumes both read it.
import { divideRoundUp } from './quantity.js';
import type { Container, Pod, Quantity } from './types.js';

/** Node allocatable, which the downward API reports for a limit the container does not set. */
export interface NodeAllocatable {
  cpuMilli: number;
  memoryBytes: number;
  ephemeralStorageBytes?: number;
}

/**
 * A container's resource for the downward API, in units of the divisor, rounded up.
 * Requests default to limits (as the API server defaults them); a limit the container
 * does not set is the node's allocatable, as kubelet reports it.
 */
export function resourceFieldValue(
  pod: Pod,
  self: Container,
  ref: { resource: string; containerName?: string; divisor?: Quantity },
  nodeAllocatable?: NodeAllocatable,
): string {
  let target = self;
  if (ref.containerName) {
    const found = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === ref.containerName);
    if (!found) throw new Error(`container "${ref.containerName}" not found in the pod`);
    target = found;
  }
  const dot = ref.resource.indexOf('.');
  const kind = ref.resource.slice(0, dot);
  const name = ref.resource.slice(dot + 1);
  const supported = name === 'cpu' || name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-');
  if (dot === -1 || (kind !== 'limits' && kind !== 'requests') || !supported) {
    throw new Error(`unsupported container resource "${ref.resource}"`);
  }
  const limits: Record<string, Quantity> = { ...target.resources?.limits };
  const requests: Record<string, Quantity> = { ...limits, ...target.resources?.requests };
  if (nodeAllocatable) {
    limits.cpu ??= `${nodeAllocatable.cpuMilli}m`;
    limits.memory ??= nodeAllocatable.memoryBytes;
    if (nodeAllocatable.ephemeralStorageBytes !== undefined) limits['ephemeral-storage'] ??= nodeAllocatable.ephemeralStorageBytes;
  }
  const value = (kind === 'limits' ? limits : requests)[name] ?? 0;
  return String(divideRoundUp(value, ref.divisor, name === 'cpu' ? 3 : 0));
}
