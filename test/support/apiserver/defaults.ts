// What the real apiserver fills in when an object is created: the v1 defaults of
// a Pod (SetDefaults_*), its reset status with the QoS class, a Namespace's phase.
// A node agent reads these fields back, so they must be there as on a real cluster.
import { isMap, type JsonMap } from './json-value.js';
import { quantityValue } from './quantity.js';

function obj(parent: JsonMap, key: string): JsonMap {
  const v = parent[key];
  if (isMap(v)) return v;
  const fresh: JsonMap = {};
  parent[key] = fresh;
  return fresh;
}

function defaultProbe(probe: unknown): void {
  if (!isMap(probe)) return;
  probe.timeoutSeconds ??= 1;
  probe.periodSeconds ??= 10;
  probe.successThreshold ??= 1;
  probe.failureThreshold ??= 3;
  if (isMap(probe.httpGet)) {
    probe.httpGet.path ??= '/';
    probe.httpGet.scheme ??= 'HTTP';
  }
}

function imagePullPolicyFor(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.lastIndexOf(':') + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(c: unknown, hostNetwork: boolean): void {
  if (!isMap(c)) return;
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.imagePullPolicy ??= imagePullPolicyFor(c.image);
  const resources = obj(c, 'resources');
  // A limit without a request makes the request equal to the limit.
  if (isMap(resources.limits)) {
    const requests = obj(resources, 'requests');
    for (const [name, value] of Object.entries(resources.limits)) requests[name] ??= value;
  }
  if (Array.isArray(c.ports)) {
    for (const p of c.ports) {
      if (!isMap(p)) continue;
      p.protocol ??= 'TCP';
      if (hostNetwork) p.hostPort ??= p.containerPort;
    }
  }
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) defaultProbe(c[probe]);
}

const MODE_0644 = 420;

function defaultVolume(v: unknown): void {
  if (!isMap(v)) return;
  for (const source of ['configMap', 'secret', 'downwardAPI', 'projected']) {
    if (isMap(v[source])) v[source].defaultMode ??= MODE_0644;
  }
  if (isMap(v.hostPath)) v.hostPath.type ??= '';
}

export function applyPodDefaults(pod: JsonMap): void {
  const spec = obj(pod, 'spec');
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  const hostNetwork = spec.hostNetwork === true;
  for (const list of ['initContainers', 'containers']) {
    const items = spec[list];
    if (Array.isArray(items)) for (const c of items) defaultContainer(c, hostNetwork);
  }
  if (Array.isArray(spec.volumes)) for (const v of spec.volumes) defaultVolume(v);
}

/** Guaranteed, Burstable or BestEffort from the (defaulted) containers' cpu and memory. */
export function qosClassOf(pod: JsonMap): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const spec = isMap(pod.spec) ? pod.spec : {};
  const containers = [spec.initContainers, spec.containers].flatMap((l) => (Array.isArray(l) ? l : []));
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const resources = isMap(c) && isMap(c.resources) ? c.resources : {};
    const requests = isMap(resources.requests) ? resources.requests : {};
    const limits = isMap(resources.limits) ? resources.limits : {};
    for (const r of ['cpu', 'memory']) {
      const req = requests[r] as string | number | undefined;
      const lim = limits[r] as string | number | undefined;
      if (req !== undefined || lim !== undefined) any = true;
      if (lim === undefined || req === undefined || quantityValue(req) !== quantityValue(lim)) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** The server's PrepareForCreate and defaulting for one kind; mutates `o`. */
export function prepareForCreate(kind: string, o: JsonMap): void {
  switch (kind) {
    case 'Pod':
      applyPodDefaults(o);
      // The real registry ignores a status sent with a new pod.
      o.status = { phase: 'Pending', qosClass: qosClassOf(o) };
      break;
    case 'Service':
      o.status = { loadBalancer: {} };
      break;
    case 'Namespace':
      obj(o, 'spec').finalizers ??= ['kubernetes'];
      o.status = { phase: 'Active' };
      break;
    default:
      break;
  }
}
