// The node's heartbeat object: a coordination.k8s.io/v1 Lease in kube-node-lease,
// named after the node, held by the node, and owned by the Node so it is garbage
// collected with it. Pure builders; NodeLeaseHeartbeat does the I/O.
import { formatMicroTime } from '../api/time.js';
import type { Lease } from './node-types.js';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const DEFAULT_LEASE_DURATION_SECONDS = 40;

export interface LeaseIdentity {
  nodeName: string;
  /** The Node's UID; the owner reference is added once it is known. */
  nodeUID?: string;
  leaseDurationSeconds: number;
}

function ownerReference(id: LeaseIdentity): Record<string, unknown> | undefined {
  if (!id.nodeUID) return undefined;
  return { apiVersion: 'v1', kind: 'Node', name: id.nodeName, uid: id.nodeUID };
}

export function newNodeLease(id: LeaseIdentity, now: Date): Lease {
  const owner = ownerReference(id);
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: id.nodeName, namespace: NODE_LEASE_NAMESPACE, ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: { holderIdentity: id.nodeName, leaseDurationSeconds: id.leaseDurationSeconds, renewTime: formatMicroTime(now) },
  };
}

/**
 * `existing` renewed at `now` (its resourceVersion kept, so the update is
 * conditional): held by this node, our duration, and owned by the current Node —
 * a reference to an older Node of the same name is replaced.
 */
export function renewedNodeLease(existing: Lease, id: LeaseIdentity, now: Date): Lease {
  const owner = ownerReference(id);
  const others = (existing.metadata.ownerReferences ?? []).filter((r) => !(r['kind'] === 'Node' && r['apiVersion'] === 'v1'));
  const ownerReferences = owner ? [...others, owner] : existing.metadata.ownerReferences;
  return {
    ...existing,
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { ...existing.metadata, ...(ownerReferences ? { ownerReferences } : {}) },
    spec: {
      ...existing.spec,
      holderIdentity: id.nodeName,
      leaseDurationSeconds: id.leaseDurationSeconds,
      renewTime: formatMicroTime(now),
    },
  };
}
