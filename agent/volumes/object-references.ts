// Which ConfigMaps and Secrets a pod reads — through volumes (projected sources
// included), env valueFrom and envFrom — so a change to one wakes exactly its pods.
import type { Pod } from '../api/types.js';
import { objectRefKey, type ObjectKind } from './api-object-source.js';

type Ref = { kind: ObjectKind; name: string };

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function nameOf(v: unknown, field: string): string | undefined {
  const n = asRecord(v)?.[field];
  return typeof n === 'string' && n !== '' ? n : undefined;
}

function volumeRefs(pod: Pod): Ref[] {
  const refs: Ref[] = [];
  for (const v of pod.spec.volumes ?? []) {
    const cm = nameOf(v.configMap, 'name');
    if (cm) refs.push({ kind: 'configMap', name: cm });
    const secret = nameOf(v.secret, 'secretName');
    if (secret) refs.push({ kind: 'secret', name: secret });
    const sources = asRecord(v.projected)?.sources;
    for (const s of Array.isArray(sources) ? sources : []) {
      const pcm = nameOf(asRecord(s)?.configMap, 'name');
      if (pcm) refs.push({ kind: 'configMap', name: pcm });
      const ps = nameOf(asRecord(s)?.secret, 'name');
      if (ps) refs.push({ kind: 'secret', name: ps });
    }
  }
  return refs;
}

function envRefs(pod: Pod): Ref[] {
  const refs: Ref[] = [];
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const e of c.env ?? []) {
      const cm = e.valueFrom?.configMapKeyRef?.name;
      if (cm) refs.push({ kind: 'configMap', name: cm });
      const secret = e.valueFrom?.secretKeyRef?.name;
      if (secret) refs.push({ kind: 'secret', name: secret });
    }
    for (const f of c.envFrom ?? []) {
      const cm = nameOf(f.configMapRef, 'name');
      if (cm) refs.push({ kind: 'configMap', name: cm });
      const secret = nameOf(f.secretRef, 'name');
      if (secret) refs.push({ kind: 'secret', name: secret });
    }
  }
  return refs;
}

/** Keys (objectRefKey) of every ConfigMap and Secret the pod reads. */
export function podObjectReferences(pod: Pod): Set<string> {
  const ns = pod.metadata.namespace ?? 'default';
  return new Set([...volumeRefs(pod), ...envRefs(pod)].map((r) => objectRefKey(r.kind, ns, r.name)));
}

/** Only the env references: what must be read before a container's environment is built. */
export function podEnvReferences(pod: Pod): Ref[] {
  return envRefs(pod);
}
