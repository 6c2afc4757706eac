import { describe, it, expect } from 'vitest';
import type { Container, Pod, PodSpec } from '../../../agent/api/types.js';
import {
  type ContainerConfigInput,
  type EnvironmentContext,
  generateContainerConfig,
  makeEnvironment,
  milliCPUToQuota,
  milliCPUToShares,
} from '../../../agent/pods/container-config.js';
import { hashContainer } from '../../../agent/pods/container-hash.js';
import { CreateContainerConfigError } from '../../../agent/api/pod-errors.js';
import {
  LABEL_CONTAINER_HASH,
  LABEL_CONTAINER_KIND,
  LABEL_CONTAINER_NAME,
  LABEL_MANAGED,
  LABEL_NODE,
  LABEL_POD_NAME,
  LABEL_POD_NAMESPACE,
  LABEL_POD_SOURCE,
  LABEL_POD_UID,
  LABEL_RESTART_COUNT,
  LABEL_TERMINATION_GRACE,
  LABEL_TERMINATION_MESSAGE_PATH,
  LABEL_TERMINATION_MESSAGE_POLICY,
} from '../../../agent/runtime/labels.js';
import type { Mount } from '../../../agent/runtime/runtime.js';

function pod(container: Partial<Container> = {}, spec: Partial<PodSpec> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return {
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'uid-1',
      labels: { app: 'web', tier: '$(A)' },
      annotations: { 'example.com/owner': 'team-a' },
      ...meta,
    },
    spec: { containers: [{ name: 'app', image: 'nginx', ...container }], serviceAccountName: 'web-sa', ...spec },
  };
}

const ctx: EnvironmentContext = { podIP: '10.88.0.5', hostIP: '192.168.1.10', nodeName: 'node-1' };

function input(p: Pod, extra: Partial<ContainerConfigInput> = {}): ContainerConfigInput {
  return {
    ...ctx,
    pod: p,
    container: p.spec.containers[0]!,
    kind: 'regular',
    attempt: 3,
    podSource: 'file',
    config: { containerLogMaxSize: '10m', containerLogMaxFiles: 5 },
    imageRef: 'sha256:abc',
    hostsFilePath: '/var/lib/nodelet/pods/uid-1/etc-hosts',
    ...extra,
  };
}

const gen = (p: Pod, extra: Partial<ContainerConfigInput> = {}) => generateContainerConfig(input(p, extra));
const envOf = (p: Pod, c: EnvironmentContext = ctx) => Object.fromEntries(makeEnvironment(p, p.spec.containers[0]!, c).map((e) => [e.key, e.value]));

function configError(fn: () => unknown): CreateContainerConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CreateContainerConfigError);
    return err as CreateContainerConfigError;
  }
  throw new Error('expected a CreateContainerConfigError');
}

describe('makeEnvironment', () => {
  it('keeps env order and expands each value against the variables defined before it', () => {
    const p = pod({
      env: [
        { name: 'A', value: 'alpha' },
        { name: 'B', value: '$(A)-beta' },
        { name: 'C', value: '$(D)' },
        { name: 'D', value: 'delta' },
        { name: 'E', value: '$$(A) $(A)' },
        { name: 'F' },
      ],
    });
    expect(makeEnvironment(p, p.spec.containers[0]!, ctx)).toEqual([
      { key: 'A', value: 'alpha' },
      { key: 'B', value: 'alpha-beta' },
      { key: 'C', value: '$(D)' },
      { key: 'D', value: 'delta' },
      { key: 'E', value: '$(A) alpha' },
      { key: 'F', value: '' },
    ]);
  });

  it('lets a later definition replace an earlier one, a self-reference reading the earlier value', () => {
    const p = pod({
      env: [
        { name: 'PATH', value: '/bin' },
        { name: 'X', value: 'x' },
        { name: 'PATH', value: '/opt/bin:$(PATH)' },
      ],
    });
    expect(makeEnvironment(p, p.spec.containers[0]!, ctx)).toEqual([
      { key: 'PATH', value: '/opt/bin:/bin' },
      { key: 'X', value: 'x' },
    ]);
  });

  it('resolves the downward API fieldRefs', () => {
    const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
    const p = pod({
      env: [
        { name: 'NAME', ...field('metadata.name') },
        { name: 'NS', ...field('metadata.namespace') },
        { name: 'UID', ...field('metadata.uid') },
        { name: 'APP', ...field("metadata.labels['app']") },
        { name: 'MISSING', ...field("metadata.labels['nope']") },
        { name: 'OWNER', ...field("metadata.annotations['example.com/owner']") },
        { name: 'NODE', ...field('spec.nodeName') },
        { name: 'SA', ...field('spec.serviceAccountName') },
        { name: 'HOST_IP', ...field('status.hostIP') },
        { name: 'HOST_IPS', ...field('status.hostIPs') },
        { name: 'POD_IP', ...field('status.podIP') },
        { name: 'POD_IPS', ...field('status.podIPs') },
        { name: 'V1', valueFrom: { fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v1' } } },
      ],
    });
    expect(envOf(p)).toEqual({
      NAME: 'web',
      NS: 'shop',
      UID: 'uid-1',
      APP: 'web',
      MISSING: '',
      OWNER: 'team-a',
      NODE: 'node-1',
      SA: 'web-sa',
      HOST_IP: '192.168.1.10',
      HOST_IPS: '192.168.1.10',
      POD_IP: '10.88.0.5',
      POD_IPS: '10.88.0.5',
      V1: 'web',
    });
  });

  it('prefers spec.nodeName and lists every IP when given', () => {
    const p = pod(
      {
        env: [
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'POD_IPS', valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } },
          { name: 'HOST_IPS', valueFrom: { fieldRef: { fieldPath: 'status.hostIPs' } } },
        ],
      },
      { nodeName: 'scheduled-node' },
    );
    expect(envOf(p, { ...ctx, podIPs: ['10.88.0.5', 'fd00::5'], hostIPs: ['192.168.1.10', 'fd01::10'] })).toEqual({
      NODE: 'scheduled-node',
      POD_IPS: '10.88.0.5,fd00::5',
      HOST_IPS: '192.168.1.10,fd01::10',
    });
  });

  it('never expands values from valueFrom', () => {
    const p = pod({
      env: [
        { name: 'A', value: 'a' },
        { name: 'TIER', valueFrom: { fieldRef: { fieldPath: "metadata.labels['tier']" } } },
      ],
    });
    expect(envOf(p).TIER).toBe('$(A)');
  });

  it('rejects an unsupported fieldRef, naming the field', () => {
    const p = pod({
      env: [
        { name: 'A', value: 'a' },
        { name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.nodeSelector' } } },
      ],
    });
    const err = configError(() => envOf(p));
    expect(err.field).toBe('spec.containers[0].env[1].valueFrom.fieldRef.fieldPath');
    expect(err.message).toContain('container "app" of pod shop/web');
    expect(err.message).toContain('spec.nodeSelector');
    expect(err.reason).toBe('CreateContainerConfigError');
    const v2 = pod({ env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v2' } } }] });
    expect(configError(() => envOf(v2)).message).toMatch(/apiVersion "v2"/);
  });

  describe('resourceFieldRef', () => {
    const res = (resource: string, divisor?: string, containerName?: string) => ({
      valueFrom: { resourceFieldRef: { resource, ...(divisor ? { divisor } : {}), ...(containerName ? { containerName } : {}) } },
    });

    it('reports limits and requests in units of the divisor, rounded up', () => {
      const p = pod({
        resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '250m', memory: '64Mi' } },
        env: [
          { name: 'CPU_LIMIT', ...res('limits.cpu') },
          { name: 'CPU_LIMIT_M', ...res('limits.cpu', '1m') },
          { name: 'MEM_LIMIT', ...res('limits.memory') },
          { name: 'MEM_LIMIT_MI', ...res('limits.memory', '1Mi') },
          { name: 'CPU_REQ_M', ...res('requests.cpu', '1m') },
          { name: 'MEM_REQ_MI', ...res('requests.memory', '1Mi') },
        ],
      });
      expect(envOf(p)).toEqual({
        CPU_LIMIT: '1',
        CPU_LIMIT_M: '500',
        MEM_LIMIT: '134217728',
        MEM_LIMIT_MI: '128',
        CPU_REQ_M: '250',
        MEM_REQ_MI: '64',
      });
    });

    it('defaults requests to limits, and an unset request without a limit to 0', () => {
      const p = pod({
        resources: { limits: { cpu: '2' } },
        env: [
          { name: 'CPU_REQ', ...res('requests.cpu') },
          { name: 'MEM_REQ', ...res('requests.memory') },
        ],
      });
      expect(envOf(p)).toEqual({ CPU_REQ: '2', MEM_REQ: '0' });
    });

    it('reports node allocatable for an unset limit', () => {
      const p = pod({
        env: [
          { name: 'CPU', ...res('limits.cpu', '1m') },
          { name: 'MEM', ...res('limits.memory', '1Mi') },
          { name: 'REQ', ...res('requests.cpu', '1m') },
        ],
      });
      expect(envOf(p, { ...ctx, nodeAllocatable: { cpuMilli: 4000, memoryBytes: 8 * 1024 ** 3 } })).toEqual({ CPU: '4000', MEM: '8192', REQ: '0' });
    });

    it('reads another container named by containerName', () => {
      const p = pod(
        { env: [{ name: 'SIDE', ...res('limits.memory', '1Mi', 'side') }] },
        {
          containers: [
            { name: 'app', env: [{ name: 'SIDE', ...res('limits.memory', '1Mi', 'side') }] },
            { name: 'side', resources: { limits: { memory: '32Mi' } } },
          ],
        },
      );
      expect(envOf(p)).toEqual({ SIDE: '32' });
    });

    it('rejects an unknown container or resource, naming the field', () => {
      const missing = pod({ env: [{ name: 'X', ...res('limits.cpu', undefined, 'ghost') }] });
      const err = configError(() => envOf(missing));
      expect(err.field).toBe('spec.containers[0].env[0].valueFrom.resourceFieldRef');
      expect(err.message).toContain('container "ghost" not found');
      const bad = pod({ env: [{ name: 'X', ...res('limits.gpu') }] });
      expect(configError(() => envOf(bad)).message).toContain('unsupported container resource "limits.gpu"');
      const badQuantity = pod({ resources: { limits: { cpu: 'lots' } }, env: [{ name: 'X', ...res('limits.cpu') }] });
      expect(configError(() => envOf(badQuantity)).message).toContain('invalid quantity "lots"');
    });
  });

  describe('ConfigMaps and Secrets (standalone: none exist)', () => {
    it("fails a required configMapKeyRef with Kubernetes' words", () => {
      const p = pod({ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } }] });
      const err = configError(() => envOf(p));
      expect(err.detail).toBe('configmap "settings" not found');
      expect(err.field).toBe('spec.containers[0].env[0].valueFrom.configMapKeyRef');
      expect(err.message).toContain('configmap "settings" not found');
    });

    it('fails a required secretKeyRef', () => {
      const p = pod({ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } }] });
      expect(configError(() => envOf(p)).detail).toBe('secret "creds" not found');
    });

    it('skips optional references', () => {
      const p = pod({
        env: [
          { name: 'A', value: 'a' },
          { name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode', optional: true } } },
          { name: 'Y', valueFrom: { secretKeyRef: { name: 'creds', key: 'password', optional: true } } },
        ],
        envFrom: [{ configMapRef: { name: 'settings', optional: true } }, { secretRef: { name: 'creds', optional: true } }],
      });
      expect(envOf(p)).toEqual({ A: 'a' });
    });

    it('fails a required envFrom source', () => {
      const p = pod({ envFrom: [{ configMapRef: { name: 'settings', optional: true } }, { secretRef: { name: 'creds' } }] });
      const err = configError(() => envOf(p));
      expect(err.detail).toBe('secret "creds" not found');
      expect(err.field).toBe('spec.containers[0].envFrom[1].secretRef');
      const cm = pod({ envFrom: [{ configMapRef: { name: 'settings' } }] });
      expect(configError(() => envOf(cm)).detail).toBe('configmap "settings" not found');
    });

    it('reads them when a source provides them: envFrom first, prefixed, then env', () => {
      const sources: EnvironmentContext = {
        ...ctx,
        configMaps: (name) => (name === 'settings' ? { mode: 'fast', level: '3', 'bad=key': 'x' } : undefined),
        secrets: (name) => (name === 'creds' ? { password: 's3cret' } : undefined),
      };
      const p = pod({
        envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }],
        env: [
          { name: 'PASS', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
          { name: 'MSG', value: 'mode=$(CFG_mode)' },
        ],
      });
      expect(makeEnvironment(p, p.spec.containers[0]!, sources)).toEqual([
        { key: 'CFG_mode', value: 'fast' },
        { key: 'CFG_level', value: '3' },
        { key: 'PASS', value: 's3cret' },
        { key: 'MSG', value: 'mode=fast' },
      ]);
      const missingKey = pod({ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'nope' } } }] });
      expect(configError(() => envOf(missingKey, sources)).detail).toBe("couldn't find key nope in ConfigMap shop/settings");
    });
  });
});

describe('generateContainerConfig', () => {
  it('sets metadata, image, flags, working dir, log options and ports', () => {
    const cfg = gen(
      pod({
        workingDir: '/srv',
        stdin: true,
        tty: true,
        ports: [{ containerPort: 80 }, { containerPort: 53, protocol: 'UDP' }],
        lifecycle: { stopSignal: 'SIGQUIT' },
      }),
    );
    expect(cfg.metadata).toEqual({ name: 'app', attempt: 3 });
    expect(cfg.image).toBe('sha256:abc');
    expect(cfg.workingDir).toBe('/srv');
    expect([cfg.stdin, cfg.stdinOnce, cfg.tty]).toEqual([true, false, true]);
    expect(cfg.log).toEqual({ maxSize: '10m', maxFiles: 5 });
    expect(cfg.stopSignal).toBe('SIGQUIT');
    expect(cfg.exposedPorts).toEqual([
      { containerPort: 80, protocol: 'TCP' },
      { containerPort: 53, protocol: 'UDP' },
    ]);
    expect(cfg.annotations).toEqual({});
  });

  it('leaves unset fields unset', () => {
    const cfg = gen(pod());
    expect(cfg.command).toBeUndefined();
    expect(cfg.args).toBeUndefined();
    expect(cfg.workingDir).toBeUndefined();
    expect(cfg.stopSignal).toBeUndefined();
    expect(cfg.exposedPorts).toBeUndefined();
    expect(cfg.envs).toEqual([]);
  });

  it("expands command and args with the container's environment", () => {
    const cfg = gen(
      pod({
        command: ['/bin/sh', '-c', 'echo $(GREETING) $$(GREETING) $(HOME)'],
        args: ['$(LATER)', '$(POD)'],
        env: [
          { name: 'GREETING', value: 'hello' },
          { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'LATER', value: 'defined-after' },
        ],
      }),
    );
    expect(cfg.command).toEqual(['/bin/sh', '-c', 'echo hello $(GREETING) $(HOME)']);
    expect(cfg.args).toEqual(['defined-after', 'web']);
    expect(cfg.envs.map((e) => e.key)).toEqual(['GREETING', 'POD', 'LATER']);
  });

  it('treats an empty command or args as unset', () => {
    const cfg = gen(pod({ command: [], args: [] }));
    expect(cfg.command).toBeUndefined();
    expect(cfg.args).toBeUndefined();
  });

  it('labels the container so a restarted agent can rebuild its view', () => {
    const p = pod({}, { terminationGracePeriodSeconds: 12 });
    const container = p.spec.containers[0]!;
    expect(gen(p, { kind: 'init' }).labels).toEqual({
      [LABEL_POD_NAME]: 'web',
      [LABEL_POD_NAMESPACE]: 'shop',
      [LABEL_POD_UID]: 'uid-1',
      [LABEL_CONTAINER_NAME]: 'app',
      [LABEL_MANAGED]: 'true',
      [LABEL_NODE]: 'node-1',
      [LABEL_CONTAINER_HASH]: hashContainer(container),
      [LABEL_RESTART_COUNT]: '3',
      [LABEL_TERMINATION_GRACE]: '12',
      [LABEL_TERMINATION_MESSAGE_PATH]: '/dev/termination-log',
      [LABEL_TERMINATION_MESSAGE_POLICY]: 'File',
      [LABEL_CONTAINER_KIND]: 'init',
      [LABEL_POD_SOURCE]: 'file',
    });
  });

  it('labels the default grace period and a custom termination message', () => {
    const labels = gen(pod({ terminationMessagePath: '/tmp/msg', terminationMessagePolicy: 'FallbackToLogsOnError' })).labels;
    expect(labels[LABEL_TERMINATION_GRACE]).toBe('30');
    expect(labels[LABEL_TERMINATION_MESSAGE_PATH]).toBe('/tmp/msg');
    expect(labels[LABEL_TERMINATION_MESSAGE_POLICY]).toBe('FallbackToLogsOnError');
    expect(labels[LABEL_CONTAINER_KIND]).toBe('regular');
  });

  describe('resources', () => {
    it('maps limits and requests to cgroup numbers', () => {
      const cfg = gen(pod({ resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '250m', memory: '64Mi' } } }));
      expect(cfg.resources).toEqual({ cpuShares: 256, cpuPeriod: 100000, cpuQuota: 50000, memoryLimitInBytes: 134217728 });
    });

    it('defaults the CPU request to the limit', () => {
      expect(gen(pod({ resources: { limits: { cpu: '1' } } })).resources).toEqual({ cpuShares: 1024, cpuPeriod: 100000, cpuQuota: 100000 });
      expect(gen(pod({ resources: { limits: { cpu: 2 }, requests: { cpu: '0' } } })).resources.cpuShares).toBe(2048);
    });

    it('gives a container without CPU request the minimum shares and no quota', () => {
      expect(gen(pod()).resources).toEqual({ cpuShares: 2 });
      expect(gen(pod({ resources: { requests: { memory: '1Gi' } } })).resources).toEqual({ cpuShares: 2 });
    });

    it("applies kubelet's floors", () => {
      expect(gen(pod({ resources: { limits: { cpu: '1m' } } })).resources).toEqual({ cpuShares: 2, cpuPeriod: 100000, cpuQuota: 1000 });
      expect(milliCPUToShares(0)).toBe(2);
      expect(milliCPUToShares(1)).toBe(2);
      expect(milliCPUToShares(100)).toBe(102);
      expect(milliCPUToShares(1_000_000)).toBe(262144);
      expect(milliCPUToQuota(0, 100000)).toBe(0);
      expect(milliCPUToQuota(5, 100000)).toBe(1000);
      expect(milliCPUToQuota(1500, 100000)).toBe(150000);
    });

    it('rejects an unparseable quantity, naming the field', () => {
      const err = configError(() => gen(pod({ resources: { limits: { memory: '12XB' } } })));
      expect(err.field).toBe('spec.containers[0].resources.limits.memory');
      expect(err.message).toContain('spec.containers[0].resources.limits.memory');
      expect(err.message).toContain('"12XB"');
      expect(err.message).toContain('pod shop/web');
      expect(configError(() => gen(pod({ resources: { requests: { memory: 'x' } } }))).field).toBe('spec.containers[0].resources.requests.memory');
      expect(configError(() => gen(pod({ resources: { limits: { cpu: '-1' } } }))).detail).toMatch(/non-negative/);
    });

    it('names init containers by their own list', () => {
      const init: Container = { name: 'setup', resources: { requests: { cpu: 'fast' } } };
      const p = pod({}, { initContainers: [{ name: 'first' }, init] });
      const err = configError(() => gen(p, { container: init, kind: 'init' }));
      expect(err.field).toBe('spec.initContainers[1].resources.requests.cpu');
      expect(err.container).toBe('setup');
    });
  });

  describe('security context', () => {
    it("lets the container override the pod's user and group", () => {
      const p = pod({ securityContext: { runAsUser: 2000 } }, { securityContext: { runAsUser: 1000, runAsGroup: 3000 } });
      const sc = gen(p).securityContext;
      expect(sc.runAsUser).toBe(2000);
      expect(sc.runAsGroup).toBe(3000);
    });

    it("takes the pod's settings when the container has none", () => {
      const sc = gen(pod({}, { securityContext: { runAsUser: 1000 } })).securityContext;
      expect(sc.runAsUser).toBe(1000);
      expect(sc.runAsGroup).toBeUndefined();
    });

    it('sets nothing for an empty security context', () => {
      expect(gen(pod()).securityContext).toEqual({ namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } });
    });

    it('maps privileged, read-only root and capabilities', () => {
      const sc = gen(
        pod({
          securityContext: {
            privileged: true,
            readOnlyRootFilesystem: true,
            capabilities: { add: ['cap_net_admin', 'SYS_TIME', 'CAP_CHOWN'], drop: ['ALL'] },
          },
        }),
      ).securityContext;
      expect(sc.privileged).toBe(true);
      expect(sc.readonlyRootfs).toBe(true);
      expect(sc.capabilities).toEqual({ add: ['NET_ADMIN', 'SYS_TIME', 'CHOWN'], drop: ['ALL'] });
      expect(sc.noNewPrivs).toBeUndefined();
    });

    it('sets no_new_privs only for an explicit allowPrivilegeEscalation: false', () => {
      expect(gen(pod({ securityContext: { allowPrivilegeEscalation: false } })).securityContext.noNewPrivs).toBe(true);
      expect(gen(pod({ securityContext: { allowPrivilegeEscalation: true } })).securityContext.noNewPrivs).toBeUndefined();
      expect(gen(pod({ securityContext: { runAsUser: 1 } })).securityContext.noNewPrivs).toBeUndefined();
    });

    it('rejects allowPrivilegeEscalation: false with privileged or CAP_SYS_ADMIN, as API validation does', () => {
      const priv = configError(() => gen(pod({ securityContext: { allowPrivilegeEscalation: false, privileged: true } })));
      expect(priv.field).toBe('spec.containers[0].securityContext.allowPrivilegeEscalation');
      expect(priv.detail).toMatch(/`privileged` to true/);
      const admin = configError(() => gen(pod({ securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ['CAP_SYS_ADMIN'] } } })));
      expect(admin.detail).toMatch(/CAP_SYS_ADMIN/);
      expect(() => gen(pod({ securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ['sys_admin'] } } }))).toThrow(
        CreateContainerConfigError,
      );
    });

    it("adds fsGroup and the pod's supplemental groups", () => {
      const p = pod({}, { securityContext: { fsGroup: 2000, supplementalGroups: [3000, 2000, 4000] } });
      expect(gen(p).securityContext.supplementalGroups).toEqual([2000, 3000, 4000]);
      expect(gen(pod({}, { securityContext: { supplementalGroups: [5] } })).securityContext.supplementalGroups).toEqual([5]);
    });

    it('chooses namespaces from hostNetwork, hostPID, shareProcessNamespace and hostIPC', () => {
      const ns = (spec: Partial<PodSpec>) => gen(pod({}, spec)).securityContext.namespaces;
      expect(ns({})).toEqual({ network: 'POD', pid: 'CONTAINER', ipc: 'POD' });
      expect(ns({ shareProcessNamespace: true })).toEqual({ network: 'POD', pid: 'POD', ipc: 'POD' });
      expect(ns({ hostPID: true, shareProcessNamespace: true }).pid).toBe('NODE');
      expect(ns({ hostNetwork: true }).network).toBe('NODE');
      expect(ns({ hostIPC: true }).ipc).toBe('NODE');
    });
  });

  describe('mounts', () => {
    const volume: Mount = { containerPath: '/data', hostPath: '/var/lib/nodelet/pods/uid-1/volumes/data', readonly: true };
    const termination: Mount = {
      containerPath: '/dev/termination-log',
      hostPath: '/var/lib/nodelet/pods/uid-1/containers/app/termination-log-3',
      readonly: false,
    };
    const hostsMount: Mount = { containerPath: '/etc/hosts', hostPath: '/var/lib/nodelet/pods/uid-1/etc-hosts', readonly: false };

    it('passes prepared mounts through and adds the managed /etc/hosts', () => {
      expect(gen(pod(), { mounts: [volume, termination] }).mounts).toEqual([volume, termination, hostsMount]);
    });

    it("adds /etc/hosts for a host-network pod too (the node's file plus hostAliases)", () => {
      expect(gen(pod({}, { hostNetwork: true }), { podIP: '192.168.1.10' }).mounts).toEqual([hostsMount]);
    });

    it('does not add /etc/hosts without a hosts file or before the pod has an IP', () => {
      expect(gen(pod(), { hostsFilePath: undefined }).mounts).toEqual([]);
      expect(gen(pod(), { podIP: '' }).mounts).toEqual([]);
    });

    it('does not add /etc/hosts when the container mounts that path itself', () => {
      const own: Mount = { containerPath: '/etc/hosts', hostPath: '/srv/hosts', readonly: true };
      expect(gen(pod(), { mounts: [own] }).mounts).toEqual([own]);
      const p = pod({ volumeMounts: [{ name: 'hosts', mountPath: '/etc/hosts/' }] });
      expect(gen(p, { mounts: [volume] }).mounts).toEqual([volume]);
    });
  });
});
