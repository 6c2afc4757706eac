// The Service proxy with real pods on Docker and real kernel rules, standalone (the
// agent and the proxy share one manifests directory), for iptables and nftables
// modes: ClusterIP traffic reaches the Ready backends and spreads, ClientIP affinity
// sticks, NodePort works on an address the test's pod network owns, a Service
// without endpoints is refused at once, removing a Service removes its rules, and a
// restarted proxy rewrites nothing. Clients are containers the test created.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll } from '../../../agent/network/proxy/proxy-cleanup.js';
import type { ProxyMode } from '../../../agent/network/proxy/proxy-backend.js';
import { startProxy, type RunningProxy } from '../../../agent/network/proxy/start-proxy.js';
import { BUSYBOX, containerStatus, docker, dockerId, execIn, podManifest, startTestAgent, type TestAgent } from '../../support/agent-harness.js';

const run = promisify(execFile);
const SERVICE_CIDR = '10.251.0.0/16';

const backend = (name: string) =>
  podManifest(
    name,
    {
      containers: [
        {
          name: 'httpd',
          image: BUSYBOX,
          command: ['sh', '-c', `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 8080 -h /www`],
          ports: [{ name: 'http', containerPort: 8080 }],
        },
      ],
    },
    { labels: { app: 'echo' } },
  );

const services = (withEmpty = true) => [
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'echo' },
    spec: { selector: { app: 'echo' }, clusterIP: '10.251.0.10', ports: [{ port: 80, targetPort: 'http' }] },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'sticky' },
    spec: { selector: { app: 'echo' }, clusterIP: '10.251.0.11', sessionAffinity: 'ClientIP', ports: [{ port: 80, targetPort: 8080 }] },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'nodeport' },
    spec: { type: 'NodePort', selector: { app: 'echo' }, clusterIP: '10.251.0.13', ports: [{ port: 80, targetPort: 8080, nodePort: 30780 }] },
  },
  // No nodePort: the standalone proxy allocates one, as kube-apiserver would.
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'autoport' },
    spec: { type: 'NodePort', selector: { app: 'echo' }, clusterIP: '10.251.0.14', ports: [{ port: 80, targetPort: 8080 }] },
  },
  ...(withEmpty
    ? [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'empty' },
          spec: { selector: { app: 'nobody' }, clusterIP: '10.251.0.12', ports: [{ port: 80 }] },
        },
      ]
    : []),
];

/** GET over nc: busybox-static's wget crashes in getaddrinfo without NSS libraries. */
async function fetchFrom(client: string, url: string): Promise<{ ok: boolean; body: string; output: string }> {
  const u = new URL(url);
  // `timeout` bounds nc whatever happens to the connection; execIn bounds the exec itself.
  const r = await execIn(client, ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 nc -w 3 ${u.hostname} ${u.port || '80'}`], 15_000);
  const ok = r.exitCode === 0 && r.output.startsWith('HTTP/1.1 200');
  return {
    ok,
    body: ok
      ? r.output
          .split(/\r?\n\r?\n/)
          .slice(1)
          .join('')
          .trim()
      : '',
    output: r.output,
  };
}

/**
 * The nft table without the clients remembered in ClientIP affinity sets: those
 * are state, not rules (and the nftables table is rebuilt on the first sync after
 * a restart, which forgets them; established flows live on in conntrack).
 */
function withoutAffinityEntries(table: string): string {
  let inAffinitySet = false;
  return table
    .split('\n')
    .filter((line) => {
      if (/^\s*set affinity-/.test(line)) inAffinitySet = true;
      else if (/^\s*}/.test(line)) inAffinitySet = false;
      return !(inAffinitySet && /^\s*elements = /.test(line));
    })
    .join('\n');
}

for (const mode of ['iptables', 'nftables'] as ProxyMode[]) {
  describe(`nodelet proxy (${mode} mode) on real pods`, () => {
    let node: TestAgent;
    let proxy: RunningProxy | undefined;
    let client: string;
    let gateway: string;
    const silent = pino({ level: 'silent' });
    const start = () =>
      startProxy(
        {
          mode,
          nodeName: node.config.nodeName,
          rootDir: node.config.rootDir,
          manifests: node.config.manifests,
          serviceCIDR: SERVICE_CIDR,
          clusterCIDR: node.config.podCIDR,
          nodeIPs: [],
          healthzPort: 0,
          healthzBindAddress: '127.0.0.1',
          minSyncMs: 200,
          maxSyncMs: 30_000,
        },
        silent,
      );

    beforeAll(async () => {
      node = await startTestAgent();
      await node.writeManifest('pods.yaml', [
        backend('echo-a'),
        backend('echo-b'),
        // Carries the label but never becomes Ready: it must receive nothing.
        podManifest(
          'echo-unready',
          {
            containers: [
              {
                name: 'httpd',
                image: BUSYBOX,
                command: ['sh', '-c', 'mkdir -p /www && echo unready > /www/index.html && exec httpd -f -p 8080 -h /www'],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 },
              },
            ],
          },
          { labels: { app: 'echo' } },
        ),
        podManifest('client', { containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'] }] }),
      ]);
      await node.writeManifest('services.yaml', services());
      for (const name of ['echo-a', 'echo-b']) {
        await node.waitForPod(name, 'ready', (s) => s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);
      }
      const st = await node.waitForPod('client', 'running', (s) => containerStatus(s, 'main').state.running !== undefined);
      client = dockerId(containerStatus(st, 'main').containerID);
      const net = (await docker.getNetwork(`nodelet-${node.config.nodeName}`).inspect()) as { IPAM: { Config: Array<{ Gateway?: string; Subnet: string }> } };
      // The node's own address on the pod bridge: made by this test, never off the machine.
      const ipam = net.IPAM.Config[0]!;
      gateway = ipam.Gateway || ipam.Subnet.replace(/\.\d+\/\d+$/, '.1');
      proxy = await start();
    });
    afterAll(async () => {
      await proxy?.stop().catch(() => undefined);
      await cleanupAll({ logger: silent });
      await node?.cleanup();
    });

    it('spreads ClusterIP traffic over the Ready backends only', async () => {
      await expect.poll(async () => (await fetchFrom(client, 'http://10.251.0.10/')).ok, { timeout: 20_000 }).toBe(true);
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) {
        const r = await fetchFrom(client, 'http://10.251.0.10/');
        expect(r.ok, `request ${i}: ${r.output}`).toBe(true);
        seen.add(r.body);
      }
      expect([...seen].sort()).toEqual(['echo-a', 'echo-b']);
    });

    it('lets a backend reach its own Service and land on itself (hairpin, masqueraded)', async () => {
      const st = await node.waitForPod('echo-a', 'running', (s) => containerStatus(s, 'httpd').state.running !== undefined);
      const self = dockerId(containerStatus(st, 'httpd').containerID);
      await expect.poll(async () => (await fetchFrom(self, 'http://10.251.0.10/')).ok, { timeout: 20_000 }).toBe(true);
      const seen: string[] = [];
      for (let i = 0; i < 24; i++) {
        const r = await fetchFrom(self, 'http://10.251.0.10/');
        expect(r.ok, r.output).toBe(true);
        seen.push(r.body);
      }
      // Landing on itself 0 times in 24 draws of 1/2 would be a 1-in-16-million event.
      expect(seen).toContain('echo-a');
    });

    it('keeps a client on one backend with ClientIP affinity', async () => {
      await expect.poll(async () => (await fetchFrom(client, 'http://10.251.0.11/')).ok, { timeout: 20_000 }).toBe(true);
      const seen = new Set<string>();
      for (let i = 0; i < 12; i++) seen.add((await fetchFrom(client, 'http://10.251.0.11/')).body);
      expect(seen.size).toBe(1);
    });

    it('answers a NodePort on the node address of the test pod network', async () => {
      const r = await fetchFrom(client, `http://${gateway}:30780/`);
      expect(r.ok).toBe(true);
      expect(['echo-a', 'echo-b']).toContain(r.body);
    });

    it('gives a NodePort Service without nodePort one of 30000-32767, and answers on it', async () => {
      const key = proxy!.proxier.serviceKeys().find((k) => k.startsWith('default/autoport'))!;
      const nodePort = proxy!.proxier.rulesFor(key)?.nodePort ?? 0;
      expect(nodePort).toBeGreaterThanOrEqual(30000);
      expect(nodePort).toBeLessThanOrEqual(32767);
      const r = await fetchFrom(client, `http://${gateway}:${nodePort}/`);
      expect(r.ok, r.output).toBe(true);
    });

    it('refuses a Service without endpoints at once instead of timing out', async () => {
      // `timeout` bounds it: a dropped SYN would make nc wait out TCP's retries.
      const r = await execIn(client, ['sh', '-c', 'timeout 15 nc -w 10 10.251.0.12 80 </dev/null']);
      expect(r.exitCode).not.toBe(0);
      expect(r.output).toMatch(/refused|unreachable/i);
      expect(r.output).not.toMatch(/timed out/i);
    });

    it('serves health and metrics, and shows a Service with its rules', async () => {
      const health = await fetch(`http://127.0.0.1:${proxy!.healthzPort}/healthz`);
      expect(health.status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${proxy!.healthzPort}/metrics`)).text();
      expect(metrics).toMatch(/nodelet_proxy_sync_duration_seconds_bucket\{sync="full"/);
      const rules = proxy!.proxier.rulesFor(proxy!.proxier.serviceKeys().find((k) => k.startsWith('default/echo'))!);
      expect(rules?.clusterIP).toBe('10.251.0.10');
      expect(rules?.endpoints).toHaveLength(2);
      expect(rules?.rules.length).toBeGreaterThan(0);
    });

    it('rewrites nothing when restarted, and keeps serving meanwhile', async () => {
      const snapshot = async () =>
        mode === 'iptables'
          ? (await run('iptables-save', ['-t', 'nat'])).stdout
              .split('\n')
              .filter((l) => l.includes('KUBE-') && !l.startsWith('#'))
              .map((l) => l.replace(/\[\d+:\d+\]/, ''))
              .sort()
              .join('\n')
          : withoutAffinityEntries((await run('nft', ['list', 'table', 'ip', 'nodelet'])).stdout);
      const before = await snapshot();
      const writtenBefore = Number(/nodelet_proxy_rules_written_total (\d+)/.exec(proxy!.proxier.metrics.render())?.[1] ?? NaN);
      await proxy!.stop();
      // The rules stay while no proxy runs: traffic keeps flowing.
      expect((await fetchFrom(client, 'http://10.251.0.10/')).ok).toBe(true);
      proxy = await start();
      await expect.poll(() => proxy!.proxier.lastSyncedAt() !== undefined, { timeout: 20_000 }).toBe(true);
      const after = await snapshot();
      if (after !== before) {
        const a = after.split('\n');
        const b = before.split('\n');
        throw new Error(
          `ruleset changed on restart:\n${b
            .filter((l) => !a.includes(l))
            .map((l) => `- ${l}`)
            .join('\n')}\n${a
            .filter((l) => !b.includes(l))
            .map((l) => `+ ${l}`)
            .join('\n')}`,
        );
      }
      expect(after).toBe(before);
      expect(writtenBefore).toBeGreaterThan(0);
    });

    it('removes the rules of a removed Service', async () => {
      await node.writeManifest('services.yaml', services(false));
      await expect.poll(() => proxy!.proxier.serviceKeys().some((k) => k.startsWith('default/empty')), { timeout: 20_000 }).toBe(false);
      const ruleset = mode === 'iptables' ? (await run('iptables-save')).stdout : (await run('nft', ['list', 'table', 'ip', 'nodelet'])).stdout;
      expect(ruleset).not.toContain('10.251.0.12');
      expect((await fetchFrom(client, 'http://10.251.0.10/')).ok).toBe(true);
    });
  });
}
