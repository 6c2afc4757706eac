// Builds the agent's volume layer: every volume kind, the ConfigMap/Secret source
// (the apiserver when joined, nothing standalone) and the periodic work — emptyDir
// sizeLimit checks and stopping watches of objects no pod reads any more.
import { totalmem } from 'node:os';
import type { Pod } from '../api/types.js';
import type { NodeletConfiguration } from '../config/config.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log/logger.js';
import type { PodWorker } from '../pods/pod-worker.js';
import { parseMemoryToBytes } from '../api/quantity.js';
import { ApiObjectSource, NO_OBJECTS, objectRefKey } from './api-object-source.js';
import { ConfigMapVolume } from './config-map-volume.js';
import { DownwardAPIVolume } from './downward-api-volume.js';
import { EmptyDirVolume } from './empty-dir-volume.js';
import { HostPathVolume } from './host-path-volume.js';
import { podObjectReferences } from './object-references.js';
import { ProjectedVolume } from './projected-volume.js';
import { SecretVolume } from './secret-volume.js';
import { requestServiceAccountToken } from './service-account-token.js';
import { VolumeManager } from './volume-manager.js';

export interface AgentVolumes {
  manager: VolumeManager;
  /** objectRefKey()s of every ConfigMap and Secret the pod reads. */
  references(pod: Pod): Set<string>;
  startHousekeeping(workers: () => PodWorker[]): { stop(): void };
}

/** Where each pod's directory is (the agent's pod state store): volumes live under it. */
export interface PodDirectories {
  podDir(uid: string): string;
}

export function createVolumeManager(input: {
  config: NodeletConfiguration;
  store: PodDirectories;
  logger: Logger;
  client?: KubeClient;
  onObjectChange: (key: string) => void;
}): AgentVolumes {
  const { config, store, logger, client } = input;
  const log = logger.child({ component: 'volumes' });
  const api = client
    ? new ApiObjectSource(client, log, (kind, ns, name) => input.onObjectChange(objectRefKey(kind, ns, name)), {
        requestToken: (pod, audience, seconds) => requestServiceAccountToken(client, pod, audience, seconds),
      })
    : undefined;
  const memoryDefault = config.memoryVolumeDefaultSize ? parseMemoryToBytes(config.memoryVolumeDefaultSize) : totalmem();
  const manager = new VolumeManager({
    podDir: (uid) => store.podDir(uid),
    kinds: [
      new EmptyDirVolume(),
      new HostPathVolume(config.allowedHostPaths),
      new ConfigMapVolume(),
      new SecretVolume(),
      new DownwardAPIVolume(),
      new ProjectedVolume(),
    ],
    objects: api ?? NO_OBJECTS,
    nodeName: config.nodeName,
    defaultMemoryVolumeBytes: memoryDefault,
    logger: log,
  });

  return {
    manager,
    references: podObjectReferences,
    startHousekeeping(workers) {
      let checking = false;
      const sizeCheck = setInterval(() => {
        if (checking) return;
        checking = true;
        void (async () => {
          for (const w of workers()) {
            if (w.isTerminating || !(w.currentPod.spec.volumes ?? []).some((v) => v.emptyDir?.sizeLimit !== undefined)) continue;
            const violation = await manager.sizeLimitViolation(w.currentPod).catch(() => undefined);
            if (violation) w.evict(violation);
          }
        })().finally(() => { checking = false; });
      }, config.volumeStatsAggPeriodMs);
      sizeCheck.unref();
      const gc = setInterval(() => {
        const keep = new Set<string>();
        for (const w of workers()) for (const k of podObjectReferences(w.currentPod)) keep.add(k);
        api?.retainOnly(keep);
      }, 60_000);
      gc.unref();
      return {
        stop() {
          clearInterval(sizeCheck);
          clearInterval(gc);
          void api?.stop();
        },
      };
    },
  };
}
