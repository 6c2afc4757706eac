// Pod events against the in-memory apiserver: posted as core/v1 Events, repeats
// aggregated into one object, a flood from one pod cut by the spam filter.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { ApiEventRecorder, type CoreEvent } from '../../../agent/events/api-event-recorder.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { NODE, podManifest, startCluster, type Cluster } from './helpers.js';

let cluster: Cluster;
let recorder: ApiEventRecorder;

function events(): CoreEvent[] {
  return cluster.server.list<CoreEvent>('events', 'default');
}

beforeEach(async () => {
  cluster = await startCluster();
  recorder = new ApiEventRecorder({ client: cluster.client, nodeName: NODE, logger: silentLogger, retryDelayMs: 100 });
});

afterEach(async () => {
  await recorder.stop();
  await cluster.close();
});

describe('ApiEventRecorder against the apiserver', () => {
  it('aggregates repeats of an event into one object with a count', async () => {
    const pod = cluster.server.create<Pod>('pods', 'default', podManifest('crashy'));
    recorder.record(pod, 'Normal', 'Pulled', 'Container image "busybox:1.36" already present on machine');
    for (let i = 0; i < 5; i++) {
      recorder.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container app in pod crashy_default');
      await recorder.flush();
    }
    const all = events();
    expect(all).toHaveLength(2);
    const backoff = all.find((e) => e.reason === 'BackOff')!;
    expect(backoff).toMatchObject({
      count: 5,
      type: 'Warning',
      involvedObject: { kind: 'Pod', name: 'crashy', namespace: 'default', uid: pod.metadata.uid },
      source: { component: 'nodelet', host: NODE },
      reportingComponent: 'nodelet',
      reportingInstance: NODE,
    });
    expect(cluster.server.countRequests({ verb: 'create', resource: 'events' })).toBe(2);
    expect(cluster.server.countRequests({ verb: 'patch', resource: 'events' })).toBe(4);
  });

  it('lets one pod create at most 25 events at once', async () => {
    const pod = cluster.server.create<Pod>('pods', 'default', podManifest('noisy'));
    for (let i = 0; i < 60; i++) recorder.record(pod, 'Warning', 'Unhealthy', `Readiness probe failed: attempt ${i}`);
    await recorder.flush();
    expect(events()).toHaveLength(25);
    expect(recorder.stats().droppedBySpamFilter).toBe(35);
  });

  it('sends events recorded while the apiserver was down once it is back', async () => {
    const pod = cluster.server.create<Pod>('pods', 'default', podManifest('web'));
    await cluster.server.goDown();
    recorder.record(pod, 'Normal', 'Started', 'Started container app');
    await new Promise((r) => setTimeout(r, 250));
    await cluster.server.comeBack();
    await recorder.flush();
    expect(events().map((e) => e.reason)).toEqual(['Started']);
  });
});
