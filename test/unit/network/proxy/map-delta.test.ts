import { describe, it, expect } from 'vitest';
import { MapDelta } from '../../../../agent/network/proxy/map-delta.js';

describe('MapDelta', () => {
  it('reads through to the base, shadows it with changes, and leaves it alone until applied', () => {
    const base = new Map([
      ['a', 1],
      ['b', 2],
    ]);
    const d = new MapDelta(base);
    d.set('a', 10);
    d.delete('b');
    d.set('c', 3);
    expect([d.get('a'), d.get('b'), d.get('c'), d.has('b'), d.has('c')]).toEqual([10, undefined, 3, false, true]);
    expect(base).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
    );
    expect(d.toMap()).toEqual(
      new Map([
        ['a', 10],
        ['c', 3],
      ]),
    );
    d.delete('c');
    d.set('b', 20);
    d.applyTo(base);
    expect(base).toEqual(
      new Map([
        ['a', 10],
        ['b', 20],
      ]),
    );
  });
});
