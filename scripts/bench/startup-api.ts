// startup-api benchmark: 50 pods created in the (in-memory) test apiserver for a
// joined agent; per pod, the time from "created" to "Running observed via watch",
// beside the bare-dockerode per-pod times at the same concurrency, in one run; and
// how many apiserver requests the agent made per pod.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERSION } from '../../agent/api/version.js';
import { TestApiServer } from '../../test/support/apiserver/server.js';
import { benchSubnet, removeByLabel, removeNetwork, runBaseline } from './startup.js';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export async function runStartupApiBench(args: string[]): Promise<void> {
  const i = args.indexOf('--pods');
  const count = i >= 0 ? Number(args[i + 1]) : 50;
  process.stdout.write(`startup-api bench: ${count} pods created in the test apiserver\n`);

  const baseline = await runBaseline(count);
  const api = new TestApiServer({ bookmarkIntervalMs: 5000 });
  await api.start();
  const dir = await mkdtemp(join(tmpdir(), 'nodelet-bench-api-'));
  const nodeName = `bench-api-${Date.now().toString(36)}`;
  const kubeconfig = await api.kubeconfig(join(dir, 'kubeconfig'));
  const child = spawn(
    process.execPath,
    [
      'dist/agent/cli/main.js',
      'agent',
      '--node-name',
      nodeName,
      '--root-dir',
      join(dir, 'root'),
      '--kubeconfig',
      kubeconfig,
      '--pod-cidr',
      benchSubnet(),
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    await api.waitFor('nodes', undefined, nodeName, (n) => n !== undefined, 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    api.clearRequests();

    const created = new Map<string, number>();
    const running = new Map<string, number>();
    const done = new Promise<void>((resolve) => {
      api.onChange(({ resource, object }) => {
        const o = object as { metadata: { name: string }; status?: { phase?: string } };
        if (resource !== 'pods' || running.has(o.metadata.name) || o.status?.phase !== 'Running') return;
        running.set(o.metadata.name, performance.now());
        if (running.size >= count) resolve();
      });
    });
    for (let n = 0; n < count; n++) {
      const name = `bench-${n}`;
      created.set(name, performance.now());
      api.create('pods', 'default', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default' },
        spec: { nodeName, terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: `nodelet/busybox:${VERSION}`, command: ['sleep', '3600'] }] },
      });
    }
    await done;
    const latencies = [...running].map(([name, t]) => t - created.get(name)!);
    const patches = api.countRequests({ verb: 'patch', resource: 'pods', subresource: 'status' });
    const total = api.countRequests();
    process.stdout.write(`baseline (bare dockerode, per pod): p50 ${fmt(percentile(baseline.perPodMs, 50))}, p99 ${fmt(percentile(baseline.perPodMs, 99))}\n`);
    process.stdout.write(`agent (created -> Running via watch): p50 ${fmt(percentile(latencies, 50))}, p99 ${fmt(percentile(latencies, 99))}\n`);
    process.stdout.write(`apiserver requests: ${(patches / count).toFixed(2)} status patches per pod, ${(total / count).toFixed(2)} requests per pod in all\n`);
    process.stdout.write(`ratio=${(percentile(latencies, 99) / percentile(baseline.perPodMs, 99)).toFixed(2)}\n`);
  } finally {
    child.kill('SIGKILL');
    await removeByLabel(`nodelet.io/node=${nodeName}`);
    await removeNetwork(`nodelet-${nodeName}`);
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
