// probes benchmark: 100 pods, each with an exec readiness and an httpGet liveness
// probe at periodSeconds 1, run for 60 s; the agent's CPU share of one core and its
// RSS, beside the same node with the probes removed, and the probes' p99 latency
// in steady state (the window starts once the latency ring holds no sample from
// the pods' start-up).
// Exec probes cost CPU outside the agent process too: in its exec helper and the
// commands that one starts (counted once reaped) or, through Docker's exec,
// in dockerd, containerd and runc; the whole machine's busy time shows both.
// `--cpu-prof DIR` writes a V8 CPU profile of the agent with probes into DIR;
// `--only-probes` skips the run without probes.
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { VERSION } from '../../agent/api/version.js';
import { cpuSeconds, freeBenchSubnet, removeByLabel, removeNetwork, rssMiB } from './startup.js';
import { spawnStandaloneAgent } from './standalone-agent.js';

/** The agent keeps the newest 10 000 latencies per handler and writes their summary every 10 s. */
const LATENCY_RING = 10_000;
const LATENCY_SUMMARY_PERIOD_S = 10;

/**
 * How long to wait between "all pods ready" and the measured window. With probes,
 * long enough that the latencies read at the window's end were all taken in steady
 * state, none while a hundred containers were still being started.
 */
function settleMs(pods: number, windowSeconds: number, withProbes: boolean): number {
  if (!withProbes) return 5_000;
  const ringSeconds = LATENCY_RING / pods; // one probe per pod per handler each second
  return Math.max(5, Math.ceil(ringSeconds + LATENCY_SUMMARY_PERIOD_S - windowSeconds)) * 1000;
}

/** In profiling runs: SIGUSR2 makes the agent exit at once, which writes its CPU profile. */
const EXIT_ON_SIGUSR2 = `data:text/javascript,process.on('SIGUSR2',()=>process.exit(0))`;

interface RunResult {
  /** The agent process's CPU, in cores. */
  cpuShare: number;
  /** CPU of the agent's exec helper process itself, in cores. */
  helperCpuShare: number;
  /** CPU of the commands exec probes ran (through the helper), in cores. */
  execCommandsCpuShare: number;
  /** Busy CPU of the whole machine (agent, Docker, containers, anything else running), in cores. */
  machineCores: number;
  rss: number;
  latency?: Record<string, { count: number; p50: number; p99: number }>;
}

/** CPU seconds (user + system) of the process's reaped children. */
function childCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** The agent's child processes now (the exec helper among them). */
function childrenOf(pid: number): number[] {
  const tasks = readdirSync(`/proc/${pid}/task`);
  return tasks.flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
}

/** CPU seconds of each live child: its own, and that of the processes it has reaped. */
function childrenCpu(pid: number): Map<number, { own: number; reaped: number }> {
  const out = new Map<number, { own: number; reaped: number }>();
  for (const child of childrenOf(pid)) {
    try {
      out.set(child, { own: cpuSeconds(child), reaped: childCpuSeconds(child) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** CPU the long-lived children (exec helper) spent between two readings, own and reaped. */
function helperCpuBetween(
  before: Map<number, { own: number; reaped: number }>,
  after: Map<number, { own: number; reaped: number }>,
): { own: number; reaped: number } {
  let own = 0;
  let reaped = 0;
  for (const [pid, end] of after) {
    const start = before.get(pid) ?? { own: 0, reaped: 0 };
    own += end.own - start.own;
    reaped += end.reaped - start.reaped;
  }
  return { own, reaped };
}

/** Busy CPU seconds of the whole machine so far (all but idle and iowait). */
function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - cpu[3]! - cpu[4]!) / 100;
}

function podsYaml(count: number, withProbes: boolean): string {
  return Array.from({ length: count }, (_, i) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `probe-${i}` },
      spec: {
        terminationGracePeriodSeconds: 0,
        containers: [
          {
            name: 'web',
            image: `nodelet/busybox:${VERSION}`,
            command: ['sh', '-c', 'mkdir -p /www && touch /www/healthz && exec httpd -f -p 8080 -h /www'],
            ...(withProbes
              ? {
                  readinessProbe: { exec: { command: ['test', '-f', '/www/healthz'] }, periodSeconds: 1 },
                  livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
                }
              : {}),
          },
        ],
      },
    }),
  ).join('---\n');
}

async function runNode(
  count: number,
  seconds: number,
  withProbes: boolean,
  execHandler: string,
  cpuProfDir?: string,
  settleSeconds?: number,
): Promise<RunResult> {
  const nodeName = `bench-probes-${Date.now().toString(36)}`;
  const dir = await mkdtemp(join(tmpdir(), 'nodelet-bench-probes-'));
  const manifests = join(dir, 'manifests');
  const rootDir = join(dir, 'root');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(manifests);
  const configPath = join(dir, 'nodelet.yaml');
  await writeFile(configPath, `execHandler: ${execHandler}\n`);
  const profile = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--import', EXIT_ON_SIGUSR2] : [];
  const subnet = await freeBenchSubnet();
  const child = spawnStandaloneAgent({ nodeName, rootDir, manifests, podCIDR: subnet, nodeArgs: profile, agentArgs: ['--config', configPath] });
  try {
    await new Promise((r) => setTimeout(r, 3000));
    await writeFile(join(manifests, 'pods.yaml'), podsYaml(count, withProbes));
    // Wait until every pod runs (and is ready, with probes) before measuring.
    for (;;) {
      const uids = await readdir(join(rootDir, 'pods')).catch(() => [] as string[]);
      let ready = 0;
      for (const uid of uids) {
        const text = await readFile(join(rootDir, 'pods', uid, 'status.json'), 'utf8').catch(() => '');
        if (text.includes('"type":"Ready","status":"True"')) ready++;
      }
      if (ready >= count) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await new Promise((r) => setTimeout(r, settleSeconds !== undefined ? settleSeconds * 1000 : settleMs(count, seconds, withProbes)));
    const cpu0 = cpuSeconds(child.pid!);
    const child0 = childCpuSeconds(child.pid!);
    const helpers0 = childrenCpu(child.pid!);
    const machine0 = machineBusySeconds();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const elapsed = (performance.now() - t0) / 1000;
    const cpuShare = (cpuSeconds(child.pid!) - cpu0) / elapsed;
    const helpers = helperCpuBetween(helpers0, childrenCpu(child.pid!));
    const helperCpuShare = helpers.own / elapsed;
    // Commands the helper reaped, and any the agent started itself.
    const execCommandsCpuShare = (helpers.reaped + childCpuSeconds(child.pid!) - child0) / elapsed;
    const machineCores = (machineBusySeconds() - machine0) / elapsed;
    const rss = rssMiB(child.pid!);
    const latency = withProbes ? JSON.parse(await readFile(join(rootDir, 'state', 'probe-latency.json'), 'utf8').catch(() => '{}')) : undefined;
    return { cpuShare, helperCpuShare, execCommandsCpuShare, machineCores, rss, latency };
  } finally {
    if (cpuProfDir) {
      child.kill('SIGUSR2');
      await new Promise((r) => {
        child.once('exit', r);
        setTimeout(r, 15_000);
      });
    }
    child.kill('SIGKILL');
    await removeByLabel(`nodelet.io/node=${nodeName}`);
    await removeNetwork(`nodelet-${nodeName}`);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runProbesBench(args: string[]): Promise<void> {
  const arg = (name: string, d: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const count = arg('pods', 100);
  const seconds = arg('seconds', 60);
  // `--exec-handler docker` measures Docker's exec (default: auto, as the agent's default: the native helper).
  const handlerIndex = args.indexOf('--exec-handler');
  const execHandler = handlerIndex >= 0 ? (args[handlerIndex + 1] ?? 'auto') : 'auto';
  const profIndex = args.indexOf('--cpu-prof');
  const cpuProfDir = profIndex >= 0 ? args[profIndex + 1] : undefined;
  // `--settle S` shortens the wait before measuring (quick CPU comparisons; the latencies then include start-up).
  const settleSeconds = args.includes('--settle') ? arg('settle', 5) : undefined;
  const pct = (cores: number) => `${(cores * 100).toFixed(1)}%`;
  process.stdout.write(`probes bench: ${count} pods, exec readiness + httpGet liveness every 1 s, ${seconds} s each run, exec handler ${execHandler}\n`);
  // `--only-probes` skips the run without probes (for profiling).
  if (!args.includes('--only-probes')) {
    const without = await runNode(count, seconds, false, execHandler, undefined, settleSeconds);
    process.stdout.write(
      `without probes: agent CPU ${pct(without.cpuShare)} of a core, RSS ${without.rss.toFixed(0)} MiB; machine busy ${without.machineCores.toFixed(2)} cores\n`,
    );
  }
  const withP = await runNode(count, seconds, true, execHandler, cpuProfDir, settleSeconds);
  const http = withP.latency?.httpGet;
  const exec = withP.latency?.exec;
  process.stdout.write(
    `with probes:    agent CPU ${pct(withP.cpuShare)} of a core, + exec helper ${pct(withP.helperCpuShare)}, + exec'd commands ${pct(withP.execCommandsCpuShare)}; RSS ${withP.rss.toFixed(0)} MiB; machine busy ${withP.machineCores.toFixed(2)} cores\n`,
  );
  process.stdout.write(
    `probe latency: httpGet p50 ${http?.p50.toFixed(1)} ms p99 ${http?.p99.toFixed(1)} ms (${http?.count} samples); exec p50 ${exec?.p50.toFixed(1)} ms p99 ${exec?.p99.toFixed(1)} ms (${exec?.count} samples)\n`,
  );
  // The agent's share counts its exec helper (the forks it does for the agent); the
  // exec'd commands are the probes' own work, as runc's was under Docker's exec.
  process.stdout.write(`cpu=${(withP.cpuShare + withP.helperCpuShare).toFixed(2)} p99_ms=${http?.p99.toFixed(1)} rss_mib=${withP.rss.toFixed(0)}\n`);
}
