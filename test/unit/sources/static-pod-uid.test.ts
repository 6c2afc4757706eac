import { describe, it, expect } from 'vitest';
import { ANNOTATION_CONFIG_HASH, ANNOTATION_CONFIG_SEEN, ANNOTATION_CONFIG_SOURCE } from '../../../agent/api/pod-identity.js';
import type { Pod } from '../../../agent/api/types.js';
import { applyPodDefaults } from '../../../agent/sources/pod-defaults.js';
import { staticPodUID, withStaticPodIdentity } from '../../../agent/sources/static-pod-uid.js';

const base = (): Pod =>
  applyPodDefaults({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', labels: { app: 'web' } },
    spec: { containers: [{ name: 'main', image: 'busybox:1', command: ['sleep', '3600'] }] },
  });
const origin = { path: '/etc/nodelet/manifests/web.yaml', nodeName: 'node-a' };

describe('staticPodUID', () => {
  it('is 32 lower-case hex digits', () => {
    expect(staticPodUID(base(), origin)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('is stable for the same content, whatever the key order', () => {
    const a = base();
    const b = JSON.parse(JSON.stringify({ status: { phase: 'Running' }, spec: a.spec, metadata: a.metadata, kind: a.kind, apiVersion: a.apiVersion })) as Pod;
    expect(staticPodUID(b, origin)).toBe(staticPodUID(a, origin));
  });

  it('changes when the content changes', () => {
    const changed = base();
    changed.spec.containers[0]!.image = 'busybox:2';
    expect(staticPodUID(changed, origin)).not.toBe(staticPodUID(base(), origin));
    const relabelled = base();
    relabelled.metadata.labels = { app: 'other' };
    expect(staticPodUID(relabelled, origin)).not.toBe(staticPodUID(base(), origin));
  });

  it('differs per node and per manifest path', () => {
    const uid = staticPodUID(base(), origin);
    expect(staticPodUID(base(), { ...origin, nodeName: 'node-b' })).not.toBe(uid);
    expect(staticPodUID(base(), { ...origin, path: '/etc/nodelet/manifests/other.yaml' })).not.toBe(uid);
  });

  it('ignores the annotations the source itself adds, and any status', () => {
    const stamped = base();
    stamped.metadata.annotations = {
      [ANNOTATION_CONFIG_SOURCE]: 'file',
      [ANNOTATION_CONFIG_HASH]: 'x',
      [ANNOTATION_CONFIG_SEEN]: new Date(5000).toISOString(),
    };
    stamped.status = { phase: 'Running' };
    expect(staticPodUID(stamped, origin)).toBe(staticPodUID(base(), origin));
  });
});

describe('withStaticPodIdentity', () => {
  it('names the pod <name>-<node>, sets the node, the UID and the config annotations', () => {
    const seen = new Date('2026-01-02T03:04:05.000Z');
    const pod = withStaticPodIdentity(base(), origin, seen);
    const uid = staticPodUID(base(), origin);
    expect(pod.metadata).toMatchObject({ name: 'web-node-a', namespace: 'default', uid, labels: { app: 'web' } });
    expect(pod.metadata.annotations).toEqual({
      [ANNOTATION_CONFIG_SOURCE]: 'file',
      [ANNOTATION_CONFIG_HASH]: uid,
      [ANNOTATION_CONFIG_SEEN]: '2026-01-02T03:04:05.000Z',
    });
    expect(pod.spec.nodeName).toBe('node-a');
  });

  it('keeps the UID when only the seen time differs', () => {
    expect(withStaticPodIdentity(base(), origin, new Date(1)).metadata.uid).toBe(withStaticPodIdentity(base(), origin, new Date(2)).metadata.uid);
  });

  it('does not modify its input', () => {
    const input = base();
    const before = structuredClone(input);
    withStaticPodIdentity(input, origin, new Date(0));
    expect(input).toEqual(before);
  });
});
