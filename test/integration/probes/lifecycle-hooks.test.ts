// Lifecycle hooks on real Docker: a failing postStart kills the container with
// PostStartHookError; preStop runs before SIGTERM and its time is taken out of the
// grace period.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, containerStatus, docker, podManifest, startTestAgent, type TestAgent } from '../../support/agent-harness.js';

interface Death { name: string; pod: string; exitCode: number; at: number }

describe('lifecycle hooks', () => {
  let node: TestAgent;
  const deaths: Death[] = [];
  let events: NodeJS.ReadableStream | undefined;
  beforeAll(async () => {
    node = await startTestAgent();
    events = await docker.getEvents({ filters: { label: [`nodelet.io/node=${node.config.nodeName}`], event: ['die'], type: ['container'] } });
    events.on('data', (buf: Buffer) => {
      for (const line of buf.toString().split('\n').filter(Boolean)) {
        const e = JSON.parse(line) as { Actor: { Attributes: Record<string, string> }; timeNano: number };
        deaths.push({
          name: e.Actor.Attributes['io.kubernetes.container.name'] ?? '', pod: e.Actor.Attributes['io.kubernetes.pod.name'] ?? '',
          exitCode: Number(e.Actor.Attributes.exitCode), at: e.timeNano / 1e6,
        });
      }
    });
  });
  afterAll(async () => {
    (events as unknown as { destroy?: () => void })?.destroy?.();
    await node?.cleanup();
  });

  it('kills a container whose postStart hook fails, with reason PostStartHookError', async () => {
    await node.writeManifest('poststart.yaml', [podManifest('poststart', {
      terminationGracePeriodSeconds: 2,
      containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'], lifecycle: { postStart: { exec: { command: ['sh', '-c', 'echo hook broke; exit 3'] } } } }],
    })]);
    const reasons = new Set<string>();
    const st = await node.waitForPod('poststart', 'killed for its hook', (s) => {
      const c = containerStatus(s, 'main');
      if (c.state.waiting?.reason) reasons.add(c.state.waiting.reason);
      return reasons.has('PostStartHookError') && c.lastState.terminated !== undefined;
    });
    expect(containerStatus(st, 'main').state.running).toBeUndefined();
    expect(containerStatus(st, 'main').state.waiting?.message ?? '').toMatch(/hook broke|PostStartHookError|exited/);
  });

  it('runs preStop before SIGTERM and takes its time out of the grace period', async () => {
    await node.writeManifest('prestop.yaml', [
      podManifest('polite', {
        terminationGracePeriodSeconds: 30,
        containers: [{
          name: 'polite', image: BUSYBOX, command: ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"],
          lifecycle: { preStop: { exec: { command: ['sleep', '3'] } } },
        }],
      }),
      podManifest('stubborn', {
        terminationGracePeriodSeconds: 10,
        containers: [{
          name: 'stubborn', image: BUSYBOX, command: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"],
          lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
        }],
      }),
    ]);
    await node.waitForPod('polite', 'Running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));
    await node.waitForPod('stubborn', 'Running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));
    const removedAt = Date.now();
    await node.removeManifest('prestop.yaml');
    await node.waitForGone('polite');
    await node.waitForGone('stubborn');
    const polite = deaths.find((d) => d.name === 'polite');
    const stubborn = deaths.find((d) => d.name === 'stubborn');
    // The polite container exits on SIGTERM: it died only after the 3 s hook.
    expect(polite?.exitCode).toBe(0);
    expect(polite!.at - removedAt).toBeGreaterThanOrEqual(2_500);
    // The stubborn one is SIGKILLed when the whole grace period (hook included) is over: ~10 s, not 15 s.
    expect(stubborn?.exitCode).toBe(137);
    expect(stubborn!.at - removedAt).toBeGreaterThanOrEqual(9_000);
    expect(stubborn!.at - removedAt).toBeLessThan(13_500);
  });
});
