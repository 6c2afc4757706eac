import { describe, expect, it } from 'vitest';
import { formatMicroTime, formatTime } from '../../../agent/api/time.js';

describe('formatTime', () => {
  it('drops fractions as metav1.Time does', () => {
    expect(formatTime(new Date('2026-03-04T05:06:07.890Z'))).toBe('2026-03-04T05:06:07Z');
  });

  it('renders times as RFC 3339 in whole seconds', () => {
    expect(formatTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)))).toBe('2026-01-02T03:04:05Z');
  });
});

describe('formatMicroTime', () => {
  const T0 = new Date('2026-01-01T00:00:00.123Z');
  const T1 = new Date('2026-01-01T00:00:10.000Z');

  it('has exactly six fractional digits', () => {
    expect(formatMicroTime(T0)).toBe('2026-01-01T00:00:00.123000Z');
    expect(formatMicroTime(T1)).toBe('2026-01-01T00:00:10.000000Z');
  });
});
