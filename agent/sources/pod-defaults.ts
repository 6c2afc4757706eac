// Kubernetes v1 defaulting (pkg/apis/core/v1/defaults.go) plus what the apiserver
// and kubelet add to a pod before anyone runs it, so the rest of the node reads
// one fully-specified shape. Input may be untyped (a static manifest): a field of
// the wrong type is left alone for validation to report, never "fixed" here.
import { isJsonObject, type JsonObject } from '../api/json-object.js';
import type { Pod } from '../api/types.js';

type Obj = JsonObject;

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30;
export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
/** 0644: ConfigMap, Secret, downward API and projected volume files. */
export const DEFAULT_VOLUME_FILE_MODE = 0o644;

/** Every volume source of v1 VolumeSource; other keys of a volume are unknown fields (dropped by the apiserver). */
export const VOLUME_SOURCE_KINDS: readonly string[] = [
  'awsElasticBlockStore',
  'azureDisk',
  'azureFile',
  'cephfs',
  'cinder',
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'fc',
  'flexVolume',
  'flocker',
  'gcePersistentDisk',
  'gitRepo',
  'glusterfs',
  'hostPath',
  'image',
  'iscsi',
  'nfs',
  'persistentVolumeClaim',
  'photonPersistentDisk',
  'portworxVolume',
  'projected',
  'quobyte',
  'rbd',
  'scaleIO',
  'secret',
  'storageos',
  'vsphereVolume',
];

/** Unset in Kubernetes' sense: absent, null, or the Go zero value of a string/number. */
function unset(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === 0;
}

function setDefault(o: Obj, key: string, value: unknown): void {
  if (unset(o[key])) o[key] = value;
}

function objects(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isJsonObject) : [];
}

/** Returns a defaulted deep copy of `pod`; the input is not touched. */
export function applyPodDefaults(pod: Pod): Pod {
  const copy = structuredClone(pod) as unknown;
  if (!isJsonObject(copy)) return copy as Pod;
  if (copy.metadata === undefined || copy.metadata === null) copy.metadata = {};
  // kubelet puts a static pod without a namespace into "default".
  if (isJsonObject(copy.metadata)) setDefault(copy.metadata, 'namespace', DEFAULT_NAMESPACE);
  if (copy.spec === undefined || copy.spec === null) copy.spec = {};
  if (isJsonObject(copy.spec)) defaultPodSpec(copy.spec);
  return copy as unknown as Pod;
}

function defaultPodSpec(spec: Obj): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null) {
    spec.terminationGracePeriodSeconds = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
  }
  if (spec.securityContext === undefined || spec.securityContext === null) spec.securityContext = {};
  if (spec.enableServiceLinks === undefined || spec.enableServiceLinks === null) spec.enableServiceLinks = true;

  for (const container of [...objects(spec.initContainers), ...objects(spec.containers)]) {
    defaultContainer(container, spec.hostNetwork === true);
  }
  for (const volume of objects(spec.volumes)) defaultVolume(volume);
}

function defaultContainer(c: Obj, hostNetwork: boolean): void {
  setDefault(c, 'terminationMessagePath', DEFAULT_TERMINATION_MESSAGE_PATH);
  setDefault(c, 'terminationMessagePolicy', 'File');
  if (unset(c.imagePullPolicy)) c.imagePullPolicy = defaultPullPolicy(c.image);

  for (const port of objects(c.ports)) {
    setDefault(port, 'protocol', 'TCP');
    // With the host's network there is no mapping: the container port is the host port.
    if (hostNetwork && unset(port.hostPort) && typeof port.containerPort === 'number') port.hostPort = port.containerPort;
  }
  for (const key of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const probe = c[key];
    if (isJsonObject(probe)) defaultProbe(probe);
  }
  if (isJsonObject(c.lifecycle)) {
    for (const hook of ['postStart', 'preStop']) {
      const handler = c.lifecycle[hook];
      if (isJsonObject(handler) && isJsonObject(handler.httpGet)) defaultHTTPGet(handler.httpGet);
    }
  }
  for (const env of objects(c.env)) {
    if (isJsonObject(env.valueFrom) && isJsonObject(env.valueFrom.fieldRef)) setDefault(env.valueFrom.fieldRef, 'apiVersion', 'v1');
  }
  // The apiserver defaults each missing request to its limit (SetDefaults_Pod).
  if (isJsonObject(c.resources) && isJsonObject(c.resources.limits)) {
    if (c.resources.requests === undefined || c.resources.requests === null) c.resources.requests = {};
    const requests = c.resources.requests;
    if (isJsonObject(requests)) {
      for (const [name, limit] of Object.entries(c.resources.limits)) {
        if (requests[name] === undefined || requests[name] === null) requests[name] = limit;
      }
    }
  }
}

function defaultProbe(probe: Obj): void {
  setDefault(probe, 'timeoutSeconds', 1);
  setDefault(probe, 'periodSeconds', 10);
  setDefault(probe, 'successThreshold', 1);
  setDefault(probe, 'failureThreshold', 3);
  if (isJsonObject(probe.httpGet)) defaultHTTPGet(probe.httpGet);
}

function defaultHTTPGet(action: Obj): void {
  setDefault(action, 'path', '/');
  setDefault(action, 'scheme', 'HTTP');
}

function defaultVolume(volume: Obj): void {
  const sources = VOLUME_SOURCE_KINDS.filter((k) => volume[k] !== undefined && volume[k] !== null);
  // A volume that names no source is an emptyDir (SetDefaults_Volume).
  if (sources.length === 0) {
    volume.emptyDir = {};
    return;
  }
  for (const kind of ['configMap', 'secret', 'downwardAPI', 'projected']) {
    const src = volume[kind];
    if (isJsonObject(src) && (src.defaultMode === undefined || src.defaultMode === null)) src.defaultMode = DEFAULT_VOLUME_FILE_MODE;
  }
  if (isJsonObject(volume.downwardAPI)) {
    for (const item of objects(volume.downwardAPI.items)) {
      if (isJsonObject(item.fieldRef)) setDefault(item.fieldRef, 'apiVersion', 'v1');
    }
  }
}

// A Docker image reference: [domain[:port]/]path[:tag][@digest], path lower-case.
const DOMAIN = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?';
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const IMAGE_REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/** The tag and digest of an image reference, or undefined when it does not parse. */
export function imageTagAndDigest(image: string): { tag?: string; digest?: string } | undefined {
  const m = IMAGE_REFERENCE.exec(image);
  if (!m) return undefined;
  return { tag: m[1], digest: m[2] };
}

/**
 * kubelet's rule: `Always` for `:latest` or an image with neither tag nor digest
 * (which means latest), else `IfNotPresent`. An unparsable reference gets
 * IfNotPresent, as in Kubernetes; pulling it fails later with InvalidImageName.
 */
export function defaultPullPolicy(image: unknown): 'Always' | 'IfNotPresent' {
  if (typeof image !== 'string') return 'IfNotPresent';
  const ref = imageTagAndDigest(image);
  if (!ref) return 'IfNotPresent';
  const tag = ref.tag ?? (ref.digest ? undefined : 'latest');
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}
