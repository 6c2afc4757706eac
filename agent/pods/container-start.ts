// Starting one container of a pod, as kubelet's startContainer: wait out its
// crash-loop back-off, have its image, create it with its environment and mounts
// (termination-message file, volumes, the managed hosts file), start it and run its
// postStart hook. Failures that the next sync may fix become the container's waiting
// reason and a wake-up request, not an error; only an unreachable runtime throws.
import type { Container, Pod } from '../api/types.js';
import { podKey } from '../api/types.js';
import type { NodeletConfiguration } from '../config/config.js';
import type { EventRecorder } from '../events/event-recorder.js';
import { ImageError, type ImageManager } from '../images/image-manager.js';
import type { Logger } from '../log/logger.js';
import type { LifecycleHookRunner } from '../probes/lifecycle-hooks.js';
import { isRuntimeError } from '../runtime/errors.js';
import { LABEL_CONTAINER_NAME } from '../runtime/labels.js';
import type { ContainerStatus, Runtime } from '../runtime/runtime.js';
import type { PodStateStore } from '../state/pod-state-store.js';
import type { Clock } from '../api/clock.js';
import { NO_OBJECTS } from '../volumes/api-object-source.js';
import type { MountedVolume } from '../volumes/types.js';
import type { VolumeManager } from '../volumes/volume-manager.js';
import type { Backoff } from '../api/backoff.js';
import { backoffKey } from './crash-backoff-key.js';
import { generateContainerConfig, makeEnvironment } from './container-config.js';
import { hashContainer } from './container-hash.js';
import { loadEnvObjects, type EnvObjects } from './env-objects.js';
import { CreateContainerConfigError } from '../api/pod-errors.js';
import { graceFor } from './pod-teardown.js';
import { generateSandboxConfig } from './sandbox-config.js';
import { hostsFilePath } from './sandbox-setup.js';
import type { RuntimePodSnapshot } from './runtime-pod.js';
import type { TerminationMessages } from './termination-messages.js';
import type { WaitingOverrides } from './types.js';

export interface ContainerStartDeps {
  runtime: Runtime;
  images: Pick<ImageManager, 'ensureImage'>;
  events: EventRecorder;
  store: Pick<PodStateStore, 'podDir'>;
  clock: Clock;
  config: NodeletConfiguration;
  networkName: string;
  hostIP: () => string;
  crashBackoff: Backoff;
  hooks?: Pick<LifecycleHookRunner, 'runPostStart'>;
  volumes?: VolumeManager;
}

/** The pod worker's state a start reads and changes. */
export interface ContainerStartContext {
  pod: Pod;
  uid: string;
  podSource: string;
  log: Logger;
  /** Waiting reasons by container name: set on failure, cleared on start. */
  waiting: WaitingOverrides;
  mountedVolumes: Map<string, MountedVolume>;
  terminationMessages: TerminationMessages;
  /** A container was created (the re-read after acting needs no list call). */
  onCreated(id: string): void;
  /** Asks for a sync after `ms`. */
  wakeIn(ms: number): void;
}

export interface ContainerToStart {
  container: Container;
  kind: 'init' | 'regular';
  attempt: number;
}

function previousInstance(snap: RuntimePodSnapshot, name: string): ContainerStatus | undefined {
  return snap.status.containers.find((c) => (c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name) === name);
}

/** Starts one container in the pod's sandbox; resolves to whether a container was created. */
export async function startContainer(
  deps: ContainerStartDeps,
  ctx: ContainerStartContext,
  snap: RuntimePodSnapshot,
  sandboxId: string,
  podIP: string,
  start: ContainerToStart,
): Promise<boolean> {
  const { container, kind, attempt } = start;
  const { runtime, config, events, crashBackoff } = deps;
  const { pod, uid, waiting } = ctx;
  const name = container.name;
  const log = ctx.log.child({ container: name });

  // CrashLoopBackOff: a container that exited waits out its back-off before it runs again.
  const previous = previousInstance(snap, name);
  const key = backoffKey(uid, name, hashContainer(container));
  if (previous && previous.state === 'exited') {
    const since = (previous.finishedAt ?? previous.createdAt).getTime();
    if (crashBackoff.isInBackOff(key, since)) {
      const remaining = crashBackoff.remainingMs(key, since);
      const delay = Math.round((deps.clock.now() - since + remaining) / 1000);
      const message = `back-off ${delay}s restarting failed container=${name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${uid})`;
      if (waiting.get(name)?.reason !== 'CrashLoopBackOff') {
        events.record(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${name} in pod ${podKey(pod)}`);
      }
      waiting.set(name, { reason: 'CrashLoopBackOff', message });
      ctx.wakeIn(remaining + 10);
      return false;
    }
    crashBackoff.next(key);
  }

  let imageRef: string;
  try {
    imageRef = await deps.images.ensureImage(pod, container);
  } catch (err) {
    if (err instanceof ImageError) {
      waiting.set(name, { reason: err.reason, message: err.message });
      log.warn({ reason: err.reason }, err.message);
      ctx.wakeIn(err.reason === 'ErrImagePull' ? 1_000 : 10_000);
      return false;
    }
    throw err;
  }

  let id: string;
  try {
    const envObjects: EnvObjects = await loadEnvObjects(pod, deps.volumes?.objects ?? NO_OBJECTS);
    const envContext = { podIP, hostIP: deps.hostIP(), nodeName: config.nodeName, ...envObjects };
    const mounts = [await ctx.terminationMessages.prepareMount(container, attempt)];
    if (deps.volumes && (container.volumeMounts ?? []).length > 0) {
      const env = new Map(makeEnvironment(pod, container, envContext).map((e) => [e.key, e.value]));
      mounts.push(...(await deps.volumes.containerMounts(pod, container, env, ctx.mountedVolumes)));
    }
    const cfg = generateContainerConfig({
      pod,
      container,
      kind,
      attempt,
      ...envContext,
      hostsFilePath: hostsFilePath(deps.store, uid),
      podSource: ctx.podSource,
      config,
      imageRef,
      mounts,
    });
    const sandboxConfig = generateSandboxConfig({
      pod,
      attempt: 0,
      nodeName: config.nodeName,
      podSource: ctx.podSource,
      networkName: deps.networkName,
      image: config.podInfraImage,
    });
    id = await runtime.createContainer(sandboxId, cfg, sandboxConfig);
    ctx.onCreated(id);
  } catch (err) {
    if (isRuntimeError(err, 'RuntimeUnavailable')) throw err;
    const reason = err instanceof CreateContainerConfigError ? 'CreateContainerConfigError' : 'CreateContainerError';
    const message = (err as Error).message;
    waiting.set(name, { reason, message });
    events.record(pod, 'Warning', 'Failed', `Error: ${message}`);
    log.warn({ reason }, message);
    ctx.wakeIn(10_000);
    return false;
  }
  events.record(pod, 'Normal', 'Created', `Created container ${name}`);
  try {
    await runtime.startContainer(id);
  } catch (err) {
    if (isRuntimeError(err, 'RuntimeUnavailable')) throw err;
    const message = (err as Error).message;
    waiting.set(name, { reason: 'RunContainerError', message });
    events.record(pod, 'Warning', 'Failed', `Error: ${message}`);
    log.warn({ reason: 'RunContainerError' }, message);
    return true;
  }
  waiting.delete(name);
  events.record(pod, 'Normal', 'Started', `Started container ${name}`);
  log.info({ attempt }, 'container started');
  // postStart runs before the next status is computed, so the container is not
  // reported ready until its hook returned; a failed hook kills the container.
  if (container.lifecycle?.postStart && deps.hooks) {
    const hook = await deps.hooks.runPostStart(pod, container, id, podIP);
    if (!hook.ok) {
      waiting.set(name, { reason: 'PostStartHookError', message: hook.message });
      events.record(pod, 'Normal', 'Killing', `FailedPostStartHook: stopping container ${name}`);
      log.warn({ reason: 'PostStartHookError' }, hook.message);
      await runtime.stopContainer(id, graceFor(pod.spec.terminationGracePeriodSeconds ?? 30));
    }
  }
  return true;
}
