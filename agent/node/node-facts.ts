// What the Node reports about the machine: identity, OS, and sizes. Collected once
// per process and cached: none of it changes while the agent runs (bootID only at a
// reboot, which restarts the agent), and systeminformation's system() spawns
// processes, so it must stay off every periodic path. Everything cheaper is read
// from /etc, /proc and `os` directly.
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { dirname } from 'node:path';
import { system } from 'systeminformation';
import { detectHostIP } from './host-ip.js';

export interface NodeFacts {
  /** Lower-cased host name: the Hostname address and the kubernetes.io/hostname label. */
  hostname: string;
  internalIP: string;
  machineID: string;
  bootID: string;
  systemUUID: string;
  kernelVersion: string;
  osImage: string;
  operatingSystem: 'linux';
  /** GOARCH spelling, as Kubernetes uses it: amd64, arm64… */
  architecture: string;
  cpuCount: number;
  memoryBytes: number;
  /** Size of the filesystem holding the agent's root dir. */
  ephemeralStorageBytes: number;
}

export interface NodeFactSources {
  /** The SMBIOS product UUID; default: systeminformation's system() (spawns dmidecode once). */
  systemUUID?: () => Promise<string>;
  readText?: (path: string) => Promise<string>;
}

const GOARCH: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
};

export function goArchitecture(arch: NodeJS.Architecture = process.arch): string {
  return GOARCH[arch] ?? arch;
}

/** PRETTY_NAME of an os-release file (quotes removed), or undefined. */
export function prettyName(osRelease: string): string | undefined {
  for (const line of osRelease.split('\n')) {
    const m = /^PRETTY_NAME=(.*)$/.exec(line.trim());
    if (m) return (m[1] ?? '').replace(/^(["'])(.*)\1$/, '$2').trim() || undefined;
  }
  return undefined;
}

async function readTrimmed(read: (p: string) => Promise<string>, path: string): Promise<string> {
  try {
    return (await read(path)).trim();
  } catch {
    return '';
  }
}

async function defaultSystemUUID(): Promise<string> {
  const info = await system();
  return info.uuid;
}

/** Bytes of the filesystem holding `dir`, looking at the nearest existing ancestor (the root dir may not exist yet). */
export async function filesystemSize(dir: string): Promise<number> {
  for (let path = dir; ; path = dirname(path)) {
    try {
      const s = await statfs(path);
      return s.blocks * s.bsize;
    } catch (err) {
      if (path === dirname(path)) throw err;
    }
  }
}

/** Collects the facts now (uncached). */
export async function collectNodeFacts(rootDir: string, sources: NodeFactSources = {}): Promise<NodeFacts> {
  const read = sources.readText ?? ((p: string) => readFile(p, 'utf8'));
  const [machineID, bootID, osRelease, ephemeralStorageBytes] = await Promise.all([
    readTrimmed(read, '/etc/machine-id'),
    readTrimmed(read, '/proc/sys/kernel/random/boot_id'),
    readTrimmed(read, '/etc/os-release'),
    filesystemSize(rootDir),
  ]);
  let systemUUID = '';
  try {
    systemUUID = (await (sources.systemUUID ?? defaultSystemUUID)()).trim();
  } catch {
    /* no DMI data (containers, some VMs): fall back below */
  }
  // systeminformation answers '-' when it found nothing; kubelet would report the machine ID's stand-in.
  if (!systemUUID || systemUUID === '-') systemUUID = machineID;
  return {
    hostname: os.hostname().toLowerCase(),
    internalIP: detectHostIP(),
    machineID,
    bootID,
    systemUUID,
    kernelVersion: os.release(),
    osImage: prettyName(osRelease) ?? 'Linux',
    operatingSystem: 'linux',
    architecture: goArchitecture(),
    cpuCount: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    memoryBytes: os.totalmem(),
    ephemeralStorageBytes,
  };
}

const cache = new Map<string, Promise<NodeFacts>>();

/** The facts for `rootDir`, collected on the first call and cached for the process's life. */
export function nodeFacts(rootDir: string, sources?: NodeFactSources): Promise<NodeFacts> {
  let facts = cache.get(rootDir);
  if (!facts) {
    facts = collectNodeFacts(rootDir, sources);
    cache.set(rootDir, facts);
    // A failed collection (unreadable root dir) is retried by the next caller.
    facts.catch(() => cache.delete(rootDir));
  }
  return facts;
}
