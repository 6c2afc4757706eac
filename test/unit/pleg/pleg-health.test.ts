import { describe, expect, it } from 'vitest';
import { goDuration, plegHealth, plegHealthCheck } from '../../../agent/pleg/pleg-health.js';

describe('goDuration', () => {
  it('prints durations as Go does', () => {
    expect(goDuration(0)).toBe('0s');
    expect(goDuration(250)).toBe('250ms');
    expect(goDuration(1_000)).toBe('1s');
    expect(goDuration(1_500)).toBe('1.5s');
    expect(goDuration(180_000)).toBe('3m0s');
    expect(goDuration(180_001)).toBe('3m0.001s');
    expect(goDuration(3_723_500)).toBe('1h2m3.5s');
    expect(goDuration(7_200_000)).toBe('2h0m0s');
    expect(goDuration(-1_500)).toBe('-1.5s');
  });
});

describe('plegHealth', () => {
  it('is healthy up to the threshold and unhealthy past it', () => {
    expect(plegHealth(undefined, 0, 180_000)).toEqual({ healthy: false, message: 'pleg has yet to be successful' });
    expect(plegHealth(1_000, 181_000, 180_000)).toEqual({ healthy: true });
    expect(plegHealth(1_000, 181_001, 180_000)).toEqual({ healthy: false, message: 'pleg was last seen active 3m0.001s ago; threshold is 3m0s' });
  });
});

describe('plegHealthCheck', () => {
  it('is a node health check named PLEG that answers the problem, or undefined when healthy', () => {
    let health: ReturnType<typeof plegHealth> = { healthy: true };
    const check = plegHealthCheck({ healthy: () => health });
    expect(check.name).toBe('PLEG');
    expect(check.check()).toBeUndefined();
    health = { healthy: false, message: 'pleg has yet to be successful' };
    expect(check.check()).toBe('pleg has yet to be successful');
  });
});
