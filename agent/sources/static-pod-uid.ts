// The identity kubelet gives a static pod (pkg/kubelet/config/common.go): a UID
// hashed from the pod's content, the node and the manifest path, so the same file
// always yields the same pod and any edit yields a new one (the old pod is killed
// and the new one started, exactly as kubelet does); the node name appended to the
// pod name; and the config.* annotations that mark where the pod came from.
import { createHash } from 'node:crypto';
import { ANNOTATION_CONFIG_HASH, ANNOTATION_CONFIG_SEEN, ANNOTATION_CONFIG_SOURCE, STATIC_POD_SOURCE_FILE } from '../api/pod-identity.js';
import type { Pod } from '../api/types.js';

export interface StaticPodOrigin {
  /** Manifest file path (absolute, so the UID does not depend on the working directory). */
  path: string;
  nodeName: string;
}

/** JSON with object keys sorted at every level: equal content, equal text, whatever the key order in the file. */
function canonicalJSON(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJSON(v))).join(',')}]`;
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJSON((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The pod as hashed: no status, no annotations the source itself adds. */
function hashedContent(pod: Pod): unknown {
  const { status: _status, ...rest } = pod;
  const annotations = { ...rest.metadata?.annotations };
  delete annotations[ANNOTATION_CONFIG_SOURCE];
  delete annotations[ANNOTATION_CONFIG_HASH];
  delete annotations[ANNOTATION_CONFIG_SEEN];
  const metadata = { ...rest.metadata, annotations: Object.keys(annotations).length ? annotations : undefined };
  delete metadata.uid;
  return { ...rest, metadata };
}

/** 32 lower-case hex digits (an md5, as kubelet's), stable for the same content, node and file. */
export function staticPodUID(pod: Pod, source: StaticPodOrigin): string {
  return createHash('md5')
    .update(`host:${source.nodeName}`)
    .update(`file:${source.path}`)
    .update(canonicalJSON(hashedContent(pod)))
    .digest('hex');
}

/** kubelet names a static pod `<name>-<node>` so pods of the same file on two nodes never collide. */
export function staticPodName(name: string, nodeName: string): string {
  return `${name}-${nodeName.toLowerCase()}`;
}

/**
 * A copy of a defaulted pod carrying its static identity: UID, node-suffixed name,
 * namespace, spec.nodeName and the config.* annotations. `seen` is when the source
 * first saw this content; it is left out of the hash.
 */
export function withStaticPodIdentity(pod: Pod, source: StaticPodOrigin, seen: Date): Pod {
  const uid = staticPodUID(pod, source);
  const copy = structuredClone(pod);
  copy.metadata.uid = uid;
  copy.metadata.name = staticPodName(copy.metadata.name ?? '', source.nodeName);
  copy.metadata.namespace ||= 'default';
  copy.metadata.annotations = {
    ...copy.metadata.annotations,
    [ANNOTATION_CONFIG_SOURCE]: STATIC_POD_SOURCE_FILE,
    [ANNOTATION_CONFIG_HASH]: uid,
    [ANNOTATION_CONFIG_SEEN]: seen.toISOString(),
  };
  copy.spec.nodeName = source.nodeName;
  delete copy.status;
  return copy;
}
