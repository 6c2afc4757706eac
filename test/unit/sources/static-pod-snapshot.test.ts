import { describe, it, expect } from 'vitest';
import { stringify } from 'yaml';
import { parseManifestFile } from '../../../agent/sources/manifest-parser.js';
import { buildStaticPodSnapshot } from '../../../agent/sources/static-pod-snapshot.js';

const SEEN = new Date('2026-01-01T00:00:00.000Z');
const options = { nodeName: 'node-a', seenAt: () => SEEN };

function pod(name: string, spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...metadata }, spec: { containers: [{ name: 'main', image: 'busybox:1' }], ...spec } };
}

function file(path: string, ...docs: Array<Record<string, unknown>>) {
  return parseManifestFile(path, docs.map((d) => stringify(d)).join('---\n'));
}

describe('buildStaticPodSnapshot', () => {
  it('keeps valid v1 Pods, defaulted and named for the node', () => {
    const snap = buildStaticPodSnapshot(file('/m/a.yaml', pod('web')), options);
    expect(snap.rejected).toEqual([]);
    expect(snap.pods).toHaveLength(1);
    const p = snap.pods[0]!;
    expect(p.metadata).toMatchObject({ name: 'web-node-a', namespace: 'default' });
    expect(p.metadata.uid).toMatch(/^[0-9a-f]{32}$/);
    expect(p.metadata.annotations?.['kubernetes.io/config.seen']).toBe(SEEN.toISOString());
    expect(p.spec).toMatchObject({ nodeName: 'node-a', restartPolicy: 'Always' });
    expect(p.spec.containers[0]?.imagePullPolicy).toBe('IfNotPresent');
  });

  it('skips other kinds and rejects invalid pods with the fields at fault', () => {
    const snap = buildStaticPodSnapshot(
      file(
        '/m/a.yaml',
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } },
        pod('dupes', {
          containers: [
            { name: 'x', image: 'a:1' },
            { name: 'x', image: 'a:1' },
          ],
        }),
        pod('ok'),
      ),
      options,
    );
    expect(snap.pods.map((p) => p.metadata.name)).toEqual(['ok-node-a']);
    expect(snap.ignored).toEqual(['/m/a.yaml#0 Service']);
    expect(snap.rejected).toEqual([
      {
        path: '/m/a.yaml',
        index: 1,
        name: 'dupes-node-a',
        namespace: 'default',
        reason: 'Invalid',
        message: 'Pod "dupes" is invalid: spec.containers[1].name: Duplicate value: "x"',
        fields: ['spec.containers[1].name'],
      },
    ]);
  });

  it('rejects a syntax error with the file and line, without the path repeated in the message', () => {
    const snap = buildStaticPodSnapshot(parseManifestFile('/m/broken.yaml', 'kind: Pod\nmetadata: {name: [x\n'), options);
    expect(snap.rejected[0]).toMatchObject({ path: '/m/broken.yaml', index: 0, reason: 'ParseError' });
    expect(snap.rejected[0]?.message).toMatch(/^line \d+, column \d+: /);
  });

  it('rejects a Pod of another apiVersion, and a document without kind', () => {
    const snap = buildStaticPodSnapshot(file('/m/a.yaml', { ...pod('v2'), apiVersion: 'v2' }, { apiVersion: 'v1', metadata: { name: 'nokind' } }), options);
    expect(snap.rejected.map((r) => [r.index, r.reason])).toEqual([
      [0, 'UnsupportedVersion'],
      [1, 'Invalid'],
    ]);
    expect(snap.rejected[0]?.message).toContain('"v2"');
    expect(snap.rejected[1]?.message).toContain("'Kind' is missing");
  });

  it('keeps the first of two pods with the same namespace/name (path order) and rejects the other', () => {
    const snap = buildStaticPodSnapshot([...file('/m/a.yaml', pod('web')), ...file('/m/b.yaml', pod('web', { restartPolicy: 'Never' }))], options);
    expect(snap.pods).toHaveLength(1);
    expect(snap.pods[0]?.spec.restartPolicy).toBe('Always');
    expect(snap.rejected).toEqual([expect.objectContaining({ path: '/m/b.yaml', reason: 'Duplicate', name: 'web-node-a' })]);
    expect(snap.rejected[0]?.message).toContain('/m/a.yaml');
  });

  it('allows the same name in two namespaces', () => {
    const snap = buildStaticPodSnapshot(file('/m/a.yaml', pod('web'), pod('web', {}, { namespace: 'other' })), options);
    expect(snap.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(['default/web-node-a', 'other/web-node-a']);
  });

  it('rejects a name that becomes too long once the node name is appended', () => {
    const snap = buildStaticPodSnapshot(file('/m/a.yaml', pod('a'.repeat(250))), options);
    expect(snap.pods).toEqual([]);
    expect(snap.rejected[0]?.fields).toEqual(['metadata.name']);
  });

  it('gives the same content in two files different UIDs', () => {
    const snap = buildStaticPodSnapshot([...file('/m/a.yaml', pod('a')), ...file('/m/b.yaml', pod('b'))], options);
    expect(new Set(snap.pods.map((p) => p.metadata.uid)).size).toBe(2);
  });
});
