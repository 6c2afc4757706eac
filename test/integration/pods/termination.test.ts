// Graceful termination: SIGTERM first, SIGKILL only once the grace period is over;
// and activeDeadlineSeconds failing a pod with DeadlineExceeded.
import { describe, expect, it } from 'vitest';
import { BUSYBOX, agentWithDeathWatch, containerStatus, nodeContainers, podManifest } from '../../support/agent-harness.js';

describe('termination', () => {
  const ctx = agentWithDeathWatch();

  it('sends SIGTERM, waits the grace period, then SIGKILLs a container that ignores it', async () => {
    ctx.deaths.length = 0;
    await ctx.node.writeManifest('grace.yaml', [
      podManifest('stubborn', {
        terminationGracePeriodSeconds: 4,
        containers: [{ name: 'stubborn', image: BUSYBOX, command: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"] }],
      }),
      podManifest('polite', {
        terminationGracePeriodSeconds: 30,
        containers: [{ name: 'polite', image: BUSYBOX, command: ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"] }],
      }),
    ]);
    await ctx.node.waitForPod('stubborn', 'Running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));
    await ctx.node.waitForPod('polite', 'Running', (s) => s.phase === 'Running' && (s.containerStatuses ?? []).every((c) => c.ready));
    const removedAt = Date.now();
    await ctx.node.removeManifest('grace.yaml');
    await ctx.node.waitForGone('stubborn');
    await ctx.node.waitForGone('polite');

    const stubborn = ctx.deaths.find((d) => d.name === 'stubborn');
    const polite = ctx.deaths.find((d) => d.name === 'polite');
    expect(stubborn?.exitCode).toBe(137); // SIGKILL
    expect(stubborn!.at - removedAt).toBeGreaterThanOrEqual(4_000);
    expect(polite?.exitCode).toBe(0); // its TERM handler ran
    // Nothing of either pod is left: containers, sandbox, state directory.
    const left = (await nodeContainers(ctx.node.config.nodeName)).filter((c) =>
      ['stubborn', 'polite'].some((n) => c.Labels['io.kubernetes.pod.name'] === ctx.node.staticName(n)),
    );
    expect(left).toEqual([]);
  });

  it('fails a pod that outlives activeDeadlineSeconds with DeadlineExceeded', async () => {
    await ctx.node.writeManifest('deadline.yaml', [
      podManifest('deadline', {
        activeDeadlineSeconds: 3,
        terminationGracePeriodSeconds: 2,
        containers: [{ name: 'sleeper', image: BUSYBOX, command: ['sleep', '3600'] }],
      }),
    ]);
    const st = await ctx.node.waitForPod('deadline', 'Failed', (s) => s.phase === 'Failed', 60_000);
    expect(st.reason).toBe('DeadlineExceeded');
    expect(st.message).toContain('deadline');
    const after = await ctx.node.waitForPod('deadline', 'stopped', (s) => containerStatus(s, 'sleeper').state.terminated !== undefined, 30_000);
    expect(containerStatus(after, 'sleeper').state.running).toBeUndefined();
  });

  it('reads the termination message from terminationMessagePath, or the log tail on error', async () => {
    await ctx.node.writeManifest('msg.yaml', [
      podManifest('msg-file', {
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: BUSYBOX, command: ['sh', '-c', 'echo -n all done > /dev/termination-log'] }],
      }),
      podManifest('msg-logs', {
        restartPolicy: 'Never',
        containers: [
          { name: 'main', image: BUSYBOX, terminationMessagePolicy: 'FallbackToLogsOnError', command: ['sh', '-c', 'echo something broke; exit 4'] },
        ],
      }),
    ]);
    const file = await ctx.node.waitForPod('msg-file', 'Succeeded', (s) => s.phase === 'Succeeded');
    expect(containerStatus(file, 'main').state.terminated?.message).toBe('all done');
    const logs = await ctx.node.waitForPod('msg-logs', 'Failed', (s) => s.phase === 'Failed');
    expect(containerStatus(logs, 'main').state.terminated?.message).toContain('something broke');
  });
});
