import { describe, expect, it } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { MergedPodSource } from '../../../agent/sources/merged-pod-source.js';
import type { PodSource, PodSourceUpdate } from '../../../agent/sources/types.js';

/** A source whose snapshots the test pushes by hand; start() resolves with the first one. */
class ManualSource implements PodSource {
  private onUpdate: ((u: PodSourceUpdate) => void) | undefined;
  private resolveFirst!: () => void;
  private readonly first = new Promise<void>((r) => {
    this.resolveFirst = r;
  });
  stopped = false;

  start(onUpdate: (u: PodSourceUpdate) => void): Promise<void> {
    this.onUpdate = onUpdate;
    return this.first;
  }

  push(...uids: string[]): void {
    this.onUpdate?.({ pods: uids.map(pod), rejected: [] });
    this.resolveFirst();
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

function pod(uid: string): Pod {
  return { metadata: { name: uid, namespace: 'default', uid }, spec: { containers: [] } };
}

const uids = (u: PodSourceUpdate) => u.pods.map((p) => p.metadata.uid);

describe('MergedPodSource', () => {
  it('delivers nothing until every source delivered once, then the union on every change', async () => {
    const file = new ManualSource();
    const api = new ManualSource();
    const merged = new MergedPodSource(
      [
        { name: 'file', source: file },
        { name: 'api', source: api },
      ],
      silentLogger,
    );
    const updates: PodSourceUpdate[] = [];
    let started = false;
    const starting = merged
      .start((u) => updates.push(u))
      .then(() => {
        started = true;
      });

    file.push('s1');
    await new Promise((r) => setImmediate(r));
    expect(updates).toHaveLength(0);
    expect(started).toBe(false);

    api.push('a1', 'a2');
    await starting;
    expect(updates.map(uids)).toEqual([['s1', 'a1', 'a2']]);

    api.push('a2');
    file.push();
    expect(updates.map(uids).slice(1)).toEqual([['s1', 'a2'], ['a2']]);
  });

  it('keeps the first copy of a UID two sources deliver', async () => {
    const a = new ManualSource();
    const b = new ManualSource();
    const merged = new MergedPodSource(
      [
        { name: 'a', source: a },
        { name: 'b', source: b },
      ],
      silentLogger,
    );
    const updates: PodSourceUpdate[] = [];
    const starting = merged.start((u) => updates.push(u));
    a.push('x');
    b.push('x', 'y');
    await starting;
    expect(uids(updates.at(-1)!)).toEqual(['x', 'y']);
  });

  it('stops every source and delivers nothing afterwards', async () => {
    const a = new ManualSource();
    const merged = new MergedPodSource([{ name: 'a', source: a }], silentLogger);
    const updates: PodSourceUpdate[] = [];
    const starting = merged.start((u) => updates.push(u));
    a.push('x');
    await starting;
    await merged.stop();
    a.push('y');
    expect(a.stopped).toBe(true);
    expect(updates).toHaveLength(1);
  });

  it('refuses two sources with the same name', () => {
    expect(
      () =>
        new MergedPodSource(
          [
            { name: 'a', source: new ManualSource() },
            { name: 'a', source: new ManualSource() },
          ],
          silentLogger,
        ),
    ).toThrow(/unique/);
  });
});
