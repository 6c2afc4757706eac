// Continue tokens: opaque to clients, they carry the version the first page was
// read at and the key after which the next page starts (as etcd-backed lists do),
// so every page comes from the same consistent state.

export interface ContinuePosition {
  rv: number;
  /** The key (namespace/name) of the last object already returned. */
  after: string;
}

export function encodeContinue(pos: ContinuePosition): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: pos.rv, start: pos.after })).toString('base64url');
}

/** The position a token names, or undefined when it is not one of ours. */
export function decodeContinue(token: string): ContinuePosition | undefined {
  try {
    const raw: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof raw !== 'object' || raw === null) return undefined;
    const { v, rv, start } = raw as Record<string, unknown>;
    if (v !== 'meta.k8s.io/v1' || typeof rv !== 'number' || !Number.isInteger(rv) || typeof start !== 'string') return undefined;
    return { rv, after: start };
  } catch {
    return undefined;
  }
}
