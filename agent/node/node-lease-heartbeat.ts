// Renews the node's Lease: the cheap heartbeat the node lifecycle controller
// watches (a Lease update is a few hundred bytes; a Node status is kilobytes).
// The last written Lease is kept so a renewal is one conditional PUT; a conflict
// (someone else wrote it) or a vanished Lease is re-read and retried at once,
// other failures back off, never longer than the renew interval.
import type { KubeClient } from '../kube/client.js';
import { backoffDelay, sleep, type BackoffPolicy } from '../api/backoff.js';
import { isConflict, isNotFound } from '../kube/errors.js';
import { resourcePath } from '../kube/resource-path.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../api/clock.js';
import { NODE_LEASE_NAMESPACE, newNodeLease, renewedNodeLease, type LeaseIdentity } from './node-lease.js';
import type { Lease } from './node-types.js';
import type { OutageLog } from './outage-log.js';

export interface NodeLeaseHeartbeatOptions {
  client: KubeClient;
  nodeName: string;
  leaseDurationSeconds: number;
  renewIntervalMs: number;
  logger: Logger;
  clock: Clock;
  outages: OutageLog;
}

export class NodeLeaseHeartbeat {
  private readonly identity: LeaseIdentity;
  private readonly collectionPath: string;
  private readonly path: string;
  private readonly backoff: BackoffPolicy;
  private latest: Lease | undefined;
  private loop: Promise<void> | undefined;
  private abort = new AbortController();

  constructor(private readonly options: NodeLeaseHeartbeatOptions) {
    this.identity = { nodeName: options.nodeName, leaseDurationSeconds: options.leaseDurationSeconds };
    const ref = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespace: NODE_LEASE_NAMESPACE };
    this.collectionPath = resourcePath(ref);
    this.path = resourcePath({ ...ref, name: options.nodeName });
    this.backoff = { initialMs: Math.min(200, options.renewIntervalMs), maxMs: options.renewIntervalMs, jitter: 0.5 };
  }

  /** The Node's UID, for the owner reference (changes when the Node is re-created). */
  setNodeUID(uid: string | undefined): void {
    if (uid) this.identity.nodeUID = uid;
  }

  /** The Lease as last written or read. */
  lease(): Lease | undefined {
    return this.latest;
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('node lease heartbeat stopped'));
    await this.loop;
    this.loop = undefined;
  }

  /** One renewal now (creating the Lease when absent). */
  async renew(): Promise<Lease> {
    const now = new Date(this.options.clock.now());
    const signal = this.abort.signal;
    const current = this.latest ? { lease: this.latest, created: false } : await this.getOrCreate(now, signal);
    if (current.created) return current.lease;
    try {
      return await this.update(current.lease, now, signal);
    } catch (err) {
      if (!isConflict(err) && !isNotFound(err)) throw err;
      this.latest = undefined;
      const again = await this.getOrCreate(now, signal);
      return again.created ? again.lease : this.update(again.lease, now, signal);
    }
  }

  private async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let delay = this.options.renewIntervalMs;
      try {
        await this.renew();
        failures = 0;
        this.options.outages.succeeded('lease');
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        this.options.outages.failed('lease', err);
        delay = backoffDelay(failures, this.backoff);
      }
      try {
        await sleep(this.options.clock, delay, signal);
      } catch {
        return;
      }
    }
  }

  private async getOrCreate(now: Date, signal: AbortSignal): Promise<{ lease: Lease; created: boolean }> {
    try {
      const lease = await this.options.client.get<Lease>(this.path, { signal });
      this.latest = lease;
      return { lease, created: false };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const lease = await this.options.client.create<Lease>(this.collectionPath, newNodeLease(this.identity, now), { signal });
    this.latest = lease;
    this.options.logger.info({ node: this.options.nodeName, namespace: NODE_LEASE_NAMESPACE }, 'created node lease');
    return { lease, created: true };
  }

  private async update(lease: Lease, now: Date, signal: AbortSignal): Promise<Lease> {
    try {
      const updated = await this.options.client.update<Lease>(this.path, renewedNodeLease(lease, this.identity, now), { signal });
      this.latest = updated;
      return updated;
    } catch (err) {
      // Whatever we hold may be stale now; read it again next time.
      this.latest = undefined;
      throw err;
    }
  }
}
