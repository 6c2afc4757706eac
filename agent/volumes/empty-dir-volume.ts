// emptyDir: a directory that lives as long as the pod. On the node's disk by
// default; `medium: Memory` is a tmpfs the agent mounts once and every container
// of the pod binds, so its contents survive container and agent restarts alike.
import { chmod, mkdir, stat } from 'node:fs/promises';
import type { Pod, Volume } from '../api/types.js';
import { parseMemoryToBytes } from '../api/quantity.js';
import { isMountPoint, mountTmpfs, unmount } from './mount.js';
import { removeTreeSafely } from './safe-remove.js';
import { VolumeError, type MountedVolume, type VolumeKind, type VolumeSetUpContext } from './types.js';

/** The size limit of an emptyDir in bytes, or undefined when it has none. */
export function emptyDirSizeLimit(volume: Volume): number | undefined {
  const limit = volume.emptyDir?.sizeLimit;
  if (limit === undefined || limit === null || limit === '') return undefined;
  return parseMemoryToBytes(limit);
}

/** The sum of the containers' memory limits, when every container sets one (kubelet caps a tmpfs by it). */
export function podMemoryLimit(pod: Pod): number | undefined {
  let total = 0;
  for (const c of pod.spec.containers) {
    const limit = c.resources?.limits?.memory;
    if (limit === undefined) return undefined;
    total += parseMemoryToBytes(limit);
  }
  return total > 0 ? total : undefined;
}

function tmpfsSize(ctx: VolumeSetUpContext): number {
  const candidates = [emptyDirSizeLimit(ctx.volume), podMemoryLimit(ctx.pod), ctx.defaultMemoryVolumeBytes].filter(
    (n): n is number => n !== undefined && n > 0,
  );
  return Math.min(...candidates);
}

export class EmptyDirVolume implements VolumeKind {
  readonly kind = 'emptyDir';

  async setUp(ctx: VolumeSetUpContext): Promise<MountedVolume> {
    const medium = ctx.volume.emptyDir?.medium ?? '';
    if (medium !== '' && medium !== 'Memory') {
      throw new VolumeError(`emptyDir volume "${ctx.volume.name}": medium "${medium}" is not supported (use "" or "Memory")`);
    }
    let created = false;
    try {
      await stat(ctx.dir);
    } catch {
      await mkdir(ctx.dir, { mode: 0o777 });
      created = true;
    }
    if (medium === 'Memory') {
      if (!(await isMountPoint(ctx.dir))) await mountTmpfs(ctx.dir, { sizeBytes: tmpfsSize(ctx), mode: 0o777 });
    } else if (created) {
      // Any user the containers run as may write (kubelet makes emptyDirs 0777).
      await chmod(ctx.dir, 0o777);
    }
    return { hostPath: ctx.dir, readOnly: false, dynamic: false };
  }

  async tearDown(dir: string): Promise<void> {
    if (await isMountPoint(dir)) await unmount(dir);
    await removeTreeSafely(dir);
  }
}
