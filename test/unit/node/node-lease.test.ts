import { describe, expect, it } from 'vitest';
import { newNodeLease, renewedNodeLease } from '../../../agent/node/node-lease.js';

const T0 = new Date('2026-01-01T00:00:00.123Z');
const T1 = new Date('2026-01-01T00:00:10.000Z');

describe('newNodeLease', () => {
  it('is held by the node in kube-node-lease and owned by the Node', () => {
    expect(newNodeLease({ nodeName: 'n1', nodeUID: 'uid-1', leaseDurationSeconds: 40 }, T0)).toEqual({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: 'n1',
        namespace: 'kube-node-lease',
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'uid-1' }],
      },
      spec: { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2026-01-01T00:00:00.123000Z' },
    });
  });

  it('has no owner reference while the Node UID is unknown', () => {
    expect(newNodeLease({ nodeName: 'n1', leaseDurationSeconds: 40 }, T0).metadata.ownerReferences).toBeUndefined();
  });
});

describe('renewedNodeLease', () => {
  it('moves renewTime, keeps the resourceVersion and replaces a stale Node owner', () => {
    const existing = {
      metadata: {
        name: 'n1',
        namespace: 'kube-node-lease',
        resourceVersion: '7',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'old' },
          { apiVersion: 'x/v1', kind: 'Other', name: 'o', uid: 'u' },
        ],
      },
      spec: { holderIdentity: 'someone', leaseDurationSeconds: 15, renewTime: '2025-01-01T00:00:00.000000Z', leaseTransitions: 2 },
    };
    const renewed = renewedNodeLease(existing, { nodeName: 'n1', nodeUID: 'new', leaseDurationSeconds: 40 }, T1);
    expect(renewed.metadata.resourceVersion).toBe('7');
    expect(renewed.metadata.ownerReferences).toEqual([
      { apiVersion: 'x/v1', kind: 'Other', name: 'o', uid: 'u' },
      { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'new' },
    ]);
    expect(renewed.spec).toEqual({ holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2026-01-01T00:00:10.000000Z', leaseTransitions: 2 });
  });
});
