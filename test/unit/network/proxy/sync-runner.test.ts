import { describe, it, expect } from 'vitest';
import { FakeClock } from '../../../../agent/api/clock.js';
import { SyncRunner } from '../../../../agent/network/proxy/sync-runner.js';

const MIN = 1_000;
const MAX = 30_000;

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Call {
  at: number;
  full: boolean;
}

function harness(fullIntervalMs?: number) {
  const clock = new FakeClock(0);
  const calls: Call[] = [];
  const failures: number[] = [];
  let outcome: () => Promise<void> = async () => {};
  const runner = new SyncRunner({
    clock,
    minIntervalMs: MIN,
    maxIntervalMs: MAX,
    ...(fullIntervalMs === undefined ? {} : { fullIntervalMs }),
    sync: (full) => {
      calls.push({ at: clock.now(), full });
      return outcome();
    },
    onFailure: (_err, n) => failures.push(n),
  });
  /** Moves time in small steps, letting each started sync finish before the next timer is due. */
  const advance = async (ms: number, step = 50) => {
    for (let done = 0; done < ms; done += step) {
      clock.advance(Math.min(step, ms - done));
      await settle();
    }
  };
  return {
    clock,
    calls,
    failures,
    runner,
    advance,
    setOutcome: (fn: () => Promise<void>) => {
      outcome = fn;
    },
  };
}

describe('SyncRunner', () => {
  it('with a full interval, syncs partially every maximum interval and fully once that is due', async () => {
    const h = harness(100_000);
    h.runner.start();
    await h.advance(125_000, 500);
    expect(h.calls).toEqual([
      { at: 0, full: true },
      { at: 30_000, full: false },
      { at: 60_000, full: false },
      { at: 90_000, full: false },
      { at: 120_000, full: true },
    ]);
  });

  it('runs nothing before start, then a full sync at once', async () => {
    const h = harness();
    h.runner.request();
    await h.advance(5_000);
    expect(h.calls).toEqual([]);
    h.runner.start();
    await h.advance(50);
    expect(h.calls).toEqual([{ at: 5_000, full: true }]);
  });

  it('coalesces a burst of requests into one partial sync', async () => {
    const h = harness();
    h.runner.start();
    await h.advance(2_000);
    for (let i = 0; i < 10; i++) h.runner.request();
    await h.advance(2_000);
    expect(h.calls).toEqual([
      { at: 0, full: true },
      { at: 2_000, full: false },
    ]);
  });

  it('never starts two syncs closer than the minimum interval', async () => {
    const h = harness();
    h.runner.start();
    await h.advance(100);
    h.runner.request();
    await h.advance(850);
    expect(h.calls).toHaveLength(1);
    await h.advance(100);
    expect(h.calls).toEqual([
      { at: 0, full: true },
      { at: MIN, full: false },
    ]);
  });

  it('runs a request made during a sync once, after it', async () => {
    const h = harness();
    let release!: () => void;
    h.setOutcome(
      () =>
        new Promise<void>((r) => {
          release = r;
        }),
    );
    h.runner.start();
    await h.advance(50);
    h.runner.request();
    h.runner.request();
    await h.advance(3_000);
    expect(h.calls).toHaveLength(1); // still in flight: no overlap
    h.setOutcome(async () => {});
    release();
    await settle();
    await h.advance(100);
    expect(h.calls).toEqual([
      { at: 0, full: true },
      { at: 3_050, full: false },
    ]);
  });

  it('syncs fully every maximum interval without requests', async () => {
    const h = harness();
    h.runner.start();
    await h.advance(MAX * 2 + 100, 500);
    expect(h.calls).toEqual([
      { at: 0, full: true },
      { at: MAX, full: true },
      { at: 2 * MAX, full: true },
    ]);
  });

  it('makes a sync full once the last full one is older than the maximum interval', async () => {
    const h = harness();
    h.runner.start();
    await h.advance(50);
    // A partial sync every 10 s keeps the runner busy; the periodic full one still comes.
    for (let t = 0; t < 3; t++) {
      await h.advance(10_000, 500);
      h.runner.request();
    }
    await h.advance(1_000, 500);
    const fulls = h.calls.filter((c) => c.full).map((c) => c.at);
    expect(fulls).toEqual([0, MAX]);
    expect(h.calls.some((c) => !c.full)).toBe(true);
  });

  it('retries a failed sync with doubling backoff, each retry full, and resets after a success', async () => {
    const h = harness();
    h.runner.start();
    await h.advance(50);
    h.setOutcome(() => Promise.reject(new Error('iptables-restore: line 3 failed')));
    h.runner.request();
    await h.advance(1_000); // partial at 1000 fails
    await h.advance(1_000); // retry at 2000 fails
    await h.advance(2_000); // retry at 4000 fails
    expect(h.calls.map((c) => [c.at, c.full])).toEqual([
      [0, true],
      [1_000, false],
      [2_000, true],
      [4_000, true],
    ]);
    expect(h.failures).toEqual([1, 2, 3]);
    expect(h.runner.consecutiveFailures).toBe(3);
    h.setOutcome(async () => {});
    await h.advance(4_000); // retry at 8000 succeeds
    expect(h.calls.at(-1)).toEqual({ at: 8_000, full: true });
    expect(h.runner.consecutiveFailures).toBe(0);
    h.runner.request();
    await h.advance(1_000);
    expect(h.calls.at(-1)).toEqual({ at: 9_000, full: false });
  });

  it('caps the backoff at the maximum interval', async () => {
    const h = harness();
    h.setOutcome(() => Promise.reject(new Error('nft: No such file or directory')));
    h.runner.start();
    h.clock.advance(0);
    await settle();
    await h.advance(200_000, 1_000);
    const gaps = h.calls.slice(1).map((c, i) => c.at - h.calls[i]!.at);
    expect(Math.max(...gaps)).toBe(MAX);
    expect(gaps.slice(0, 5)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
  });

  it('survives a sync that throws synchronously', async () => {
    const clock = new FakeClock(0);
    let n = 0;
    const runner = new SyncRunner({
      clock,
      minIntervalMs: MIN,
      maxIntervalMs: MAX,
      sync: () => {
        n++;
        if (n === 1) throw new Error('boom');
        return Promise.resolve();
      },
    });
    runner.start();
    clock.advance(0);
    await settle();
    for (let i = 0; i < 30; i++) {
      clock.advance(100);
      await settle();
    }
    expect(n).toBe(2);
  });

  it('requestFull makes the next sync full', async () => {
    const h = harness();
    h.runner.start();
    await h.advance(50);
    h.runner.requestFull();
    await h.advance(1_000);
    expect(h.calls.at(-1)).toEqual({ at: MIN, full: true });
  });

  it('stop waits for the sync in flight and starts no other', async () => {
    const h = harness();
    let release!: () => void;
    let finished = false;
    h.setOutcome(() =>
      new Promise<void>((r) => {
        release = r;
      }).then(() => {
        finished = true;
      }),
    );
    h.runner.start();
    await h.advance(50);
    h.runner.request();
    const stopped = h.runner.stop();
    release();
    await stopped;
    expect(finished).toBe(true);
    await h.advance(MAX * 2, 1_000);
    expect(h.calls).toHaveLength(1);
  });
});
