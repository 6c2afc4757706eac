import { describe, expect, it } from 'vitest';
import { nodeConditions } from '../../../agent/node/node-conditions.js';
import { buildNodeStatus } from '../../../agent/node/node-object.js';
import { defaultNodeRegistrationOptions } from '../../../agent/node/node-registration-options.js';
import { missingLabels, nodeStatusPatch, statusChanged, statusDifferences } from '../../../agent/node/node-status-diff.js';
import type { NodeStatus } from '../../../agent/node/node-types.js';
import { FACTS } from './fixtures.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-01-01T00:00:10Z');

function status(previous: NodeStatus | undefined, now: Date, runtimeError?: string): NodeStatus {
  return buildNodeStatus({
    config: { nodeName: 'n', maxPods: 110, port: 0 },
    options: defaultNodeRegistrationOptions(),
    facts: FACTS,
    runtimeVersion: 'docker://20.10.24',
    conditions: nodeConditions(runtimeError ? { runtimeError } : {}, previous?.conditions, now),
  });
}

describe('statusChanged', () => {
  it('ignores heartbeat times', () => {
    const before = status(undefined, T0);
    expect(statusChanged(before, status(before, T1))).toBe(false);
  });

  it('sees a condition that flipped', () => {
    const before = status(undefined, T0);
    expect(statusDifferences(before, status(before, T1, 'down'))).toMatchObject({ conditions: true, capacity: false });
  });

  it('compares quantities by value, as the apiserver canonicalizes them', () => {
    const before = status(undefined, T0);
    const canonical: NodeStatus = { ...before, capacity: { ...before.capacity, memory: '8Gi', 'ephemeral-storage': '100Gi' } };
    expect(statusChanged(canonical, status(canonical, T1))).toBe(false);
  });

  it('sees everything as changed against an empty status', () => {
    expect(Object.values(statusDifferences(undefined, status(undefined, T0))).every(Boolean)).toBe(true);
  });

  it('ignores conditions and resources owned by others', () => {
    const before = status(undefined, T0);
    const withOthers: NodeStatus = {
      ...before,
      capacity: { ...before.capacity, 'hugepages-2Mi': '0' },
      conditions: [...(before.conditions ?? []), { type: 'NetworkUnavailable', status: 'False' }],
    };
    expect(statusChanged(withOthers, status(withOthers, T1))).toBe(false);
  });
});

describe('nodeStatusPatch', () => {
  it('carries the conditions and only the fields that differ', () => {
    const before = status(undefined, T0);
    const patch = nodeStatusPatch(before, status(before, T1, 'down'));
    expect(Object.keys(patch.status)).toEqual(['conditions']);
  });

  it('replaces addresses whole when they changed', () => {
    const before = { ...status(undefined, T0), addresses: [{ type: 'InternalIP' as const, address: '10.0.0.9' }] };
    const desired = status(before, T1);
    expect(nodeStatusPatch(before, desired).status['addresses']).toEqual([{ $patch: 'replace' }, ...(desired.addresses ?? [])]);
  });

  it('sends every owned field to a Node without status', () => {
    const patch = nodeStatusPatch(undefined, status(undefined, T0));
    expect(Object.keys(patch.status).sort()).toEqual(['addresses', 'allocatable', 'capacity', 'conditions', 'daemonEndpoints', 'nodeInfo']);
  });
});

describe('missingLabels', () => {
  it('lists the labels to add or correct', () => {
    expect(missingLabels({ a: '1', b: 'x' }, { a: '1', b: '2', c: '3' })).toEqual({ b: '2', c: '3' });
    expect(missingLabels({ a: '1', other: 'y' }, { a: '1' })).toBeUndefined();
    expect(missingLabels(undefined, { a: '1' })).toEqual({ a: '1' });
  });
});
