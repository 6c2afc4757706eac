// configMap volume: the ConfigMap's keys (data and binaryData) as files, written
// atomically and refreshed on every pod sync so a running pod sees updates.
import { tearDownPayloadDir } from './atomic-writer.js';
import { setUpKeyedObjectVolume } from './keyed-object-volume.js';
import { toVolumeError } from './payload.js';
import type { KeyedObject, MountedVolume, VolumeKind, VolumeSetUpContext } from './types.js';

/** Reads a ConfigMap of the pod's namespace; a transport failure becomes a VolumeError. */
export async function readConfigMap(ctx: VolumeSetUpContext, name: string): Promise<KeyedObject | undefined> {
  try {
    return await ctx.objects.configMap(ctx.pod.metadata.namespace ?? 'default', name);
  } catch (err) {
    throw toVolumeError(err, `failed to get configmap "${name}"`);
  }
}

export class ConfigMapVolume implements VolumeKind {
  readonly kind = 'configMap';

  setUp(ctx: VolumeSetUpContext): Promise<MountedVolume> {
    const source = ctx.volume.configMap ?? {};
    return setUpKeyedObjectVolume(ctx, {
      kind: 'configmap',
      field: 'configMap',
      name: source.name ?? '',
      items: source.items,
      defaultMode: source.defaultMode,
      optional: source.optional,
      read: (name) => readConfigMap(ctx, name),
      tmpfs: false,
    });
  }

  async tearDown(dir: string): Promise<void> {
    await tearDownPayloadDir(dir);
  }
}
