// The hash of a container's spec, stored as a label on every container we create.
// A restarted agent compares it with the spec it now holds: equal means "adopt the
// running container", different means "definition changed, restart it".
//
// NEVER change how this hash is computed (the canonical form, the key order, the
// FNV-1a parameters, the rendering) without a migration that understands the old
// labels: a different hash for the same spec restarts every container on every
// node the moment the new agent starts (kubelet shipped exactly this incident).

import type { Container } from '../api/types.js';

const FNV32_OFFSET_BASIS = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;

/**
 * JSON with object keys sorted (by UTF-16 code units, JavaScript's default sort)
 * at every depth and undefined members dropped, so two specs that mean the same
 * thing serialize to the same bytes whatever order their keys were written in.
 * Array order is kept: it carries meaning (args, env precedence).
 */
export function canonicalJSON(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : canonicalJSON(v))).join(',')}]`;
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object': {
      const record = value as Record<string, unknown>;
      const members = Object.keys(record)
        .filter((k) => record[k] !== undefined && typeof record[k] !== 'function')
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonicalJSON(record[k])}`);
      return `{${members.join(',')}}`;
    }
    default:
      return 'null';
  }
}

/** FNV-1a, 32 bits, over the UTF-8 bytes of the text. */
export function fnv1a32(text: string): number {
  let hash = FNV32_OFFSET_BASIS;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, FNV32_PRIME) >>> 0;
  }
  return hash >>> 0;
}

/** The spec hash label value: 8 lower-case hex digits. See the warning at the top of this file. */
export function hashContainer(container: Container): string {
  return fnv1a32(canonicalJSON(container)).toString(16).padStart(8, '0');
}
