import { describe, expect, it } from 'vitest';
import { SlotTicker, alignToSlot } from '../../../agent/probes/slot-ticker.js';
import { FakeClock } from '../../../agent/api/clock.js';

describe('SlotTicker', () => {
  it('rounds times up to the grid', () => {
    expect(alignToSlot(1000, 100)).toBe(1000);
    expect(alignToSlot(1001, 100)).toBe(1100);
    expect(alignToSlot(1099, 100)).toBe(1100);
  });

  it('runs everything due in one slot from one timer, at the slot boundary', () => {
    const clock = new FakeClock(10_000);
    const ticker = new SlotTicker(clock, 100);
    const ran: string[] = [];
    ticker.at(10_010, () => ran.push(`a@${clock.now()}`));
    ticker.at(10_099, () => ran.push(`b@${clock.now()}`));
    ticker.at(10_150, () => ran.push(`c@${clock.now()}`));
    expect(ticker.pendingSlots).toBe(2);
    clock.advance(99);
    expect(ran).toEqual([]);
    clock.advance(1);
    expect(ran).toEqual(['a@10100', 'b@10100']);
    clock.advance(100);
    expect(ran).toEqual(['a@10100', 'b@10100', 'c@10200']);
    expect(ticker.pendingSlots).toBe(0);
  });

  it('drops a cancelled callback, and the slot with its last one', () => {
    const clock = new FakeClock(0);
    const ticker = new SlotTicker(clock, 100);
    const ran: string[] = [];
    const a = ticker.at(50, () => ran.push('a'));
    const b = ticker.at(60, () => ran.push('b'));
    a.cancel();
    expect(ticker.pendingSlots).toBe(1);
    b.cancel();
    expect(ticker.pendingSlots).toBe(0);
    clock.advance(500);
    expect(ran).toEqual([]);
  });

  it('lets a callback schedule its next run from inside the slot', () => {
    const clock = new FakeClock(0);
    const ticker = new SlotTicker(clock, 100);
    const times: number[] = [];
    const again = () => {
      times.push(clock.now());
      if (times.length < 3) ticker.at(clock.now() + 1000, again);
    };
    ticker.at(0, again);
    clock.advance(5000);
    expect(times).toEqual([0, 1000, 2000]);
  });
});
