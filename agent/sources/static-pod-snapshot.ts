// Turns the parsed documents of a manifest directory into the pods the node should
// run and the documents it refuses, the way kubelet's file source does: keep v1
// Pods, default them, give them their static identity, validate them; the first
// definition of a namespace/name (in path order) wins. Pure, so every rule here is
// tested without a filesystem.
import type { Pod } from '../api/types.js';
import { formatFieldErrors, type FieldError } from '../api/validation/field-errors.js';
import type { ParsedManifest } from './manifest-parser.js';
import { applyPodDefaults } from './pod-defaults.js';
import { validatePod } from './pod-validation.js';
import { staticPodName, staticPodUID, withStaticPodIdentity } from './static-pod-uid.js';
import type { PodSourceUpdate, RejectedManifest } from './types.js';

export interface SnapshotOptions {
  nodeName: string;
  /** When the source first saw the pod with this UID (kept stable across re-reads). */
  seenAt(uid: string): Date;
}

export interface StaticPodSnapshot extends PodSourceUpdate {
  /** Documents of other kinds, skipped on purpose (`path#index kind`). */
  ignored: string[];
}

function stripPathPrefix(path: string, message: string): string {
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

function metaString(object: Record<string, unknown>, key: 'name' | 'namespace'): string | undefined {
  const meta = object.metadata;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return undefined;
  const value = (meta as Record<string, unknown>)[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `manifests` must come in path order, then document order. */
export function buildStaticPodSnapshot(manifests: readonly ParsedManifest[], options: SnapshotOptions): StaticPodSnapshot {
  const pods: Pod[] = [];
  const rejected: RejectedManifest[] = [];
  const ignored: string[] = [];
  const firstDefinedIn = new Map<string, string>();

  for (const m of manifests) {
    const at = { path: m.path, index: m.index };
    if (m.error !== undefined || !m.object) {
      rejected.push({ ...at, reason: 'ParseError', message: stripPathPrefix(m.path, m.error ?? 'document could not be read'), fields: [] });
      continue;
    }
    const rawName = metaString(m.object, 'name');
    const ident = {
      name: rawName === undefined ? undefined : staticPodName(rawName, options.nodeName),
      namespace: metaString(m.object, 'namespace') ?? 'default',
    };
    if (m.kind === undefined) {
      rejected.push({ ...at, ...ident, reason: 'Invalid', message: 'Object \'Kind\' is missing (expected "Pod")', fields: ['kind'] });
      continue;
    }
    if (m.kind !== 'Pod') {
      ignored.push(`${m.path}#${m.index} ${m.kind}`);
      continue;
    }
    if (m.apiVersion !== 'v1') {
      const message =
        m.apiVersion === undefined
          ? 'Object \'apiVersion\' is missing (expected "v1")'
          : `apiVersion ${JSON.stringify(m.apiVersion)} is not supported for kind Pod (expected "v1")`;
      rejected.push({ ...at, ...ident, reason: 'UnsupportedVersion', message, fields: ['apiVersion'] });
      continue;
    }

    const defaulted = applyPodDefaults(m.object as unknown as Pod);
    const invalid = (errors: FieldError[]) =>
      rejected.push({
        ...at,
        ...ident,
        reason: 'Invalid',
        message: formatFieldErrors('Pod', rawName ?? '', errors),
        fields: [...new Set(errors.map((e) => e.field))],
      });
    const errors = validatePod(defaulted);
    if (errors.length > 0) {
      invalid(errors);
      continue;
    }
    const origin = { path: m.path, nodeName: options.nodeName };
    const pod = withStaticPodIdentity(defaulted, origin, options.seenAt(staticPodUID(defaulted, origin)));
    // kubelet validates after appending the node name, which may make the name too long.
    const afterIdentity = validatePod(pod);
    if (afterIdentity.length > 0) {
      invalid(afterIdentity);
      continue;
    }
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const first = firstDefinedIn.get(key);
    if (first !== undefined) {
      rejected.push({
        ...at,
        ...ident,
        reason: 'Duplicate',
        fields: ['metadata.name'],
        message: `pod ${key} is already defined in ${first}; this definition is ignored`,
      });
      continue;
    }
    firstDefinedIn.set(key, `${m.path}#${m.index}`);
    pods.push(pod);
  }
  return { pods, rejected, ignored };
}
