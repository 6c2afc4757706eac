import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, sleep } from '../../../agent/api/backoff.js';
import { FakeClock } from '../../../agent/api/clock.js';

const S = 1_000;

describe('Backoff', () => {
  it('doubles from 10 s up to the 300 s cap', () => {
    const b = new Backoff({}, new FakeClock());
    const delays = Array.from({ length: 8 }, () => b.next('k'));
    expect(delays).toEqual([10 * S, 20 * S, 40 * S, 80 * S, 160 * S, 300 * S, 300 * S, 300 * S]);
  });

  it('starts over at the initial delay when the last failure is older than resetAfterMs', () => {
    const clock = new FakeClock();
    const b = new Backoff({ initialMs: 10 * S, maxMs: 300 * S, resetAfterMs: 600 * S }, clock);
    b.next('k');
    b.next('k');
    expect(b.next('k')).toBe(40 * S);
    clock.advance(600 * S); // exactly at the limit: still the same streak
    expect(b.next('k')).toBe(80 * S);
    clock.advance(600 * S + 1);
    expect(b.next('k')).toBe(10 * S);
  });

  it('keeps keys apart', () => {
    const b = new Backoff({}, new FakeClock());
    b.next('a');
    b.next('a');
    expect(b.next('b')).toBe(10 * S);
    expect(b.next('a')).toBe(40 * S);
  });

  it('is in back-off until the current delay has passed since the given moment', () => {
    const clock = new FakeClock();
    const b = new Backoff({}, clock);
    expect(b.isInBackOff('k', clock.now())).toBe(false); // never failed
    b.next('k'); // delay 10 s
    const finishedAt = clock.now() + 2 * S;
    clock.advance(5 * S);
    expect(b.isInBackOff('k', finishedAt)).toBe(true);
    expect(b.remainingMs('k', finishedAt)).toBe(7 * S);
    clock.advance(7 * S);
    expect(b.isInBackOff('k', finishedAt)).toBe(false);
    expect(b.remainingMs('k', finishedAt)).toBe(0);
  });

  it('is never in back-off once the streak expired', () => {
    const clock = new FakeClock();
    const b = new Backoff({ maxMs: 300 * S, resetAfterMs: 600 * S }, clock);
    for (let i = 0; i < 6; i++) b.next('k'); // at the 300 s cap
    clock.advance(601 * S);
    expect(b.isInBackOff('k', clock.now())).toBe(false);
    expect(b.currentDelayMs('k')).toBe(0);
  });

  it('forgets a key on reset', () => {
    const clock = new FakeClock();
    const b = new Backoff({}, clock);
    b.next('k');
    b.next('k');
    b.reset('k');
    expect(b.isInBackOff('k', clock.now())).toBe(false);
    expect(b.next('k')).toBe(10 * S);
  });

  it('gc drops keys idle for more than twice the maximum delay', () => {
    const clock = new FakeClock();
    const b = new Backoff({ maxMs: 300 * S }, clock);
    b.next('old');
    clock.advance(400 * S);
    b.next('recent');
    clock.advance(201 * S); // old: 601 s idle, recent: 201 s
    b.gc();
    expect(b.size).toBe(1);
    expect(b.currentDelayMs('recent')).toBe(10 * S);
  });

  it('rejects nonsense options with a message naming them', () => {
    expect(() => new Backoff({ initialMs: 0 }, new FakeClock())).toThrow(/initialMs=0/);
    expect(() => new Backoff({ initialMs: 20, maxMs: 10 }, new FakeClock())).toThrow(/maxMs=10/);
  });
});

describe('backoffDelay', () => {
  const policy = { initialMs: 1000, maxMs: 30_000, jitter: 0.5 };
  it('doubles from 1 s and caps at 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelay(n, policy, () => 0))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
  it('jitters downwards only, so the cap holds', () => {
    expect(backoffDelay(1, policy, () => 1)).toBe(500);
    expect(backoffDelay(10, policy, () => 0.5)).toBe(22500);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(20, policy);
      expect(d).toBeGreaterThanOrEqual(15_000);
      expect(d).toBeLessThanOrEqual(30_000);
    }
  });
});

describe('sleep', () => {
  it('resolves when the clock passes and rejects when aborted', async () => {
    const clock = new FakeClock();
    const done = sleep(clock, 100);
    clock.advance(100);
    await expect(done).resolves.toBeUndefined();
    const controller = new AbortController();
    const aborted = sleep(clock, 100, controller.signal);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
  });
});
