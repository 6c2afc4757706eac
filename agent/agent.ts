// Wires the agent together: runtime, pod network, state, image manager, pod
// manager and the pod sources. Shutting the agent down leaves every container
// running: a restarted agent adopts them.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Backoff, backoffDelay, type BackoffPolicy } from './api/backoff.js';
import { realClock, type Clock } from './api/clock.js';
import type { NodeletConfiguration } from './config/config.js';
import { LoggingEventRecorder } from './events/event-recorder.js';
import { ImageManager } from './images/image-manager.js';
import type { Logger } from './log/logger.js';
import { ensurePodNetwork, podNetworkSpec } from './network/pod-network.js';
import { detectHostIP } from './node/host-ip.js';
import { PodManager } from './pods/pod-manager.js';
import { createRuntime } from './runtime/create-runtime.js';
import { nodeSelectorLabels } from './runtime/labels.js';
import { StaticPodSource } from './sources/static-pod-source.js';
import type { PodSource } from './sources/types.js';
import { PodStateStore } from './state/pod-state-store.js';
import { connectCluster, type ClusterConnection } from './cluster.js';
import { MergedPodSource } from './sources/merged-pod-source.js';
import { ProbeManager } from './probes/probe-manager.js';
import { automaticExecConcurrency } from './probes/exec-limiter.js';
import { LifecycleHookRunner } from './probes/lifecycle-hooks.js';
import { percentile } from './probes/latency-recorder.js';
import type { EventRecorder } from './events/event-recorder.js';
import { createVolumeManager } from './volumes/create-volume-manager.js';
import { GenericPLEG } from './pleg/generic-pleg.js';
import { plegHealthCheck } from './pleg/pleg-health.js';
import { EvictionManager } from './eviction/eviction-manager.js';

export interface RunningAgent {
  manager: PodManager;
  events: LoggingEventRecorder;
  stop(): Promise<void>;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Start-up steps wait for the local engine: 1 s doubling to 30 s, no jitter (one node, one engine). */
const STARTUP_RETRY: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000, jitter: 0 };

/** Retries `fn` with capped exponential backoff until it succeeds or `signal` aborts. */
async function retryForever<T>(what: string, logger: Logger, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  let failures = 0;
  for (;;) {
    try {
      const result = await fn();
      if (failures > 0) logger.info(`${what}: recovered`);
      return result;
    } catch (err) {
      if (signal.aborted) throw err;
      if (failures === 0) logger.error({ err: (err as Error).message }, `${what} failed; retrying with backoff (max ${STARTUP_RETRY.maxMs / 1000}s)`);
      else logger.debug({ err: (err as Error).message }, `${what} still failing`);
      failures++;
      // A plain, referenced timer rather than sleep() on the clock: while the agent
      // starts, this wait is all that keeps the process alive (the clock's timers are unref'd).
      await new Promise((r) => setTimeout(r, backoffDelay(failures, STARTUP_RETRY)));
    }
  }
}

export async function startAgent(config: NodeletConfiguration, logger: Logger, clock: Clock = realClock): Promise<RunningAgent> {
  const abort = new AbortController();
  const runtime = createRuntime({
    endpoint: config.containerRuntimeEndpoint,
    requestTimeoutMs: config.runtimeRequestTimeoutMs,
    logger,
    execHandler: config.execHandler,
    seccompProfileRoot: join(config.rootDir, 'seccomp'),
  });
  const version = await retryForever(`connecting to the container runtime at ${config.containerRuntimeEndpoint}`, logger, abort.signal, () =>
    runtime.version(),
  );
  logger.info({ node: config.nodeName, runtime: `${version.runtimeName}://${version.runtimeVersion}`, rootDir: config.rootDir }, 'nodelet agent starting');

  // The sandbox image is built from host binaries when missing, so an air-gapped node works.
  await retryForever('preparing local images', logger, abort.signal, () => runtime.ensureLocalImages());

  // Know what the runtime holds before anything else: pods found there are adopted, the
  // rest are new and need no read before their first sync; and the Node registers Ready.
  const pleg = new GenericPLEG({ runtime, nodeName: config.nodeName, clock, logger, relistPeriodMs: config.relistPeriodMs });
  await pleg.relist();

  const logEvents = new LoggingEventRecorder(logger);
  // Joined mode: register the Node first; its spec.podCIDR (when set) decides the pod network.
  const cluster: ClusterConnection | undefined = config.kubeconfig
    ? await connectCluster(config, runtime, logger, logEvents, [plegHealthCheck(pleg)])
    : undefined;
  const podCIDR = cluster?.podCIDR ?? config.podCIDR;

  const labels = nodeSelectorLabels(config.nodeName);
  const netSpec = podNetworkSpec(config.nodeName, podCIDR, labels);
  await retryForever(`creating pod network ${netSpec.name} (${netSpec.subnet})`, logger, abort.signal, () => ensurePodNetwork(runtime.podNetwork, netSpec));

  const store = new PodStateStore(config.rootDir);
  const events: EventRecorder = cluster?.events ?? logEvents;
  const images = new ImageManager(runtime, events, clock, (ref) => runtime.isLocalBuildableImage(ref));
  const hostIP = detectHostIP();
  // Probe results wake the pod's worker so readiness reaches the status at once.
  let wake: (uid: string) => void = () => undefined;
  const execConcurrency = config.execProbeConcurrency || automaticExecConcurrency(runtime.execHandler, availableParallelism());
  const probes = new ProbeManager({ runtime, clock, logger, events, execConcurrency, onChange: (uid) => wake(uid) });
  // A changed ConfigMap or Secret wakes the pods that read it (volumes refresh, waiting pods start).
  let objectChanged: (key: string) => void = () => undefined;
  const volumes = createVolumeManager({ config, store, logger, client: cluster?.client, onObjectChange: (key) => objectChanged(key) });
  const manager = new PodManager({
    runtime,
    pleg,
    images,
    events,
    store,
    logger,
    clock,
    config,
    networkName: netSpec.name,
    hostIP: () => hostIP,
    hostFiles: { resolvConf: () => readOrEmpty(config.resolvConf), hosts: () => readOrEmpty('/etc/hosts') },
    crashBackoff: new Backoff({ initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 }, clock),
    podSource: 'file',
    probes,
    hooks: new LifecycleHookRunner({ runtime, clock, logger, events }),
    volumes: volumes.manager,
    onStatus: cluster?.onStatus,
    onPodRemoved: cluster?.onPodRemoved,
    admit: cluster?.admit,
  });

  wake = (uid) => manager.worker(uid)?.requestSync();
  objectChanged = (key) => {
    for (const w of manager.allWorkers()) if (volumes.references(w.currentPod).has(key)) w.requestSync();
  };
  const volumeTimers = volumes.startHousekeeping(() => manager.allWorkers().map((w) => w.currentPod));
  const eviction = new EvictionManager({
    pods: () => manager.allWorkers(),
    emptyDirs: volumes.manager,
    clock,
    logger,
    monitoringPeriodMs: config.volumeStatsAggPeriodMs,
  });
  eviction.start();
  // Probe latency summary for operators (and the probes benchmark), refreshed every 10 s.
  const probeStats = setInterval(() => {
    const summary: Record<string, { count: number; p50: number; p99: number }> = {};
    for (const kind of ['exec', 'httpGet', 'tcpSocket', 'grpc'] as const) {
      const values = probes.latencies(kind);
      if (values.length) summary[kind] = { count: values.length, p50: percentile(values, 50) ?? 0, p99: percentile(values, 99) ?? 0 };
    }
    if (Object.keys(summary).length) void store.saveStateFile('probe-latency.json', summary).catch(() => undefined);
  }, 10_000);
  probeStats.unref();

  const sources: Array<{ name: string; source: PodSource }> = [];
  if (config.manifests) {
    sources.push({
      name: 'file',
      source: new StaticPodSource({ dir: config.manifests, nodeName: config.nodeName, logger, resyncMs: config.fileCheckFrequencyMs }),
    });
  }
  if (cluster) sources.push({ name: 'api', source: cluster.podSource });
  const source: PodSource | undefined = sources.length > 1 ? new MergedPodSource(sources, logger) : sources[0]?.source;
  if (source) {
    await source.start((u) => {
      manager.update(u);
      cluster?.onSnapshot(u);
    });
  } else {
    // No source: the node runs nothing, and pods left by an earlier run are cleaned up.
    manager.update({ pods: [], rejected: [] });
  }
  // Periodic relists and the engine's event stream, once the first desired state is in.
  pleg.start();

  return {
    manager,
    events: logEvents,
    async stop() {
      abort.abort();
      clearInterval(probeStats);
      volumeTimers.stop();
      eviction.stop();
      await source?.stop();
      pleg.stop();
      await manager.stop();
      probes.stop();
      await cluster?.stop();
    },
  };
}
