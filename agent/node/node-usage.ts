// The measurements behind the pressure conditions, read straight from /proc and
// statfs (cheap, no processes spawned: this runs every status period). A value
// that cannot be read is left out, which reports no pressure rather than a false alarm.
import { readFile, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { NodeHealthSample } from './node-conditions.js';

export type NodeUsage = Pick<NodeHealthSample, 'memoryAvailableBytes' | 'rootFsAvailableBytes' | 'rootFsTotalBytes' | 'processCount' | 'pidMax'>;

/** MemAvailable of /proc/meminfo in bytes. */
export function parseMemAvailable(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : undefined;
}

/**
 * Scheduling entities (processes and threads) from /proc/loadavg's fourth field
 * ("running/total"): the same count the kernel checks against pid_max.
 */
export function parseTaskCount(loadavg: string): number | undefined {
  const m = /^\S+\s+\S+\s+\S+\s+\d+\/(\d+)/.exec(loadavg);
  return m ? Number(m[1]) : undefined;
}

async function text(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function rootFs(dir: string): Promise<{ available: number; total: number } | undefined> {
  for (let path = dir; ; path = dirname(path)) {
    try {
      const s = await statfs(path);
      return { available: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch {
      if (path === dirname(path)) return undefined;
    }
  }
}

export async function measureNodeUsage(rootDir: string): Promise<NodeUsage> {
  const [meminfo, loadavg, pidMaxText, fs] = await Promise.all([
    text('/proc/meminfo'),
    text('/proc/loadavg'),
    text('/proc/sys/kernel/pid_max'),
    rootFs(rootDir),
  ]);
  const usage: NodeUsage = {};
  const memoryAvailableBytes = meminfo === undefined ? undefined : parseMemAvailable(meminfo);
  if (memoryAvailableBytes !== undefined) usage.memoryAvailableBytes = memoryAvailableBytes;
  const processCount = loadavg === undefined ? undefined : parseTaskCount(loadavg);
  if (processCount !== undefined) usage.processCount = processCount;
  const pidMax = Number(pidMaxText?.trim());
  if (Number.isFinite(pidMax) && pidMax > 0) usage.pidMax = pidMax;
  if (fs) {
    usage.rootFsAvailableBytes = fs.available;
    usage.rootFsTotalBytes = fs.total;
  }
  return usage;
}
