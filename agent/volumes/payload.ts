// The files an API-data volume (configMap, secret, downwardAPI, projected) should
// hold, as a payload for the atomic writer: relative path → bytes and mode. Pure:
// the objects come in already fetched. Semantics follow kubelet's MakePayload and
// AtomicWriter's path validation.
import { posix } from 'node:path';
import type { KeyToPath } from '../api/types.js';
import { VolumeError, type KeyedObject } from './types.js';

export interface FileProjection {
  data: Buffer;
  /** Permission bits (0–0777). */
  mode: number;
}

/** Relative path inside the volume (cleaned) → content. Later entries for a path replace earlier ones. */
export type Payload = Map<string, FileProjection>;

/** `defaultMode` when the volume does not set one: 0644. */
export const DEFAULT_FILE_MODE = 0o644;

// kubelet's AtomicWriter limits.
const MAX_PATH_LENGTH = 4096;
const MAX_FILE_NAME_LENGTH = 255;

/** A payload that cannot be built from the volume's source: a missing object or key, a bad path or mode. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

/**
 * Checks a path as kubelet's AtomicWriter does (relative, no `..` segment, first
 * segment not starting with `..`, which is the writer's own namespace) and returns
 * it cleaned. `field` names where the path came from for the message.
 */
export function cleanPayloadPath(path: string, field = 'path'): string {
  const bad = (why: string) => new PayloadError(`${field} "${path}": invalid path: ${why}`);
  if (path === '') throw bad('must not be empty');
  if (path.startsWith('/')) throw bad('must be a relative path');
  if (path.length > MAX_PATH_LENGTH) throw bad(`must be at most ${MAX_PATH_LENGTH} characters`);
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '..') throw bad("must not contain '..'");
    if (segment.length > MAX_FILE_NAME_LENGTH) throw bad(`file names must be at most ${MAX_FILE_NAME_LENGTH} characters`);
  }
  if ((segments[0] ?? '').startsWith('..')) throw bad("must not start with '..'");
  if (path.includes('\0')) throw bad('must not contain a NUL byte');
  const clean = posix.normalize(path).replace(/\/+$/, '');
  if (clean === '.' || clean === '') throw bad('must name a file inside the volume');
  return clean;
}

/** A mode as the API allows it: an integer in 0–0777. */
export function checkMode(mode: unknown, field: string): number {
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new PayloadError(`${field}: must be a number between 0 and 0777 (octal), both inclusive, got ${String(mode)}`);
  }
  return mode;
}

/** The volume's defaultMode, or 0644. */
export function defaultModeOf(defaultMode: unknown, field = 'defaultMode'): number {
  return defaultMode === undefined || defaultMode === null ? DEFAULT_FILE_MODE : checkMode(defaultMode, field);
}

/**
 * Validates and cleans every path of a payload, and refuses a path that would have
 * to be both a file and a directory ("a" and "a/b"). Returns a new payload.
 */
export function validatePayload(payload: Payload): Payload {
  const clean: Payload = new Map();
  for (const [path, file] of payload) clean.set(cleanPayloadPath(path), { data: file.data, mode: checkMode(file.mode, `mode of "${path}"`) });
  const paths = [...clean.keys()].sort();
  for (let i = 0; i + 1 < paths.length; i++) {
    const a = paths[i] ?? '';
    // Sorted, so a directory prefix "a/" sorts right before (or among) its children.
    for (let j = i + 1; j < paths.length && (paths[j] ?? '').startsWith(a); j++) {
      const b = paths[j] ?? '';
      if (b.startsWith(`${a}/`)) throw new PayloadError(`paths "${a}" and "${b}" conflict: "${a}" cannot be both a file and a directory`);
    }
  }
  return clean;
}

export interface KeyedObjectVolumeSource {
  /** 'configmap' or 'secret', as kubelet names them in messages. */
  kind: 'configmap' | 'secret';
  name: string;
  /** undefined = the object does not exist. */
  object: KeyedObject | undefined;
  items?: KeyToPath[];
  /** Mode for keys without their own (already defaulted). */
  defaultMode: number;
  optional: boolean;
  /** Field path of the source in the pod, for messages (`items[0].path`…). */
  field?: string;
}

/**
 * kubelet's MakePayload for a ConfigMap or Secret: every key as a file named after
 * it when there are no items; otherwise only the listed keys at their paths. A
 * listed key that is missing is an error unless the source is optional; a missing
 * object is an error unless optional (then the volume is empty).
 */
export function keyedObjectPayload(source: KeyedObjectVolumeSource): Payload {
  const payload: Payload = new Map();
  const at = (rest: string) => (source.field ? `${source.field}.${rest}` : rest);
  if (source.object === undefined) {
    if (source.optional) return payload;
    throw new PayloadError(`${source.kind} "${source.name}" not found`);
  }
  const data = source.object.data;
  const items = source.items ?? [];
  if (items.length === 0) {
    for (const key of Object.keys(data).sort()) {
      payload.set(cleanPayloadPath(key, `key of ${source.kind} "${source.name}"`), { data: data[key] ?? Buffer.alloc(0), mode: source.defaultMode });
    }
    return payload;
  }
  items.forEach((item, i) => {
    const content = Object.hasOwn(data, item.key) ? data[item.key] : undefined;
    if (content === undefined) {
      if (source.optional) return;
      const what = source.kind === 'configmap' ? 'config key' : 'secret key';
      throw new PayloadError(`${at(`items[${i}].key`)}: ${source.kind} "${source.name}" references non-existent ${what}: ${item.key}`);
    }
    const mode = item.mode === undefined || item.mode === null ? source.defaultMode : checkMode(item.mode, at(`items[${i}].mode`));
    payload.set(cleanPayloadPath(item.path, at(`items[${i}].path`)), { data: content, mode });
  });
  return payload;
}

/** Copies `from` into `into`; a path already there is replaced (kubelet: the later source wins). */
export function mergePayload(into: Payload, from: Payload): Payload {
  for (const [path, file] of from) into.set(path, file);
  return into;
}

/**
 * A VolumeError for the volume manager, which prefixes it with the volume's name.
 * Keeps a VolumeError as it is; `context` says what was being done otherwise.
 */
export function toVolumeError(err: unknown, context?: string): VolumeError {
  if (err instanceof VolumeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const wrapped = new VolumeError(err instanceof PayloadError || context === undefined ? message : `${context}: ${message}`);
  wrapped.cause = err;
  return wrapped;
}
