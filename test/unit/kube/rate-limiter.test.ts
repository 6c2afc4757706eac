import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../agent/kube/rate-limiter.js';
import { FakeClock } from '../../../agent/api/clock.js';

/** Lets resolved promise callbacks run. */
const flush = () => new Promise<void>((r) => setImmediate(r));

describe('RateLimiter', () => {
  it('grants the burst at once, then one token per 1/qps seconds', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ qps: 10, burst: 3, clock });
    await limiter.acquire();
    await limiter.acquire();
    await limiter.acquire();
    let granted = false;
    const next = limiter.acquire().then(() => {
      granted = true;
    });
    await flush();
    expect(granted).toBe(false);
    clock.advance(99);
    await flush();
    expect(granted).toBe(false);
    clock.advance(1);
    await next;
    expect(granted).toBe(true);
  });

  it('defaults to QPS 50 and burst 100', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ clock });
    for (let i = 0; i < 100; i++) expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    clock.advance(20);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
  });

  it('serves waiters in arrival order', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ qps: 1, burst: 1, clock });
    await limiter.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) =>
      limiter.acquire().then(() => {
        order.push(n);
      }),
    );
    // A newcomer that could take a token right away must queue behind them.
    expect(limiter.tryAcquire()).toBe(false);
    clock.advance(1000);
    await flush();
    expect(order).toEqual([1]);
    clock.advance(2000);
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
  });

  it('refills no more than the burst after a quiet period', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ qps: 100, burst: 2, clock });
    clock.advance(60_000);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
  });

  it('an aborted waiter leaves the queue and rejects with the reason', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ qps: 1, burst: 1, clock });
    await limiter.acquire();
    const controller = new AbortController();
    const aborted = limiter.acquire(controller.signal);
    let secondGranted = false;
    const second = limiter.acquire().then(() => {
      secondGranted = true;
    });
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toThrow('caller gave up');
    clock.advance(1000);
    await second;
    expect(secondGranted).toBe(true);
  });

  it('rejects at once with an already aborted signal', async () => {
    const limiter = new RateLimiter({ clock: new FakeClock() });
    await expect(limiter.acquire(AbortSignal.abort(new Error('too late')))).rejects.toThrow('too late');
  });

  it('refuses nonsense settings', () => {
    expect(() => new RateLimiter({ qps: 0 })).toThrow(/qps/);
    expect(() => new RateLimiter({ burst: 0 })).toThrow(/burst/);
  });
});
