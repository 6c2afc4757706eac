// The eviction manager's emptyDir limit check with a fake clock: which pods it
// measures, when, and that it evicts through the pod's worker.
import { describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import type { Pod } from '../../../agent/api/types.js';
import { EvictionManager, type EvictablePod } from '../../../agent/eviction/eviction-manager.js';
import { FakeClock } from '../../../agent/api/clock.js';

const silent = pino({ level: 'silent' });

function pod(name: string, sizeLimit?: string): Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { containers: [{ name: 'main', image: 'busybox' }], volumes: [{ name: 'scratch', emptyDir: sizeLimit ? { sizeLimit } : {} }] },
  };
}

function worker(p: Pod, isTerminating = false): EvictablePod & { evicted: string[] } {
  const evicted: string[] = [];
  return {
    currentPod: p,
    isTerminating,
    evicted,
    evict: (message) => {
      evicted.push(message);
    },
  };
}

describe('EvictionManager', () => {
  it('evicts, every monitoring period, the pods whose emptyDir is over its sizeLimit', async () => {
    const clock = new FakeClock();
    const over = worker(pod('over', '1Mi'));
    const within = worker(pod('within', '1Mi'));
    const measured: string[] = [];
    const eviction = new EvictionManager({
      pods: () => [over, within],
      clock,
      logger: silent,
      monitoringPeriodMs: 60_000,
      emptyDirs: {
        async sizeLimitViolation(p) {
          measured.push(p.metadata.name ?? '');
          return p.metadata.name === 'over' ? 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi"' : undefined;
        },
      },
    });
    eviction.start();
    clock.advance(59_999);
    expect(measured).toEqual([]);
    clock.advance(1);
    await vi.waitFor(() => expect(measured).toEqual(['over', 'within']));
    expect(over.evicted).toEqual(['Usage of EmptyDir volume "scratch" exceeds the limit "1Mi"']);
    expect(within.evicted).toEqual([]);
    clock.advance(60_000);
    await vi.waitFor(() => expect(measured).toHaveLength(4));
    eviction.stop();
    clock.advance(600_000);
    await Promise.resolve();
    expect(measured).toHaveLength(4);
  });

  it('measures neither pods without a sizeLimit nor pods being torn down', async () => {
    const measured: string[] = [];
    const eviction = new EvictionManager({
      pods: () => [worker(pod('unlimited')), worker(pod('leaving', '1Mi'), true)],
      clock: new FakeClock(),
      logger: silent,
      monitoringPeriodMs: 1_000,
      emptyDirs: {
        async sizeLimitViolation(p) {
          measured.push(p.metadata.name ?? '');
          return 'over';
        },
      },
    });
    await eviction.synchronize();
    expect(measured).toEqual([]);
  });

  it('skips a pod it cannot measure and goes on with the others', async () => {
    const a = worker(pod('a', '1Mi'));
    const b = worker(pod('b', '1Mi'));
    const eviction = new EvictionManager({
      pods: () => [a, b],
      clock: new FakeClock(),
      logger: silent,
      monitoringPeriodMs: 1_000,
      emptyDirs: {
        async sizeLimitViolation(p) {
          if (p.metadata.name === 'a') throw new Error('EACCES');
          return 'over';
        },
      },
    });
    await eviction.synchronize();
    expect(a.evicted).toEqual([]);
    expect(b.evicted).toEqual(['over']);
  });
});
