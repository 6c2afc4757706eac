// Startup benchmark: 50 pods (pause + one busybox container each) brought up by the
// agent, against the same Docker calls made by a bare dockerode script at the same
// concurrency, in one run. Prints both times, the ratio and the agent's RSS.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DockerNetworkDriver } from '../../agent/runtime/docker/docker-network-driver.js';
import { DOCKER_SOCKET_PATH } from '../../agent/runtime/docker/docker-socket.js';
import { stringify } from 'yaml';
import { VERSION } from '../../agent/api/version.js';
import { spawnStandaloneAgent } from './standalone-agent.js';

const docker = new Docker({ socketPath: DOCKER_SOCKET_PATH });

const networks = new DockerNetworkDriver();
/** Removes a bench network (the driver retries for 5 s), saying so when Docker refuses: a stale endpoint count, which restarting dockerd clears. */
export async function removeNetwork(name: string): Promise<void> {
  await networks.removeNetwork(name).catch((err: unknown) => {
    process.stderr.write(`bench: could not remove Docker network ${name}: ${(err as Error).message}\n`);
  });
}
const PAUSE = `nodelet/pause:${VERSION}`;
const BUSYBOX = `nodelet/busybox:${VERSION}`;

/** Second octets of the bench's /16s: 10.241–254 without 10.250, where the tests make their networks. */
const BENCH_OCTETS = Array.from({ length: 14 }, (_, i) => 241 + i)
  .filter((b) => b !== 250)
  .map(String);

/** A /16 per call, so a network a killed run could not remove never collides with the next. */
export function benchSubnet(): string {
  return `10.${BENCH_OCTETS[Math.floor(Math.random() * BENCH_OCTETS.length)]}.0.0/16`;
}

/**
 * A /16 no existing Docker network overlaps: a network a killed run could not
 * remove (Docker 20.10 keeps stale endpoints) must not stall the next run.
 */
export async function freeBenchSubnet(): Promise<string> {
  const used = new Set<string>();
  for (const n of await docker.listNetworks()) {
    for (const c of (n.IPAM?.Config ?? []) as Array<{ Subnet?: string }>) {
      const m = /^10\.(\d+)\./.exec(c.Subnet ?? '');
      if (m) used.add(m[1]!);
    }
  }
  const free = BENCH_OCTETS.filter((b) => !used.has(b));
  if (free.length === 0)
    throw new Error('every bench subnet 10.241-254.0.0/16 (but 10.250) is taken by a Docker network; remove stale nodelet-bench-* networks');
  return `10.${free[Math.floor(Math.random() * free.length)]}.0.0/16`;
}

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

/**
 * Removes the containers four at a time: Docker 20.10 loses updates of a network's
 * endpoint count when hundreds are removed at once, and the network then refuses
 * removal ("has active endpoints") until dockerd restarts.
 */
export async function removeByLabel(label: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [label] } });
  const queue = [...list];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let c = queue.shift(); c; c = queue.shift())
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
    }),
  );
}

/** The same engine calls the agent makes for one pod, without any agent logic. */
async function baselinePod(i: number, network: string, runLabel: string): Promise<void> {
  const labels = { 'nodelet-bench': runLabel };
  const sandbox = await docker.createContainer({
    Image: PAUSE,
    name: `bench-pause-${runLabel}-${i}`,
    Hostname: `bench-${i}`,
    Labels: labels,
    HostConfig: { NetworkMode: network, IpcMode: 'shareable', RestartPolicy: { Name: 'no' } },
  });
  await sandbox.start();
  await sandbox.inspect();
  const app = await docker.createContainer({
    Image: BUSYBOX,
    name: `bench-app-${runLabel}-${i}`,
    Labels: labels,
    Entrypoint: ['sleep'],
    Cmd: ['3600'],
    Healthcheck: { Test: ['NONE'] },
    HostConfig: { NetworkMode: `container:${sandbox.id}`, IpcMode: `container:${sandbox.id}`, RestartPolicy: { Name: 'no' } },
  });
  await app.start();
}

/** Bare-dockerode baseline: total time, and each pod's time from the common start. */
export async function runBaseline(count: number): Promise<{ totalMs: number; perPodMs: number[] }> {
  const runLabel = `b${Date.now().toString(36)}`;
  const network = `nodelet-bench-${runLabel}`;
  await docker.createNetwork({ Name: network, Driver: 'bridge', IPAM: { Config: [{ Subnet: benchSubnet() }] } });
  try {
    const t0 = performance.now();
    const perPodMs = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        await baselinePod(i, network, runLabel);
        return performance.now() - t0;
      }),
    );
    return { totalMs: performance.now() - t0, perPodMs };
  } finally {
    await removeByLabel(`nodelet-bench=${runLabel}`);
    await removeNetwork(network);
  }
}

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function runAgent(count: number): Promise<{ ms: number; rss: number; cpu: number }> {
  const nodeName = `bench-${Date.now().toString(36)}`;
  const rootDir = await mkdtemp(join(tmpdir(), 'nodelet-bench-root-'));
  const manifests = await mkdtemp(join(tmpdir(), 'nodelet-bench-manifests-'));
  const child = spawnStandaloneAgent({ nodeName, rootDir, manifests, podCIDR: benchSubnet() });
  try {
    // Let the agent finish starting (network, images) before the clock starts.
    const statePods = join(rootDir, 'pods');
    await new Promise((r) => setTimeout(r, 3000));
    const pods = Array.from({ length: count }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `bench-${i}` },
      spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: BUSYBOX, command: ['sleep', '3600'] }] },
    }));
    const cpu0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    await writeFile(join(manifests, 'pods.yaml'), pods.map((p) => stringify(p)).join('---\n'));
    for (;;) {
      const { readdir } = await import('node:fs/promises');
      const uids = await readdir(statePods).catch(() => [] as string[]);
      let running = 0;
      for (const uid of uids) {
        const text = await readFile(join(statePods, uid, 'status.json'), 'utf8').catch(() => '');
        if (text.includes('"phase":"Running"')) running++;
      }
      if (running >= count) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const ms = performance.now() - t0;
    const rss = rssMiB(child.pid!);
    return { ms, rss, cpu: cpuSeconds(child.pid!) - cpu0 };
  } finally {
    child.kill('SIGKILL');
    await removeByLabel(`nodelet.io/node=${nodeName}`);
    await removeNetwork(`nodelet-${nodeName}`);
    await rm(rootDir, { recursive: true, force: true });
    await rm(manifests, { recursive: true, force: true });
  }
}

export async function runStartupBench(args: string[]): Promise<void> {
  const count = arg(args, 'pods', 50);
  process.stdout.write(`startup bench: ${count} pods (pause + 1 busybox container each)\n`);
  const baselineMs = (await runBaseline(count)).totalMs;
  process.stdout.write(`baseline (bare dockerode, ${count} pods in parallel): ${(baselineMs / 1000).toFixed(2)} s\n`);
  const agent = await runAgent(count);
  process.stdout.write(
    `agent (manifests written -> all ${count} pods Running): ${(agent.ms / 1000).toFixed(2)} s, agent RSS ${agent.rss.toFixed(1)} MiB, agent CPU ${agent.cpu.toFixed(2)} s\n`,
  );
  process.stdout.write(`ratio=${(agent.ms / baselineMs).toFixed(2)} rss_mib=${agent.rss.toFixed(0)}\n`);
}
