// Which pods are static (from a manifest file), which are mirror pods (their
// read-only shadows in the apiserver), and which mirror belongs to which static
// pod: kubelet's kubetypes (the config.* annotations, IsStaticPod, IsMirrorPod)
// and podManager.IsMirrorPodOf. The sources stamp these annotations; the status
// manager, admission, events and the cluster wiring read them.
import type { Pod } from './types.js';

/** Where the pod came from: `file` for static pods, `api` for the apiserver's. */
export const ANNOTATION_CONFIG_SOURCE = 'kubernetes.io/config.source';
/** On a static pod: its content hash, which is also its UID. */
export const ANNOTATION_CONFIG_HASH = 'kubernetes.io/config.hash';
/** On a static pod: when the source first saw this content. */
export const ANNOTATION_CONFIG_SEEN = 'kubernetes.io/config.seen';
/** On a mirror pod: the config hash (= UID) of the static pod it mirrors. */
export const ANNOTATION_CONFIG_MIRROR = 'kubernetes.io/config.mirror';
/** The config.source value of pods from a manifest file (kubelet's FileSource). */
export const STATIC_POD_SOURCE_FILE = 'file';
/** The config.source value of pods that come from the apiserver (kubelet's ApiserverSource). */
const API_SOURCE = 'api';

/** A pod object in the apiserver that only mirrors a static pod; never run. */
export function isMirrorPod(pod: Pick<Pod, 'metadata'>): boolean {
  return pod.metadata.annotations?.[ANNOTATION_CONFIG_MIRROR] !== undefined;
}

/** A pod from a source other than the apiserver (a manifest file). */
export function isStaticPod(pod: Pick<Pod, 'metadata'>): boolean {
  const source = pod.metadata.annotations?.[ANNOTATION_CONFIG_SOURCE];
  return source !== undefined && source !== API_SOURCE;
}

/** The static pod's content hash, the value its mirror pod carries. */
export function staticPodHash(pod: Pick<Pod, 'metadata'>): string | undefined {
  return pod.metadata.annotations?.[ANNOTATION_CONFIG_HASH] ?? pod.metadata.uid;
}

/** `mirror` is the current mirror of `staticPod`: same name and namespace, same content hash. */
export function isMirrorPodOf(mirror: Pick<Pod, 'metadata'>, staticPod: Pick<Pod, 'metadata'>): boolean {
  const hash = mirror.metadata.annotations?.[ANNOTATION_CONFIG_MIRROR];
  return (
    hash !== undefined &&
    hash === staticPodHash(staticPod) &&
    mirror.metadata.name === staticPod.metadata.name &&
    (mirror.metadata.namespace ?? 'default') === (staticPod.metadata.namespace ?? 'default')
  );
}
