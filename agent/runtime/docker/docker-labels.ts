// Docker-only label keys. Docker has labels but no annotations, so CRI annotations
// ride along as labels under a prefix and are split off again when read back.
/** The sandbox a container belongs to (cri-dockerd's key). */
export const LABEL_SANDBOX_ID = 'io.kubernetes.sandbox.id';

/**
 * Prefix of labels that carry annotations. The ':' cannot occur in a Kubernetes label
 * key, so no pod label copied onto a sandbox can be mistaken for an annotation.
 */
export const ANNOTATION_LABEL_PREFIX = 'nodelet.io/annotation:';

/** Labels to give Docker: the labels as they are plus one prefixed label per annotation. */
export function mergeAnnotationsIntoLabels(labels: Record<string, string>, annotations: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) out[ANNOTATION_LABEL_PREFIX + key] = value;
  // Real labels last: an annotation can never overwrite one.
  return Object.assign(out, labels);
}

/** Splits Docker labels back into CRI labels and annotations. */
export function splitAnnotationLabels(all: Record<string, string> | null | undefined): {
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(all ?? {})) {
    if (key.startsWith(ANNOTATION_LABEL_PREFIX)) annotations[key.slice(ANNOTATION_LABEL_PREFIX.length)] = value;
    else labels[key] = value;
  }
  return { labels, annotations };
}
