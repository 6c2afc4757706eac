// Docker's one-shot stats → ContainerStats. Pure. The working set is what kubelet
// and cAdvisor report (and what eviction uses): usage minus inactive file pages,
// which the kernel can reclaim without harm.
import type Docker from 'dockerode';
import type { ContainerStats } from '../runtime.js';
import { parseDockerTime } from './status-mapping.js';

type MemoryStats = Partial<Omit<Docker.MemoryStats, 'stats'>> & { stats?: Partial<Docker.MemoryStats['stats']> };

export function workingSetBytes(memory: MemoryStats | undefined): number {
  const usage = memory?.usage ?? 0;
  // cgroup v1 reports total_inactive_file (hierarchical), v2 inactive_file.
  const inactive = memory?.stats?.total_inactive_file ?? memory?.stats?.inactive_file ?? 0;
  return Math.max(0, usage - inactive);
}

export function containerStatsFromDocker(stats: Docker.ContainerStats, now: Date): ContainerStats {
  const memory = stats.memory_stats as MemoryStats | undefined;
  return {
    // A stopped container reports Go's zero time.
    timestamp: parseDockerTime(stats.read) ?? now,
    cpuUsageCoreNanoSeconds: stats.cpu_stats?.cpu_usage?.total_usage ?? 0,
    memoryWorkingSetBytes: workingSetBytes(memory),
    memoryUsageBytes: memory?.usage ?? 0,
  };
}
