import { describe, it, expect } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { applyPodDefaults, defaultPullPolicy } from '../../../agent/sources/pod-defaults.js';

function pod(spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'p' }): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec } as unknown as Pod;
}

describe('applyPodDefaults', () => {
  it('fills the pod-level v1 defaults', () => {
    const out = applyPodDefaults(pod({ containers: [{ name: 'c', image: 'busybox:1' }] }));
    expect(out.metadata.namespace).toBe('default');
    expect(out.spec).toMatchObject({
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      terminationGracePeriodSeconds: 30,
      securityContext: {},
      enableServiceLinks: true,
    });
  });

  it('keeps what the pod sets, including a zero grace period', () => {
    const out = applyPodDefaults(
      pod(
        {
          restartPolicy: 'Never',
          dnsPolicy: 'Default',
          terminationGracePeriodSeconds: 0,
          securityContext: { runAsUser: 1000 },
          containers: [{ name: 'c', image: 'busybox:1', imagePullPolicy: 'Never', terminationMessagePolicy: 'FallbackToLogsOnError' }],
        },
        { name: 'p', namespace: 'kube-system' },
      ),
    );
    expect(out.metadata.namespace).toBe('kube-system');
    expect(out.spec).toMatchObject({ restartPolicy: 'Never', dnsPolicy: 'Default', terminationGracePeriodSeconds: 0, securityContext: { runAsUser: 1000 } });
    expect(out.spec.containers[0]).toMatchObject({ imagePullPolicy: 'Never', terminationMessagePolicy: 'FallbackToLogsOnError' });
  });

  it('defaults every container, init containers too', () => {
    const out = applyPodDefaults(
      pod({
        initContainers: [{ name: 'init', image: 'busybox' }],
        containers: [{ name: 'c', image: 'busybox:1.36', ports: [{ containerPort: 80 }, { containerPort: 53, protocol: 'UDP' }] }],
      }),
    );
    for (const c of [...(out.spec.initContainers ?? []), ...out.spec.containers]) {
      expect(c.terminationMessagePath).toBe('/dev/termination-log');
      expect(c.terminationMessagePolicy).toBe('File');
    }
    expect(out.spec.initContainers?.[0]?.imagePullPolicy).toBe('Always');
    expect(out.spec.containers[0]?.imagePullPolicy).toBe('IfNotPresent');
    expect(out.spec.containers[0]?.ports?.map((p) => p.protocol)).toEqual(['TCP', 'UDP']);
  });

  it('defaults probes and their httpGet action, and lifecycle httpGet hooks', () => {
    const out = applyPodDefaults(
      pod({
        containers: [
          {
            name: 'c',
            image: 'x:1',
            livenessProbe: { httpGet: { port: 8080 } },
            readinessProbe: { exec: { command: ['true'] }, periodSeconds: 5, timeoutSeconds: 0 },
            lifecycle: { preStop: { httpGet: { port: 'http' } } },
          },
        ],
      }),
    );
    const c = out.spec.containers[0];
    expect(c?.livenessProbe).toEqual({
      httpGet: { port: 8080, path: '/', scheme: 'HTTP' },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    // 0 is Go's "unset" for these int32 fields: it gets the default too.
    expect(c?.readinessProbe).toMatchObject({ periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 });
    expect(c?.lifecycle?.preStop?.httpGet).toEqual({ port: 'http', path: '/', scheme: 'HTTP' });
  });

  it('defaults each missing request to its limit, keeping requests that are set', () => {
    const out = applyPodDefaults(
      pod({
        containers: [
          { name: 'a', image: 'x:1', resources: { limits: { cpu: '500m', memory: '64Mi' } } },
          { name: 'b', image: 'x:1', resources: { limits: { cpu: '1', memory: '128Mi' }, requests: { cpu: '250m' } } },
          { name: 'c', image: 'x:1', resources: { requests: { cpu: '100m' } } },
        ],
      }),
    );
    expect(out.spec.containers[0]?.resources?.requests).toEqual({ cpu: '500m', memory: '64Mi' });
    expect(out.spec.containers[1]?.resources?.requests).toEqual({ cpu: '250m', memory: '128Mi' });
    expect(out.spec.containers[2]?.resources).toEqual({ requests: { cpu: '100m' } });
  });

  it('sets hostPort to containerPort with the host network', () => {
    const out = applyPodDefaults(pod({ hostNetwork: true, containers: [{ name: 'c', image: 'x:1', ports: [{ containerPort: 8080 }] }] }));
    expect(out.spec.containers[0]?.ports?.[0]).toEqual({ containerPort: 8080, hostPort: 8080, protocol: 'TCP' });
  });

  it('defaults volumes: no source means emptyDir, file modes 0644, fieldRef apiVersion v1', () => {
    const out = applyPodDefaults(
      pod({
        volumes: [{ name: 'scratch' }, { name: 'cfg', configMap: { name: 'cfg' } }, { name: 's', secret: { secretName: 's', defaultMode: 0o400 } }],
        containers: [{ name: 'c', image: 'x:1', env: [{ name: 'N', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }],
      }),
    );
    expect(out.spec.volumes).toEqual([
      { name: 'scratch', emptyDir: {} },
      { name: 'cfg', configMap: { name: 'cfg', defaultMode: 420 } },
      { name: 's', secret: { secretName: 's', defaultMode: 0o400 } },
    ]);
    expect(out.spec.containers[0]?.env?.[0]?.valueFrom?.fieldRef).toEqual({ fieldPath: 'metadata.name', apiVersion: 'v1' });
  });

  it('treats an unknown volume key as an unknown field: the volume becomes an emptyDir, as in Kubernetes', () => {
    const out = applyPodDefaults(pod({ volumes: [{ name: 'v', emptydir: {} }], containers: [] }));
    expect(out.spec.volumes?.[0]).toEqual({ name: 'v', emptydir: {}, emptyDir: {} });
  });

  it('returns a deep copy and leaves the input untouched', () => {
    const input = pod({ containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 1 }] }] });
    const before = structuredClone(input);
    const out = applyPodDefaults(input);
    expect(input).toEqual(before);
    expect(out.spec.containers[0]).not.toBe(input.spec.containers[0]);
  });

  it('leaves fields of the wrong type for validation to report instead of throwing', () => {
    const out = applyPodDefaults(pod({ containers: 'nope', volumes: [42], initContainers: [{ name: 'i', ports: 'x', livenessProbe: 'y' }] }));
    expect(out.spec.containers).toBe('nope');
    expect(out.spec.volumes).toEqual([42]);
    expect(applyPodDefaults({ metadata: 'x', spec: 5 } as unknown as Pod)).toEqual({ metadata: 'x', spec: 5 });
    expect(applyPodDefaults({} as Pod)).toMatchObject({ metadata: { namespace: 'default' }, spec: { restartPolicy: 'Always' } });
  });
});

describe('defaultPullPolicy', () => {
  it.each([
    ['busybox', 'Always'],
    ['busybox:latest', 'Always'],
    ['docker.io/library/busybox', 'Always'],
    ['localhost:5000/busybox', 'Always'],
    ['localhost:5000/busybox:latest', 'Always'],
    ['busybox:1.36', 'IfNotPresent'],
    ['localhost:5000/team/app:v2', 'IfNotPresent'],
    [`busybox@sha256:${'a'.repeat(64)}`, 'IfNotPresent'],
    [`busybox:latest@sha256:${'a'.repeat(64)}`, 'Always'],
    ['UPPER/Case', 'IfNotPresent'],
    ['', 'IfNotPresent'],
    [undefined, 'IfNotPresent'],
  ])('%s → %s', (image, policy) => {
    expect(defaultPullPolicy(image)).toBe(policy);
  });
});
