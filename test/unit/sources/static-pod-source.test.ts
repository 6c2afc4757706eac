import { mkdtemp, mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StaticPodSource } from '../../../agent/sources/static-pod-source.js';
import type { PodSourceUpdate } from '../../../agent/sources/types.js';

const DEADLINE_MS = 10_000;

function pod(name: string, image = 'busybox:1', spec: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'main', image }], ...spec } };
}

interface LogLine {
  level: number;
  msg: string;
  file?: string;
  field?: string;
  pod?: string;
}

/** Records every update and lets a test wait for one that matches. */
class Updates {
  readonly all: PodSourceUpdate[] = [];
  private waiters: Array<{ test: (u: PodSourceUpdate) => boolean; resolve: (u: PodSourceUpdate) => void }> = [];

  readonly push = (u: PodSourceUpdate): void => {
    this.all.push(u);
    this.waiters = this.waiters.filter((w) => (w.test(u) ? (w.resolve(u), false) : true));
  };

  get last(): PodSourceUpdate | undefined {
    return this.all.at(-1);
  }

  /** The next update (from now on) that passes `test`. */
  next(what: string, test: (u: PodSourceUpdate) => boolean): Promise<PodSourceUpdate> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no update where ${what} within ${DEADLINE_MS} ms; last: ${JSON.stringify(this.last)}`)), DEADLINE_MS);
      this.waiters.push({
        test,
        resolve: (u) => {
          clearTimeout(timer);
          resolve(u);
        },
      });
    });
  }
}

const names = (u: PodSourceUpdate | undefined) => (u?.pods ?? []).map((p) => p.metadata.name).sort();

describe('StaticPodSource', () => {
  let dir: string;
  let logs: LogLine[];
  let source: StaticPodSource | undefined;
  const logger = () =>
    pino(
      { level: 'debug' },
      {
        write: (line: string) => {
          logs.push(JSON.parse(line) as LogLine);
        },
      },
    );

  async function write(file: string, content: string | Array<Record<string, unknown>>, into = dir): Promise<void> {
    const text = typeof content === 'string' ? content : content.map((d) => stringify(d)).join('---\n');
    const tmp = join(into, `.${file}.tmp`);
    await writeFile(tmp, text);
    await rename(tmp, join(into, file));
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodelet-static-'));
    logs = [];
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers the first snapshot before start resolves: valid pods, and rejected ones beside them', async () => {
    await write('good.yaml', [pod('good'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }]);
    await write('bad.yaml', [pod('noimage', ''), pod('badgrace', 'busybox:1', { terminationGracePeriodSeconds: -1 })]);
    await write('broken.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n');
    await write('notes.txt', 'not a manifest');
    await write('.hidden.yaml', [pod('hidden')]);
    const updates = new Updates();
    source = new StaticPodSource({ dir, nodeName: 'node-a', logger: logger(), resyncMs: 60_000 });
    await source.start(updates.push);

    expect(updates.all).toHaveLength(1);
    expect(names(updates.last)).toEqual(['good-node-a']);
    const rejected = updates.last?.rejected ?? [];
    expect(rejected.map((r) => [r.path.slice(dir.length + 1), r.index, r.reason])).toEqual([
      ['bad.yaml', 0, 'Invalid'],
      ['bad.yaml', 1, 'Invalid'],
      ['broken.yaml', 0, 'ParseError'],
    ]);
    expect(rejected[0]?.message).toBe('Pod "noimage" is invalid: spec.containers[0].image: Required value');
    expect(rejected[1]?.message).toContain('spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0');

    const warnings = logs.filter((l) => l.level === 40 && l.msg.startsWith('rejected static pod manifest'));
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatchObject({ file: join(dir, 'bad.yaml'), field: 'spec.containers[0].image', pod: 'default/noimage-node-a' });
    expect(warnings[0]?.msg).toContain('bad.yaml');
    expect(warnings[0]?.msg).toContain('spec.containers[0].image');
    expect(warnings[2]?.msg).toContain('broken.yaml');
  });

  it('delivers nothing and logs nothing again when a re-read finds no change', async () => {
    await write('good.yaml', [pod('good')]);
    await write('bad.yaml', [pod('bad', '')]);
    const updates = new Updates();
    source = new StaticPodSource({ dir, nodeName: 'node-a', logger: logger(), resyncMs: 60_000 });
    await source.start(updates.push);
    await source.resync();
    await source.resync();
    expect(updates.all).toHaveLength(1);
    expect(logs.filter((l) => l.level === 40)).toHaveLength(1);
  });

  it('sees a modified and a removed file through the directory watch', async () => {
    await write('web.yaml', [pod('web', 'busybox:1')]);
    await write('other.yaml', [pod('other')]);
    const updates = new Updates();
    // A resync far away: only the watch can deliver these updates in time.
    source = new StaticPodSource({ dir, nodeName: 'node-a', logger: logger(), resyncMs: 600_000 });
    await source.start(updates.push);
    const first = updates.last!;
    const webUid = first.pods.find((p) => p.metadata.name === 'web-node-a')?.metadata.uid;
    const otherUid = first.pods.find((p) => p.metadata.name === 'other-node-a')?.metadata.uid;

    const changed = updates.next('web has a new UID', (u) => {
      const web = u.pods.find((p) => p.metadata.name === 'web-node-a');
      return web !== undefined && web.metadata.uid !== webUid;
    });
    await write('web.yaml', [pod('web', 'busybox:2')]);
    const afterChange = await changed;
    expect(afterChange.pods.find((p) => p.metadata.name === 'web-node-a')?.spec.containers[0]?.image).toBe('busybox:2');
    // The untouched pod keeps its UID: it is not restarted.
    expect(afterChange.pods.find((p) => p.metadata.name === 'other-node-a')?.metadata.uid).toBe(otherUid);

    const removed = updates.next('web is gone', (u) => !names(u).includes('web-node-a'));
    await unlink(join(dir, 'web.yaml'));
    expect(names(await removed)).toEqual(['other-node-a']);
  });

  it('keeps good pods when a file beside them turns bad, and reports the bad one', async () => {
    await write('good.yaml', [pod('good')]);
    await write('later.yaml', [pod('later')]);
    const updates = new Updates();
    source = new StaticPodSource({ dir, nodeName: 'node-a', logger: logger(), resyncMs: 600_000 });
    await source.start(updates.push);
    const goodUid = updates.last?.pods.find((p) => p.metadata.name === 'good-node-a')?.metadata.uid;

    const broken = updates.next('later.yaml is rejected', (u) => u.rejected.some((r) => r.path.endsWith('later.yaml')));
    await write('later.yaml', [pod('later', 'busybox:1', { containers: [{ name: 'main', image: 'busybox:1', ports: [{ containerPort: 'eighty' }] }] })]);
    const u = await broken;
    expect(names(u)).toEqual(['good-node-a']);
    expect(u.pods[0]?.metadata.uid).toBe(goodUid);
    expect(u.rejected[0]?.message).toContain('spec.containers[0].ports[0].containerPort: Invalid value: "eighty": must be an integer');
  });

  it('rejects the second definition of a pod, by path order', async () => {
    await write('a.yaml', [pod('web', 'busybox:1')]);
    await write('b.yaml', [pod('web', 'busybox:2')]);
    const updates = new Updates();
    source = new StaticPodSource({ dir, nodeName: 'node-a', logger: logger(), resyncMs: 600_000 });
    await source.start(updates.push);
    expect(updates.last?.pods.map((p) => p.spec.containers[0]?.image)).toEqual(['busybox:1']);
    expect(updates.last?.rejected).toEqual([expect.objectContaining({ path: join(dir, 'b.yaml'), reason: 'Duplicate' })]);
  });

  it('treats a missing directory as empty, warns once, and picks the directory up when it appears', async () => {
    const missing = join(dir, 'later');
    const updates = new Updates();
    source = new StaticPodSource({ dir: missing, nodeName: 'node-a', logger: logger(), resyncMs: 50 });
    await source.start(updates.push);
    expect(updates.all).toEqual([{ pods: [], rejected: [] }]);

    const appeared = updates.next('the pod of the new directory', (u) => names(u).includes('web-node-a'));
    await source.resync();
    await mkdir(missing);
    await write('web.yaml', [pod('web')], missing);
    await appeared;
    expect(logs.filter((l) => l.level === 40 && l.msg.includes('does not exist'))).toHaveLength(1);
  });

  it('delivers nothing once stopped', async () => {
    await write('web.yaml', [pod('web')]);
    const updates = new Updates();
    source = new StaticPodSource({ dir, nodeName: 'node-a', logger: logger(), resyncMs: 600_000 });
    await source.start(updates.push);
    await source.stop();
    await write('other.yaml', [pod('other')]);
    await source.resync();
    expect(updates.all).toHaveLength(1);
  });

  it('keeps kubernetes.io/config.seen stable while the pod is unchanged', async () => {
    await write('web.yaml', [pod('web')]);
    const updates = new Updates();
    source = new StaticPodSource({ dir, nodeName: 'node-a', logger: logger(), resyncMs: 600_000 });
    await source.start(updates.push);
    const seen = updates.last?.pods[0]?.metadata.annotations?.['kubernetes.io/config.seen'];
    const next = updates.next('other appears', (u) => names(u).includes('other-node-a'));
    await write('other.yaml', [pod('other')]);
    const u = await next;
    expect(u.pods.find((p) => p.metadata.name === 'web-node-a')?.metadata.annotations?.['kubernetes.io/config.seen']).toBe(seen);
  });
});
