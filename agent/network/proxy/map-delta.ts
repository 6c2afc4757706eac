// A Map seen through a set of pending changes: reads fall through to the base, writes
// stay aside until applied. A one-Service partial sync at 10,000 Services then costs
// what it changes, not two 10,000-entry Map copies (~5 ms a sync).

const REMOVED: unique symbol = Symbol('removed');

export class MapDelta<K, V> {
  private readonly changes = new Map<K, V | typeof REMOVED>();

  constructor(private readonly base: ReadonlyMap<K, V>) {}

  get(key: K): V | undefined {
    const change = this.changes.get(key);
    if (change === REMOVED) return undefined;
    return change !== undefined ? change : this.base.get(key);
  }

  has(key: K): boolean {
    const change = this.changes.get(key);
    if (change === REMOVED) return false;
    return change !== undefined || this.base.has(key);
  }

  set(key: K, value: V): void {
    this.changes.set(key, value);
  }

  delete(key: K): void {
    this.changes.set(key, REMOVED);
  }

  /** Writes the changes into `target` (normally the base itself). */
  applyTo(target: Map<K, V>): void {
    for (const [key, change] of this.changes) {
      if (change === REMOVED) target.delete(key);
      else target.set(key, change);
    }
  }

  /** A new Map: the base with the changes applied; the base is left as it was. */
  toMap(): Map<K, V> {
    const out = new Map(this.base);
    this.applyTo(out);
    return out;
  }
}
