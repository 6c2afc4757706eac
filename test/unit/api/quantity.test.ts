import { describe, it, expect } from 'vitest';
import { InvalidQuantityError, divideRoundUp, parseCPUToMilli, parseMemoryToBytes, parseQuantity } from '../../../agent/api/quantity.js';

describe('parseQuantity', () => {
  it.each([
    ['1Ki', 1024],
    ['1Mi', 1024 ** 2],
    ['1Gi', 1024 ** 3],
    ['1Ti', 1024 ** 4],
    ['1Pi', 1024 ** 5],
    ['1Ei', 2 ** 60],
    ['1.5Gi', 1610612736],
  ])('binary suffix %s = %d', (q, expected) => {
    expect(parseQuantity(q)).toBe(expected);
  });

  it.each([
    ['1k', 1e3],
    ['1M', 1e6],
    ['1G', 1e9],
    ['1T', 1e12],
    ['1P', 1e15],
    ['1E', 1e18],
    ['500m', 0.5],
    ['1u', 1e-6],
    ['1n', 1e-9],
    ['7', 7],
  ])('decimal suffix %s = %d', (q, expected) => {
    expect(parseQuantity(q)).toBe(expected);
  });

  it.each([
    ['1e3', 1000],
    ['1E3', 1000],
    ['2e+2', 200],
    ['15e-1', 1.5],
    ['1.5e3', 1500],
  ])('exponent form %s = %d', (q, expected) => {
    expect(parseQuantity(q)).toBe(expected);
  });

  it('reads the number shapes Kubernetes accepts', () => {
    expect(parseQuantity('.5')).toBe(0.5);
    expect(parseQuantity('1.')).toBe(1);
    expect(parseQuantity('+3')).toBe(3);
    expect(parseQuantity('-3')).toBe(-3);
    expect(parseQuantity('0')).toBe(0);
  });

  it('accepts numbers as YAML gives them', () => {
    expect(parseQuantity(2)).toBe(2);
    expect(parseQuantity(0.25)).toBe(0.25);
    expect(parseQuantity(1e21)).toBe(1e21);
    expect(parseQuantity(1e-7)).toBeCloseTo(1e-7, 15);
  });

  it.each(['', 'abc', 'Mi', '1XB', '1 Mi', ' 1', '1Kib', '1K', '1e', '1e3.5', '1.2.3', 'e3', '--1', '1mi', '1e99999'])('rejects %j naming the value', (q) => {
    expect(() => parseQuantity(q)).toThrow(InvalidQuantityError);
    expect(() => parseQuantity(q)).toThrow(`"${q}"`);
  });

  it('rejects non-finite numbers', () => {
    expect(() => parseQuantity(Number.NaN)).toThrow(/invalid quantity "NaN"/);
    expect(() => parseQuantity(Number.POSITIVE_INFINITY)).toThrow(InvalidQuantityError);
  });
});

describe('parseCPUToMilli', () => {
  it('converts cores and millicores exactly', () => {
    expect(parseCPUToMilli('100m')).toBe(100);
    expect(parseCPUToMilli('0.1')).toBe(100); // a float would make this 101
    expect(parseCPUToMilli('1')).toBe(1000);
    expect(parseCPUToMilli(2)).toBe(2000);
    expect(parseCPUToMilli(0.5)).toBe(500);
    expect(parseCPUToMilli('1.5')).toBe(1500);
    expect(parseCPUToMilli('1k')).toBe(1_000_000);
  });

  it('rounds a fraction of a millicore up, as MilliValue does', () => {
    expect(parseCPUToMilli('1n')).toBe(1);
    expect(parseCPUToMilli('1500u')).toBe(2);
    expect(parseCPUToMilli('0.0001')).toBe(1);
  });

  it('throws on an invalid value', () => {
    expect(() => parseCPUToMilli('one')).toThrow(/invalid quantity "one"/);
  });
});

describe('parseMemoryToBytes', () => {
  it('converts binary and decimal suffixes', () => {
    expect(parseMemoryToBytes('128Mi')).toBe(134217728);
    expect(parseMemoryToBytes('1.5Gi')).toBe(1610612736);
    expect(parseMemoryToBytes('1G')).toBe(1e9);
    expect(parseMemoryToBytes('64k')).toBe(64000);
    expect(parseMemoryToBytes('1e3')).toBe(1000);
    expect(parseMemoryToBytes(1048576)).toBe(1048576);
  });

  it('rounds fractions of a byte up', () => {
    expect(parseMemoryToBytes('0.5')).toBe(1);
    expect(parseMemoryToBytes('100m')).toBe(1);
    expect(parseMemoryToBytes('1500m')).toBe(2);
  });

  it('throws on an invalid value', () => {
    expect(() => parseMemoryToBytes('12XB')).toThrow(/invalid quantity "12XB"/);
  });
});

describe('divideRoundUp', () => {
  it('divides CPU in millicores, defaulting the divisor to one core', () => {
    expect(divideRoundUp('500m', undefined, 3)).toBe(1);
    expect(divideRoundUp('500m', '1m', 3)).toBe(500);
    expect(divideRoundUp('2', undefined, 3)).toBe(2);
    expect(divideRoundUp('2500m', '1', 3)).toBe(3);
  });

  it('divides bytes, rounding up', () => {
    expect(divideRoundUp('1Gi', '1Mi', 0)).toBe(1024);
    expect(divideRoundUp('1G', '1Mi', 0)).toBe(954);
    expect(divideRoundUp('128Mi', undefined, 0)).toBe(134217728);
  });

  it('treats a zero divisor as 1, as kubelet does for an unset one', () => {
    expect(divideRoundUp('3', '0', 3)).toBe(3);
    expect(divideRoundUp(0, '1Mi', 0)).toBe(0);
  });
});
