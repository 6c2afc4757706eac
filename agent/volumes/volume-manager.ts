// The pod worker's door to volumes: sets up a pod's volumes before its containers
// start, turns volumeMounts into runtime mounts (subPaths resolved race-safely),
// measures emptyDir usage against sizeLimit and tears everything down once the
// pod's containers are gone — including pods that vanished while the agent was down.
import { mkdir, readdir } from 'node:fs/promises';
import type { Container, Pod, Volume } from '../api/types.js';
import { podKey } from '../api/types.js';
import type { NodeAllocatable } from '../api/resource-field-ref.js';
import type { Logger } from '../log/logger.js';
import { CreateContainerConfigError } from '../api/pod-errors.js';
import type { Mount } from '../runtime/runtime.js';
import { joinInside, safeSegment } from '../util/safe-path.js';
import { diskUsageBytes } from './disk-usage.js';
import { emptyDirSizeLimit } from './empty-dir-volume.js';
import { planVolumeMounts } from './mount-plan.js';
import { removeTreeSafely } from './safe-remove.js';
import { SubPathError } from './safe-open.js';
import { cleanSubPathMounts, prepareSubPathMount } from './subpath.js';
import { VolumeError, type MountedVolume, type ObjectSource, type VolumeKind } from './types.js';

export interface VolumeManagerDeps {
  /** `<root>/pods/<uid>` for a pod UID (the state store's layout). */
  podDir: (uid: string) => string;
  kinds: VolumeKind[];
  objects: ObjectSource;
  nodeName: string;
  nodeAllocatable?: () => NodeAllocatable | undefined;
  defaultMemoryVolumeBytes: number;
  logger: Logger;
}

/** The Volume field that says which kind a volume is. */
export function volumeKindOf(volume: Volume, known: Iterable<string>): string | undefined {
  for (const kind of known) if (volume[kind] !== undefined && volume[kind] !== null) return kind;
  return undefined;
}

interface PodVolumes {
  /** JSON of each static volume's source when it was set up, so a changed spec sets it up again. */
  staticDone: Map<string, { source: string; mounted: MountedVolume }>;
}

export class VolumeManager {
  private readonly kinds: Map<string, VolumeKind>;
  private readonly pods = new Map<string, PodVolumes>();

  constructor(private readonly deps: VolumeManagerDeps) {
    this.kinds = new Map(deps.kinds.map((k) => [k.kind, k]));
  }

  get objects(): ObjectSource {
    return this.deps.objects;
  }

  private volumeDir(uid: string, kind: string, name: string): string {
    return joinInside(this.deps.podDir(uid), 'volumes', safeSegment(kind, 'volume kind'), safeSegment(name, 'volume name'));
  }

  /**
   * Sets up every volume of the pod (idempotent; dynamic kinds refresh their
   * content). Throws a VolumeError naming the first volume that failed, after
   * trying all of them, so one missing ConfigMap does not hide another problem.
   */
  async setUpPod(pod: Pod): Promise<Map<string, MountedVolume>> {
    const uid = pod.metadata.uid ?? '';
    const state = this.pods.get(uid) ?? { staticDone: new Map() };
    this.pods.set(uid, state);
    const mounted = new Map<string, MountedVolume>();
    const failures: string[] = [];
    for (const volume of pod.spec.volumes ?? []) {
      const kindName = volumeKindOf(volume, this.kinds.keys());
      const kind = kindName ? this.kinds.get(kindName) : undefined;
      if (!kind || !kindName) {
        const named =
          Object.keys(volume)
            .filter((k) => k !== 'name')
            .join(', ') || 'none';
        failures.push(`MountVolume.SetUp failed for volume "${volume.name}" : volume type ${named} is not supported by this node`);
        continue;
      }
      const source = JSON.stringify(volume[kindName]);
      const done = state.staticDone.get(volume.name);
      if (done && done.source === source) {
        mounted.set(volume.name, done.mounted);
        continue;
      }
      try {
        const dir = this.volumeDir(uid, kindName, volume.name);
        await mkdir(joinInside(this.deps.podDir(uid), 'volumes', kindName), { recursive: true, mode: 0o750 });
        const result = await kind.setUp({
          pod,
          volume,
          dir,
          objects: this.deps.objects,
          nodeName: this.deps.nodeName,
          nodeAllocatable: this.deps.nodeAllocatable?.(),
          defaultMemoryVolumeBytes: this.deps.defaultMemoryVolumeBytes,
        });
        mounted.set(volume.name, result);
        if (!result.dynamic) state.staticDone.set(volume.name, { source, mounted: result });
      } catch (err) {
        const detail = err instanceof VolumeError ? err.message : `${(err as Error).message}`;
        failures.push(`MountVolume.SetUp failed for volume "${volume.name}" : ${detail}`);
      }
    }
    if (failures.length > 0) throw new VolumeError(failures.join('; '));
    return mounted;
  }

  /**
   * The runtime mounts of one container. SubPaths are opened inside their volume
   * without following symlinks and bound by file descriptor to a target under the
   * pod's directory, so what the container gets is exactly what was checked.
   */
  async containerMounts(pod: Pod, container: Container, env: ReadonlyMap<string, string>, volumes: ReadonlyMap<string, MountedVolume>): Promise<Mount[]> {
    const uid = pod.metadata.uid ?? '';
    const plan = planVolumeMounts(pod, container, env, volumes);
    const mounts: Mount[] = [];
    for (const p of plan) {
      let hostPath = p.volumeRoot;
      if (p.subPath !== '') {
        const target = joinInside(
          this.deps.podDir(uid),
          'volume-subpaths',
          safeSegment(p.volumeName, 'volume name'),
          safeSegment(container.name, 'container name'),
          String(p.index),
        );
        try {
          hostPath = await prepareSubPathMount({ volumeRoot: p.volumeRoot, subPath: p.subPath, target });
        } catch (err) {
          if (!(err instanceof SubPathError)) throw err;
          throw new CreateContainerConfigError({
            pod: podKey(pod),
            container: container.name,
            field: `volumeMounts[${p.index}].${container.volumeMounts?.[p.index]?.subPathExpr ? 'subPathExpr' : 'subPath'}`,
            detail: err.message,
          });
        }
      }
      const mount: Mount = { containerPath: p.containerPath, hostPath, readonly: p.readOnly };
      if (p.propagation && p.propagation !== 'private') mount.propagation = p.propagation;
      mounts.push(mount);
    }
    return mounts;
  }

  /**
   * The eviction message when an on-disk emptyDir is over its sizeLimit, else
   * undefined. Memory emptyDirs are bounded by their tmpfs size already.
   */
  async sizeLimitViolation(pod: Pod): Promise<string | undefined> {
    const uid = pod.metadata.uid ?? '';
    for (const volume of pod.spec.volumes ?? []) {
      if (!volume.emptyDir || volume.emptyDir.medium === 'Memory') continue;
      let limit: number | undefined;
      try {
        limit = emptyDirSizeLimit(volume);
      } catch {
        continue; // validation reports a bad quantity
      }
      if (limit === undefined) continue;
      const used = await diskUsageBytes(this.volumeDir(uid, 'emptyDir', volume.name));
      if (used > limit) {
        return `Usage of EmptyDir volume "${volume.name}" exceeds the limit "${volume.emptyDir.sizeLimit}": ${formatBytes(used)} used of ${formatBytes(limit)}.`;
      }
    }
    return undefined;
  }

  /** Tears down every volume and subPath bind of a pod whose containers are all gone. */
  async tearDownPod(uid: string): Promise<void> {
    const podDir = this.deps.podDir(uid);
    await cleanSubPathMounts(podDir);
    const volumesDir = joinInside(podDir, 'volumes');
    for (const kindName of await readdir(volumesDir).catch(() => [] as string[])) {
      const kindDir = joinInside(volumesDir, safeSegment(kindName, 'volume kind'));
      const kind = this.kinds.get(kindName);
      for (const name of await readdir(kindDir).catch(() => [] as string[])) {
        const dir = joinInside(kindDir, safeSegment(name, 'volume name'));
        try {
          if (kind) await kind.tearDown(dir);
          else await removeTreeSafely(dir);
        } catch (err) {
          this.deps.logger.warn({ uid, volume: name, err: (err as Error).message }, 'volume teardown failed; retried by the next cleanup');
          throw err;
        }
      }
    }
    await removeTreeSafely(volumesDir);
    this.pods.delete(uid);
  }

  /** Forgets what is cached for a pod whose spec changed volume sources (or that is gone). */
  forget(uid: string): void {
    this.pods.delete(uid);
  }
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)}Mi`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)}Ki`;
  return `${n}`;
}
