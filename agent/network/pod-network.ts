// The pod network of one node: a bridge owned by nodelet whose subnet is the
// node's pod CIDR. Sandboxes attach to it; app containers share the sandbox's.
import { createHash } from 'node:crypto';
import { PodNetworkError, type BridgeNetworkSpec, type PodNetworkDriver } from '../runtime/pod-network-driver.js';

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

export function validateCIDR(cidr: string): string | undefined {
  const m = CIDR.exec(cidr);
  if (!m) return `"${cidr}" is not an IPv4 CIDR (a.b.c.d/n)`;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255)) return `"${cidr}" has an octet above 255`;
  if (bits < 8 || bits > 30) return `"${cidr}" prefix must be between /8 and /30`;
  return undefined;
}

/** Network and bridge names for a node; stable so a restarted agent finds its own. */
export function podNetworkSpec(nodeName: string, podCIDR: string, labels: Record<string, string>): BridgeNetworkSpec {
  const digest = createHash('sha256').update(nodeName).digest('hex').slice(0, 10);
  return { name: `nodelet-${nodeName}`.slice(0, 64), subnet: podCIDR, bridgeName: `nlt${digest}`, labels };
}

/**
 * Makes sure the node's pod network exists with the configured subnet. A network
 * left with another subnet is replaced only when no container uses it; otherwise
 * the operator must drain the node first, and the error says so.
 */
export async function ensurePodNetwork(driver: PodNetworkDriver, spec: BridgeNetworkSpec): Promise<void> {
  const invalid = validateCIDR(spec.subnet);
  if (invalid) throw new PodNetworkError(`podCIDR: ${invalid}`);
  const existing = await driver.inspectNetwork(spec.name);
  if (existing && existing.subnet === spec.subnet) return;
  if (existing) {
    if (existing.attachedContainers > 0) {
      throw new PodNetworkError(
        `pod network ${spec.name} has subnet ${existing.subnet ?? 'none'} but podCIDR is ${spec.subnet}; ` +
          `${existing.attachedContainers} container(s) still use it: remove the node's pods before changing podCIDR`,
      );
    }
    await driver.removeNetwork(spec.name);
  }
  await driver.createBridgeNetwork(spec);
}
