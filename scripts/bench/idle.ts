// idle benchmark: a standalone agent with 10 idle pods (pause + one busybox `sleep`
// container each), its RSS once it has settled; then 100 more pods, its RSS once it
// has settled again; then the agent's CPU at 110 idle pods over a window. What an
// extra pod costs in memory is the difference over the 100 pods added.
// `--heap-dir DIR` writes, at each settled point, a V8 heap snapshot of the agent and
// its `process.memoryUsage()` into DIR (through a debug-only preload the bench gives
// the agent process; the agent's code has no such path).
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { VERSION } from '../../agent/api/version.js';
import { cpuSeconds, freeBenchSubnet, removeByLabel, removeNetwork, rssMiB } from './startup.js';
import { spawnStandaloneAgent } from './standalone-agent.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Debug-only preload for `--heap-dir`: SIGUSR2 writes the agent's memoryUsage() and a
 * heap snapshot into the diagnostic directory (named after the signal's count).
 */
const HEAP_ON_SIGUSR2 = `data:text/javascript,import v8 from 'node:v8';import fs from 'node:fs';let n=0;process.on('SIGUSR2',()=>{n++;const d=process.env.NODELET_BENCH_HEAP_DIR;fs.writeFileSync(d+'/usage-'+n+'.json',JSON.stringify({...process.memoryUsage(),heap:v8.getHeapStatistics(),spaces:v8.getHeapSpaceStatistics()}));v8.writeHeapSnapshot(d+'/agent-'+n+'.heapsnapshot');fs.writeFileSync(d+'/done-'+n,'');});`;

function podsYaml(count: number): string {
  return Array.from({ length: count }, (_, i) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `idle-${i}` },
      spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: `nodelet/busybox:${VERSION}`, command: ['sleep', '3600'] }] },
    }),
  ).join('---\n');
}

/** Waits until `count` pods report phase Running in the agent's state directory. */
async function waitRunning(rootDir: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const uids = await readdir(join(rootDir, 'pods')).catch(() => [] as string[]);
    let running = 0;
    for (const uid of uids) {
      const text = await readFile(join(rootDir, 'pods', uid, 'status.json'), 'utf8').catch(() => '');
      if (text.includes('"phase":"Running"')) running++;
    }
    if (running >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${running} of ${count} pods Running after ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

/**
 * RSS once it has settled: at least `minMs` after the pods are up, then until two
 * readings 10 s apart differ by less than 1 MiB (at most `maxMs` in all). An idle
 * agent's RSS moves with each GC, so the settled figure is the last reading.
 */
async function settledRss(pid: number, minMs: number, maxMs: number): Promise<number> {
  const start = Date.now();
  await sleep(minMs);
  let last = rssMiB(pid);
  while (Date.now() - start < maxMs) {
    await sleep(10_000);
    const now = rssMiB(pid);
    if (Math.abs(now - last) < 1) return now;
    last = now;
  }
  return rssMiB(pid);
}

/** Debug-only: asks the agent (started with the preload) for a heap snapshot, waits until it is written. */
async function heapSnapshot(child: ChildProcess, heapDir: string, n: number): Promise<void> {
  child.kill('SIGUSR2');
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (
      await readFile(join(heapDir, `done-${n}`)).then(
        () => true,
        () => false,
      )
    )
      return;
    await sleep(500);
  }
  throw new Error(`heap snapshot ${n} not written within 120 s`);
}

/** The resident memory of the process by kind (anonymous, file-backed), from smaps_rollup. */
function rssBreakdown(pid: number): string {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return `anon ${(kb('Anonymous') / 1024).toFixed(1)} MiB, file ${((kb('Rss') - kb('Anonymous')) / 1024).toFixed(1)} MiB`;
}

export async function runIdleBench(args: string[]): Promise<void> {
  const arg = (name: string, d: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const first = arg('pods', 10);
  const more = arg('more', 100);
  const seconds = arg('seconds', 30);
  const heapIndex = args.indexOf('--heap-dir');
  const heapDir = heapIndex >= 0 ? resolve(args[heapIndex + 1] ?? 'heap') : undefined;
  process.stdout.write(`idle bench: ${first} idle pods, then ${more} more (pause + 1 busybox sleep each); idle CPU over ${seconds} s at ${first + more}\n`);

  const nodeName = `bench-idle-${Date.now().toString(36)}`;
  const dir = await mkdtemp(join(tmpdir(), 'nodelet-bench-idle-'));
  const manifests = join(dir, 'manifests');
  const rootDir = join(dir, 'root');
  await mkdir(manifests);
  if (heapDir) await mkdir(heapDir, { recursive: true });
  const subnet = await freeBenchSubnet();
  const child = spawnStandaloneAgent({
    nodeName,
    rootDir,
    manifests,
    podCIDR: subnet,
    nodeArgs: heapDir ? ['--import', HEAP_ON_SIGUSR2] : [],
    env: { ...process.env, ...(heapDir ? { NODELET_BENCH_HEAP_DIR: heapDir } : {}) },
  });
  // Ends the run early, cleaning up, when the agent dies or the bench is interrupted.
  let onInterrupt: () => void = () => undefined;
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`agent exited (${signal ?? code})`)));
    onInterrupt = () => reject(new Error('interrupted'));
    process.once('SIGINT', onInterrupt).once('SIGTERM', onInterrupt);
  });
  exited.catch(() => undefined);
  try {
    await sleep(3000);
    await writeFile(join(manifests, 'pods.yaml'), podsYaml(first));
    await Promise.race([waitRunning(rootDir, first, 120_000), exited]);
    const rss10 = await Promise.race([settledRss(child.pid!, 15_000, 60_000), exited]);
    process.stdout.write(`${first} pods: RSS ${rss10.toFixed(1)} MiB (${rssBreakdown(child.pid!)})\n`);
    if (heapDir) await heapSnapshot(child, heapDir, 1);

    // The same file with the first pods unchanged: only the new ones start.
    await writeFile(join(manifests, 'pods.yaml'), podsYaml(first + more));
    await Promise.race([waitRunning(rootDir, first + more, 300_000), exited]);
    const rss110 = await Promise.race([settledRss(child.pid!, 20_000, 90_000), exited]);
    process.stdout.write(`${first + more} pods: RSS ${rss110.toFixed(1)} MiB (${rssBreakdown(child.pid!)})\n`);

    const cpu0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    await Promise.race([sleep(seconds * 1000), exited]);
    const cpu = (cpuSeconds(child.pid!) - cpu0) / ((performance.now() - t0) / 1000);
    process.stdout.write(`idle at ${first + more} pods: agent CPU ${(cpu * 100).toFixed(2)}% of a core, RSS ${rssMiB(child.pid!).toFixed(1)} MiB\n`);
    if (heapDir) {
      await heapSnapshot(child, heapDir, 2);
      process.stdout.write(`heap snapshots and memoryUsage() in ${heapDir} (1: ${first} pods, 2: ${first + more} pods)\n`);
    }
    const perPod = (rss110 - rss10) / more;
    process.stdout.write(`rss10_mib=${rss10.toFixed(0)} rss110_mib=${rss110.toFixed(0)} per_pod_mib=${perPod.toFixed(2)} cpu=${cpu.toFixed(3)}\n`);
  } finally {
    process.off('SIGINT', onInterrupt).off('SIGTERM', onInterrupt);
    child.kill('SIGKILL');
    await removeByLabel(`nodelet.io/node=${nodeName}`);
    await removeNetwork(`nodelet-${nodeName}`);
    await rm(dir, { recursive: true, force: true });
  }
}
