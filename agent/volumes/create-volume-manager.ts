// Builds the agent's volume layer: every volume kind, the ConfigMap/Secret source
// (the apiserver when joined, nothing standalone) and the periodic work: stopping
// watches of objects no pod reads any more. (emptyDir sizeLimit eviction belongs to
// agent/eviction, which measures through VolumeManager.sizeLimitViolation.)
import { totalmem } from 'node:os';
import type { Pod } from '../api/types.js';
import type { NodeletConfiguration } from '../config/config.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log/logger.js';
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
  /** `pods`: every pod on the node, whose ConfigMaps and Secrets stay watched. */
  startHousekeeping(pods: () => Iterable<Pod>): { stop(): void };
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
    startHousekeeping(pods) {
      const gc = setInterval(() => {
        const keep = new Set<string>();
        for (const pod of pods()) for (const k of podObjectReferences(pod)) keep.add(k);
        api?.retainOnly(keep);
      }, 60_000);
      gc.unref();
      return {
        stop() {
          clearInterval(gc);
          void api?.stop();
        },
      };
    },
  };
}
