// downwardAPI volume: pod metadata and container resources as files. Labels and
// annotations can change while the pod runs, so it is refreshed on every sync.
import { publishPayload, tearDownPayloadDir } from './atomic-writer.js';
import { downwardAPIPayload, type DownwardAPIVolumeFile } from './downward-api-files.js';
import { defaultModeOf, PayloadError, toVolumeError } from './payload.js';
import type { MountedVolume, VolumeKind, VolumeSetUpContext } from './types.js';

/** The `items` of a downwardAPI source, checked to be a list of objects with a path. */
export function downwardAPIItems(items: unknown, field: string): DownwardAPIVolumeFile[] {
  if (items === undefined || items === null) return [];
  if (!Array.isArray(items)) throw new PayloadError(`${field}: must be a list`);
  return items.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || typeof (item as { path?: unknown }).path !== 'string') {
      throw new PayloadError(`${field}[${i}].path: required`);
    }
    return item as DownwardAPIVolumeFile;
  });
}

export class DownwardAPIVolume implements VolumeKind {
  readonly kind = 'downwardAPI';

  async setUp(ctx: VolumeSetUpContext): Promise<MountedVolume> {
    const source = ctx.volume.downwardAPI ?? {};
    try {
      const payload = downwardAPIPayload(
        downwardAPIItems(source.items, 'downwardAPI.items'),
        ctx.pod,
        { nodeName: ctx.nodeName, ...(ctx.nodeAllocatable ? { nodeAllocatable: ctx.nodeAllocatable } : {}) },
        defaultModeOf(source.defaultMode, 'downwardAPI.defaultMode'),
        'downwardAPI.items',
      );
      const fsGroup = ctx.pod.spec.securityContext?.fsGroup;
      await publishPayload(ctx.dir, payload, { tmpfs: false, ...(fsGroup !== undefined ? { fsGroup } : {}) });
    } catch (err) {
      throw toVolumeError(err, `writing the downward API files into ${ctx.dir}`);
    }
    return { hostPath: ctx.dir, readOnly: true, dynamic: true };
  }

  async tearDown(dir: string): Promise<void> {
    await tearDownPayloadDir(dir);
  }
}
