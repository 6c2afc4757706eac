// The node's presence in the cluster: registers (or adopts) the Node, keeps its
// Lease renewed, reports its status, and follows the Node for a podCIDR assigned
// later. Every loop survives an unreachable apiserver: it retries with capped
// backoff, and the outage is logged once, not per attempt. Nothing here ever
// throws out of start(): a node agent must keep its pods running whatever the
// apiserver does.
import type { NodeletConfiguration } from '../config/config.js';
import { backoffDelay, sleep, type BackoffPolicy } from '../api/backoff.js';
import type { KubeClient } from '../kube/client.js';
import { isNotFound } from '../kube/errors.js';
import { Informer } from '../kube/informer.js';
import type { Logger } from '../log/logger.js';
import type { Runtime } from '../runtime/runtime.js';
import { realClock, type Clock } from '../api/clock.js';
import { nodeFacts, type NodeFacts } from './node-facts.js';
import { NodeHealthProbe, type NodeHealthCheck } from './node-health-probe.js';
import { DEFAULT_LEASE_DURATION_SECONDS } from './node-lease.js';
import { NodeLeaseHeartbeat } from './node-lease-heartbeat.js';
import { registerNode, type Registration } from './node-registrar.js';
import { defaultNodeRegistrationOptions, validateNodeRegistrationOptions, type NodeRegistrationOptions } from './node-registration-options.js';
import { NodeStatusReporter } from './node-status-reporter.js';
import type { Node } from './node-types.js';
import type { NodeUsage } from './node-usage.js';
import { OutageLog } from './outage-log.js';

/** kubelet's defaults. */
export const DEFAULT_STATUS_UPDATE_FREQUENCY_MS = 10_000;
export const DEFAULT_STATUS_REPORT_FREQUENCY_MS = 300_000;
export const DEFAULT_LEASE_RENEW_INTERVAL_MS = 10_000;
/** kubelet's registration backoff: 100 ms doubling to 7 s. */
const REGISTRATION_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 7_000, jitter: 0.5 };

export type NodeControllerConfig = Pick<NodeletConfiguration, 'nodeName' | 'rootDir' | 'maxPods' | 'port' | 'runtimeRequestTimeoutMs'>;

export interface NodeControllerOptions {
  client: KubeClient;
  config: NodeControllerConfig;
  /** Only version() is used: the runtime's health and containerRuntimeVersion. */
  runtime: Pick<Runtime, 'version'>;
  logger: Logger;
  clock?: Clock;
  /** Default: no labels, taints or reservations. */
  options?: NodeRegistrationOptions;
  statusUpdateFrequencyMs?: number;
  statusReportFrequencyMs?: number;
  leaseDurationSeconds?: number;
  leaseRenewIntervalMs?: number;
  /** More reasons for Ready=False (PLEG and the like). */
  healthChecks?: NodeHealthCheck[];
  /** Default: collected once from the machine (nodeFacts(config.rootDir)). */
  facts?: NodeFacts;
  /** Default: /proc and statfs of config.rootDir. */
  measureUsage?: (rootDir: string) => Promise<NodeUsage>;
}

type PodCIDRListener = (podCIDR: string) => void;

/** `work`, or the signal's reason as soon as it aborts (a hung runtime call must not hold up stop()). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function resourceVersionOf(node: Node): number | undefined {
  const n = Number(node.metadata.resourceVersion);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Whether `next` is at least as new as `current`. resourceVersions are opaque, but
 * every server we speak to uses integers; a watch event that arrives after our own
 * PATCH's answer must not take us back to the Node as it was before the PATCH.
 */
function isNewer(current: Node | undefined, next: Node): boolean {
  if (!current || current.metadata.uid !== next.metadata.uid) return true;
  const a = resourceVersionOf(current);
  const b = resourceVersionOf(next);
  return a === undefined || b === undefined || b >= a;
}

export class NodeController {
  private readonly o: NodeControllerOptions;
  private readonly clock: Clock;
  private readonly registration: NodeRegistrationOptions;
  private readonly statusUpdateFrequencyMs: number;
  private readonly statusReportFrequencyMs: number;
  private readonly outages: OutageLog;
  private readonly heartbeat: NodeLeaseHeartbeat;
  private readonly informer: Informer<Node>;
  private readonly podCIDRListeners = new Set<PodCIDRListener>();
  private readonly registeredWaiters: Array<(node: Node) => void> = [];
  private latest: Node | undefined;
  /** Set by the first registration: from then on, watched versions of the Node are ours. */
  private isRegistered = false;
  /** The registered Node was deleted by someone: register again at the next status period. */
  private nodeDeleted = false;
  private podCIDR: string | undefined;
  private leaseSupported: boolean | undefined;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(options: NodeControllerOptions) {
    this.o = options;
    this.clock = options.clock ?? realClock;
    this.registration = options.options ?? defaultNodeRegistrationOptions();
    validateNodeRegistrationOptions(this.registration);
    this.statusUpdateFrequencyMs = options.statusUpdateFrequencyMs ?? DEFAULT_STATUS_UPDATE_FREQUENCY_MS;
    this.statusReportFrequencyMs = options.statusReportFrequencyMs ?? DEFAULT_STATUS_REPORT_FREQUENCY_MS;
    this.outages = new OutageLog(options.logger);
    this.heartbeat = new NodeLeaseHeartbeat({
      client: options.client,
      nodeName: options.config.nodeName,
      leaseDurationSeconds: options.leaseDurationSeconds ?? DEFAULT_LEASE_DURATION_SECONDS,
      renewIntervalMs: options.leaseRenewIntervalMs ?? DEFAULT_LEASE_RENEW_INTERVAL_MS,
      logger: options.logger,
      clock: this.clock,
      outages: this.outages,
    });
    this.informer = new Informer<Node>({
      client: options.client,
      path: { version: 'v1', resource: 'nodes' },
      fieldSelector: `metadata.name=${options.config.nodeName}`,
      logger: options.logger,
      clock: this.clock,
      handlers: {
        onAdd: (node) => this.observe(node),
        onUpdate: (_old, node) => this.observe(node),
        onDelete: (node) => this.observeDeletion(node),
      },
    });
  }

  /** Starts registration, heartbeats and status reports in the background; never throws. */
  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.informer.start();
    this.loop = this.run(this.abort.signal).catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.o.logger.error({ err, node: this.o.config.nodeName }, 'node controller stopped unexpectedly');
    });
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('node controller stopped'));
    await this.loop;
    this.loop = undefined;
    await Promise.all([this.heartbeat.stop(), this.informer.stop()]);
  }

  /** The Node as last seen in the apiserver (undefined before registration). */
  node(): Node | undefined {
    return this.latest;
  }

  /** Resolves with the Node once it is registered (created or adopted). */
  whenRegistered(): Promise<Node> {
    if (this.isRegistered && this.latest) return Promise.resolve(this.latest);
    return new Promise((resolve) => this.registeredWaiters.push(resolve));
  }

  /**
   * Calls `listener` with spec.podCIDR whenever it is set or changes (at once when
   * it is already known). Returns a function that unsubscribes.
   */
  onPodCIDR(listener: PodCIDRListener): () => void {
    this.podCIDRListeners.add(listener);
    if (this.podCIDR) this.notify(listener, this.podCIDR);
    return () => {
      this.podCIDRListeners.delete(listener);
    };
  }

  private async run(signal: AbortSignal): Promise<void> {
    // Collection only fails when statfs of "/" does: nothing a retry would fix.
    const facts = this.o.facts ?? (await nodeFacts(this.o.config.rootDir));
    const reporter = new NodeStatusReporter({
      client: this.o.client,
      config: this.o.config,
      options: this.registration,
      facts,
      probe: new NodeHealthProbe({
        runtime: this.o.runtime,
        rootDir: this.o.config.rootDir,
        // A check must not outlast the period it belongs to.
        runtimeTimeoutMs: Math.min(this.o.config.runtimeRequestTimeoutMs, this.statusUpdateFrequencyMs),
        clock: this.clock,
        ...(this.o.healthChecks ? { healthChecks: this.o.healthChecks } : {}),
        ...(this.o.measureUsage ? { measureUsage: this.o.measureUsage } : {}),
      }),
      reportFrequencyMs: this.statusReportFrequencyMs,
      clock: this.clock,
      logger: this.o.logger,
    });
    while (!signal.aborted) {
      const registration = await this.retry('registration', signal, REGISTRATION_BACKOFF, async () => {
        return registerNode(this.o.client, await reporter.nodeToRegister(), signal);
      });
      this.registered(registration, reporter);
      this.leaseSupported ??= await this.retry('lease discovery', signal, REGISTRATION_BACKOFF, () =>
        this.o.client.hasResource('coordination.k8s.io/v1', 'leases', { signal }),
      );
      if (this.leaseSupported) {
        this.heartbeat.setNodeUID(registration.node.metadata.uid);
        this.heartbeat.start();
      } else {
        this.o.logger.info({ node: this.o.config.nodeName }, 'apiserver has no Lease API; node status carries the heartbeat');
      }
      await this.reportStatus(reporter, signal);
    }
  }

  private registered(registration: Registration, reporter: NodeStatusReporter): void {
    const { node, created } = registration;
    reporter.registered(node, created);
    this.isRegistered = true;
    this.nodeDeleted = false;
    this.latest = undefined;
    this.observe(node);
    this.o.logger.info({ node: this.o.config.nodeName, uid: node.metadata.uid }, created ? 'registered node' : 'adopted existing node');
    for (const resolve of this.registeredWaiters.splice(0)) resolve(node);
  }

  /** Status every period until stopped, or until the Node is found deleted (then the caller registers again). */
  private async reportStatus(reporter: NodeStatusReporter, signal: AbortSignal): Promise<void> {
    const backoff: BackoffPolicy = { initialMs: Math.min(200, this.statusUpdateFrequencyMs), maxMs: this.statusUpdateFrequencyMs, jitter: 0.5 };
    let failures = 0;
    while (!signal.aborted) {
      if (this.nodeDeleted) {
        this.nodeDeleted = false;
        this.o.logger.warn({ node: this.o.config.nodeName }, 'node was deleted from the apiserver; registering it again');
        return;
      }
      let delay = this.statusUpdateFrequencyMs;
      try {
        const patched = await abortable(reporter.report(this.latest!, this.leaseSupported === false, signal), signal);
        failures = 0;
        // An unchanged status sends nothing, which proves nothing about the apiserver.
        if (patched) {
          this.observe(patched);
          this.outages.succeeded('node status');
        }
      } catch (err) {
        if (signal.aborted) return;
        if (isNotFound(err)) {
          this.o.logger.warn({ node: this.o.config.nodeName }, 'node was deleted from the apiserver; registering it again');
          return;
        }
        failures++;
        this.outages.failed('node status', err);
        delay = backoffDelay(failures, backoff);
      }
      await sleep(this.clock, delay, signal).catch(() => undefined);
    }
  }

  /** Runs `fn` until it succeeds, with backoff; rejects only when stopped. */
  private async retry<T>(what: string, signal: AbortSignal, policy: BackoffPolicy, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      try {
        const result = await abortable(fn(), signal);
        this.outages.succeeded(what);
        return result;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        this.outages.failed(what, err);
        await sleep(this.clock, backoffDelay(attempt, policy), signal);
      }
    }
  }

  private observe(node: Node): void {
    if (node.metadata.name !== this.o.config.nodeName) return;
    // Before registration a watched Node is not ours yet: registration adopts it.
    if (!this.isRegistered) return;
    if (isNewer(this.latest, node)) this.latest = node;
    const podCIDR = node.spec?.podCIDR;
    if (podCIDR && podCIDR !== this.podCIDR) {
      this.podCIDR = podCIDR;
      this.o.logger.info({ node: this.o.config.nodeName, podCIDR }, 'node podCIDR assigned');
      for (const listener of [...this.podCIDRListeners]) this.notify(listener, podCIDR);
    }
  }

  private observeDeletion(node: Node): void {
    if (this.isRegistered && node.metadata.name === this.o.config.nodeName && node.metadata.uid === this.latest?.metadata.uid) {
      this.nodeDeleted = true;
    }
  }

  private notify(listener: PodCIDRListener, podCIDR: string): void {
    try {
      listener(podCIDR);
    } catch (err) {
      this.o.logger.error({ err, node: this.o.config.nodeName, podCIDR }, 'podCIDR listener failed');
    }
  }
}
