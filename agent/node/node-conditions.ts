// The four node conditions kubelet owns, from plain measurements. Each report
// carries a fresh lastHeartbeatTime; lastTransitionTime moves only when a
// condition's status flips. Reasons and messages are kubelet's, so dashboards and
// alerts written for kubelet nodes read nodelet nodes the same way.
import { formatTime } from '../api/time.js';
import type { ConditionStatus } from '../api/types.js';
import { HARD_EVICTION_MEMORY_BYTES } from './node-resources.js';
import type { NodeCondition, NodeConditionType } from './node-types.js';

/** kubelet's default nodefs.available hard eviction threshold: pressure below 10% free. */
export const DISK_PRESSURE_FREE_FRACTION = 0.1;
/** Pressure once more than 90% of pid_max is in use. */
export const PID_PRESSURE_USED_FRACTION = 0.9;

export interface NodeHealthSample {
  /** Why the container runtime did not answer; undefined when it did. */
  runtimeError?: string;
  /** Failed health checks (PLEG and the like), by name. */
  failedChecks?: Array<{ name: string; error: string }>;
  /** Measurements; an unknown one (undefined) reports no pressure. */
  memoryAvailableBytes?: number;
  rootFsAvailableBytes?: number;
  rootFsTotalBytes?: number;
  processCount?: number;
  pidMax?: number;
  /** Default: 100Mi, kubelet's memory.available hard threshold. */
  memoryEvictionThresholdBytes?: number;
}

function readyProblems(sample: NodeHealthSample): string[] {
  const problems: string[] = [];
  if (sample.runtimeError !== undefined) problems.push(`container runtime is down: ${sample.runtimeError}`);
  for (const check of sample.failedChecks ?? []) problems.push(`${check.name} is not healthy: ${check.error}`);
  return problems;
}

// The message of an aggregate error as Kubernetes prints one: alone, or "[a, b]".
function aggregate(problems: string[]): string {
  return problems.length === 1 ? problems[0]! : `[${problems.join(', ')}]`;
}

function memoryPressure(s: NodeHealthSample): boolean {
  const threshold = s.memoryEvictionThresholdBytes ?? HARD_EVICTION_MEMORY_BYTES;
  return s.memoryAvailableBytes !== undefined && s.memoryAvailableBytes < threshold;
}

function diskPressure(s: NodeHealthSample): boolean {
  if (s.rootFsAvailableBytes === undefined || !s.rootFsTotalBytes) return false;
  return s.rootFsAvailableBytes < s.rootFsTotalBytes * DISK_PRESSURE_FREE_FRACTION;
}

function pidPressure(s: NodeHealthSample): boolean {
  if (s.processCount === undefined || !s.pidMax) return false;
  return s.processCount > s.pidMax * PID_PRESSURE_USED_FRACTION;
}

interface Verdict {
  type: NodeConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
}

function verdicts(sample: NodeHealthSample): Verdict[] {
  const problems = readyProblems(sample);
  const memory = memoryPressure(sample);
  const disk = diskPressure(sample);
  const pid = pidPressure(sample);
  return [
    memory
      ? { type: 'MemoryPressure', status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' }
      : { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    disk
      ? { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' }
      : { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    pid
      ? { type: 'PIDPressure', status: 'True', reason: 'KubeletHasInsufficientPID', message: 'kubelet has insufficient PID available' }
      : { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
    problems.length > 0
      ? { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: aggregate(problems) }
      : { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
  ];
}

/**
 * MemoryPressure, DiskPressure, PIDPressure and Ready for `now`, keeping each
 * lastTransitionTime from `previous` (the Node's current conditions) while the
 * status stays the same.
 */
export function nodeConditions(sample: NodeHealthSample, previous: readonly NodeCondition[] | undefined, now: Date): NodeCondition[] {
  const stamp = formatTime(now);
  return verdicts(sample).map((v) => {
    const before = previous?.find((c) => c.type === v.type);
    const keep = before !== undefined && before.status === v.status && before.lastTransitionTime !== undefined;
    return {
      type: v.type,
      status: v.status,
      lastHeartbeatTime: stamp,
      lastTransitionTime: keep ? before.lastTransitionTime! : stamp,
      reason: v.reason,
      message: v.message,
    };
  });
}

/** The Ready condition of a list, if any. */
export function readyCondition(conditions: readonly NodeCondition[] | undefined): NodeCondition | undefined {
  return conditions?.find((c) => c.type === 'Ready');
}
