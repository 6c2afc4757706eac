// probes benchmark: 100 pods, each with an exec readiness and an httpGet liveness
// probe at periodSeconds 1, run for 60 s; the agent's CPU share of one core and its
// RSS, beside the same node with the probes removed, and the probes' p99 latency.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { VERSION } from '../../agent/config/config.js';
import { benchSubnet, cpuSeconds, removeByLabel, removeNetwork, rssMiB } from './startup.js';

interface RunResult { cpuShare: number; rss: number; latency?: Record<string, { count: number; p50: number; p99: number }> }

function podsYaml(count: number, withProbes: boolean): string {
  return Array.from({ length: count }, (_, i) => stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `probe-${i}` },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{
        name: 'web', image: `nodelet/busybox:${VERSION}`,
        command: ['sh', '-c', 'mkdir -p /www && touch /www/healthz && exec httpd -f -p 8080 -h /www'],
        ...(withProbes ? {
          readinessProbe: { exec: { command: ['test', '-f', '/www/healthz'] }, periodSeconds: 1 },
          livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
        } : {}),
      }],
    },
  })).join('---\n');
}

async function runNode(count: number, seconds: number, withProbes: boolean): Promise<RunResult> {
  const nodeName = `bench-probes-${Date.now().toString(36)}`;
  const dir = await mkdtemp(join(tmpdir(), 'nodelet-bench-probes-'));
  const manifests = join(dir, 'manifests');
  const rootDir = join(dir, 'root');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(manifests);
  const child = spawn(process.execPath, [
    'dist/agent/cli/main.js', 'agent', '--node-name', nodeName, '--root-dir', rootDir, '--manifests', manifests,
    '--pod-cidr', benchSubnet(), '--log-level', 'error',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
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
    await new Promise((r) => setTimeout(r, 5000));
    const cpu0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpuShare = (cpuSeconds(child.pid!) - cpu0) / ((performance.now() - t0) / 1000);
    const rss = rssMiB(child.pid!);
    const latency = withProbes
      ? JSON.parse(await readFile(join(rootDir, 'state', 'probe-latency.json'), 'utf8').catch(() => '{}'))
      : undefined;
    return { cpuShare, rss, latency };
  } finally {
    child.kill('SIGKILL');
    await removeByLabel(`nodelet.io/node=${nodeName}`);
    await removeNetwork(`nodelet-${nodeName}`);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runProbesBench(args: string[]): Promise<void> {
  const arg = (name: string, d: number) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : d; };
  const count = arg('pods', 100);
  const seconds = arg('seconds', 60);
  process.stdout.write(`probes bench: ${count} pods, exec readiness + httpGet liveness every 1 s, ${seconds} s each run\n`);
  const without = await runNode(count, seconds, false);
  process.stdout.write(`without probes: agent CPU ${(without.cpuShare * 100).toFixed(1)}% of a core, RSS ${without.rss.toFixed(0)} MiB\n`);
  const withP = await runNode(count, seconds, true);
  const http = withP.latency?.httpGet;
  const exec = withP.latency?.exec;
  process.stdout.write(`with probes:    agent CPU ${(withP.cpuShare * 100).toFixed(1)}% of a core, RSS ${withP.rss.toFixed(0)} MiB\n`);
  process.stdout.write(`probe latency: httpGet p50 ${http?.p50.toFixed(1)} ms p99 ${http?.p99.toFixed(1)} ms (${http?.count} samples); exec p50 ${exec?.p50.toFixed(1)} ms p99 ${exec?.p99.toFixed(1)} ms\n`);
  process.stdout.write(`cpu=${withP.cpuShare.toFixed(2)} p99_ms=${http?.p99.toFixed(1)}\n`);
}
