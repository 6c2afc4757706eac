import { beforeEach, describe, expect, it } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { ApiEventRecorder, type CoreEvent, type EventClient } from '../../../agent/events/api-event-recorder.js';
import type { EventRecorder, EventType } from '../../../agent/events/event-recorder.js';
import type { PatchType } from '../../../agent/kube/client.js';
import { ApiError, ApiUnavailableError } from '../../../agent/kube/errors.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { FakeClock } from '../../../agent/api/clock.js';

interface Sent {
  method: 'POST' | 'PATCH';
  path: string;
  body: Record<string, unknown>;
}

/** Events in memory; failures queued by the test. */
class FakeEvents implements EventClient {
  readonly sent: Sent[] = [];
  readonly stored = new Map<string, CoreEvent>();
  failures: Array<() => Error> = [];

  async create<T>(path: string, body: unknown): Promise<T> {
    this.sent.push({ method: 'POST', path, body: structuredClone(body) as Record<string, unknown> });
    const f = this.failures.shift();
    if (f) throw f();
    const e = structuredClone(body) as CoreEvent;
    this.stored.set(e.metadata.name, e);
    return e as T;
  }

  async patch<T>(path: string, patch: unknown, _type: PatchType): Promise<T> {
    this.sent.push({ method: 'PATCH', path, body: structuredClone(patch) as Record<string, unknown> });
    const f = this.failures.shift();
    if (f) throw f();
    const name = path.split('/').at(-1)!;
    const e = this.stored.get(name);
    if (!e) throw new ApiError({ method: 'PATCH', path, code: 404 });
    Object.assign(e, patch);
    return e as T;
  }
}

class ListRecorder implements EventRecorder {
  readonly seen: string[] = [];
  record(_pod: Pod, _type: EventType, reason: string): void {
    this.seen.push(reason);
  }
}

let client: FakeEvents;
let clock: FakeClock;
let logged: ListRecorder;
let recorder: ApiEventRecorder;

function pod(name = 'web', uid = 'uid-1'): Pod {
  return { metadata: { name, namespace: 'shop', uid }, spec: { containers: [] } };
}

beforeEach(() => {
  client = new FakeEvents();
  clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  logged = new ListRecorder();
  recorder = new ApiEventRecorder({ client, nodeName: 'node-a', logger: silentLogger, clock, next: logged, retryDelayMs: 10_000, maxTries: 3 });
});

describe('ApiEventRecorder', () => {
  it('posts a core/v1 Event about the pod', async () => {
    recorder.record(pod(), 'Normal', 'Pulled', 'Container image "busybox" already present on machine');
    await recorder.flush();
    expect(client.sent).toHaveLength(1);
    const [req] = client.sent;
    expect(req!.path).toBe('/api/v1/namespaces/shop/events');
    expect(req!.body).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: 'shop' },
      involvedObject: { kind: 'Pod', namespace: 'shop', name: 'web', uid: 'uid-1', apiVersion: 'v1' },
      reason: 'Pulled',
      message: 'Container image "busybox" already present on machine',
      type: 'Normal',
      source: { component: 'nodelet', host: 'node-a' },
      firstTimestamp: '2026-01-01T12:00:00Z',
      lastTimestamp: '2026-01-01T12:00:00Z',
      count: 1,
      reportingComponent: 'nodelet',
      reportingInstance: 'node-a',
    });
    expect((req!.body.metadata as { name: string }).name).toMatch(/^web\.[0-9a-f]+$/);
    expect(logged.seen).toEqual(['Pulled']);
  });

  it('aggregates repeats into a patch of count and lastTimestamp on the same event', async () => {
    recorder.record(pod(), 'Warning', 'BackOff', 'Back-off restarting failed container');
    await recorder.flush();
    clock.advance(10_000);
    recorder.record(pod(), 'Warning', 'BackOff', 'Back-off restarting failed container');
    clock.advance(10_000);
    recorder.record(pod(), 'Warning', 'BackOff', 'Back-off restarting failed container');
    await recorder.flush();
    expect(client.sent.map((s) => s.method)).toEqual(['POST', 'PATCH']);
    expect(client.sent[1]!.body).toEqual({ count: 3, lastTimestamp: '2026-01-01T12:00:20Z' });
    expect([...client.stored.values()]).toHaveLength(1);
    expect([...client.stored.values()][0]).toMatchObject({ count: 3, firstTimestamp: '2026-01-01T12:00:00Z' });
  });

  it('keeps different reasons, messages or pods apart', async () => {
    recorder.record(pod(), 'Normal', 'Created', 'Created container app');
    recorder.record(pod(), 'Normal', 'Started', 'Started container app');
    recorder.record(pod(), 'Normal', 'Created', 'Created container side');
    recorder.record(pod('db', 'uid-2'), 'Normal', 'Created', 'Created container app');
    await recorder.flush();
    expect(client.sent.map((s) => s.method)).toEqual(['POST', 'POST', 'POST', 'POST']);
  });

  it('lets an object post 25 events at once, then one per 5 minutes; the log gets them all', async () => {
    for (let i = 0; i < 40; i++) recorder.record(pod(), 'Warning', 'Unhealthy', `Liveness probe failed: attempt ${i}`);
    await recorder.flush();
    expect(client.sent).toHaveLength(25);
    expect(logged.seen).toHaveLength(40);
    expect(recorder.stats().droppedBySpamFilter).toBe(15);

    // Another pod has its own budget.
    recorder.record(pod('db', 'uid-2'), 'Warning', 'Unhealthy', 'x');
    await recorder.flush();
    expect(client.sent).toHaveLength(26);

    clock.advance(299_000);
    recorder.record(pod(), 'Warning', 'Unhealthy', 'later');
    await recorder.flush();
    expect(client.sent).toHaveLength(26);
    clock.advance(1_000);
    recorder.record(pod(), 'Warning', 'Unhealthy', 'later');
    await recorder.flush();
    expect(client.sent).toHaveLength(27);
  });

  it('counts repeats the spam filter held back in the next patch that goes out', async () => {
    for (let i = 0; i < 25; i++) recorder.record(pod(), 'Normal', `R${i}`, 'm');
    recorder.record(pod(), 'Warning', 'BackOff', 'crash');
    recorder.record(pod(), 'Warning', 'BackOff', 'crash');
    await recorder.flush();
    expect(client.sent.filter((s) => (s.body as { reason?: string }).reason === 'BackOff')).toHaveLength(0);
    clock.advance(300_000);
    recorder.record(pod(), 'Warning', 'BackOff', 'crash');
    await recorder.flush();
    expect(client.sent.at(-1)!.body).toMatchObject({ reason: 'BackOff', count: 3 });
  });

  it('retries while the server is unreachable, then gives the event up', async () => {
    client.failures.push(() => new ApiUnavailableError('POST', '/x', 'ECONNREFUSED'));
    recorder.record(pod(), 'Normal', 'Pulling', 'Pulling image "busybox"');
    await new Promise((r) => setImmediate(r));
    expect(client.sent).toHaveLength(1);
    clock.advance(10_000);
    await recorder.flush();
    expect(client.sent).toHaveLength(2);
    expect(client.stored.size).toBe(1);

    for (let i = 0; i < 3; i++) client.failures.push(() => new ApiUnavailableError('POST', '/x', 'ECONNREFUSED'));
    recorder.record(pod(), 'Normal', 'Pulled', 'done');
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      clock.advance(10_000);
    }
    await recorder.flush();
    expect(client.sent).toHaveLength(5);
    expect(client.stored.size).toBe(1);
  });

  it('creates the event again when the one to patch expired', async () => {
    recorder.record(pod(), 'Warning', 'BackOff', 'crash');
    await recorder.flush();
    client.stored.clear();
    recorder.record(pod(), 'Warning', 'BackOff', 'crash');
    await recorder.flush();
    expect(client.sent.map((s) => s.method)).toEqual(['POST', 'PATCH', 'POST']);
    expect([...client.stored.values()][0]).toMatchObject({ count: 2 });
  });

  it("names a static pod's mirror pod as the involved object", async () => {
    const staticPod = pod('etcd-node-a', 'static-hash');
    staticPod.metadata.annotations = { 'kubernetes.io/config.source': 'file', 'kubernetes.io/config.hash': 'static-hash' };
    const mirror: Pod = {
      metadata: { name: 'etcd-node-a', namespace: 'shop', uid: 'mirror-uid', annotations: { 'kubernetes.io/config.mirror': 'static-hash' } },
      spec: { containers: [] },
    };
    recorder = new ApiEventRecorder({ client, nodeName: 'node-a', logger: silentLogger, clock, pods: { getPod: () => mirror } });
    recorder.record(staticPod, 'Normal', 'Started', 'Started container etcd');
    await recorder.flush();
    expect(client.sent[0]!.body).toMatchObject({ involvedObject: { name: 'etcd-node-a', uid: 'mirror-uid' } });
  });

  it('never throws into the caller, even when the wrapped recorder does', () => {
    const throwing: EventRecorder = {
      record: () => {
        throw new Error('boom');
      },
    };
    recorder = new ApiEventRecorder({ client, nodeName: 'node-a', logger: silentLogger, clock, next: throwing });
    expect(() => recorder.record(pod(), 'Normal', 'Killing', 'Stopping container app')).not.toThrow();
  });
});
