// The files of a downwardAPI volume (or a projected volume's downwardAPI source):
// pod metadata through fieldRef and container resources through resourceFieldRef,
// rendered the way kubelet renders them (labels and annotations as sorted
// `key="value"` lines, the value quoted like Go's %q). Pure.
import type { Container, Pod, Quantity } from '../api/types.js';
import { resourceFieldValue, type NodeAllocatable } from '../api/resource-field-ref.js';
import { checkMode, cleanPayloadPath, PayloadError, type Payload } from './payload.js';

export interface DownwardAPIVolumeFile {
  path: string;
  fieldRef?: { fieldPath: string; apiVersion?: string };
  resourceFieldRef?: { containerName?: string; resource: string; divisor?: Quantity };
  mode?: number;
}

export interface DownwardAPIContext {
  nodeName: string;
  /** Reported for a limit the container does not set, as kubelet does. */
  nodeAllocatable?: NodeAllocatable;
}

/**
 * One file per item. Every item is tried, so the message lists all that failed
 * (kubelet aggregates them too). `field` prefixes the item paths in messages.
 */
export function downwardAPIPayload(items: readonly DownwardAPIVolumeFile[], pod: Pod, ctx: DownwardAPIContext, defaultMode: number, field = 'items'): Payload {
  const payload: Payload = new Map();
  const errors: string[] = [];
  items.forEach((item, i) => {
    const at = `${field}[${i}]`;
    try {
      const path = cleanPayloadPath(item.path, `${at}.path`);
      const mode = item.mode === undefined || item.mode === null ? defaultMode : checkMode(item.mode, `${at}.mode`);
      payload.set(path, { data: Buffer.from(itemValue(item, pod, ctx, at), 'utf8'), mode });
    } catch (err) {
      errors.push((err as Error).message);
    }
  });
  if (errors.length > 0) throw new PayloadError(errors.join('; '));
  return payload;
}

function itemValue(item: DownwardAPIVolumeFile, pod: Pod, ctx: DownwardAPIContext, at: string): string {
  if (item.fieldRef && item.resourceFieldRef) throw new PayloadError(`${at}: fieldRef and resourceFieldRef may not both be set`);
  if (item.fieldRef) {
    const { apiVersion, fieldPath } = item.fieldRef;
    if (apiVersion !== undefined && apiVersion !== '' && apiVersion !== 'v1') {
      throw new PayloadError(`${at}.fieldRef.apiVersion: unsupported apiVersion "${apiVersion}" (only v1)`);
    }
    return podFieldValue(pod, fieldPath, `${at}.fieldRef.fieldPath`);
  }
  if (item.resourceFieldRef) return containerResourceValue(pod, item.resourceFieldRef, ctx, `${at}.resourceFieldRef`);
  throw new PayloadError(`${at}: must set fieldRef or resourceFieldRef`);
}

/**
 * The pod fields a downwardAPI volume may show (kubelet's ExtractFieldPathAsString):
 * name, namespace, uid, all labels or annotations, or one of them by key.
 * Node- and status-fields (spec.nodeName, status.podIP…) are for env only.
 */
export function podFieldValue(pod: Pod, fieldPath: string, field = 'fieldRef.fieldPath'): string {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'metadata.labels':
      return formatMap(pod.metadata.labels ?? {});
    case 'metadata.annotations':
      return formatMap(pod.metadata.annotations ?? {});
    default:
      break;
  }
  const subscript = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (subscript) {
    const map = subscript[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[subscript[2] ?? ''] ?? '';
  }
  throw new PayloadError(
    `${field}: unsupported fieldPath "${fieldPath}" in a downwardAPI volume ` +
      '(metadata.name, metadata.namespace, metadata.uid, metadata.labels, metadata.annotations)',
  );
}

function containerResourceValue(
  pod: Pod,
  ref: { containerName?: string; resource: string; divisor?: Quantity },
  ctx: DownwardAPIContext,
  field: string,
): string {
  // A volume belongs to no container, so it has to say whose resources it shows.
  if (!ref.containerName) throw new PayloadError(`${field}.containerName: required in a volume`);
  const containers: Container[] = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])];
  const container = containers.find((c) => c.name === ref.containerName);
  if (!container) throw new PayloadError(`${field}.containerName: container "${ref.containerName}" not found in the pod`);
  try {
    const selector = { resource: ref.resource, ...(ref.divisor !== undefined ? { divisor: ref.divisor } : {}) };
    return resourceFieldValue(pod, container, selector, ctx.nodeAllocatable);
  } catch (err) {
    throw new PayloadError(`${field}: ${(err as Error).message}`);
  }
}

/**
 * kubelet's fieldpath.FormatMap: one `key="value"` line per entry, keys sorted
 * bytewise, values quoted as Go's %q, no newline after the last line.
 */
export function formatMap(map: Readonly<Record<string, string>>): string {
  return Object.keys(map)
    .sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
    .map((key) => `${key}=${goQuote(map[key] ?? '')}`)
    .join('\n');
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/**
 * Go's strconv.Quote: printable runes stay, `"` and `\` are escaped, control
 * characters become \a \b \f \n \r \t \v or \xNN, other non-printable runes \uNNNN
 * or \UNNNNNNNN (lowercase hex). A lone surrogate is U+FFFD, as Go decodes it.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    let cp = ch.codePointAt(0) ?? 0xfffd;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    const c = String.fromCodePoint(cp);
    if (c === '"' || c === '\\') {
      out += `\\${c}`;
      continue;
    }
    if (c === ' ' || PRINTABLE.test(c)) {
      out += c;
      continue;
    }
    switch (cp) {
      case 0x07:
        out += '\\a';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
      case 0x0b:
        out += '\\v';
        continue;
      default:
        break;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}
