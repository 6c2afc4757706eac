import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pod, PodStatus } from '../../../../agent/api/types.js';
import { attachEndpoints } from '../../../../agent/network/proxy/endpoints-to-model.js';
import { localPodEndpoints, readLocalPods, resolveTargetPort, slicesForService } from '../../../../agent/network/proxy/local-pod-endpoints.js';
import { buildServicePorts } from '../../../../agent/network/proxy/service-to-model.js';
import type { Service, ServiceSpec } from '../../../../agent/network/proxy/service-types.js';
import { PodStateStore } from '../../../../agent/state/pod-state-store.js';

function pod(
  name: string,
  labels: Record<string, string>,
  status: PodStatus | undefined,
  extra: Partial<Pod['metadata']> = {},
  ports = [{ name: 'http', containerPort: 8080 }],
): Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels, ...extra },
    spec: { containers: [{ name: 'main', image: 'web:1', ports }] },
    ...(status ? { status } : {}),
  };
}

const running = (ip: string, ready = true): PodStatus => ({
  phase: 'Running',
  podIP: ip,
  podIPs: [{ ip }],
  conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
});

function svc(spec: ServiceSpec, name = 'web'): Service {
  return { metadata: { name, namespace: 'default' }, spec: { clusterIP: '10.96.0.10', ...spec } };
}

describe('slicesForService', () => {
  it('takes running pods with an IP whose labels match, ready from the Ready condition', () => {
    const pods = [
      pod('web-1', { app: 'web', tier: 'front' }, running('10.88.0.2')),
      pod('web-2', { app: 'web' }, running('10.88.0.3', false)),
      pod('web-pending', { app: 'web' }, { phase: 'Pending' }),
      pod('web-noip', { app: 'web' }, { phase: 'Running' }),
      pod('web-done', { app: 'web' }, { ...running('10.88.0.9'), phase: 'Succeeded' }),
      pod('other', { app: 'api' }, running('10.88.0.4')),
      { ...pod('elsewhere', { app: 'web' }, running('10.88.0.5')), metadata: { name: 'elsewhere', namespace: 'shop', labels: { app: 'web' } } },
    ];
    const slices = slicesForService(svc({ selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] }), pods, 'node-a');
    expect(slices).toEqual([
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: 'web-local-0',
          namespace: 'default',
          labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'nodelet-proxy' },
        },
        addressType: 'IPv4',
        endpoints: [
          {
            addresses: ['10.88.0.2'],
            conditions: { ready: true, serving: true, terminating: false },
            nodeName: 'node-a',
            targetRef: { kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'uid-web-1' },
          },
          {
            addresses: ['10.88.0.3'],
            conditions: { ready: false, serving: false, terminating: false },
            nodeName: 'node-a',
            targetRef: { kind: 'Pod', namespace: 'default', name: 'web-2', uid: 'uid-web-2' },
          },
        ],
        ports: [{ name: '', protocol: 'TCP', port: 8080 }],
      },
    ]);
  });

  it('marks a pod being deleted terminating: serving while Ready, never ready', () => {
    const [slice] = slicesForService(
      svc({ selector: { app: 'web' }, ports: [{ port: 80 }] }),
      [pod('web-1', { app: 'web' }, running('10.88.0.2'), { deletionTimestamp: '2026-01-01T00:00:00Z' })],
      'n',
    );
    expect(slice?.endpoints?.[0]?.conditions).toEqual({ ready: false, serving: true, terminating: true });
    const [published] = slicesForService(
      svc({ selector: { app: 'web' }, ports: [{ port: 80 }], publishNotReadyAddresses: true }),
      [pod('web-1', { app: 'web' }, running('10.88.0.2', false))],
      'n',
    );
    expect(published?.endpoints?.[0]?.conditions).toEqual({ ready: true, serving: false, terminating: false });
  });

  it('resolves target ports per pod and groups pods by the ports they resolve to', () => {
    const pods = [
      pod('a', { app: 'web' }, running('10.88.0.2'), {}, [{ name: 'http', containerPort: 8080 }]),
      pod('b', { app: 'web' }, running('10.88.0.3'), {}, [{ name: 'http', containerPort: 9090 }]),
      pod('c', { app: 'web' }, running('10.88.0.4'), {}, [{ name: 'metrics', containerPort: 9100 }]),
    ];
    const slices = slicesForService(
      svc({
        selector: { app: 'web' },
        ports: [
          { name: 'http', port: 80, targetPort: 'http' },
          { name: 'raw', port: 81 },
        ],
      }),
      pods,
      'n',
    );
    expect(slices.map((s) => [s.ports, (s.endpoints ?? []).map((e) => e.addresses[0])])).toEqual([
      [
        [
          { name: 'http', protocol: 'TCP', port: 8080 },
          { name: 'raw', protocol: 'TCP', port: 81 },
        ],
        ['10.88.0.2'],
      ],
      [
        [
          { name: 'http', protocol: 'TCP', port: 9090 },
          { name: 'raw', protocol: 'TCP', port: 81 },
        ],
        ['10.88.0.3'],
      ],
      // A pod without the named port still serves the numbered one.
      [[{ name: 'raw', protocol: 'TCP', port: 81 }], ['10.88.0.4']],
    ]);
  });

  it('resolves a named port by protocol, also on sidecars, and defaults to the Service port', () => {
    const p: Pod = {
      metadata: { name: 'p' },
      spec: {
        initContainers: [{ name: 'proxy', image: 'x', restartPolicy: 'Always', ports: [{ name: 'dns', containerPort: 5353, protocol: 'UDP' }] }],
        containers: [{ name: 'main', image: 'x', ports: [{ name: 'dns', containerPort: 5300 }] }],
      },
    };
    expect(resolveTargetPort({ port: 53, protocol: 'UDP', targetPort: 'dns' }, p)).toBe(5353);
    expect(resolveTargetPort({ port: 53, targetPort: 'dns' }, p)).toBe(5300);
    expect(resolveTargetPort({ port: 53, targetPort: 'nope' }, p)).toBeUndefined();
    expect(resolveTargetPort({ port: 53, targetPort: 1053 }, p)).toBe(1053);
    expect(resolveTargetPort({ port: 53 }, p)).toBe(53);
  });

  it('gives a Service without a selector no endpoints', () => {
    expect(slicesForService(svc({ ports: [{ port: 80 }] }), [pod('a', { app: 'web' }, running('10.88.0.2'))], 'n')).toEqual([]);
    expect(slicesForService(svc({ selector: {}, ports: [{ port: 80 }] }), [pod('a', { app: 'web' }, running('10.88.0.2'))], 'n')).toEqual([]);
  });
});

describe('localPodEndpoints', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'nodelet-localeps-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("reads the agent's pod state and feeds the rule model", async () => {
    const store = new PodStateStore(root);
    const ready = pod('web-1', { app: 'web' }, undefined);
    const notReady = pod('web-2', { app: 'web' }, undefined);
    await store.savePod(ready);
    await store.saveStatus('uid-web-1', running('10.88.0.2'));
    await store.savePod(notReady);
    await store.saveStatus('uid-web-2', running('10.88.0.3', false));
    // Before its first status the agent has only pod.json: not an endpoint yet.
    await store.savePod(pod('web-3', { app: 'web' }, undefined));
    // Garbage beside the pods is skipped.
    await mkdir(join(root, 'pods', 'torn'), { recursive: true });
    await writeFile(join(root, 'pods', 'torn', 'pod.json'), '{');

    expect(
      readLocalPods(root)
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['web-1', 'web-2', 'web-3']);
    const service = svc({ selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] });
    const slices = localPodEndpoints(root, 'node-a', [service, svc({ selector: { app: 'none' }, ports: [{ port: 80 }] }, 'empty')]);
    expect(slices.map((s) => s.metadata.name)).toEqual(['web-local-0']);

    const [info] = buildServicePorts(service, '10.96.0.0/12');
    if (!info) throw new Error('no port');
    attachEndpoints([info], slices, 'node-a', () => {});
    expect(info.endpoints).toEqual([
      { ip: '10.88.0.2', port: 8080, ready: true, serving: true, terminating: false, isLocal: true },
      { ip: '10.88.0.3', port: 8080, ready: false, serving: false, terminating: false, isLocal: true },
    ]);
  });

  it('finds nothing under a root the agent never used', () => {
    expect(localPodEndpoints(join(root, 'nothing'), 'n', [svc({ selector: { app: 'web' }, ports: [{ port: 80 }] })])).toEqual([]);
  });
});
