import { describe, it, expect } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { formatFieldErrors, type FieldError } from '../../../agent/api/validation/field-errors.js';
import { applyPodDefaults } from '../../../agent/sources/pod-defaults.js';
import { validatePod } from '../../../agent/sources/pod-validation.js';

type Spec = Record<string, unknown>;
const ctr = (extra: Record<string, unknown> = {}) => ({ name: 'main', image: 'busybox:1', ...extra });

function validate(spec: Spec, metadata: Record<string, unknown> = { name: 'web' }): FieldError[] {
  return validatePod(applyPodDefaults({ apiVersion: 'v1', kind: 'Pod', metadata, spec } as unknown as Pod));
}

function fields(errors: FieldError[]): string[] {
  return errors.map((e) => `${e.field} ${e.type}`);
}

describe('validatePod', () => {
  it('accepts a complete, valid pod', () => {
    const errors = validate(
      {
        volumes: [
          { name: 'data', emptyDir: {} },
          { name: 'cfg', configMap: { name: 'cfg', items: [{ key: 'a.conf', path: 'conf/a.conf' }] } },
        ],
        initContainers: [{ name: 'init', image: 'busybox:1', command: ['sh', '-c', 'true'] }],
        containers: [
          ctr({
            command: ['httpd'],
            args: ['-f'],
            ports: [{ name: 'http', containerPort: 8080, hostPort: 18080 }],
            env: [
              { name: 'A', value: 'x' },
              { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
            ],
            resources: { limits: { cpu: '500m', memory: '64Mi' }, requests: { cpu: 0.1 } },
            volumeMounts: [
              { name: 'data', mountPath: '/data' },
              { name: 'cfg', mountPath: '/etc/app', readOnly: true },
            ],
            livenessProbe: { httpGet: { port: 'http' } },
            readinessProbe: { tcpSocket: { port: 8080 }, successThreshold: 2 },
            lifecycle: { preStop: { exec: { command: ['sleep', '1'] } } },
          }),
        ],
        dnsPolicy: 'None',
        dnsConfig: { nameservers: ['10.0.0.10'], searches: ['svc.cluster.local'] },
        activeDeadlineSeconds: 60,
      },
      { name: 'web.example', namespace: 'kube-system', labels: { app: 'web', 'example.com/tier': 'front' }, annotations: { note: 'x' } },
    );
    expect(errors).toEqual([]);
  });

  it.each<[string, Spec, Record<string, unknown> | undefined, string, FieldError['type'], string?]>([
    ['a name that is not a DNS subdomain', { containers: [ctr()] }, { name: 'Web_1' }, 'metadata.name', 'Invalid', 'RFC 1123 subdomain'],
    ['a name over 253 characters', { containers: [ctr()] }, { name: 'a'.repeat(254) }, 'metadata.name', 'Invalid', 'must be no more than 253 characters'],
    ['no name', { containers: [ctr()] }, {}, 'metadata.name', 'Required', 'name or generateName is required'],
    ['a namespace that is not a DNS label', { containers: [ctr()] }, { name: 'web', namespace: 'a.b' }, 'metadata.namespace', 'Invalid'],
    [
      'a label value that is a number',
      { containers: [ctr()] },
      { name: 'web', labels: { version: 1.5 } },
      'metadata.labels[version]',
      'TypeMismatch',
      'must be a string',
    ],
    ['a bad label value', { containers: [ctr()] }, { name: 'web', labels: { app: 'a b' } }, 'metadata.labels', 'Invalid'],
    ['annotations that are not a map', { containers: [ctr()] }, { name: 'web', annotations: ['x'] }, 'metadata.annotations', 'TypeMismatch'],
    ['no containers', { containers: [] }, undefined, 'spec.containers', 'Required'],
    ['containers missing', {}, undefined, 'spec.containers', 'Required'],
    ['containers that are not a list', { containers: { name: 'x' } }, undefined, 'spec.containers', 'TypeMismatch', 'must be an array'],
    ['a container that is not an object', { containers: ['busybox'] }, undefined, 'spec.containers[0]', 'TypeMismatch'],
    ['duplicate container names', { containers: [ctr({ name: 'x' }), ctr({ name: 'x' })] }, undefined, 'spec.containers[1].name', 'Duplicate'],
    ['an init container named like a container', { initContainers: [ctr()], containers: [ctr()] }, undefined, 'spec.initContainers[0].name', 'Duplicate'],
    ['a container name that is not a DNS label', { containers: [ctr({ name: 'Main' })] }, undefined, 'spec.containers[0].name', 'Invalid', 'RFC 1123 label'],
    ['a container without a name', { containers: [{ image: 'x:1' }] }, undefined, 'spec.containers[0].name', 'Required'],
    ['a missing image', { containers: [{ name: 'main' }] }, undefined, 'spec.containers[0].image', 'Required'],
    ['an empty image', { containers: [ctr({ image: '' })] }, undefined, 'spec.containers[0].image', 'Required'],
    ['an image that is not a string', { containers: [ctr({ image: 42 })] }, undefined, 'spec.containers[0].image', 'TypeMismatch'],
    ['an image with spaces around it', { containers: [ctr({ image: ' busybox ' })] }, undefined, 'spec.containers[0].image', 'Invalid'],
    ['a command that is a string', { containers: [ctr({ command: 'sleep 1' })] }, undefined, 'spec.containers[0].command', 'TypeMismatch', 'must be an array'],
    [
      'an args item that is a number',
      { containers: [ctr({ args: ['sleep', 10] })] },
      undefined,
      'spec.containers[0].args[1]',
      'TypeMismatch',
      'must be a string',
    ],
    [
      'a containerPort that is a word',
      { containers: [ctr({ ports: [{ containerPort: 'eighty' }] })] },
      undefined,
      'spec.containers[0].ports[0].containerPort',
      'TypeMismatch',
      'must be an integer',
    ],
    [
      'a containerPort out of range',
      { containers: [ctr({ ports: [{ containerPort: 70000 }] })] },
      undefined,
      'spec.containers[0].ports[0].containerPort',
      'Invalid',
      'must be between 1 and 65535, inclusive',
    ],
    ['a missing containerPort', { containers: [ctr({ ports: [{ name: 'http' }] })] }, undefined, 'spec.containers[0].ports[0].containerPort', 'Required'],
    [
      'a hostPort out of range',
      { containers: [ctr({ ports: [{ containerPort: 80, hostPort: 65536 }] })] },
      undefined,
      'spec.containers[0].ports[0].hostPort',
      'Invalid',
    ],
    [
      'an unknown protocol',
      { containers: [ctr({ ports: [{ containerPort: 80, protocol: 'HTTP' }] })] },
      undefined,
      'spec.containers[0].ports[0].protocol',
      'NotSupported',
      'supported values: "SCTP", "TCP", "UDP"',
    ],
    [
      'a port name over 15 characters',
      { containers: [ctr({ ports: [{ containerPort: 80, name: 'a-very-long-port-name' }] })] },
      undefined,
      'spec.containers[0].ports[0].name',
      'Invalid',
      'must be no more than 15 characters',
    ],
    [
      'duplicate port names',
      {
        containers: [
          ctr({
            ports: [
              { containerPort: 80, name: 'http' },
              { containerPort: 81, name: 'http' },
            ],
          }),
        ],
      },
      undefined,
      'spec.containers[0].ports[1].name',
      'Duplicate',
    ],
    [
      'two containers on one host port',
      { containers: [ctr({ ports: [{ containerPort: 80, hostPort: 8080 }] }), ctr({ name: 'b', ports: [{ containerPort: 81, hostPort: 8080 }] })] },
      undefined,
      'spec.containers[1].ports[0].hostPort',
      'Duplicate',
    ],
    [
      'hostNetwork with containerPort ≠ hostPort',
      { hostNetwork: true, containers: [ctr({ ports: [{ containerPort: 80, hostPort: 8080 }] })] },
      undefined,
      'spec.containers[0].ports[0].containerPort',
      'Invalid',
      'must match `hostPort` when `hostNetwork` is true',
    ],
    ['an env var without a name', { containers: [ctr({ env: [{ value: 'x' }] })] }, undefined, 'spec.containers[0].env[0].name', 'Required'],
    [
      'an env var name starting with a digit',
      { containers: [ctr({ env: [{ name: '1A', value: 'x' }] })] },
      undefined,
      'spec.containers[0].env[0].name',
      'Invalid',
    ],
    ['an env value that is a number', { containers: [ctr({ env: [{ name: 'A', value: 1 }] })] }, undefined, 'spec.containers[0].env[0].value', 'TypeMismatch'],
    [
      'value and valueFrom together',
      { containers: [ctr({ env: [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] })] },
      undefined,
      'spec.containers[0].env[0].valueFrom',
      'Invalid',
      'may not be specified when `value` is not empty',
    ],
    [
      'an unsupported fieldRef',
      { containers: [ctr({ env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.hostname' } } }] })] },
      undefined,
      'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath',
      'NotSupported',
    ],
    [
      'a secretKeyRef without key',
      { containers: [ctr({ env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 's' } } }] })] },
      undefined,
      'spec.containers[0].env[0].valueFrom.secretKeyRef.key',
      'Required',
    ],
    [
      'a bad restartPolicy',
      { restartPolicy: 'Sometimes', containers: [ctr()] },
      undefined,
      'spec.restartPolicy',
      'NotSupported',
      'supported values: "Always", "OnFailure", "Never"',
    ],
    ['a bad dnsPolicy', { dnsPolicy: 'Cluster', containers: [ctr()] }, undefined, 'spec.dnsPolicy', 'NotSupported'],
    ['dnsPolicy None without dnsConfig', { dnsPolicy: 'None', containers: [ctr()] }, undefined, 'spec.dnsConfig', 'Required'],
    [
      'a nameserver that is not an IP',
      { dnsConfig: { nameservers: ['dns.local'] }, containers: [ctr()] },
      undefined,
      'spec.dnsConfig.nameservers[0]',
      'Invalid',
    ],
    [
      'a negative grace period',
      { terminationGracePeriodSeconds: -1, containers: [ctr()] },
      undefined,
      'spec.terminationGracePeriodSeconds',
      'Invalid',
      'must be greater than or equal to 0',
    ],
    [
      'a grace period that is a string',
      { terminationGracePeriodSeconds: '30s', containers: [ctr()] },
      undefined,
      'spec.terminationGracePeriodSeconds',
      'TypeMismatch',
    ],
    [
      'a zero activeDeadlineSeconds',
      { activeDeadlineSeconds: 0, containers: [ctr()] },
      undefined,
      'spec.activeDeadlineSeconds',
      'Invalid',
      'must be between 1 and 2147483647, inclusive',
    ],
    ['hostNetwork that is a string', { hostNetwork: 'true', containers: [ctr()] }, undefined, 'spec.hostNetwork', 'TypeMismatch', 'must be a boolean'],
    [
      'hostPID with shareProcessNamespace',
      { hostPID: true, shareProcessNamespace: true, containers: [ctr()] },
      undefined,
      'spec.shareProcessNamespace',
      'Invalid',
    ],
    [
      'a volume name that is not a DNS label',
      { volumes: [{ name: 'My_Vol', emptyDir: {} }], containers: [ctr()] },
      undefined,
      'spec.volumes[0].name',
      'Invalid',
    ],
    [
      'duplicate volume names',
      {
        volumes: [
          { name: 'v', emptyDir: {} },
          { name: 'v', emptyDir: {} },
        ],
        containers: [ctr()],
      },
      undefined,
      'spec.volumes[1].name',
      'Duplicate',
    ],
    [
      'a volume with two sources',
      { volumes: [{ name: 'v', emptyDir: {}, hostPath: { path: '/tmp' } }], containers: [ctr()] },
      undefined,
      'spec.volumes[0].hostPath',
      'Forbidden',
      'may not specify more than 1 volume type',
    ],
    ['a hostPath without path', { volumes: [{ name: 'v', hostPath: {} }], containers: [ctr()] }, undefined, 'spec.volumes[0].hostPath.path', 'Required'],
    [
      'a configMap item escaping the volume',
      { volumes: [{ name: 'v', configMap: { name: 'c', items: [{ key: 'k', path: '../../etc/passwd' }] } }], containers: [ctr()] },
      undefined,
      'spec.volumes[0].configMap.items[0].path',
      'Invalid',
      "must not contain '..'",
    ],
    [
      'a defaultMode over 0777',
      { volumes: [{ name: 'v', secret: { secretName: 's', defaultMode: 0o1777 } }], containers: [ctr()] },
      undefined,
      'spec.volumes[0].secret.defaultMode',
      'Invalid',
    ],
    [
      'a mount of an unknown volume',
      { containers: [ctr({ volumeMounts: [{ name: 'nope', mountPath: '/x' }] })] },
      undefined,
      'spec.containers[0].volumeMounts[0].name',
      'NotFound',
    ],
    [
      'a duplicate mount path',
      {
        volumes: [
          { name: 'a', emptyDir: {} },
          { name: 'b', emptyDir: {} },
        ],
        containers: [
          ctr({
            volumeMounts: [
              { name: 'a', mountPath: '/x' },
              { name: 'b', mountPath: '/x' },
            ],
          }),
        ],
      },
      undefined,
      'spec.containers[0].volumeMounts[1].mountPath',
      'Invalid',
      'must be unique',
    ],
    [
      'a mount without mountPath',
      { volumes: [{ name: 'a', emptyDir: {} }], containers: [ctr({ volumeMounts: [{ name: 'a' }] })] },
      undefined,
      'spec.containers[0].volumeMounts[0].mountPath',
      'Required',
    ],
    [
      'an absolute subPath',
      { volumes: [{ name: 'a', emptyDir: {} }], containers: [ctr({ volumeMounts: [{ name: 'a', mountPath: '/x', subPath: '/etc' }] })] },
      undefined,
      'spec.containers[0].volumeMounts[0].subPath',
      'Invalid',
      'must be a relative path',
    ],
    [
      'Bidirectional propagation without privilege',
      { volumes: [{ name: 'a', emptyDir: {} }], containers: [ctr({ volumeMounts: [{ name: 'a', mountPath: '/x', mountPropagation: 'Bidirectional' }] })] },
      undefined,
      'spec.containers[0].volumeMounts[0].mountPropagation',
      'Forbidden',
    ],
    [
      'successThreshold on a liveness probe',
      { containers: [ctr({ livenessProbe: { exec: { command: ['true'] }, successThreshold: 3 } })] },
      undefined,
      'spec.containers[0].livenessProbe.successThreshold',
      'Invalid',
      'must be 1',
    ],
    [
      'successThreshold on a startup probe',
      { containers: [ctr({ startupProbe: { exec: { command: ['true'] }, successThreshold: 2 } })] },
      undefined,
      'spec.containers[0].startupProbe.successThreshold',
      'Invalid',
      'must be 1',
    ],
    [
      'a negative failureThreshold',
      { containers: [ctr({ readinessProbe: { exec: { command: ['true'] }, failureThreshold: -1 } })] },
      undefined,
      'spec.containers[0].readinessProbe.failureThreshold',
      'Invalid',
    ],
    [
      'a probe without handler',
      { containers: [ctr({ livenessProbe: { periodSeconds: 5 } })] },
      undefined,
      'spec.containers[0].livenessProbe',
      'Required',
      'must specify a handler type',
    ],
    [
      'a probe with two handlers',
      { containers: [ctr({ livenessProbe: { exec: { command: ['true'] }, tcpSocket: { port: 80 } } })] },
      undefined,
      'spec.containers[0].livenessProbe.tcpSocket',
      'Forbidden',
      'may not specify more than 1 handler type',
    ],
    [
      'an exec probe without command',
      { containers: [ctr({ livenessProbe: { exec: {} } })] },
      undefined,
      'spec.containers[0].livenessProbe.exec.command',
      'Required',
    ],
    [
      'an httpGet probe on a bad port name',
      { containers: [ctr({ readinessProbe: { httpGet: { port: 'HTTP_PORT' } } })] },
      undefined,
      'spec.containers[0].readinessProbe.httpGet.port',
      'Invalid',
    ],
    [
      'a probe on an init container',
      { initContainers: [ctr({ name: 'init', livenessProbe: { exec: { command: ['true'] } } })], containers: [ctr()] },
      undefined,
      'spec.initContainers[0].livenessProbe',
      'Forbidden',
    ],
    ['a restartPolicy on a regular container', { containers: [ctr({ restartPolicy: 'Always' })] }, undefined, 'spec.containers[0].restartPolicy', 'Forbidden'],
    [
      'a bad imagePullPolicy',
      { containers: [ctr({ imagePullPolicy: 'Sometimes' })] },
      undefined,
      'spec.containers[0].imagePullPolicy',
      'NotSupported',
      'supported values: "Always", "IfNotPresent", "Never"',
    ],
    [
      'a bad terminationMessagePolicy',
      { containers: [ctr({ terminationMessagePolicy: 'Logs' })] },
      undefined,
      'spec.containers[0].terminationMessagePolicy',
      'NotSupported',
    ],
    [
      'a quantity that does not parse',
      { containers: [ctr({ resources: { limits: { memory: '64MB' } } })] },
      undefined,
      'spec.containers[0].resources.limits[memory]',
      'Invalid',
      'quantities must match',
    ],
    [
      'a negative quantity',
      { containers: [ctr({ resources: { requests: { cpu: '-1' } } })] },
      undefined,
      'spec.containers[0].resources.requests[cpu]',
      'Invalid',
      'must be greater than or equal to 0',
    ],
    [
      'a request above its limit',
      { containers: [ctr({ resources: { limits: { cpu: '500m' }, requests: { cpu: '1' } } })] },
      undefined,
      'spec.containers[0].resources.requests[cpu]',
      'Invalid',
      'must be less than or equal to cpu limit of 500m',
    ],
    [
      'an unknown resource name',
      { containers: [ctr({ resources: { limits: { gpu: '1' } } })] },
      undefined,
      'spec.containers[0].resources.limits[gpu]',
      'Invalid',
      'must be a standard resource for containers',
    ],
    ['runAsUser below zero', { securityContext: { runAsUser: -1 }, containers: [ctr()] }, undefined, 'spec.securityContext.runAsUser', 'Invalid'],
    [
      'privileged that is a string',
      { containers: [ctr({ securityContext: { privileged: 'yes' } })] },
      undefined,
      'spec.containers[0].securityContext.privileged',
      'TypeMismatch',
    ],
    ['a host alias with a bad IP', { hostAliases: [{ ip: '1.2.3', hostnames: ['a'] }], containers: [ctr()] }, undefined, 'spec.hostAliases[0].ip', 'Invalid'],
  ])('reports %s', (_what, spec, metadata, field, type, message) => {
    const errors = validate(spec, metadata);
    expect(fields(errors)).toContain(`${field} ${type}`);
    if (message) expect(errors.find((e) => e.field === field && e.type === type)?.message).toContain(message);
  });

  it('reports only the fault, not follow-on errors', () => {
    expect(fields(validate({ terminationGracePeriodSeconds: -1, containers: [ctr()] }))).toEqual(['spec.terminationGracePeriodSeconds Invalid']);
    expect(fields(validate({ containers: [ctr({ ports: [{ containerPort: 'eighty' }] })] }))).toEqual([
      'spec.containers[0].ports[0].containerPort TypeMismatch',
    ]);
  });

  it('ignores unknown fields of Pod, PodSpec and Container, as the apiserver drops them', () => {
    const p = applyPodDefaults({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: { containers: [ctr({ futureField: 1 })], somethingNew: true },
    } as unknown as Pod);
    (p as unknown as Record<string, unknown>).extra = { a: 1 };
    expect(validatePod(p)).toEqual([]);
  });

  it('reports a metadata or spec of the wrong type without crashing', () => {
    expect(fields(validatePod({ metadata: 'web', spec: [] } as unknown as Pod))).toEqual(['metadata TypeMismatch', 'spec TypeMismatch']);
  });

  it('allows sidecar init containers to carry probes', () => {
    expect(
      validate({
        initContainers: [ctr({ name: 'sidecar', restartPolicy: 'Always', readinessProbe: { exec: { command: ['true'] } } })],
        containers: [ctr()],
      }),
    ).toEqual([]);
  });
});

describe('formatFieldErrors', () => {
  it('renders one error as the apiserver does', () => {
    expect(formatFieldErrors('Pod', 'x', validate({ containers: [{ name: 'main' }] }, { name: 'x' }))).toBe(
      'Pod "x" is invalid: spec.containers[0].image: Required value',
    );
  });

  it('renders a type mismatch with the bad value', () => {
    expect(formatFieldErrors('Pod', 'x', validate({ containers: [ctr({ ports: [{ containerPort: 'eighty' }] })] }))).toBe(
      'Pod "x" is invalid: spec.containers[0].ports[0].containerPort: Invalid value: "eighty": must be an integer',
    );
  });

  it('renders several errors in brackets, identical ones once', () => {
    const text = formatFieldErrors('Pod', 'x', [
      { field: 'spec.restartPolicy', type: 'NotSupported', value: 'Sometimes', message: 'supported values: "Always", "OnFailure", "Never"' },
      { field: 'spec.terminationGracePeriodSeconds', type: 'Invalid', value: -1, message: 'must be greater than or equal to 0' },
      { field: 'spec.terminationGracePeriodSeconds', type: 'Invalid', value: -1, message: 'must be greater than or equal to 0' },
      { field: 'spec.containers[1].name', type: 'Duplicate', value: 'x', message: '' },
      { field: 'spec.containers[0].volumeMounts[0].name', type: 'NotFound', value: 'v', message: '' },
    ]);
    expect(text).toBe(
      'Pod "x" is invalid: [spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never", ' +
        'spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0, ' +
        'spec.containers[1].name: Duplicate value: "x", spec.containers[0].volumeMounts[0].name: Not found: "v"]',
    );
  });
});
