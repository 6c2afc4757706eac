import { describe, expect, it } from 'vitest';
import type { Container, Pod } from '../../../agent/api/types.js';
import { admitPod, matchesNodeAffinity, podRequests, rejectedPodStatus, type AdmissionContext } from '../../../agent/pods/admission.js';

let seq = 0;
function pod(containers: Array<Partial<Container>> = [{}], extra: Partial<Pod['spec']> & Record<string, unknown> = {}): Pod {
  seq++;
  return {
    metadata: { name: `p${seq}`, namespace: 'default', uid: `uid-${seq}` },
    spec: { containers: containers.map((c, i) => ({ name: `c${i}`, image: 'busybox', ...c })), ...extra },
  };
}

function requests(cpu?: string, memory?: string): Partial<Container> {
  const r: Record<string, string> = {};
  if (cpu) r.cpu = cpu;
  if (memory) r.memory = memory;
  return { resources: { requests: r } };
}

function ctx(overrides: Partial<AdmissionContext> = {}): AdmissionContext {
  return {
    nodeName: 'node-a',
    nodeLabels: { 'kubernetes.io/hostname': 'node-a', 'kubernetes.io/os': 'linux', disk: 'ssd', cores: '8' },
    allocatable: { cpuMilli: 2000, memoryBytes: 4 * 1024 ** 3, pods: 110 },
    admittedPods: [],
    ...overrides,
  };
}

describe('admitPod: resources', () => {
  it('admits a pod that fits', () => {
    expect(admitPod(pod([requests('500m', '1Gi')]), ctx())).toEqual({ admit: true });
  });

  it("refuses the pod beyond maxPods with OutOfpods and kubelet's message", () => {
    const admitted = Array.from({ length: 110 }, () => pod());
    expect(admitPod(pod(), ctx({ admittedPods: admitted }))).toEqual({
      admit: false,
      reason: 'OutOfpods',
      message: "Node didn't have enough resource: pods, requested: 1, used: 110, capacity: 110",
    });
  });

  it('does not count terminal pods or the pod itself as admitted', () => {
    const done = pod();
    done.status = { phase: 'Succeeded' };
    const failed = pod();
    failed.status = { phase: 'Failed' };
    const self = pod();
    expect(admitPod(self, ctx({ allocatable: { cpuMilli: 1000, memoryBytes: 1e9, pods: 1 }, admittedPods: [done, failed, self] }))).toEqual({ admit: true });
  });

  it('refuses requests beyond what is left of allocatable CPU with OutOfcpu (millicores)', () => {
    const running = pod([requests('1500m')]);
    expect(admitPod(pod([requests('600m')]), ctx({ admittedPods: [running] }))).toEqual({
      admit: false,
      reason: 'OutOfcpu',
      message: "Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000",
    });
  });

  it('refuses memory beyond allocatable with OutOfmemory (bytes)', () => {
    expect(admitPod(pod([requests(undefined, '5Gi')]), ctx())).toEqual({
      admit: false,
      reason: 'OutOfmemory',
      message: `Node didn't have enough resource: memory, requested: ${5 * 1024 ** 3}, used: 0, capacity: ${4 * 1024 ** 3}`,
    });
  });

  it('admits a pod without requests on a full node (only the pod count is checked then)', () => {
    const hog = pod([requests('2', '4Gi')]);
    expect(admitPod(pod(), ctx({ admittedPods: [hog] }))).toEqual({ admit: true });
  });

  it('checks ephemeral-storage only when the node reports it', () => {
    const big = pod([{ resources: { requests: { 'ephemeral-storage': '20Gi' } } }]);
    expect(admitPod(big, ctx())).toEqual({ admit: true });
    const result = admitPod(big, ctx({ allocatable: { cpuMilli: 2000, memoryBytes: 4e9, pods: 110, ephemeralStorageBytes: 10 * 1024 ** 3 } }));
    expect(result).toMatchObject({ admit: false, reason: 'OutOfephemeral-storage' });
  });

  it('reports pods before cpu before memory when several are short', () => {
    const result = admitPod(pod([requests('3', '8Gi')]), ctx({ allocatable: { cpuMilli: 2000, memoryBytes: 1e9, pods: 0 } }));
    expect(result).toMatchObject({ reason: 'OutOfpods' });
    expect(admitPod(pod([requests('3', '8Gi')]), ctx())).toMatchObject({ reason: 'OutOfcpu' });
  });
});

describe("podRequests: kubelet's effective request", () => {
  it('is the larger of the sum of app containers and the largest init container', () => {
    const p = pod([requests('200m', '100Mi'), requests('300m', '100Mi')], {
      initContainers: [{ name: 'i1', image: 'busybox', ...requests('1', '50Mi') }],
    });
    expect(podRequests(p)).toEqual({ cpuMilli: 1000, memoryBytes: 200 * 1024 ** 2, ephemeralStorageBytes: 0 });
  });

  it('adds sidecars to the app containers and to the init containers that start after them', () => {
    const p = pod([requests('100m')], {
      initContainers: [
        { name: 'sidecar', image: 'busybox', restartPolicy: 'Always', ...requests('200m') },
        { name: 'init', image: 'busybox', ...requests('500m') },
      ],
    });
    // init runs with the sidecar: 700m; app + sidecar: 300m.
    expect(podRequests(p).cpuMilli).toBe(700);
  });

  it('adds the pod overhead', () => {
    const p = pod([requests('100m', '10Mi')], { overhead: { cpu: '250m', memory: '1Mi' } });
    expect(podRequests(p)).toMatchObject({ cpuMilli: 350, memoryBytes: 11 * 1024 ** 2 });
  });
});

describe('admitPod: node name and node affinity', () => {
  it('refuses a pod bound to another node with NodeName', () => {
    expect(admitPod(pod([{}], { nodeName: 'node-b' }), ctx())).toEqual({
      admit: false,
      reason: 'NodeName',
      message: "Predicate NodeName failed: node(s) didn't match the requested node name",
    });
    expect(admitPod(pod([{}], { nodeName: 'node-a' }), ctx())).toEqual({ admit: true });
  });

  it('refuses a nodeSelector the node labels do not satisfy with NodeAffinity', () => {
    expect(admitPod(pod([{}], { nodeSelector: { disk: 'hdd' } }), ctx())).toEqual({
      admit: false,
      reason: 'NodeAffinity',
      message: "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector",
    });
    expect(admitPod(pod([{}], { nodeSelector: { disk: 'ssd' } }), ctx())).toEqual({ admit: true });
  });

  const labels = { disk: 'ssd', cores: '8', zone: 'a' };
  const withTerms = (...terms: unknown[]) =>
    pod([{}], { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });
  const expr = (key: string, operator: string, values?: string[]) => ({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });

  it.each([
    ['In', expr('disk', 'In', ['ssd', 'nvme']), true],
    ['In (absent label)', expr('gpu', 'In', ['yes']), false],
    ['NotIn', expr('disk', 'NotIn', ['hdd']), true],
    ['NotIn (absent label matches)', expr('gpu', 'NotIn', ['yes']), true],
    ['NotIn (listed value)', expr('disk', 'NotIn', ['ssd']), false],
    ['Exists', expr('zone', 'Exists'), true],
    ['DoesNotExist', expr('zone', 'DoesNotExist'), false],
    ['Gt', expr('cores', 'Gt', ['4']), true],
    ['Gt (equal)', expr('cores', 'Gt', ['8']), false],
    ['Lt', expr('cores', 'Lt', ['16']), true],
    ['Lt (not a number)', expr('disk', 'Lt', ['16']), false],
  ])('matchExpressions %s', (_name, term, expected) => {
    expect(matchesNodeAffinity(withTerms(term), 'node-a', labels)).toBe(expected);
  });

  it('ORs the terms and ANDs the requirements of a term; matchFields names the node', () => {
    const both = {
      matchExpressions: [
        { key: 'disk', operator: 'In', values: ['ssd'] },
        { key: 'zone', operator: 'In', values: ['b'] },
      ],
    };
    expect(matchesNodeAffinity(withTerms(both), 'node-a', labels)).toBe(false);
    expect(matchesNodeAffinity(withTerms(both, expr('zone', 'In', ['a'])), 'node-a', labels)).toBe(true);
    const byName = { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-a'] }] };
    expect(matchesNodeAffinity(withTerms(byName), 'node-a', labels)).toBe(true);
    expect(matchesNodeAffinity(withTerms(byName), 'node-b', labels)).toBe(false);
    expect(matchesNodeAffinity(withTerms({}), 'node-a', labels)).toBe(false);
  });

  it('refuses a pod whose required affinity matches no term', () => {
    expect(admitPod(withTerms(expr('disk', 'In', ['hdd'])), ctx())).toMatchObject({ admit: false, reason: 'NodeAffinity' });
  });
});

describe('admitPod: host ports and taints', () => {
  const withPort = (hostPort: number, hostIP?: string) => pod([{ ports: [{ containerPort: 80, hostPort, ...(hostIP ? { hostIP } : {}) }] }]);

  it('refuses a host port another admitted pod holds with NodePorts', () => {
    expect(admitPod(withPort(8080), ctx({ admittedPods: [withPort(8080, '10.0.0.1')] }))).toMatchObject({ admit: false, reason: 'NodePorts' });
    expect(admitPod(withPort(8080, '10.0.0.2'), ctx({ admittedPods: [withPort(8080, '10.0.0.1')] }))).toEqual({ admit: true });
    expect(admitPod(withPort(8081), ctx({ admittedPods: [withPort(8080)] }))).toEqual({ admit: true });
  });

  it('refuses untolerated NoExecute taints, except for static pods', () => {
    const taints = [
      { key: 'dedicated', value: 'db', effect: 'NoExecute' as const },
      { key: 'x', effect: 'NoSchedule' as const },
    ];
    expect(admitPod(pod(), ctx({ taints }))).toMatchObject({ admit: false, reason: 'TaintToleration' });
    const tolerating = pod([{}], { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoExecute' }] });
    expect(admitPod(tolerating, ctx({ taints }))).toEqual({ admit: true });
    const staticPod = pod();
    staticPod.metadata.annotations = { 'kubernetes.io/config.source': 'file' };
    expect(admitPod(staticPod, ctx({ taints }))).toEqual({ admit: true });
  });
});

describe('rejectedPodStatus', () => {
  it('is Failed with the reason and kubelet\'s "Pod was rejected" message', () => {
    const result = admitPod(pod([requests('3')]), ctx());
    if (result.admit) throw new Error('expected a refusal');
    expect(rejectedPodStatus(result)).toEqual({
      phase: 'Failed',
      reason: 'OutOfcpu',
      message: "Pod was rejected: Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000",
    });
  });
});
