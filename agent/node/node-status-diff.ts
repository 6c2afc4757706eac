// Whether the Node in the apiserver already says what we would report, and the
// strategic-merge patch that makes it so. Only the fields this agent owns are
// compared; heartbeat times are not a change (they alone would make every report
// a write), and quantities compare by value because the apiserver rewrites them in
// canonical form ("1048576Ki" comes back as "1Gi").
import { parseQuantity } from '../api/quantity.js';
import type { NodeAddress, NodeCondition, NodeStatus, ResourceList } from './node-types.js';

function sameQuantity(a: string | undefined, b: string | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  try {
    return parseQuantity(a) === parseQuantity(b);
  } catch {
    return false;
  }
}

/** Every resource we report has the same value on the server (extra server-side resources are not ours). */
function sameResources(current: ResourceList | undefined, desired: ResourceList | undefined): boolean {
  return Object.entries(desired ?? {}).every(([name, value]) => sameQuantity(current?.[name], value));
}

function sameConditions(current: readonly NodeCondition[] | undefined, desired: readonly NodeCondition[] | undefined): boolean {
  return (desired ?? []).every((d) => {
    const c = current?.find((x) => x.type === d.type);
    return (
      c !== undefined &&
      c.status === d.status &&
      (c.reason ?? '') === (d.reason ?? '') &&
      (c.message ?? '') === (d.message ?? '') &&
      c.lastTransitionTime === d.lastTransitionTime
    );
  });
}

function sameAddresses(current: readonly NodeAddress[] | undefined, desired: readonly NodeAddress[] | undefined): boolean {
  const a = current ?? [];
  const b = desired ?? [];
  return a.length === b.length && a.every((x, i) => x.type === b[i]?.type && x.address === b[i]?.address);
}

function sameRecord(a: object | undefined, b: object | undefined): boolean {
  const x = (a ?? {}) as Record<string, unknown>;
  const y = (b ?? {}) as Record<string, unknown>;
  return Object.keys(y).every((k) => x[k] === y[k]);
}

export interface StatusDifferences {
  capacity: boolean;
  allocatable: boolean;
  conditions: boolean;
  addresses: boolean;
  nodeInfo: boolean;
  daemonEndpoints: boolean;
}

export function statusDifferences(current: NodeStatus | undefined, desired: NodeStatus): StatusDifferences {
  return {
    capacity: !sameResources(current?.capacity, desired.capacity),
    allocatable: !sameResources(current?.allocatable, desired.allocatable),
    conditions: !sameConditions(current?.conditions, desired.conditions),
    addresses: !sameAddresses(current?.addresses, desired.addresses),
    nodeInfo: !sameRecord(current?.nodeInfo, desired.nodeInfo),
    daemonEndpoints: current?.daemonEndpoints?.kubeletEndpoint?.Port !== desired.daemonEndpoints?.kubeletEndpoint?.Port,
  };
}

/** True when anything but heartbeat times differs. */
export function statusChanged(current: NodeStatus | undefined, desired: NodeStatus): boolean {
  return Object.values(statusDifferences(current, desired)).some(Boolean);
}

/**
 * A strategic-merge patch for nodes/<name>/status: the conditions always (they
 * carry the heartbeat), everything else only where it differs. Addresses are
 * replaced whole: v1 declares them merged by `type`, which cannot express two
 * addresses of one type or a removed one (kubelet works around this the same way).
 */
export function nodeStatusPatch(current: NodeStatus | undefined, desired: NodeStatus): { status: Record<string, unknown> } {
  const diff = statusDifferences(current, desired);
  const status: Record<string, unknown> = { conditions: desired.conditions };
  if (diff.capacity) status['capacity'] = desired.capacity;
  if (diff.allocatable) status['allocatable'] = desired.allocatable;
  if (diff.nodeInfo) status['nodeInfo'] = desired.nodeInfo;
  if (diff.daemonEndpoints) status['daemonEndpoints'] = desired.daemonEndpoints;
  if (diff.addresses) status['addresses'] = [{ $patch: 'replace' }, ...(desired.addresses ?? [])];
  return { status };
}

/** The labels to set on an existing Node so it carries ours; undefined when it already does. */
export function missingLabels(current: Record<string, string> | undefined, desired: Record<string, string>): Record<string, string> | undefined {
  const patch: Record<string, string> = {};
  for (const [k, v] of Object.entries(desired)) if (current?.[k] !== v) patch[k] = v;
  return Object.keys(patch).length > 0 ? patch : undefined;
}
