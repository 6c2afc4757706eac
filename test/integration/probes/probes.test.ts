// Probes on real Docker with busybox: liveness restarts, readiness flips Ready both
// ways, the startup probe holds liveness back, and a hung probe times out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, containerStatus, dockerId, execIn, podManifest, startTestAgent, type TestAgent } from '../../support/agent-harness.js';

describe('probes', () => {
  let node: TestAgent;
  beforeAll(async () => {
    node = await startTestAgent();
  });
  afterAll(async () => {
    await node?.cleanup();
  });

  it('restarts a container whose liveness probe fails, raising restartCount', async () => {
    await node.writeManifest('liveness.yaml', [
      podManifest('live', {
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'main',
            image: BUSYBOX,
            command: ['sh', '-c', 'touch /tmp/alive; sleep 3; rm /tmp/alive; sleep 3600'],
            livenessProbe: { exec: { command: ['test', '-f', '/tmp/alive'] }, periodSeconds: 1, failureThreshold: 2 },
          },
        ],
      }),
    ]);
    const st = await node.waitForPod('live', 'restarted by liveness', (s) => containerStatus(s, 'main').restartCount >= 1, 60_000);
    expect(containerStatus(st, 'main').lastState.terminated).toBeDefined();
  });

  it('flips Ready both ways with an httpGet readiness probe', async () => {
    await node.writeManifest('readiness.yaml', [
      podManifest('ready', {
        containers: [
          {
            name: 'web',
            image: BUSYBOX,
            command: ['sh', '-c', 'mkdir -p /www && exec httpd -f -p 8080 -h /www'],
            readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 },
          },
        ],
      }),
    ]);
    const notReady = await node.waitForPod('ready', 'running, not ready', (s) => containerStatus(s, 'web').state.running !== undefined);
    expect(containerStatus(notReady, 'web').ready).toBe(false);
    const id = dockerId(containerStatus(notReady, 'web').containerID);
    await execIn(id, ['touch', '/www/ready']);
    const ready = await node.waitForPod('ready', 'Ready', (s) => s.conditions?.find((c) => c.type === 'Ready')?.status === 'True');
    expect(containerStatus(ready, 'web').ready).toBe(true);
    await execIn(id, ['rm', '/www/ready']);
    const again = await node.waitForPod('ready', 'not Ready again', (s) => s.conditions?.find((c) => c.type === 'Ready')?.status === 'False');
    expect(again.conditions?.find((c) => c.type === 'ContainersReady')?.status).toBe('False');
    expect(containerStatus(again, 'web').restartCount).toBe(0);
  });

  it('holds liveness back until the startup probe succeeds', async () => {
    await node.writeManifest('startup.yaml', [
      podManifest('slow-start', {
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'main',
            image: BUSYBOX,
            command: ['sleep', '3600'],
            startupProbe: { exec: { command: ['test', '-f', '/tmp/started'] }, periodSeconds: 1, failureThreshold: 60 },
            livenessProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 1 },
          },
        ],
      }),
    ]);
    const st = await node.waitForPod('slow-start', 'running', (s) => containerStatus(s, 'main').state.running !== undefined);
    await new Promise((r) => setTimeout(r, 4000));
    const held = node.pod('slow-start')!.status!;
    expect(containerStatus(held, 'main').restartCount).toBe(0);
    expect(containerStatus(held, 'main').started).toBe(false);
    await execIn(dockerId(containerStatus(st, 'main').containerID), ['touch', '/tmp/started']);
    await node.waitForPod('slow-start', 'restarted once liveness runs', (s) => containerStatus(s, 'main').restartCount >= 1, 60_000);
  });

  it('counts a probe that hangs past timeoutSeconds as a failure', async () => {
    await node.writeManifest('timeout.yaml', [
      podManifest('hung', {
        containers: [
          {
            name: 'main',
            image: BUSYBOX,
            command: ['sleep', '3600'],
            readinessProbe: { exec: { command: ['sleep', '30'] }, timeoutSeconds: 1, periodSeconds: 2 },
          },
        ],
      }),
    ]);
    await node.waitForPod('hung', 'running', (s) => containerStatus(s, 'main').state.running !== undefined);
    await new Promise((r) => setTimeout(r, 5000));
    const st = node.pod('hung')!.status!;
    expect(containerStatus(st, 'main').ready).toBe(false);
    expect(st.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
  });
});
