// configMap volume: the ConfigMap's keys (data and binaryData) as files, written
// atomically and refreshed on every pod sync so a running pod sees updates.
import { publishPayload, tearDownPayloadDir } from './atomic-writer.js';
import { defaultModeOf, keyedObjectPayload, toVolumeError } from './payload.js';
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

  async setUp(ctx: VolumeSetUpContext): Promise<MountedVolume> {
    const source = ctx.volume.configMap ?? {};
    const name = source.name ?? '';
    const object = await readConfigMap(ctx, name);
    try {
      const payload = keyedObjectPayload({
        kind: 'configmap', name, object, optional: source.optional === true,
        defaultMode: defaultModeOf(source.defaultMode, 'configMap.defaultMode'),
        ...(source.items ? { items: source.items } : {}),
        field: 'configMap',
      });
      const fsGroup = ctx.pod.spec.securityContext?.fsGroup;
      await publishPayload(ctx.dir, payload, { tmpfs: false, ...(fsGroup !== undefined ? { fsGroup } : {}) });
    } catch (err) {
      throw toVolumeError(err, `writing configmap "${name}" into ${ctx.dir}`);
    }
    return { hostPath: ctx.dir, readOnly: true, dynamic: true };
  }

  async tearDown(dir: string): Promise<void> {
    await tearDownPayloadDir(dir);
  }
}
