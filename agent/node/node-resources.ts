// Capacity and allocatable of the Node, as kubelet computes them: allocatable =
// capacity − kube-reserved − system-reserved − the hard eviction thresholds
// (memory.available 100Mi, nodefs.available 10% of the filesystem), never below 0.
// Quantities go out as Kubernetes strings: cores or millicores, bytes in Ki.
import { parseCPUToMilli, parseMemoryToBytes } from '../api/quantity.js';
import type { ResourceList } from './node-types.js';

/** kubelet's default --eviction-hard that also shapes allocatable. */
export const HARD_EVICTION_MEMORY_BYTES = 100 * 1024 * 1024;
export const HARD_EVICTION_NODEFS_FRACTION = 0.1;

export interface MachineSize {
  cpuCount: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
}

/** The node's resources in base units: cpu in millicores, memory and storage in bytes, pods as a count. */
interface Amounts {
  cpu: number;
  memory: number;
  'ephemeral-storage': number;
  pods: number;
}

export function formatCPU(milli: number): string {
  const m = Math.max(0, Math.floor(milli));
  return m % 1000 === 0 ? String(m / 1000) : `${m}m`;
}

/** Bytes as whole KiB (rounded down: a report never claims more than there is). */
export function formatBytes(bytes: number): string {
  return `${Math.max(0, Math.floor(bytes / 1024))}Ki`;
}

function format(a: Amounts): ResourceList {
  return {
    cpu: formatCPU(a.cpu),
    memory: formatBytes(a.memory),
    'ephemeral-storage': formatBytes(a['ephemeral-storage']),
    pods: String(Math.max(0, Math.floor(a.pods))),
  };
}

function capacityAmounts(size: MachineSize, maxPods: number): Amounts {
  return { cpu: size.cpuCount * 1000, memory: size.memoryBytes, 'ephemeral-storage': size.ephemeralStorageBytes, pods: maxPods };
}

export function nodeCapacity(size: MachineSize, maxPods: number): ResourceList {
  return format(capacityAmounts(size, maxPods));
}

function reservedOf(reserved: Record<string, string>, name: keyof Amounts): number {
  const value = reserved[name];
  if (value === undefined) return 0;
  return name === 'cpu' ? parseCPUToMilli(value) : name === 'pods' ? Number(value) : parseMemoryToBytes(value);
}

export interface Reservations {
  systemReserved: Record<string, string>;
  kubeReserved: Record<string, string>;
}

export function nodeAllocatable(size: MachineSize, maxPods: number, reservations: Reservations): ResourceList {
  const capacity = capacityAmounts(size, maxPods);
  const eviction: Amounts = {
    cpu: 0,
    memory: HARD_EVICTION_MEMORY_BYTES,
    'ephemeral-storage': Math.floor(size.ephemeralStorageBytes * HARD_EVICTION_NODEFS_FRACTION),
    pods: 0,
  };
  const out = { ...capacity };
  for (const name of Object.keys(capacity) as Array<keyof Amounts>) {
    out[name] = capacity[name] - reservedOf(reservations.systemReserved, name) - reservedOf(reservations.kubeReserved, name) - eviction[name];
  }
  return format(out);
}
