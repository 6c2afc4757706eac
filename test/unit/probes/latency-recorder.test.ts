import { describe, expect, it } from 'vitest';
import { LatencyRecorder, percentile } from '../../../agent/probes/latency-recorder.js';

describe('LatencyRecorder', () => {
  it('keeps the newest samples per probe type and handler kind', () => {
    const r = new LatencyRecorder(3);
    for (const v of [1, 2, 3, 4]) r.record('liveness', 'httpGet', v);
    r.record('readiness', 'exec', 9);
    expect(r.list('liveness')).toEqual([2, 3, 4]);
    expect(r.list('httpGet')).toEqual([2, 3, 4]);
    expect(r.list('exec')).toEqual([9]);
    expect(r.list('startup')).toEqual([]);
    expect(r.list().sort((a, b) => a - b)).toEqual([2, 3, 4, 9]);
  });

  it('computes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([], 99)).toBeUndefined();
  });
});
