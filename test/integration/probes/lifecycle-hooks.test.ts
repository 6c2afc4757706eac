// Lifecycle hooks on real Docker: a failing postStart kills the container with
// PostStartHookError; preStop runs before SIGTERM and its time is taken out of the
// grace period.
import { describe, expect, it } from 'vitest';
import { BUSYBOX, agentWithDeathWatch, containerStatus, podManifest } from '../../support/agent-harness.js';

describe('lifecycle hooks', () => {
  const ctx = agentWithDeathWatch();

  it('kills a container whose postStart hook fails, with reason PostStartHookError', async () => {
    await ctx.node.writeManifest('poststart.yaml', [
      podManifest('poststart', {
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'main',
            image: BUSYBOX,
            command: ['sleep', '3600'],
            lifecycle: { postStart: { exec: { command: ['sh', '-c', 'echo hook broke; exit 3'] } } },
          },
        ],
      }),
    ]);
    const reasons = new Set<string>();
    const st = await ctx.node.waitForPod('poststart', 'killed for its hook', (s) => {
      const c = containerStatus(s, 'main');
      if (c.state.waiting?.reason) reasons.add(c.state.waiting.reason);
      return reasons.has('PostStartHookError') && c.lastState.terminated !== undefined;
    });
    expect(containerStatus(st, 'main').state.running).toBeUndefined();
    expect(containerStatus(st, 'main').state.waiting?.message ?? '').toMatch(/hook broke|PostStartHookError|exited/);
  });

  it('runs preStop before SIGTERM and takes its time out of the grace period', async () => {
    await ctx.node.writeManifest('prestop.yaml', [
      podManifest('polite', {
        terminationGracePeriodSeconds: 30,
        containers: [
          {
            name: 'polite',
            image: BUSYBOX,
            command: ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"],
            lifecycle: { preStop: { exec: { command: ['sleep', '3'] } } },
          },
        ],
      }),
      podManifest('stubborn', {
        terminationGracePeriodSeconds: 10,
        containers: [
          {
            name: 'stubborn',
            image: BUSYBOX,
            command: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"],
            lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
          },
        ],
      }),
    ]);
    await ctx.node.waitForPod('polite', 'Running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));
    await ctx.node.waitForPod('stubborn', 'Running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));
    const removedAt = Date.now();
    await ctx.node.removeManifest('prestop.yaml');
    await ctx.node.waitForGone('polite');
    await ctx.node.waitForGone('stubborn');
    const polite = ctx.deaths.find((d) => d.name === 'polite');
    const stubborn = ctx.deaths.find((d) => d.name === 'stubborn');
    // The polite container exits on SIGTERM: it died only after the 3 s hook.
    expect(polite?.exitCode).toBe(0);
    expect(polite!.at - removedAt).toBeGreaterThanOrEqual(2_500);
    // The stubborn one is SIGKILLed when the whole grace period (hook included) is over: ~10 s, not 15 s.
    expect(stubborn?.exitCode).toBe(137);
    expect(stubborn!.at - removedAt).toBeGreaterThanOrEqual(9_000);
    expect(stubborn!.at - removedAt).toBeLessThan(13_500);
  });
});
