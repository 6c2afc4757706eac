// Whether this node takes a pod, as kubelet's predicate admission decides it
// (pkg/kubelet/lifecycle/predicate.go → the scheduler's AdmissionCheck): room for
// one more pod, the pod's effective requests within what is left of allocatable,
// its required node affinity and nodeSelector, spec.nodeName, host ports, and
// NoExecute taints. The first failure is the answer, with kubelet's reason and
// message (OutOfcpu, "Node didn't have enough resource: cpu, requested: …"), which
// become the Failed pod's status.reason and status.message. Pure.
import type { Container, ContainerPort, Pod, PodStatus, Quantity } from '../api/types.js';
import { isStaticPod } from '../api/pod-identity.js';
import { isTerminalPhase } from '../api/terminal-phase.js';
import { parseCPUToMilli, parseMemoryToBytes } from '../api/quantity.js';
import { isSidecar } from './restart-policy.js';

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface AdmissionContext {
  nodeName: string;
  nodeLabels: Readonly<Record<string, string>>;
  allocatable: { cpuMilli: number; memoryBytes: number; pods: number; ephemeralStorageBytes?: number };
  /** Pods already admitted on this node (the pod itself, and terminal pods, are not counted). */
  admittedPods: readonly Pod[];
  /** The Node's taints: a NoExecute taint the pod does not tolerate refuses it (static pods excepted). */
  taints?: readonly Taint[];
}

export type AdmissionResult = { admit: true } | { admit: false; reason: string; message: string };

/** A pod's effective requests, in the units kubelet compares. */
export interface PodRequests {
  cpuMilli: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
}

interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}
interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}
interface SchedulingSpec {
  affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] } } };
  overhead?: Record<string, Quantity>;
  tolerations?: Toleration[];
}

const NO_REQUESTS: PodRequests = { cpuMilli: 0, memoryBytes: 0, ephemeralStorageBytes: 0 };

function containerRequests(c: Container): PodRequests {
  const r = c.resources?.requests ?? {};
  return {
    cpuMilli: r.cpu !== undefined ? parseCPUToMilli(r.cpu) : 0,
    memoryBytes: r.memory !== undefined ? parseMemoryToBytes(r.memory) : 0,
    ephemeralStorageBytes: r['ephemeral-storage'] !== undefined ? parseMemoryToBytes(r['ephemeral-storage']) : 0,
  };
}

function add(a: PodRequests, b: PodRequests): PodRequests {
  return {
    cpuMilli: a.cpuMilli + b.cpuMilli,
    memoryBytes: a.memoryBytes + b.memoryBytes,
    ephemeralStorageBytes: a.ephemeralStorageBytes + b.ephemeralStorageBytes,
  };
}

function max(a: PodRequests, b: PodRequests): PodRequests {
  return {
    cpuMilli: Math.max(a.cpuMilli, b.cpuMilli),
    memoryBytes: Math.max(a.memoryBytes, b.memoryBytes),
    ephemeralStorageBytes: Math.max(a.ephemeralStorageBytes, b.ephemeralStorageBytes),
  };
}

/**
 * kubelet's effective request (resourcehelper.PodRequests): the regular containers
 * and sidecars run together, each plain init container runs alone beside the
 * sidecars started before it; the pod needs the larger of the two, plus its overhead.
 */
export function podRequests(pod: Pod): PodRequests {
  let regular = NO_REQUESTS;
  for (const c of pod.spec.containers ?? []) regular = add(regular, containerRequests(c));
  let sidecars = NO_REQUESTS;
  let initPeak = NO_REQUESTS;
  for (const c of pod.spec.initContainers ?? []) {
    const own = containerRequests(c);
    if (isSidecar(c)) {
      sidecars = add(sidecars, own);
      initPeak = max(initPeak, sidecars);
    } else {
      initPeak = max(initPeak, add(own, sidecars));
    }
  }
  let total = max(add(regular, sidecars), initPeak);
  const overhead = (pod.spec as SchedulingSpec).overhead;
  if (overhead) {
    total = add(total, containerRequests({ name: 'overhead', resources: { requests: overhead } }));
  }
  return total;
}

function insufficient(resource: string, requested: number, used: number, capacity: number): AdmissionResult {
  return {
    admit: false,
    reason: `OutOf${resource}`,
    message: `Node didn't have enough resource: ${resource}, requested: ${requested}, used: ${used}, capacity: ${capacity}`,
  };
}

function predicateFailed(name: string, description: string): AdmissionResult {
  return { admit: false, reason: name, message: `Predicate ${name} failed: ${description}` };
}

function parseInteger(text: string | undefined): bigint | undefined {
  return text !== undefined && /^[+-]?\d+$/.test(text) ? BigInt(text) : undefined;
}

/** One requirement of a node selector term against the node's labels (or fields). */
function requirementMatches(req: NodeSelectorRequirement, values: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(values, req.key);
  const value = values[req.key];
  const wanted = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return has && wanted.includes(value ?? '');
    case 'NotIn':
      return !has || !wanted.includes(value ?? '');
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || wanted.length !== 1) return false;
      const actual = parseInteger(value);
      const bound = parseInteger(wanted[0]);
      if (actual === undefined || bound === undefined) return false;
      return req.operator === 'Gt' ? actual > bound : actual < bound;
    }
    default:
      return false;
  }
}

/** A term matches when all its requirements do; a term without any matches nothing. */
function termMatches(term: NodeSelectorTerm, nodeName: string, labels: Readonly<Record<string, string>>): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  return (
    expressions.every((r) => requirementMatches(r, labels)) &&
    fields.every((r) => r.key === 'metadata.name' && requirementMatches(r, { 'metadata.name': nodeName }))
  );
}

/** nodeSelector and required node affinity (terms ORed), as GetRequiredNodeAffinity(pod).Match(node). */
export function matchesNodeAffinity(pod: Pod, nodeName: string, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(pod.spec.nodeSelector ?? {})) {
    if (labels[key] !== value) return false;
  }
  const required = (pod.spec as SchedulingSpec).affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => termMatches(t, nodeName, labels));
}

interface HostPort {
  ip: string;
  protocol: string;
  port: number;
}

function hostPorts(pod: Pod): HostPort[] {
  const ports: ContainerPort[] = [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])].flatMap((c) => c.ports ?? []);
  return ports
    .filter((p) => p.hostPort !== undefined && p.hostPort > 0)
    .map((p) => ({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol ?? 'TCP', port: p.hostPort ?? 0 }));
}

/** Two host ports collide on the same protocol and port when either binds every address or both bind the same one. */
function portsConflict(a: HostPort, b: HostPort): boolean {
  return a.port === b.port && a.protocol === b.protocol && (a.ip === '0.0.0.0' || b.ip === '0.0.0.0' || a.ip === b.ip);
}

function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if ((toleration.operator ?? 'Equal') === 'Exists') return !toleration.key || toleration.key === taint.key;
  return toleration.key === taint.key && (toleration.value ?? '') === (taint.value ?? '');
}

export function admitPod(pod: Pod, ctx: AdmissionContext): AdmissionResult {
  const uid = pod.metadata.uid;
  const others = ctx.admittedPods.filter((p) => (uid === undefined || p.metadata.uid !== uid) && !isTerminalPhase(p.status?.phase));

  let requested: PodRequests;
  let used = NO_REQUESTS;
  try {
    requested = podRequests(pod);
    for (const p of others) used = add(used, podRequests(p));
  } catch (err) {
    return { admit: false, reason: 'UnexpectedAdmissionError', message: `cannot read resource requests: ${(err as Error).message}` };
  }

  const { allocatable } = ctx;
  if (others.length + 1 > allocatable.pods) return insufficient('pods', 1, others.length, allocatable.pods);
  if (requested.cpuMilli > 0 && requested.cpuMilli > allocatable.cpuMilli - used.cpuMilli) {
    return insufficient('cpu', requested.cpuMilli, used.cpuMilli, allocatable.cpuMilli);
  }
  if (requested.memoryBytes > 0 && requested.memoryBytes > allocatable.memoryBytes - used.memoryBytes) {
    return insufficient('memory', requested.memoryBytes, used.memoryBytes, allocatable.memoryBytes);
  }
  const storage = allocatable.ephemeralStorageBytes;
  if (storage !== undefined && requested.ephemeralStorageBytes > 0 && requested.ephemeralStorageBytes > storage - used.ephemeralStorageBytes) {
    return insufficient('ephemeral-storage', requested.ephemeralStorageBytes, used.ephemeralStorageBytes, storage);
  }

  if (!matchesNodeAffinity(pod, ctx.nodeName, ctx.nodeLabels)) {
    return predicateFailed('NodeAffinity', "node(s) didn't match Pod's node affinity/selector");
  }
  if (pod.spec.nodeName && pod.spec.nodeName !== ctx.nodeName) {
    return predicateFailed('NodeName', "node(s) didn't match the requested node name");
  }
  const wanted = hostPorts(pod);
  if (wanted.length > 0) {
    const taken = others.flatMap(hostPorts);
    if (wanted.some((w) => taken.some((t) => portsConflict(w, t)))) {
      return predicateFailed('NodePorts', "node(s) didn't have free ports for the requested pod ports");
    }
  }
  if (!isStaticPod(pod)) {
    const tolerations = (pod.spec as SchedulingSpec).tolerations ?? [];
    const untolerated = (ctx.taints ?? []).find((t) => t.effect === 'NoExecute' && !tolerations.some((tol) => tolerates(tol, t)));
    if (untolerated) return predicateFailed('TaintToleration', "node(s) had taints that the pod didn't tolerate");
  }
  return { admit: true };
}

/**
 * The status of a pod admission refused (kubelet's rejectPod): Failed, with the
 * reason and "Pod was rejected: <message>"; nothing is started for it.
 */
export function rejectedPodStatus(result: { reason: string; message: string }): PodStatus {
  return { phase: 'Failed', reason: result.reason, message: `Pod was rejected: ${result.message}` };
}
