// Graceful termination: SIGTERM first, SIGKILL only once the grace period is over;
// and activeDeadlineSeconds failing a pod with DeadlineExceeded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, containerStatus, docker, nodeContainers, podManifest, startTestAgent, type TestAgent } from '../../support/agent-harness.js';

interface Death { name: string; exitCode: number; at: number }

describe('termination', () => {
  let node: TestAgent;
  let deaths: Death[] = [];
  let events: NodeJS.ReadableStream | undefined;
  beforeAll(async () => {
    node = await startTestAgent();
    events = await docker.getEvents({ filters: { label: [`nodelet.io/node=${node.config.nodeName}`], event: ['die'], type: ['container'] } });
    events.on('data', (buf: Buffer) => {
      for (const line of buf.toString().split('\n').filter(Boolean)) {
        const e = JSON.parse(line) as { Actor: { Attributes: Record<string, string> }; timeNano: number };
        deaths.push({ name: e.Actor.Attributes['io.kubernetes.container.name'] ?? '', exitCode: Number(e.Actor.Attributes.exitCode), at: e.timeNano / 1e6 });
      }
    });
  });
  afterAll(async () => {
    (events as unknown as { destroy?: () => void })?.destroy?.();
    await node?.cleanup();
  });

  it('sends SIGTERM, waits the grace period, then SIGKILLs a container that ignores it', async () => {
    deaths = [];
    await node.writeManifest('grace.yaml', [
      podManifest('stubborn', {
        terminationGracePeriodSeconds: 4,
        containers: [{ name: 'stubborn', image: BUSYBOX, command: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"] }],
      }),
      podManifest('polite', {
        terminationGracePeriodSeconds: 30,
        containers: [{ name: 'polite', image: BUSYBOX, command: ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"] }],
      }),
    ]);
    await node.waitForPod('stubborn', 'Running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));
    await node.waitForPod('polite', 'Running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));
    const removedAt = Date.now();
    await node.removeManifest('grace.yaml');
    await node.waitForGone('stubborn');
    await node.waitForGone('polite');

    const stubborn = deaths.find((d) => d.name === 'stubborn');
    const polite = deaths.find((d) => d.name === 'polite');
    expect(stubborn?.exitCode).toBe(137); // SIGKILL
    expect(stubborn!.at - removedAt).toBeGreaterThanOrEqual(4_000);
    expect(polite?.exitCode).toBe(0); // its TERM handler ran
    // Nothing of either pod is left: containers, sandbox, state directory.
    const left = (await nodeContainers(node.config.nodeName)).filter((c) => ['stubborn', 'polite'].some((n) => c.Labels['io.kubernetes.pod.name'] === node.staticName(n)));
    expect(left).toEqual([]);
  });

  it('fails a pod that outlives activeDeadlineSeconds with DeadlineExceeded', async () => {
    await node.writeManifest('deadline.yaml', [podManifest('deadline', {
      activeDeadlineSeconds: 3,
      terminationGracePeriodSeconds: 2,
      containers: [{ name: 'sleeper', image: BUSYBOX, command: ['sleep', '3600'] }],
    })]);
    const st = await node.waitForPod('deadline', 'Failed', (s) => s.phase === 'Failed', 60_000);
    expect(st.reason).toBe('DeadlineExceeded');
    expect(st.message).toContain('deadline');
    const after = await node.waitForPod('deadline', 'stopped', (s) => containerStatus(s, 'sleeper').state.terminated !== undefined, 30_000);
    expect(containerStatus(after, 'sleeper').state.running).toBeUndefined();
  });

  it('reads the termination message from terminationMessagePath, or the log tail on error', async () => {
    await node.writeManifest('msg.yaml', [
      podManifest('msg-file', {
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: BUSYBOX, command: ['sh', '-c', 'echo -n all done > /dev/termination-log'] }],
      }),
      podManifest('msg-logs', {
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: BUSYBOX, terminationMessagePolicy: 'FallbackToLogsOnError', command: ['sh', '-c', 'echo something broke; exit 4'] }],
      }),
    ]);
    const file = await node.waitForPod('msg-file', 'Succeeded', (s) => s.phase === 'Succeeded');
    expect(containerStatus(file, 'main').state.terminated?.message).toBe('all done');
    const logs = await node.waitForPod('msg-logs', 'Failed', (s) => s.phase === 'Failed');
    expect(containerStatus(logs, 'main').state.terminated?.message).toContain('something broke');
  });
});
