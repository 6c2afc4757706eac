// What the apiserver would reject in a pod, checked on the node: a static manifest
// never passed through an apiserver, so it is untyped input. Wrong JSON types of
// known fields are reported (TypeMismatch) instead of crashing later code; unknown
// fields are ignored, as the apiserver drops them. Expects a defaulted pod
// (applyPodDefaults): fields that defaulting fills are not required here.
import type { Pod } from '../api/types.js';
import { isJsonObject, type JsonObject } from '../api/json-object.js';
import { absent, Checker } from '../api/validation/checker.js';
import { fieldError, type FieldError } from '../api/validation/field-errors.js';
import {
  configMapKey,
  dns1123Label,
  dns1123Subdomain,
  envVarName,
  httpHeaderName,
  ipAddress,
  labelValue,
  localDescendingPath,
  portName,
  portNumber,
  qualifiedName,
} from '../api/validation/rules.js';
import { VOLUME_SOURCE_KINDS } from './pod-defaults.js';

type Obj = JsonObject;

const INT32_MAX = 2_147_483_647;
const MAX_ANNOTATIONS_BYTES = 256 * 1024;
const MAX_DNS_NAMESERVERS = 3;
const MAX_DNS_SEARCH_PATHS = 32;

// Supported values, listed in the order Kubernetes prints them.
const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const TERMINATION_MESSAGE_POLICIES = ['FallbackToLogsOnError', 'File'];
const MOUNT_PROPAGATIONS = ['Bidirectional', 'HostToContainer', 'None'];
const HTTP_SCHEMES = ['HTTP', 'HTTPS'];
const HOST_PATH_TYPES = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'];
const FIELD_REF_PATHS = [
  'metadata.annotations',
  'metadata.labels',
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];
const RESOURCE_FIELD_REFS = ['limits.cpu', 'limits.ephemeral-storage', 'limits.memory', 'requests.cpu', 'requests.ephemeral-storage', 'requests.memory'];
const STANDARD_CONTAINER_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage']);
const PROBE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc'];
const LIFECYCLE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'sleep'];

/** Every reason the apiserver would refuse this pod, with Kubernetes field paths. */
export function validatePod(pod: Pod): FieldError[] {
  const c = new Checker();
  const root: unknown = pod;
  if (!isJsonObject(root)) {
    c.add(fieldError.typeMismatch('<pod>', root, 'an object'));
    return c.errors;
  }
  validateMetadata(c, root.metadata);
  if (isJsonObject(root.spec) || absent(root.spec)) validateSpec(c, root.spec ?? {});
  else c.add(fieldError.typeMismatch('spec', root.spec, 'an object'));
  return c.errors;
}

function validateMetadata(c: Checker, value: unknown): void {
  if (absent(value)) {
    c.add(fieldError.required('metadata.name', 'name or generateName is required'));
    return;
  }
  const meta = c.obj(value, 'metadata');
  if (!meta) return;
  const name = c.str(meta.name, 'metadata.name');
  if (!name) {
    if (absent(meta.name) || name === '') c.add(fieldError.required('metadata.name', 'name or generateName is required'));
  } else {
    c.rule('metadata.name', name, dns1123Subdomain(name));
  }
  const ns = c.str(meta.namespace, 'metadata.namespace');
  if (ns) c.rule('metadata.namespace', ns, dns1123Label(ns));

  const labels = c.stringMap(meta.labels, 'metadata.labels');
  for (const [k, v] of Object.entries(labels ?? {})) {
    c.rule('metadata.labels', k, qualifiedName(k));
    c.rule('metadata.labels', v, labelValue(v));
  }
  const annotations = c.stringMap(meta.annotations, 'metadata.annotations');
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    c.rule('metadata.annotations', k, qualifiedName(k.toLowerCase()));
    size += k.length + v.length;
  }
  if (size > MAX_ANNOTATIONS_BYTES) c.add(fieldError.tooLong('metadata.annotations', '', MAX_ANNOTATIONS_BYTES));
}

interface ContainerContext {
  volumes: ReadonlySet<string>;
  hostNetwork: boolean;
}

function validateSpec(c: Checker, spec: Obj): void {
  const volumes = validateVolumes(c, spec.volumes);
  const hostNetwork = c.bool(spec.hostNetwork, 'spec.hostNetwork') ?? false;
  const ctx: ContainerContext = { volumes, hostNetwork };

  const containers = c.objects(spec.containers, 'spec.containers');
  if (absent(spec.containers) || (Array.isArray(spec.containers) && spec.containers.length === 0)) {
    c.add(fieldError.required('spec.containers'));
  }
  const names = new Set<string>();
  for (const [container, i] of containers) {
    validateContainer(c, container, `spec.containers[${i}]`, 'regular', ctx, names);
  }
  for (const [container, i] of c.objects(spec.initContainers, 'spec.initContainers')) {
    validateContainer(c, container, `spec.initContainers[${i}]`, 'init', ctx, names);
  }
  validateHostPorts(c, containers);

  c.enumerated(spec.restartPolicy, 'spec.restartPolicy', RESTART_POLICIES);
  const dnsPolicy = c.enumerated(spec.dnsPolicy, 'spec.dnsPolicy', DNS_POLICIES);
  validateDNSConfig(c, spec.dnsConfig, dnsPolicy);

  c.nonNegative(spec.terminationGracePeriodSeconds, 'spec.terminationGracePeriodSeconds');
  const deadline = c.int(spec.activeDeadlineSeconds, 'spec.activeDeadlineSeconds');
  if (deadline !== undefined && (deadline < 1 || deadline > INT32_MAX)) {
    c.add(fieldError.invalid('spec.activeDeadlineSeconds', deadline, `must be between 1 and ${INT32_MAX}, inclusive`));
  }

  const hostPID = c.bool(spec.hostPID, 'spec.hostPID');
  c.bool(spec.hostIPC, 'spec.hostIPC');
  const sharePN = c.bool(spec.shareProcessNamespace, 'spec.shareProcessNamespace');
  if (hostPID && sharePN) c.add(fieldError.invalid('spec.shareProcessNamespace', true, 'ShareProcessNamespace and HostPID cannot both be enabled'));
  c.bool(spec.enableServiceLinks, 'spec.enableServiceLinks');
  c.stringMap(spec.nodeSelector, 'spec.nodeSelector');
  c.str(spec.nodeName, 'spec.nodeName');
  c.int(spec.priority, 'spec.priority');
  const sa = c.str(spec.serviceAccountName, 'spec.serviceAccountName');
  if (sa) c.rule('spec.serviceAccountName', sa, dns1123Subdomain(sa));
  for (const key of ['hostname', 'subdomain'] as const) {
    const v = c.str(spec[key], `spec.${key}`);
    if (v) c.rule(`spec.${key}`, v, dns1123Label(v));
  }
  for (const [alias, i] of c.objects(spec.hostAliases, 'spec.hostAliases')) {
    const path = `spec.hostAliases[${i}]`;
    const ip = c.str(alias.ip, `${path}.ip`);
    if (!ip) c.add(fieldError.required(`${path}.ip`));
    else c.rule(`${path}.ip`, ip, ipAddress(ip));
    (c.strings(alias.hostnames, `${path}.hostnames`) ?? []).forEach((h, j) => {
      c.rule(`${path}.hostnames[${j}]`, h, dns1123Subdomain(h));
    });
  }
  validatePodSecurityContext(c, spec.securityContext);
  for (const [gate, i] of c.objects(spec.readinessGates, 'spec.readinessGates')) {
    if (!c.str(gate.conditionType, `spec.readinessGates[${i}].conditionType`)) c.add(fieldError.required(`spec.readinessGates[${i}].conditionType`));
  }
  c.objects(spec.tolerations, 'spec.tolerations');
}

function validateDNSConfig(c: Checker, value: unknown, dnsPolicy: string | undefined): void {
  const cfg = c.obj(value, 'spec.dnsConfig');
  if (!cfg) {
    if (dnsPolicy === 'None') c.add(fieldError.required('spec.dnsConfig', 'must provide `dnsConfig` when `dnsPolicy` is None'));
    return;
  }
  const nameservers = c.strings(cfg.nameservers, 'spec.dnsConfig.nameservers') ?? [];
  if (dnsPolicy === 'None' && nameservers.length === 0 && absent(cfg.nameservers)) {
    c.add(fieldError.required('spec.dnsConfig.nameservers', 'must provide at least one DNS nameserver when `dnsPolicy` is None'));
  }
  if (nameservers.length > MAX_DNS_NAMESERVERS) {
    c.add(fieldError.invalid('spec.dnsConfig.nameservers', nameservers, `must not have more than ${MAX_DNS_NAMESERVERS} nameservers`));
  }
  nameservers.forEach((ns, i) => c.rule(`spec.dnsConfig.nameservers[${i}]`, ns, ipAddress(ns)));
  const searches = c.strings(cfg.searches, 'spec.dnsConfig.searches') ?? [];
  if (searches.length > MAX_DNS_SEARCH_PATHS) {
    c.add(fieldError.invalid('spec.dnsConfig.searches', searches, `must not have more than ${MAX_DNS_SEARCH_PATHS} search paths`));
  }
  searches.forEach((s, i) => c.rule(`spec.dnsConfig.searches[${i}]`, s, dns1123Subdomain(s.replace(/\.$/, ''))));
  for (const [opt, i] of c.objects(cfg.options, 'spec.dnsConfig.options')) {
    if (!c.str(opt.name, `spec.dnsConfig.options[${i}].name`)) c.add(fieldError.required(`spec.dnsConfig.options[${i}].name`));
    c.str(opt.value, `spec.dnsConfig.options[${i}].value`);
  }
}

function validateId(c: Checker, v: unknown, path: string): void {
  const n = c.int(v, path);
  if (n !== undefined && (n < 0 || n > INT32_MAX)) c.add(fieldError.invalid(path, n, `must be between 0 and ${INT32_MAX}, inclusive`));
}

function validatePodSecurityContext(c: Checker, value: unknown): void {
  const sc = c.obj(value, 'spec.securityContext');
  if (!sc) return;
  const path = 'spec.securityContext';
  validateId(c, sc.runAsUser, `${path}.runAsUser`);
  validateId(c, sc.runAsGroup, `${path}.runAsGroup`);
  validateId(c, sc.fsGroup, `${path}.fsGroup`);
  c.bool(sc.runAsNonRoot, `${path}.runAsNonRoot`);
  (c.arr(sc.supplementalGroups, `${path}.supplementalGroups`) ?? []).forEach((g, i) => validateId(c, g, `${path}.supplementalGroups[${i}]`));
  for (const [sysctl, i] of c.objects(sc.sysctls, `${path}.sysctls`)) {
    if (!c.str(sysctl.name, `${path}.sysctls[${i}].name`)) c.add(fieldError.required(`${path}.sysctls[${i}].name`));
    c.str(sysctl.value, `${path}.sysctls[${i}].value`);
  }
  validateSeccompProfile(c, sc.seccompProfile, `${path}.seccompProfile`);
}

function validateKeyToPaths(c: Checker, items: unknown, path: string): void {
  for (const [item, i] of c.objects(items, path)) {
    const at = `${path}[${i}]`;
    const key = c.str(item.key, `${at}.key`);
    if (!key) c.add(fieldError.required(`${at}.key`));
    const p = c.str(item.path, `${at}.path`);
    if (!p) {
      c.add(fieldError.required(`${at}.path`));
    } else {
      c.rule(`${at}.path`, p, localDescendingPath(p));
      if (p.startsWith('..')) c.add(fieldError.invalid(`${at}.path`, p, "must not start with '..'"));
    }
    validateFileMode(c, item.mode, `${at}.mode`);
  }
}

function validateFileMode(c: Checker, v: unknown, path: string): void {
  const mode = c.int(v, path);
  if (mode !== undefined && (mode < 0 || mode > 0o777)) {
    c.add(fieldError.invalid(path, mode, 'must be a number between 0 and 0777 (octal), both inclusive'));
  }
}

/** Validates spec.volumes and returns the names mounts may refer to. */
function validateVolumes(c: Checker, value: unknown): Set<string> {
  const names = new Set<string>();
  for (const [vol, i] of c.objects(value, 'spec.volumes')) {
    const path = `spec.volumes[${i}]`;
    const name = c.str(vol.name, `${path}.name`);
    if (!name) {
      c.add(fieldError.required(`${path}.name`));
    } else {
      c.rule(`${path}.name`, name, dns1123Label(name));
      if (names.has(name)) c.add(fieldError.duplicate(`${path}.name`, name));
      names.add(name);
    }
    const kind = c.oneOf(vol, VOLUME_SOURCE_KINDS, path, 'must specify a volume type', 'may not specify more than 1 volume type');
    if (kind) validateVolumeSource(c, kind, vol[kind], `${path}.${kind}`);
  }
  return names;
}

function validateVolumeSource(c: Checker, kind: string, value: unknown, path: string): void {
  const src = c.obj(value, path);
  if (!src) return;
  switch (kind) {
    case 'hostPath': {
      const p = c.str(src.path, `${path}.path`);
      if (!p) c.add(fieldError.required(`${path}.path`));
      else if (p.split('/').includes('..')) c.add(fieldError.invalid(`${path}.path`, p, "must not contain '..'"));
      c.enumerated(src.type, `${path}.type`, HOST_PATH_TYPES);
      break;
    }
    case 'emptyDir': {
      const medium = c.str(src.medium, `${path}.medium`);
      if (medium && medium !== 'Memory' && !/^HugePages(-.+)?$/.test(medium)) {
        c.add(fieldError.notSupported(`${path}.medium`, medium, ['', 'Memory', 'HugePages']));
      }
      c.quantity(src.sizeLimit, `${path}.sizeLimit`);
      break;
    }
    case 'configMap':
    case 'secret': {
      const nameField = kind === 'secret' ? 'secretName' : 'name';
      if (!c.str(src[nameField], `${path}.${nameField}`)) c.add(fieldError.required(`${path}.${nameField}`));
      validateKeyToPaths(c, src.items, `${path}.items`);
      validateFileMode(c, src.defaultMode, `${path}.defaultMode`);
      c.bool(src.optional, `${path}.optional`);
      break;
    }
    case 'downwardAPI':
    case 'projected':
      validateFileMode(c, src.defaultMode, `${path}.defaultMode`);
      break;
    case 'persistentVolumeClaim':
      if (!c.str(src.claimName, `${path}.claimName`)) c.add(fieldError.required(`${path}.claimName`));
      c.bool(src.readOnly, `${path}.readOnly`);
      break;
    default:
      break;
  }
}

function validateContainer(c: Checker, ctr: Obj, path: string, kind: 'init' | 'regular', ctx: ContainerContext, names: Set<string>): void {
  const name = c.str(ctr.name, `${path}.name`);
  if (!name) {
    if (name === '' || absent(ctr.name)) c.add(fieldError.required(`${path}.name`));
  } else {
    c.rule(`${path}.name`, name, dns1123Label(name));
    if (names.has(name)) c.add(fieldError.duplicate(`${path}.name`, name));
    names.add(name);
  }

  const image = c.str(ctr.image, `${path}.image`);
  if (!image) {
    if (image === '' || absent(ctr.image)) c.add(fieldError.required(`${path}.image`));
  } else if (image.trim() !== image) {
    c.add(fieldError.invalid(`${path}.image`, image, 'must not have leading or trailing whitespace'));
  }
  c.strings(ctr.command, `${path}.command`);
  c.strings(ctr.args, `${path}.args`);
  c.str(ctr.workingDir, `${path}.workingDir`);
  c.enumerated(ctr.imagePullPolicy, `${path}.imagePullPolicy`, PULL_POLICIES);
  c.str(ctr.terminationMessagePath, `${path}.terminationMessagePath`);
  c.enumerated(ctr.terminationMessagePolicy, `${path}.terminationMessagePolicy`, TERMINATION_MESSAGE_POLICIES);
  for (const key of ['stdin', 'stdinOnce', 'tty'] as const) c.bool(ctr[key], `${path}.${key}`);

  // Only init containers may carry a restartPolicy, and only Always (a sidecar).
  let sidecar = false;
  if (!absent(ctr.restartPolicy)) {
    if (kind === 'regular') {
      c.add(fieldError.forbidden(`${path}.restartPolicy`, 'may not be set for non-init containers'));
    } else {
      sidecar = c.enumerated(ctr.restartPolicy, `${path}.restartPolicy`, ['Always']) === 'Always';
    }
  }
  const plainInit = kind === 'init' && !sidecar;

  validatePorts(c, ctr.ports, `${path}.ports`, ctx.hostNetwork);
  validateEnv(c, ctr.env, `${path}.env`);
  for (const [from, i] of c.objects(ctr.envFrom, `${path}.envFrom`)) {
    c.str(from.prefix, `${path}.envFrom[${i}].prefix`);
    for (const ref of ['configMapRef', 'secretRef'] as const) {
      const r = c.obj(from[ref], `${path}.envFrom[${i}].${ref}`);
      if (r) c.str(r.name, `${path}.envFrom[${i}].${ref}.name`);
    }
  }
  validateResources(c, ctr.resources, `${path}.resources`);
  const securityContext = c.obj(ctr.securityContext, `${path}.securityContext`);
  const privileged = securityContext ? validateContainerSecurityContext(c, securityContext, `${path}.securityContext`) : false;
  validateVolumeMounts(c, ctr.volumeMounts, `${path}.volumeMounts`, ctx.volumes, privileged);

  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    if (absent(ctr[probe])) continue;
    if (plainInit) {
      c.add(fieldError.forbidden(`${path}.${probe}`, 'may not be set for init containers without restartPolicy=Always'));
      continue;
    }
    validateProbe(c, ctr[probe], `${path}.${probe}`, probe !== 'readinessProbe');
  }
  if (!absent(ctr.lifecycle) && plainInit) {
    c.add(fieldError.forbidden(`${path}.lifecycle`, 'may not be set for init containers without restartPolicy=Always'));
  } else {
    const lifecycle = c.obj(ctr.lifecycle, `${path}.lifecycle`);
    if (lifecycle) {
      for (const hook of ['postStart', 'preStop'] as const) {
        const handler = c.obj(lifecycle[hook], `${path}.lifecycle.${hook}`);
        if (handler) validateHandler(c, handler, `${path}.lifecycle.${hook}`, LIFECYCLE_HANDLERS);
      }
      c.str(lifecycle.stopSignal, `${path}.lifecycle.stopSignal`);
    }
  }
}

function validatePorts(c: Checker, value: unknown, path: string, hostNetwork: boolean): void {
  const names = new Set<string>();
  for (const [port, i] of c.objects(value, path)) {
    const at = `${path}[${i}]`;
    const name = c.str(port.name, `${at}.name`);
    if (name) {
      c.rule(`${at}.name`, name, portName(name));
      if (names.has(name)) c.add(fieldError.duplicate(`${at}.name`, name));
      names.add(name);
    }
    const containerPort = c.int(port.containerPort, `${at}.containerPort`);
    if (absent(port.containerPort) || containerPort === 0) c.add(fieldError.required(`${at}.containerPort`));
    else if (containerPort !== undefined) c.rule(`${at}.containerPort`, containerPort, portNumber(containerPort));
    const hostPort = c.int(port.hostPort, `${at}.hostPort`);
    if (hostPort) c.rule(`${at}.hostPort`, hostPort, portNumber(hostPort));
    const hostIP = c.str(port.hostIP, `${at}.hostIP`);
    if (hostIP) c.rule(`${at}.hostIP`, hostIP, ipAddress(hostIP));
    c.enumerated(port.protocol, `${at}.protocol`, PROTOCOLS);
    // With the host's network the container listens on the host: the two ports are one.
    if (hostNetwork && containerPort !== undefined && hostPort && hostPort !== containerPort) {
      c.add(fieldError.invalid(`${at}.containerPort`, containerPort, 'must match `hostPort` when `hostNetwork` is true'));
    }
  }
}

/** Two containers of the pod may not claim the same host port (kubelet's AccumulateUniqueHostPorts). */
function validateHostPorts(c: Checker, containers: Array<[Obj, number]>): void {
  const seen = new Set<string>();
  for (const [ctr, i] of containers) {
    if (!Array.isArray(ctr.ports)) continue;
    ctr.ports.forEach((port: unknown, j) => {
      if (!isJsonObject(port) || typeof port.hostPort !== 'number' || port.hostPort === 0) return;
      const key = `${typeof port.protocol === 'string' ? port.protocol : 'TCP'}/${typeof port.hostIP === 'string' ? port.hostIP : ''}/${port.hostPort}`;
      if (seen.has(key)) c.add(fieldError.duplicate(`spec.containers[${i}].ports[${j}].hostPort`, key));
      seen.add(key);
    });
  }
}

function validateEnv(c: Checker, value: unknown, path: string): void {
  for (const [env, i] of c.objects(value, path)) {
    const at = `${path}[${i}]`;
    const name = c.str(env.name, `${at}.name`);
    if (!name) {
      if (name === '' || absent(env.name)) c.add(fieldError.required(`${at}.name`));
    } else {
      c.rule(`${at}.name`, name, envVarName(name));
    }
    const v = c.str(env.value, `${at}.value`);
    const from = c.obj(env.valueFrom, `${at}.valueFrom`);
    if (!from) continue;
    if (v) c.add(fieldError.invalid(`${at}.valueFrom`, '', 'may not be specified when `value` is not empty'));
    const kinds = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'].filter((k) => !absent(from[k]));
    if (kinds.length === 0) {
      c.add(fieldError.invalid(`${at}.valueFrom`, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
      continue;
    }
    if (kinds.length > 1) c.add(fieldError.invalid(`${at}.valueFrom`, '', 'may not have more than one field specified at a time'));
    validateFieldRef(c, from.fieldRef, `${at}.valueFrom.fieldRef`);
    const rf = c.obj(from.resourceFieldRef, `${at}.valueFrom.resourceFieldRef`);
    if (rf) {
      const resource = c.str(rf.resource, `${at}.valueFrom.resourceFieldRef.resource`);
      if (!resource) c.add(fieldError.required(`${at}.valueFrom.resourceFieldRef.resource`));
      else if (!RESOURCE_FIELD_REFS.includes(resource) && !/^(limits|requests)\.hugepages-.+$/.test(resource)) {
        c.add(fieldError.notSupported(`${at}.valueFrom.resourceFieldRef.resource`, resource, RESOURCE_FIELD_REFS));
      }
      c.str(rf.containerName, `${at}.valueFrom.resourceFieldRef.containerName`);
      c.quantity(rf.divisor, `${at}.valueFrom.resourceFieldRef.divisor`);
    }
    for (const ref of ['configMapKeyRef', 'secretKeyRef'] as const) {
      const r = c.obj(from[ref], `${at}.valueFrom.${ref}`);
      if (!r) continue;
      const key = c.str(r.key, `${at}.valueFrom.${ref}.key`);
      if (!key) c.add(fieldError.required(`${at}.valueFrom.${ref}.key`));
      else c.rule(`${at}.valueFrom.${ref}.key`, key, configMapKey(key));
      c.str(r.name, `${at}.valueFrom.${ref}.name`);
      c.bool(r.optional, `${at}.valueFrom.${ref}.optional`);
    }
  }
}

function validateFieldRef(c: Checker, value: unknown, path: string): void {
  const ref = c.obj(value, path);
  if (!ref) return;
  c.str(ref.apiVersion, `${path}.apiVersion`);
  const fieldPath = c.str(ref.fieldPath, `${path}.fieldPath`);
  if (!fieldPath) {
    if (fieldPath === '' || absent(ref.fieldPath)) c.add(fieldError.required(`${path}.fieldPath`));
    return;
  }
  // metadata.labels['key'] and metadata.annotations['key'] select one entry.
  const subscript = /^(metadata\.(?:labels|annotations))\['(.+)'\]$/.exec(fieldPath);
  if (subscript) {
    c.rule(`${path}.fieldPath`, subscript[2], qualifiedName((subscript[2] ?? '').toLowerCase()));
    return;
  }
  if (!FIELD_REF_PATHS.includes(fieldPath) || fieldPath === 'metadata.labels' || fieldPath === 'metadata.annotations') {
    c.add(fieldError.notSupported(`${path}.fieldPath`, fieldPath, FIELD_REF_PATHS));
  }
}

function validResourceName(name: string): boolean {
  return STANDARD_CONTAINER_RESOURCES.has(name) || /^hugepages-.+$/.test(name) || (name.includes('/') && qualifiedName(name).length === 0);
}

function validateResources(c: Checker, value: unknown, path: string): void {
  const res = c.obj(value, path);
  if (!res) return;
  const read = (kind: 'limits' | 'requests'): Map<string, number> => {
    const out = new Map<string, number>();
    for (const [name, q] of Object.entries(c.obj(res[kind], `${path}.${kind}`) ?? {})) {
      const at = `${path}.${kind}[${name}]`;
      if (!validResourceName(name)) c.add(fieldError.invalid(at, name, 'must be a standard resource for containers'));
      const v = c.quantity(q, at);
      if (v !== undefined) out.set(name, v);
    }
    return out;
  };
  const limits = read('limits');
  const requests = read('requests');
  for (const [name, request] of requests) {
    const limit = limits.get(name);
    if (limit !== undefined && request > limit) {
      const raw = (res.requests as Obj)[name];
      c.add(fieldError.invalid(`${path}.requests[${name}]`, raw, `must be less than or equal to ${name} limit of ${String((res.limits as Obj)[name])}`));
    }
  }
}

/** Validates a container securityContext; returns whether the container is privileged. */
function validateContainerSecurityContext(c: Checker, sc: Obj, path: string): boolean {
  const privileged = c.bool(sc.privileged, `${path}.privileged`) ?? false;
  const escalation = c.bool(sc.allowPrivilegeEscalation, `${path}.allowPrivilegeEscalation`);
  for (const key of ['runAsNonRoot', 'readOnlyRootFilesystem'] as const) c.bool(sc[key], `${path}.${key}`);
  validateId(c, sc.runAsUser, `${path}.runAsUser`);
  validateId(c, sc.runAsGroup, `${path}.runAsGroup`);
  const caps = c.obj(sc.capabilities, `${path}.capabilities`);
  if (caps) {
    c.strings(caps.add, `${path}.capabilities.add`);
    c.strings(caps.drop, `${path}.capabilities.drop`);
  }
  if (privileged && escalation === false) {
    c.add(fieldError.invalid(path, '', 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'));
  }
  validateSeccompProfile(c, sc.seccompProfile, `${path}.seccompProfile`);
  return privileged;
}

/** The apiserver's rules: a known type; localhostProfile set for Localhost only, a relative path that stays below the profile root. */
function validateSeccompProfile(c: Checker, value: unknown, path: string): void {
  const profile = c.obj(value, path);
  if (!profile) return;
  const type = profile.type;
  if (type === undefined) c.add(fieldError.required(`${path}.type`));
  else c.enumerated(type, `${path}.type`, ['RuntimeDefault', 'Unconfined', 'Localhost']);
  const local = c.str(profile.localhostProfile, `${path}.localhostProfile`);
  if (type === 'Localhost') {
    if (!local) c.add(fieldError.required(`${path}.localhostProfile`));
    else if (local.startsWith('/') || local.split('/').includes('..')) {
      c.add(fieldError.invalid(`${path}.localhostProfile`, local, 'must be a relative path within the seccomp profile root, without ".."'));
    }
  } else if (local !== undefined) {
    c.add(fieldError.invalid(`${path}.localhostProfile`, local, 'can only be set for type Localhost'));
  }
}

function validateVolumeMounts(c: Checker, value: unknown, path: string, volumes: ReadonlySet<string>, privileged: boolean): void {
  const mountPaths = new Set<string>();
  for (const [mount, i] of c.objects(value, path)) {
    const at = `${path}[${i}]`;
    const name = c.str(mount.name, `${at}.name`);
    if (!name) {
      if (name === '' || absent(mount.name)) c.add(fieldError.required(`${at}.name`));
    } else if (!volumes.has(name)) {
      c.add(fieldError.notFound(`${at}.name`, name));
    }
    const mountPath = c.str(mount.mountPath, `${at}.mountPath`);
    if (!mountPath) {
      if (mountPath === '' || absent(mount.mountPath)) c.add(fieldError.required(`${at}.mountPath`));
    } else {
      if (mountPaths.has(mountPath)) c.add(fieldError.invalid(`${at}.mountPath`, mountPath, 'must be unique'));
      mountPaths.add(mountPath);
    }
    c.bool(mount.readOnly, `${at}.readOnly`);
    const subPath = c.str(mount.subPath, `${at}.subPath`);
    if (subPath) c.rule(`${at}.subPath`, subPath, localDescendingPath(subPath));
    const subPathExpr = c.str(mount.subPathExpr, `${at}.subPathExpr`);
    if (subPathExpr) {
      if (subPath) c.add(fieldError.invalid(`${at}.subPathExpr`, subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
      c.rule(`${at}.subPathExpr`, subPathExpr, localDescendingPath(subPathExpr));
    }
    const propagation = c.enumerated(mount.mountPropagation, `${at}.mountPropagation`, MOUNT_PROPAGATIONS);
    if (propagation === 'Bidirectional' && !privileged) {
      c.add(fieldError.forbidden(`${at}.mountPropagation`, 'Bidirectional mount propagation is available only to privileged containers'));
    }
  }
}

function validateProbe(c: Checker, value: unknown, path: string, successMustBeOne: boolean): void {
  const probe = c.obj(value, path);
  if (!probe) return;
  validateHandler(c, probe, path, PROBE_HANDLERS);
  c.nonNegative(probe.initialDelaySeconds, `${path}.initialDelaySeconds`);
  for (const key of ['timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const) {
    c.atLeastOne(probe[key], `${path}.${key}`);
  }
  const success = probe.successThreshold;
  // A liveness or startup probe that needed several successes would restart a healthy container.
  if (successMustBeOne && typeof success === 'number' && Number.isInteger(success) && success > 1) {
    c.add(fieldError.invalid(`${path}.successThreshold`, success, 'must be 1'));
  }
  const grace = c.int(probe.terminationGracePeriodSeconds, `${path}.terminationGracePeriodSeconds`);
  if (grace !== undefined && grace <= 0) c.add(fieldError.invalid(`${path}.terminationGracePeriodSeconds`, grace, 'must be greater than 0'));
}

function validateHandler(c: Checker, handler: Obj, path: string, kinds: readonly string[]): void {
  const kind = c.oneOf(handler, kinds, path, 'must specify a handler type', 'may not specify more than 1 handler type');
  for (const k of kinds) {
    if (absent(handler[k])) continue;
    const h = c.obj(handler[k], `${path}.${k}`);
    if (!h || k !== kind) continue;
    const at = `${path}.${k}`;
    switch (k) {
      case 'exec': {
        const command = c.strings(h.command, `${at}.command`);
        if (absent(h.command) || command?.length === 0) c.add(fieldError.required(`${at}.command`));
        break;
      }
      case 'httpGet':
        c.str(h.path, `${at}.path`);
        c.str(h.host, `${at}.host`);
        c.portRef(h.port, `${at}.port`);
        c.enumerated(h.scheme, `${at}.scheme`, HTTP_SCHEMES);
        for (const [header, i] of c.objects(h.httpHeaders, `${at}.httpHeaders`)) {
          const name = c.str(header.name, `${at}.httpHeaders[${i}].name`);
          if (!name) c.add(fieldError.required(`${at}.httpHeaders[${i}].name`));
          else c.rule(`${at}.httpHeaders[${i}].name`, name, httpHeaderName(name));
          c.str(header.value, `${at}.httpHeaders[${i}].value`);
        }
        break;
      case 'tcpSocket':
        c.str(h.host, `${at}.host`);
        c.portRef(h.port, `${at}.port`);
        break;
      case 'grpc': {
        const port = c.int(h.port, `${at}.port`);
        if (absent(h.port)) c.add(fieldError.required(`${at}.port`));
        else if (port !== undefined) c.rule(`${at}.port`, port, portNumber(port));
        c.str(h.service, `${at}.service`);
        break;
      }
      case 'sleep':
        c.nonNegative(h.seconds, `${at}.seconds`);
        if (absent(h.seconds)) c.add(fieldError.required(`${at}.seconds`));
        break;
      default:
        break;
    }
  }
}
