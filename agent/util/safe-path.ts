// Paths built from pod input must stay where they belong. A pod UID or name from a
// manifest or the apiserver is only ever used as one path segment, checked here.
import { join, resolve, sep } from 'node:path';

export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePathError';
  }
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Returns `segment` if it is one plain path segment (no '/', no '..', no NUL), else throws. */
export function safeSegment(segment: string, what: string): string {
  if (!SEGMENT.test(segment) || segment === '.' || segment === '..' || segment.includes('..')) {
    throw new UnsafePathError(`${what} "${segment}" cannot be used as a path segment`);
  }
  return segment;
}

/** Joins `parts` under `base` and proves the result did not climb out of it. */
export function joinInside(base: string, ...parts: string[]): string {
  const root = resolve(base);
  const full = resolve(join(root, ...parts));
  if (full !== root && !full.startsWith(root + sep)) {
    throw new UnsafePathError(`path ${full} escapes ${root}`);
  }
  return full;
}
