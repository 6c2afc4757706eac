// A pod's containers share the sandbox's network and IPC namespaces (and the PID
// namespace with shareProcessNamespace): proven on the real Docker engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, containerStatus, dockerId, execIn, podManifest, startTestAgent, type TestAgent } from '../../support/agent-harness.js';

describe('pod namespaces on Docker', () => {
  let node: TestAgent;
  beforeAll(async () => {
    node = await startTestAgent();
  });
  afterAll(async () => {
    await node?.cleanup();
  });

  it('runs a two-container pod whose containers reach each other on localhost and share one IP', async () => {
    await node.writeManifest('web.yaml', [
      podManifest('web', {
        containers: [
          {
            name: 'server',
            image: BUSYBOX,
            command: ['sh', '-c', 'mkdir -p /www && echo hello-from-server > /www/index.html && exec httpd -f -p 8080 -h /www'],
          },
          { name: 'client', image: BUSYBOX, command: ['sleep', '3600'] },
        ],
      }),
    ]);
    const status = await node.waitForPod(
      'web',
      'Running with both containers ready',
      (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready),
    );
    expect(status.podIP).toMatch(/^10\.\d+\.\d+\.\d+$/);
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');

    const client = dockerId(containerStatus(status, 'client').containerID);
    const server = dockerId(containerStatus(status, 'server').containerID);
    let fetched = { exitCode: -1, output: '' };
    for (let i = 0; i < 20 && fetched.exitCode !== 0; i++) {
      fetched = await execIn(client, ['wget', '-q', '-O', '-', 'http://localhost:8080/index.html']);
      if (fetched.exitCode !== 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(fetched.output.trim()).toBe('hello-from-server');

    const ipOf = async (id: string) => (await execIn(id, ['sh', '-c', "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"])).output.trim();
    expect(await ipOf(client)).toBe(status.podIP);
    expect(await ipOf(server)).toBe(status.podIP);

    // The managed /etc/hosts names the pod by its IP.
    const hosts = await execIn(client, ['cat', '/etc/hosts']);
    expect(hosts.output).toContain('Kubernetes-managed hosts file');
    expect(hosts.output).toContain(`${status.podIP}\t`);
  });

  it('shares the PID namespace only with shareProcessNamespace', async () => {
    const spec = (share: boolean) => ({
      shareProcessNamespace: share,
      containers: [
        { name: 'a', image: BUSYBOX, command: ['sleep', '3601'] },
        { name: 'b', image: BUSYBOX, command: ['sleep', '3602'] },
      ],
    });
    await node.writeManifest('pid.yaml', [podManifest('shared', spec(true)), podManifest('private', spec(false))]);
    const shared = await node.waitForPod('shared', 'Running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));
    const priv = await node.waitForPod('private', 'Running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));

    const sharedPs = await execIn(dockerId(containerStatus(shared, 'a').containerID), ['ps', '-o', 'args']);
    expect(sharedPs.output).toContain('sleep 3602');
    expect(sharedPs.output).toMatch(/catatonit|pause|sleep 3600/);

    const privatePs = await execIn(dockerId(containerStatus(priv, 'a').containerID), ['ps', '-o', 'args']);
    expect(privatePs.output).toContain('sleep 3601');
    expect(privatePs.output).not.toContain('sleep 3602');
  });
});
